"""`syndicator check` and `syndicator discover` keep the per-host politeness of the store
they are configured with, as make_app's fetcher does: on PostgreSQL they wait for the host's
slot in line with every instance polling from it; with that store out of reach they warn
and keep their politeness to themselves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_push_telegram import wait_for

from syndicator.demo import demo_config_path, demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.store.rates import DatabaseRates
from tests.test_cluster_pacing import UNREACHABLE, pg_url  # noqa: F401 - the fixture
from tests.test_politeness_fairness import advisory_locks


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer(demo_site_root()) as server:
        yield server


def _config(tmp_path: Path, storage: str) -> Path:
    text_ = demo_config_path().read_text(encoding="utf-8")
    text_ = text_.replace('"sqlite:///syndicator-demo.db"', f'"{storage}"')
    text_ = text_.replace("fetch:\n", "fetch:\n  per_host: 1\n  robots: false\n", 1)
    path = tmp_path / "config.yaml"
    path.write_text(text_, encoding="utf-8")
    return path


def _command(config: Path, site: SiteServer, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url}
    env.pop("SYNDICATOR_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "syndicator", "--config", str(config), *args],
                            env=env, cwd=config.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.postgres
@pytest.mark.parametrize("command", [("check", "office-en"), ("discover", "{site}en/news/")])
def test_check_and_discover_wait_for_the_slot_the_cluster_holds(
        pg_url: str, tmp_path: Path, site: SiteServer,  # noqa: F811 - the fixture
        command: tuple[str, str]) -> None:
    config = _config(tmp_path, pg_url)
    holder = DatabaseRates(pg_url)
    try:
        token = holder.acquire("host:127.0.0.1", 1, 0.0)   # an instance's request in flight
        assert token is not None
        process = _command(config, site, command[0], command[1].format(site=site.url))
        # The command's first request waits, first in line (the line lock), for that slot.
        wait_for(lambda: advisory_locks(pg_url, True) == 2, timeout=60.0)
        assert process.poll() is None
        holder.release("host:127.0.0.1", token)
        out, err = process.communicate(timeout=120)
    finally:
        holder.close()
    assert process.returncode == 0, err
    assert out.strip()
    assert "paces its requests by itself" not in err


@pytest.mark.parametrize("command", [("check", "office-en"), ("discover", "{site}en/news/")])
def test_with_the_store_out_of_reach_they_warn_and_pace_themselves(
        tmp_path: Path, site: SiteServer, command: tuple[str, str]) -> None:
    config = _config(tmp_path, UNREACHABLE)
    process = _command(config, site, command[0], command[1].format(site=site.url))
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.strip()
    assert "127.0.0.1:9/nothing?connect_timeout=5: cannot read the shared rate state" in err
    assert f"{command[0]} paces its requests by itself, not with the instances on that " \
           "database" in err
