"""The files in deploy/ and the commands docs/deploy.md gives: every command and option they
use exists in the CLI (asked through real `syndicator ... --help` processes), the image keeps
secrets and local state out, the instances behind the compose proxy see the real client
addresses, PostgreSQL takes the connections the instances open, and every path the deployed
config needs is absolute."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from serve_support import stop_process, wait_until_answered

from syndicator.config import parse_config
from syndicator.jobs.tuning import cluster_concurrency
from syndicator.store.database import ONE_JOB, store_pool
from tests.net_support import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCS = ROOT / "docs" / "deploy.md"
INSTANCES = ("syndicator-1", "syndicator-2", "syndicator-3")


@cache
def cli_help(*command: str) -> str:
    done = subprocess.run([sys.executable, "-m", "syndicator", *command, "--help"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_cli_accepts(args: list[str], where: str) -> None:
    """`args` (what follows `syndicator`) names a command and only options it has: options
    before the command are the group's, after it the command's."""
    command: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            option = arg.split("=", 1)[0]
            assert re.search(rf"(^|[\s,]){re.escape(option)}\b", cli_help(*command), re.M), \
                f"{where}: `syndicator {' '.join(command)}` has no option {option}"
        elif not command and re.search(rf"^\s+{re.escape(arg)}\s", cli_help(), re.M):
            command.append(arg)
    assert command, f"{where}: no syndicator command in {args}"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def dockerfile_list(instruction: str) -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(rf"^{instruction}\s+(\[.*\])\s*$", text, re.M)
    assert found, f"deploy/Dockerfile has no {instruction} in exec form"
    value = yaml.safe_load(found.group(1))
    assert isinstance(value, list)
    return [str(part) for part in value]


def test_compose_commands_exist_in_the_cli() -> None:
    entrypoint = dockerfile_list("ENTRYPOINT")
    assert entrypoint[0] == "syndicator"
    services = compose()["services"]
    for name in ("migrate", *INSTANCES):
        command = services[name]["command"]
        assert_cli_accepts([*entrypoint[1:], *command], f"compose.yaml service {name}")
    assert_cli_accepts([*entrypoint[1:], *dockerfile_list("CMD")], "deploy/Dockerfile CMD")


def test_systemd_unit_command_exists_in_the_cli() -> None:
    unit = (DEPLOY / "syndicator.service").read_text(encoding="utf-8")
    found = re.search(r"^ExecStart=(.*)$", unit, re.M)
    assert found
    program, *args = shlex.split(found.group(1))
    assert program.endswith("/syndicator")
    assert_cli_accepts(args, "syndicator.service ExecStart")


def test_every_compose_command_in_the_docs_names_the_compose_file() -> None:
    text = DOCS.read_text(encoding="utf-8")
    commands = re.findall(r"docker compose[^`\n]*", text)
    assert len(commands) >= 3
    for command in commands:
        assert "-f deploy/compose.yaml" in command, f"docs/deploy.md: {command!r}"
        subcommand = command.split("-f deploy/compose.yaml", 1)[1].split()
        if subcommand[:2] == ["run", "--rm"]:
            assert subcommand[2] in compose()["services"], command


def test_the_image_leaves_secrets_and_local_state_out() -> None:
    build = compose()["x-syndicator"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    ignore = (context / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (".git", ".venv", "**/.env", "**/*.db", "**/*.db-*", "deploy/config.yaml",
                    "feeds", "config.yaml"):
        assert pattern in ignore, f".dockerignore lacks {pattern}"
    # The Dockerfile copies what the install needs, not the whole context.
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^COPY\s+\.\s", text, re.M)


def test_instances_trust_forwarded_addresses_from_the_proxy_network_only() -> None:
    loaded = compose()
    subnets = [ipaddress.ip_network(entry["subnet"].split(":-", 1)[1].rstrip("}"))
               for entry in loaded["networks"]["default"]["ipam"]["config"]]
    trusted = loaded["x-syndicator"]["environment"]["FORWARDED_ALLOW_IPS"]
    networks = [ipaddress.ip_network(part.split(":-", 1)[-1].rstrip("}").strip())
                for part in trusted.split(",")]
    assert networks == subnets
    for name in INSTANCES:     # reachable through the proxy only
        assert "ports" not in loaded["services"][name]
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in nginx


def test_postgres_takes_every_instance_connections() -> None:
    loaded = compose()
    command = loaded["services"]["postgres"]["command"]
    settings = dict(part.split("=", 1) for part in command if "=" in part)
    instances = sum(1 for service in loaded["services"].values()
                    if service.get("command", [""])[0] in ("run", "worker"))
    # docs/service.md, Connections: a run with N jobs (4 in a cluster unless set) opens the
    # job queue's N + 4, its listener, the store's pool, the rate state's 1 + N and the
    # output listener; a migrate the store's pool of a one-off command;
    # superuser_reserved_connections keeps 3.
    jobs = cluster_concurrency(None)
    run = store_pool(jobs, http=True)
    per_run = (jobs + 4) + 1 + run.kept + run.more + (1 + jobs) + 1
    assert per_run == 3 * jobs + 22
    assert int(settings["max_connections"]) >= instances * per_run + sum(ONE_JOB) + 3


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    relative = parse_config("storage: sqlite:///syndicator.db\noutput_dir: feeds\n",
                            file="config.yaml", base_dir=etc)
    assert relative.output_path == etc / "feeds"
    assert relative.storage_url == f"sqlite:///{etc / 'syndicator.db'}"
    state = tmp_path / "var"
    absolute = parse_config(f"storage: sqlite:///{state}/syndicator.db\n"
                            f"output_dir: {state}/feeds\n", file="config.yaml", base_dir=etc)
    assert absolute.output_path == state / "feeds"
    assert absolute.storage_url == f"sqlite:///{state / 'syndicator.db'}"


def test_deploy_docs_config_uses_absolute_paths() -> None:
    """The config docs/deploy.md shows for /etc/syndicator puts its state under /var/lib."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        config = parse_config(block, file="docs/deploy.md", base_dir=Path("/etc/syndicator"),
                              env={"SYNDICATOR_DATABASE_URL": "postgresql+psycopg://h/db"})
        assert config.output_path.is_relative_to("/var/lib/syndicator"), block
        if config.storage.startswith("sqlite"):
            assert config.storage_url.startswith("sqlite:////var/lib/syndicator/"), block


PROXIED_CONFIG = """
site: {{title: "Test feeds", base_url: "http://127.0.0.1:{port}/"}}
storage: "sqlite:///store.db"
output_dir: feeds
server: {{host: 127.0.0.1, port: {port}, query_rate: 0.001, query_burst: 2}}
sources:
  - {{id: news, type: feed, url: "http://127.0.0.1:9/feed.xml", language: en}}
feeds:
  - {{id: news, title: "News", sources: [news]}}
"""


def filter_answers(url: str, forwarded_for: str, count: int) -> list[int]:
    """Statuses of `count` filter queries (each a new one: never cached) from a client
    the proxy names `forwarded_for`. The filters are plain substrings (no regex
    metacharacters), so each costs one query token: a regex not compiled yet costs more."""
    plain = forwarded_for.replace(".", "_")
    return [httpx.get(f"{url}/news.rss?filter=client_{plain}_{n}", timeout=30,
                      headers={"X-Forwarded-For": forwarded_for}, trust_env=False).status_code
            for n in range(count)]


@pytest.mark.parametrize("trusted", [True, False])
def test_per_client_limits_count_the_forwarded_address_of_a_trusted_proxy(
        tmp_path: Path, trusted: bool) -> None:
    """`FORWARDED_ALLOW_IPS`, as compose sets it, reaches the server: from a trusted proxy
    each forwarded client has its own query bucket; from any other address the header is
    ignored and every request counts against the connection's address."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(PROXIED_CONFIG.format(port=port), encoding="utf-8")
    command = [sys.executable, "-m", "syndicator", "--config", str(config)]
    subprocess.run([*command, "build"], cwd=tmp_path, check=True, capture_output=True,
                   timeout=120)
    env = dict(os.environ, FORWARDED_ALLOW_IPS="127.0.0.0/8" if trusted else "192.0.2.1")
    env.pop("SYNDICATOR_CONFIG", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "serve"], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answered(process, url + "/news.rss", log)
        assert filter_answers(url, "198.51.100.7", 3) == [200, 200, 429]
        expected = [200, 200] if trusted else [429, 429]
        assert filter_answers(url, "203.0.113.9", 2) == expected
    finally:
        stop_process(process)
