"""`python -m syndicator` is the same as the `syndicator` console script."""

from syndicator.cli import main

if __name__ == "__main__":
    main()
