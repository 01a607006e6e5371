"""Three `syndicator run` processes on one PostgreSQL work as one service.

Everything goes through the public surfaces, as an operator would see it: config files,
the command line, HTTP, the fixture site's request counts, the fake Telegram Bot API and
a real SMTP server. Each instance has its own port, output folder and User-Agent (so the
site can tell who fetched what); all of them reach PostgreSQL through one TCP proxy that
the test cuts to make an outage.

The story, in three acts:
1. 30 sources, 5 new articles: every article page is fetched once across the cluster,
   each item is pushed once per target, and every instance serves each new item within
   2 s of the end of the build that added it (when the first instance serves it: the
   build's commit wakes them all), whichever instance built it.
2. `kill -9` of the instance that is waiting for a slow article page: the others finish
   its poll within 30 s, and nothing is pushed twice.
3. PostgreSQL unreachable for 20 s: the instances keep serving the last feeds, `/healthz`
   says why, each logs one line for the outage (no traceback), and polls resume within
   seconds of the database coming back: the article published meanwhile arrives, once.

Waits poll with generous upper bounds; the only time bounds asserted are the ones the
service promises (2 s freshness, 30 s failover, resuming within seconds).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.cluster_site import ClusterSite, cluster_site
from tests.fake_telegram import FakeTelegram
from tests.net_support import free_port
from tests.pgproxy import PgProxy
from tests.postgres_support import postgres_database
from tests.push_support import SECRET, TOKEN, SmtpServer
from tests.test_service import Service, get

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

INSTANCES = 3
CHAT = "@cluster_news"
READER = "reader@example.org"
SCHEDULE = "2s"
FRESH = 2.0              # every instance serves a new item within this of its build's end
WATCH_EVERY = 0.1        # how often the watcher asks each instance (its resolution)
FAILOVER = 30.0          # a killed instance's poll is finished by another within this
RESUME = 15.0            # polls resume within this after the database is back
OUTAGE = 20.0
WAIT = 60.0              # upper bound of anything else (startup on a loaded machine)
SETTLE = 4.0             # after a wait: two more polls of every source, to see doubles

CONFIG = """\
site: {{title: "Cluster feeds", base_url: "https://feeds.example.org/"}}
storage: "{storage}"
output_dir: out-{n}
timezone: Europe/Minsk
secret_key: {{env: SYNDICATOR_SECRET}}
server: {{host: 127.0.0.1, port: {port}}}
fetch: {{delay: 0s, retries: 0, timeout: 30s, allow_private: true,
        user_agent: "cluster-test/{n}"}}
sources:
{sources}feeds:
  - {{id: all, title: "All news", sources: [{all}], limit: 100}}
{feeds}push:
  - id: tg
    type: telegram
    feeds: [all]
    chat_id: "{chat}"
    token: {{env: TEST_BOT_TOKEN}}
    api_url: "{telegram}"
  - id: mail
    type: email
    feeds: [all]
    smtp: {{host: 127.0.0.1, port: {smtp}, security: none}}
    from: "Cluster news <news@example.org>"
"""


@dataclass
class Instance:
    n: int
    port: int
    config: Path
    service: Service | None = None
    _feeds: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def user_agent(self) -> str:
        return f"cluster-test/{self.n}"

    @property
    def alive(self) -> bool:
        return self.service is not None and self.service.process.poll() is None

    def output(self) -> str:
        return self.service.output() if self.service is not None else ""

    def feed_titles(self, feed_id: str) -> list[str] | None:
        """The titles of a feed as this instance serves it now (None: it does not answer).
        Asked with the last ETag, so that an unchanged feed costs the instance a 304."""
        known = self._feeds.get(feed_id)
        headers = {"If-None-Match": known[0]} if known else {}
        try:
            answer = httpx.get(f"{self.base}{feed_id}.json", headers=headers, timeout=5,
                               trust_env=False)
        except httpx.TransportError:
            return None
        if answer.status_code == 304 and known:
            return known[1]
        if answer.status_code != 200:
            return None
        titles = [entry.get("title", "") for entry in answer.json()["items"]]
        self._feeds[feed_id] = (answer.headers.get("ETag", ""), titles)
        return titles


@dataclass
class Cluster:
    folder: Path
    site: ClusterSite
    proxy: PgProxy
    telegram: FakeTelegram
    smtp: SmtpServer
    instances: list[Instance] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "SYNDICATOR_SECRET": SECRET, "TEST_BOT_TOKEN": TOKEN,
                "COLUMNS": "200"}

    def command(self, instance: Instance, *args: str) -> list[str]:
        return [sys.executable, "-m", "syndicator", "--config", str(instance.config), *args]

    def start(self, instance: Instance) -> None:
        log = self.folder / f"instance-{instance.n}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(self.command(instance, "-v", "run"), stdout=handle,
                                       stderr=subprocess.STDOUT, cwd=self.folder,
                                       env=self.env())
        instance.service = Service(process, log)

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.alive]

    def logs(self) -> str:
        return "\n".join(f"--- instance {i.n} ---\n{i.output()[-6000:]}"
                         for i in self.instances)

    def wait(self, what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"gave up waiting {timeout:.0f} s for {what}\n{self.logs()}")

    def messages(self, title: str) -> int:
        return sum(title in m.text for m in self.telegram.messages(CHAT))

    def mails(self, title: str) -> int:
        return sum(title in str(m["Subject"]) + m.get_body(("plain",)).get_content()
                   for m in self.smtp.to(READER))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    for url in postgres_database():
        parsed = make_url(url)
        with (PgProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy,
              cluster_site(tmp_path / "site") as site, FakeTelegram(TOKEN) as telegram,
              SmtpServer() as smtp):
            storage = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False)
            made = Cluster(tmp_path, site, proxy, telegram, smtp)
            for n in range(INSTANCES):
                port = free_port()
                config = tmp_path / f"instance-{n}.yaml"
                config.write_text(CONFIG.format(
                    storage=storage, n=n, port=port, sources=site.sources_yaml(SCHEDULE),
                    all=", ".join(site.sources), chat=CHAT, telegram=telegram.url,
                    smtp=smtp.port, feeds="".join(
                        f'  - {{id: {s}, title: "News of {s}", sources: [{s}]}}\n'
                        for s in site.sources)), encoding="utf-8")
                made.instances.append(Instance(n, port, config))
            try:
                yield made
            finally:
                for instance in made.instances:
                    if instance.alive:
                        assert instance.service is not None
                        instance.service.process.kill()
                        instance.service.process.wait(timeout=30)


class Watcher:
    """One thread per live instance asks it, every WATCH_EVERY seconds, for the feeds of the
    titles it does not serve yet, and records when its answer first had each title
    (time.time() when the answer arrived: an upper bound of when it began serving it)."""

    def __init__(self, cluster: Cluster, feeds: dict[str, str]) -> None:
        self.cluster = cluster
        self.feeds = feeds                         # title -> feed id
        self.seen: dict[tuple[int, str], float] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(instance,), daemon=True,
                                          name=f"watcher-{instance.n}")
                         for instance in cluster.live()]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, instance: Instance) -> None:
        while not self._stop.wait(WATCH_EVERY):
            waiting = {t: f for t, f in self.feeds.items() if (instance.n, t) not in self.seen}
            for feed_id in set(waiting.values()):
                titles = instance.feed_titles(feed_id) or []
                now = time.time()
                for title, where in waiting.items():
                    if where == feed_id and title in titles:
                        self.seen[(instance.n, title)] = now

    def everywhere(self, title: str) -> bool:
        return all((i.n, title) in self.seen for i in self.cluster.live())


def built_at(instances: list[Instance], feed_id: str) -> float:
    """When `feed_id`'s file was last written, as the instances' /status.json report it:
    the earliest is the build's own write (the others wrote the copy they received)."""
    times = []
    for instance in instances:
        answer = get(instance.base + "status.json")
        assert answer is not None and answer.status_code == 200, instance.output()
        for feed in answer.json()["feeds"]:
            if feed["feed_id"] == feed_id and feed["last_build"]:
                times.append(datetime.fromisoformat(feed["last_build"]).timestamp())
    assert times, f"no instance reports a build of {feed_id}"
    return min(times)


def warnings_since(instance: Instance, offset: int) -> list[str]:
    text = instance.output()[offset:]
    return [line for line in text.splitlines()
            if any(f" {level} " in line for level in ("WARNING", "ERROR", "CRITICAL"))]


def test_three_instances_share_the_work_survive_a_kill_and_an_outage(cluster: Cluster) -> None:
    site = cluster.site
    first = cluster.instances[0]
    added = subprocess.run(cluster.command(first, "subscribers", "add", READER,
                                           "--target", "mail"),
                           capture_output=True, text=True, env=cluster.env(), timeout=WAIT)
    assert added.returncode == 0, added.stderr
    for instance in cluster.instances:
        cluster.start(instance)
    old_titles = [f"Story {n + 1} of source {s}" for s in site.sources for n in range(2)]
    for instance in cluster.instances:
        cluster.wait(f"instance {instance.n} serving every stored item",
                     lambda i=instance: (t := i.feed_titles("all")) is not None
                     and set(old_titles) <= set(t))

    # --- act 1: five new articles ---------------------------------------------------------
    new = {f"s{n}": f"Cluster story {n}: the office answers" for n in range(1, 6)}
    with Watcher(cluster, {title: source for source, title in new.items()}) as watcher:
        paths = {source: site.publish(source, f"{source}-new", title)
                 for source, title in new.items()}
        for title in new.values():
            cluster.wait(f"{title!r} served by every instance",
                         lambda t=title: watcher.everywhere(t))
    # A build's end (its commit, whose NOTIFY wakes every instance, its own included) is
    # when the first instance serves the item: each serves it within FRESH of that.
    # For the report: the same from the time the build wrote the feed's file (status.json).
    first = {title: min(watcher.seen[(i.n, title)] for i in cluster.instances)
             for title in new.values()}
    lags = {(i.n, title): watcher.seen[(i.n, title)] - first[title]
            for title in new.values() for i in cluster.instances}
    written = {title: built_at(cluster.instances, source) for source, title in new.items()}
    print("seconds from the file's write to each instance serving it:",
          sorted(round(watcher.seen[key] - written[key[1]], 2) for key in lags))
    print("seconds from the first instance serving it to each:",
          sorted(round(lag, 2) for lag in lags.values()))
    assert max(lags.values()) <= FRESH, lags
    for title in new.values():
        cluster.wait(f"{title!r} in the chat and the mailbox",
                     lambda t=title: cluster.messages(t) and cluster.mails(t))
    time.sleep(SETTLE)                      # more polls of every source: no doubles
    counts = site.counts()
    for source in site.sources:
        for n in range(2):
            assert counts[f"/{source}/a/{source}-old-{n}.html"] == 1, (source, n, counts)
    for source, path in paths.items():
        assert counts[path] == 1, (path, counts[path])
        assert cluster.messages(new[source]) == 1 and cluster.mails(new[source]) == 1
    assert len(cluster.telegram.messages(CHAT)) == 5      # the old stories: no flood
    assert len(cluster.smtp.to(READER)) == 5

    # --- act 2: kill -9 the instance that is fetching a slow page --------------------------
    source, title = "s6", "Cluster story 6: fetched by a process that dies"
    path = f"/{source}/a/{source}-new.html"
    slow = site.slow(path, seconds=10)
    site.publish(source, f"{source}-new", title)
    cluster.wait("an instance fetching the slow page", slow.asked.is_set)
    victim = next(i for i in cluster.instances if i.user_agent == slow.user_agent)
    assert victim.service is not None
    victim.service.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.service.process.wait(timeout=30)
    survivors = cluster.live()
    assert len(survivors) == INSTANCES - 1
    for instance in survivors:
        cluster.wait(f"{title!r} served by instance {instance.n} after the kill",
                     lambda i=instance: title in (i.feed_titles(source) or []),
                     timeout=FAILOVER - (time.monotonic() - killed))
    cluster.wait(f"{title!r} in the chat and the mailbox",
                 lambda: cluster.messages(title) and cluster.mails(title))
    time.sleep(SETTLE)
    assert site.fetches(path) == 2        # the dead instance's fetch, and the one that finished
    assert cluster.messages(title) == 1 and cluster.mails(title) == 1

    # --- act 3: PostgreSQL unreachable for 20 s --------------------------------------------
    offsets = {i.n: len(i.output()) for i in survivors}
    served_before = {i.n: i.feed_titles("all") for i in survivors}
    cluster.proxy.stop()
    cut = time.monotonic()
    source, title = "s7", "Cluster story 7: published while the database was away"
    site.publish(source, f"{source}-new", title)
    health: dict[int, list[Any]] = {i.n: [] for i in survivors}
    while time.monotonic() - cut < OUTAGE:
        for instance in survivors:
            assert instance.feed_titles("all") == served_before[instance.n], instance.output()
            answer = get(instance.base + "healthz")
            health[instance.n].append(answer and (answer.status_code, answer.text))
        time.sleep(2.0)
    cluster.proxy.start()
    back = time.monotonic()
    for instance in survivors:
        cluster.wait(f"{title!r} served by instance {instance.n} after the outage",
                     lambda i=instance: title in (i.feed_titles(source) or []), timeout=RESUME)
    resumed = time.monotonic() - back
    cluster.wait(f"{title!r} in the chat and the mailbox",
                 lambda: cluster.messages(title) and cluster.mails(title))
    time.sleep(SETTLE)
    assert cluster.messages(title) == 1 and cluster.mails(title) == 1
    assert len(cluster.telegram.messages(CHAT)) == 7 and len(cluster.smtp.to(READER)) == 7
    for instance in survivors:
        # /healthz said why while the database was away (the last answers: the first may
        # come before the instance noticed).
        status, body = health[instance.n][-1]
        assert status == 503 and json.loads(body)["store"] == "unavailable", body
        # An outage longer than the heartbeat window also stalls the jobs that were running:
        # the sweeper gives them back in an INFO line (not counted here), so the outage is
        # the only warning.
        lines = warnings_since(instance, offsets[instance.n])
        down = [line for line in lines if "is unavailable" in line]
        back = [line for line in lines if "available again" in line]
        assert len(down) == 1 and len(back) <= 1 and len(lines) == len(down) + len(back), lines
        assert "Traceback" not in instance.output()
    print(f"polls resumed {resumed:.1f} s after the database came back")

    for instance in survivors:
        assert instance.service is not None
        assert instance.service.stop() == 0, instance.output()
