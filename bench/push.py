"""Push: queued Telegram deliveries against the strict fake Bot API; rate achieved vs allowed.

    python -m bench.push --workdir DIR [--deliveries 1000] [--chats 50]

`run()` queues `deliveries` messages over `chats` Telegram targets the way the pipeline does
(`Store.save_run` with `push.outbox_hook`: one run of a source whose items every target
takes), then calls `push.dispatch_due` until nothing is pending, against
`tests/fake_telegram.py` on loopback with its real limits (20 messages a minute per chat, 30 a
second overall, 429 with retry_after beyond). The allowed rate for this workload is the
overall limit (each chat gets at most 20, which one minute allows), so
`achieved / allowed = deliveries / elapsed / 30`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import crawl_config, emit, write_config

TOKEN = "123456:BENCH-token_abc"


def run(workdir: Path, *, deliveries: int, chats: int) -> dict[str, Any]:
    try:
        from syndicator.push import dispatch_due, outbox_hook
    except ImportError as exc:
        return {"skipped": f"syndicator.push is not available: {exc}",
                "rows": [("push", f"not measured: {exc}", "")]}
    try:
        from tests.fake_telegram import FakeTelegram
    except ImportError as exc:
        return {"skipped": f"tests/fake_telegram.py is not available: {exc}",
                "rows": [("push", f"not measured: {exc}", "")]}
    from bench.ours import _item
    from syndicator.app import make_app
    from syndicator.config import load_config
    from syndicator.model import RunResult

    per_chat = max(1, deliveries // chats)
    shutil.rmtree(workdir, ignore_errors=True)
    with FakeTelegram(TOKEN) as fake:
        data = crawl_config([("s", "https://example.org/s/", "en", 1)], workdir,
                            feeds=[{"id": "f", "title": "Feed", "sources": ["s"]}])
        data["push"] = [{"id": f"tg{n:03d}", "type": "telegram", "feeds": ["f"],
                         "chat_id": f"@chat{n:03d}", "token": TOKEN, "api_url": fake.url,
                         "backfill": per_chat, "link_preview": False} for n in range(chats)]
        config = load_config(write_config(data, workdir))
        now = datetime.now(UTC)
        with make_app(config) as app:
            items = [_item("s", n, now) for n in range(per_chat)]
            items = [replace(item, image=None) for item in items]  # no photo fetches
            app.store.save_run(RunResult(source_id="s", started=now, finished=now, ok=True),
                               items, (), outbox=outbox_hook(config, "s"))
            queued = sum(len(app.store.deliveries(t.id, states=["pending"]))
                         for t in config.push)
            started = time.monotonic()
            sent = calls = 0
            while sent < queued:
                report = dispatch_due(app)
                calls += 1
                sent += report.sent
                if report.failed or time.monotonic() - started > 600:
                    break
                if not report.sent:
                    time.sleep(0.05)
            elapsed = time.monotonic() - started
        accepted = len(fake.accepted)
        refusals = [r for r in fake.refusals if r[1] == 429]
    # Each chat's share fits in one per-chat window: only the overall limit binds. (More than
    # that per chat, and the per-chat limit would set the pace.)
    allowed = (float(fake.overall) if per_chat <= fake.per_chat
               else min(float(fake.overall), chats * fake.per_chat / fake.per_chat_window))
    achieved = accepted / elapsed if elapsed > 0 else 0.0
    result = {"queued": queued, "accepted": accepted, "elapsed_s": elapsed,
              "achieved_per_s": achieved, "allowed_per_s": allowed,
              "ratio": achieved / allowed, "http_429": len(refusals), "dispatch_calls": calls}
    result["rows"] = [
        (f"{queued} deliveries to {chats} chats", f"{achieved:.1f} msg/s of {allowed:.0f} allowed"
         f" ({result['ratio']:.2f}×), {len(refusals)} × 429, {accepted} accepted in "
         f"{elapsed:.1f} s", "≥ 0.9×, zero 429s")]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=50)
    args = parser.parse_args()
    result = run(args.workdir, deliveries=args.deliveries, chats=args.chats)
    emit(task="push", **{k: v for k, v in result.items() if k != "rows"})


if __name__ == "__main__":
    main()
