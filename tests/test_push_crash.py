"""kill -9 in the middle of a push batch, restart: every item delivered once, except at
most the one in flight, which is recorded as unknown and not resent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from push_support import SECRET, TOKEN, fetch, write_config

from syndicator.app import make_app
from syndicator.config import load_config
from syndicator.demo import demo_site_root
from syndicator.demo.server import SiteServer
from syndicator.push.job import lease_seconds

PUSH = """  - id: tg
    type: telegram
    feeds: [office-en]
    chat_id: "@crash"
    token: {{env: TG_TOKEN}}
    api_url: "{api}"
    timeout: 0.5s
    backfill: 10
"""


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.mark.slow
def test_kill_9_mid_batch_then_restart(tmp_path: Path) -> None:
    with SiteServer(demo_site_root()) as site, FakeTelegram(TOKEN) as tg:
        path = write_config(tmp_path, PUSH.format(api=tg.url))
        env = {**os.environ, "SYNDICATOR_DEMO_URL": site.url, "TG_TOKEN": TOKEN,
               "SYNDICATOR_SECRET": SECRET}
        config = load_config(path, env=env)
        with make_app(config) as app:
            fetch(app, "office-en")
            queued = app.store.deliveries("tg", states=["pending"])
            titles = {i.title for i in app.store.items_by_id(d.item_id for d in queued).values()}
        assert len(queued) == 10
        command = [sys.executable, "-m", "syndicator", "--config", str(path), "push", "tg"]

        tg.delay = 0.2        # a slow network: every request takes a while
        job = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        # Kill once a few went out and a request is on its way.
        _wait_for(lambda: len(tg.accepted) >= 3 and tg.arrived > len(tg.accepted))
        job.kill()
        job.communicate()
        assert job.returncode == -9
        _wait_for(lambda: tg.arrived == len(tg.accepted) + len(tg.refusals))
        killed_after = len(tg.accepted)
        assert 3 <= killed_after < 10

        # The claim of the killed job expires after its lease; then the restart sees it.
        time.sleep(lease_seconds(config.push[0]) + 0.5)
        tg.delay = 0.0
        rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                               timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        with make_app(config) as app:
            rows = app.store.deliveries("tg")
            items = app.store.items_by_id(d.item_id for d in rows)

    states = sorted(d.state for d in rows if d.state != "suppressed")
    unknown = [d for d in rows if d.state == "unknown"]
    assert len(unknown) <= 1 and states.count("sent") + len(unknown) == 10
    if unknown:
        assert "stopped while sending" in (unknown[0].error or "")
    delivered = [m.text.split("\n")[0] for m in tg.accepted]
    assert sorted(delivered) == sorted(titles)            # every item, each exactly once
    for row in rows:
        if row.state == "sent":
            assert row.message_ids, items[row.item_id].title
    assert tg.refusals == []
