"""The limit: the same pages only downloaded and parsed, by the fastest means available here.

    python -m bench.limit --urls FILE [--concurrency 32]

aiohttp (one keep-alive pool, `--concurrency` requests in flight) and selectolax's lexbor
parser, on one event loop. It knows every URL up front (no pagination to follow, nothing to
extract, store or publish), so no crawler doing the real job can beat it: it is the ceiling
a first crawl is measured against. aiohttp and selectolax come from the `bench` extra.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import aiohttp
from selectolax.lexbor import LexborHTMLParser

from bench.common import emit, measure


async def _crawl(urls: list[str], concurrency: int) -> tuple[int, int, int]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    pages = nodes = received = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal pages, nodes, received
            while not queue.empty():
                url = queue.get_nowait()
                async with session.get(url) as response:
                    body = await response.read()
                tree = LexborHTMLParser(body)
                # Touch the tree so that the parse cannot be skipped lazily.
                nodes += 1 if tree.body is not None else 0
                pages += 1
                received += len(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return pages, nodes, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=Path, required=True, help="file with one URL a line")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    urls = [line.strip() for line in args.urls.read_text().splitlines() if line.strip()]
    with measure() as phase:
        pages, _nodes, received = asyncio.run(_crawl(urls, args.concurrency))
    emit(task="limit", wall=phase.wall, cpu=phase.cpu, peak_rss_mb=phase.peak_rss_mb,
         pages=pages, bytes=received, concurrency=args.concurrency)


if __name__ == "__main__":
    main()
