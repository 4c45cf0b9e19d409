"""Webhook ingest: signed Jira webhooks at Tandem under production gunicorn, against a ceiling.

One run, loopback only:

1. Recreate and migrate the database ``tandem_bench_ingest`` (same server and roles as the
   configured one), make a throwaway keyring and install one Connect installation with
   ``models.lifecycle.install``; flush Redis database ``--redis-db`` (2) and nothing else.
2. Start Tandem (``gunicorn -c gunicorn.conf.py 'app:create_app()'``, TANDEM_ENV=production)
   on a free 127.0.0.1 port, wait for /healthz and /readyz, warm up, then send ``--requests``
   webhooks with Debian's ``wrk`` and ``bench/webhooks.lua``: a fixed ~4 KB
   ``jira:issue_created`` body, a JWT made for the run (HS256 with the installation's
   sharedSecret, qsh of the route, 15 minutes) and a unique X-Atlassian-Webhook-Identifier
   per request. Stop Tandem.
3. Start ``bench.bare_app`` (the same route answering 204) with the same gunicorn config and
   environment, warm up, send the same load with the same wrk settings. Stop it.
4. Count the run's rows in ``webhook_events`` (tenant session, measured prefix only), the
   identifiers with more than one row, and the jobs in the RQ queue ``webhooks``.

The access log is off for both servers (WEB_ACCESS_LOG=0); WEB_CONCURRENCY/WEB_THREADS are
passed through unchanged to both (or set with --workers/--web-threads). No RQ worker runs.
The machine's cores are shared by wrk, gunicorn, PostgreSQL and Redis.

Usage: ``python bench/webhook_ingest.py [--requests 20000] [--warmup 500] [--connections N]
[--wrk-threads 1] [--workers N] [--web-threads N] [--redis-db 2] [--cap-seconds 600]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import redis
from atlassian_jwt.url_utils import hash_url
from rq import Queue
from sqlalchemy import text

from bench.common import BenchSetupError, BenchUrls, bench_urls, figure, note, write_results
from config import load_settings
from devtools.fresh_db import ROOT, migrate, recreate_database, with_database
from keys.keyring_file import create_keyring
from models.db import Database
from models.lifecycle import InstallRequest, install
from runtime import build_runtime
from sync.inbox import QUEUE

NAME = "webhook_ingest"
DATABASE = "tandem_bench_ingest"
ROUTE = "/connect/webhooks/issue-created"
TANDEM_APP = "app:create_app()"
BARE_APP = "bench.bare_app:create_app()"
LUA = Path(__file__).resolve().parent / "webhooks.lua"
CLIENT_KEY = "bench-ingest-00000000-0000-4000-8000-000000000001"
JIRA_BASE_URL = "https://bench-ingest.atlassian.net"
TANDEM_BASE_URL = "https://tandem-bench.invalid"
BODY_BYTES = 4096
JWT_SECONDS = 15 * 60
MIN_REQUESTS = 20_000
START_SECONDS = 30.0
GOAL_RATIO = 0.30
GOAL_P99_MS = 25.0
OTHER_CPU_WARNING = 0.10
WRK_MARKER = "WRK_RESULT "
THREAD_DONE_MARKER = "WRK_THREAD_DONE "


class BenchFailure(RuntimeError):
    """The benchmark could not run to the end; the message says why."""


@dataclass(frozen=True)
class Options:
    """What one run sends, and with what."""

    requests: int
    warmup: int
    wrk_threads: int
    connections: int | None
    workers: int | None
    web_threads: int | None
    redis_db: int
    cap_seconds: int


@dataclass(frozen=True)
class Server:
    """A running gunicorn: its base URL and master pid."""

    url: str
    pid: int


@dataclass(frozen=True)
class Load:
    """What wrk reported for one run, and the CPU seconds each party used meanwhile."""

    result: dict[str, Any]
    cpu_seconds: dict[str, float]
    machine_busy_seconds: float
    machine_seconds: float  # cores x wall time

    @property
    def answered(self) -> int:
        r = self.result
        return int(r["accepted"] + r["ok"] + r["duplicates"] + r["other"])

    @property
    def duration(self) -> float:
        return float(self.result["duration_us"]) / 1e6

    @property
    def rps(self) -> float:
        return self.answered / self.duration

    def ms(self, percentile: str) -> float:
        return float(self.result["latency_us"][percentile]) / 1000.0

    def summary(self) -> dict[str, Any]:
        """The run's figures for the result file."""
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.ms("p50"), 3),
            "p90_ms": round(self.ms("p90"), 3),
            "p99_ms": round(self.ms("p99"), 3),
            "max_ms": round(self.ms("max"), 3),
            "answered": self.answered,
            "duration_s": round(self.duration, 3),
            "wrk": self.result,
            "cpu_ms_per_request": self.cpu_per_request(),
            "wrk_cpu_percent_of_one_core": round(100 * self.cpu_seconds["wrk"] / self.duration, 1),
            "machine_cpu_busy_percent": round(
                100 * self.machine_busy_seconds / self.machine_seconds, 1
            ),
            "other_cpu_percent_of_machine": round(100 * self.other_cpu_share, 1),
        }

    @property
    def other_cpu_share(self) -> float:
        """The share of the machine's CPU used by anything but the bench's processes."""
        ours = sum(self.cpu_seconds.values())
        return max(0.0, self.machine_busy_seconds - ours) / self.machine_seconds

    def cpu_per_request(self) -> dict[str, float]:
        """CPU milliseconds per answered webhook, by process kind."""
        return {k: round(1000 * v / self.answered, 3) for k, v in self.cpu_seconds.items()}


# --- the request --------------------------------------------------------------------------


def _adf_paragraph(text_value: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text_value}]}


def webhook_body(size: int = BODY_BYTES) -> bytes:
    """A realistic ``jira:issue_created`` body, padded to ``size`` bytes exactly."""
    account = "5b10ac8d82e05b22cc7d4ef5"
    avatar = "https://avatar-management.example.invalid/default/48"
    user = {
        "self": f"{JIRA_BASE_URL}/rest/api/2/user?accountId={account}",
        "accountId": account,
        "avatarUrls": {size_: f"{avatar}?s={size_[:2]}" for size_ in ("48x48", "24x24")},
        "displayName": "Ada Benchmark",
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": "atlassian",
    }
    description = [
        _adf_paragraph(
            "Steps: open the board, drag the card to Done, reload. Expected: the card stays "
            "in Done. Actual: it jumps back to In Progress after a few seconds."
        ),
        _adf_paragraph(""),
    ]
    fields: dict[str, Any] = {
        "summary": "Board card jumps back to In Progress after moving it to Done",
        "issuetype": {
            "self": f"{JIRA_BASE_URL}/rest/api/2/issuetype/10004",
            "id": "10004",
            "description": "A problem which impairs or prevents the functions of the product.",
            "iconUrl": f"{JIRA_BASE_URL}/images/icons/issuetypes/bug.svg",
            "name": "Bug",
            "subtask": False,
            "hierarchyLevel": 0,
        },
        "project": {
            "self": f"{JIRA_BASE_URL}/rest/api/2/project/10000",
            "id": "10000",
            "key": "BEN",
            "name": "Benchmark",
            "projectTypeKey": "software",
            "simplified": False,
        },
        "status": {
            "self": f"{JIRA_BASE_URL}/rest/api/2/status/10000",
            "name": "To Do",
            "id": "10000",
            "statusCategory": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
        },
        "priority": {"self": f"{JIRA_BASE_URL}/rest/api/2/priority/3", "name": "Medium", "id": "3"},
        "labels": ["board", "regression", "customer-reported"],
        "components": [{"id": "10010", "name": "Boards"}],
        "fixVersions": [],
        "reporter": user,
        "creator": user,
        "assignee": None,
        "created": "2024-05-14T09:31:07.123+0200",
        "updated": "2024-05-14T09:31:07.123+0200",
        "duedate": None,
        "resolution": None,
        "watches": {"watchCount": 1, "isWatching": True},
        "votes": {"votes": 0, "hasVoted": False},
        "description": {"type": "doc", "version": 1, "content": description},
    }
    body: dict[str, Any] = {
        "timestamp": 1715671867123,
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": user,
        "issue": {
            "id": "10042",
            "self": f"{JIRA_BASE_URL}/rest/api/2/10042",
            "key": "BEN-42",
            "fields": fields,
        },
    }
    encoded = json.dumps(body, separators=(",", ":")).encode()
    missing = size - len(encoded)
    if missing < 0:
        raise BenchFailure(f"the webhook body is {len(encoded)} bytes, more than {size}")
    words = "Seen on Firefox and Chrome; logs attached to the support ticket. " * 64
    description[1]["content"][0]["text"] = words[:missing]
    return json.dumps(body, separators=(",", ":")).encode()


def signed_token(shared_secret: str, seconds: int = JWT_SECONDS) -> str:
    """An HS256 Connect token for ``POST ROUTE``, as Jira signs a webhook."""
    now = int(time.time())
    claims = {"iss": CLIENT_KEY, "iat": now, "exp": now + seconds, "qsh": hash_url("POST", ROUTE)}
    return jwt.encode(claims, shared_secret, algorithm="HS256")


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """workers/threads/worker_class as gunicorn.conf.py computes them from ``env``."""
    code = (
        "import json, runpy; g = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: g[k] for k in ('workers', 'threads', 'worker_class', 'keepalive', "
        "'timeout', 'max_requests', 'accesslog')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(env), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise BenchFailure(f"cannot read gunicorn.conf.py: {out.stderr.strip()}")
    return dict(json.loads(out.stdout))


def cpu_children_seconds() -> float:
    """User + system CPU of this process's reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _postgres_is_ours(pid: str) -> bool:
    """A process of the bench database, or one serving the whole server (WAL writer…)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if DATABASE in title.replace("\0", " ").split():
        return True
    per_database = ("(", "[local]", "autovacuum worker")  # "user db host(port) state", …
    return not any(mark in title for mark in per_database)


def cpu_by_kind(master_pid: int) -> dict[str, float]:
    """CPU seconds so far of the gunicorn master and its workers, the PostgreSQL processes
    serving the bench database (and the server-wide ones) and Redis."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(entry.name) == master_pid or int(fields[1]) == master_pid:
            kind = "gunicorn"
        elif comm.startswith("postgres") and _postgres_is_ours(entry.name):
            kind = "postgres"
        elif comm.startswith("redis-server"):
            kind = "redis"
        else:
            continue
        totals[kind] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@contextmanager
def gunicorn(app: str, env: Mapping[str, str], log_path: Path) -> Iterator[Server]:
    """Run ``gunicorn -c gunicorn.conf.py APP`` on a free loopback port; yield it.

    The process is stopped (TERM, then KILL of its own process group) on the way out.
    """
    port = free_port()
    child_env = dict(env) | {"WEB_BIND": f"127.0.0.1:{port}"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", process.pid)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """TERM the gunicorn master, wait for its graceful stop, KILL its group if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group start_new_session made for it
        process.wait(timeout=10)


def wait_until_up(base_url: str, paths: tuple[str, ...], log_path: Path) -> None:
    """Poll ``paths`` until each answers 200, for at most START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    for path in paths:
        while True:
            try:
                with urllib.request.urlopen(base_url + path, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchFailure(f"{base_url}{path} did not answer 200 in time:\n{tail}")
            time.sleep(0.2)


def run_wrk(
    wrk: str, server: Server, files: tuple[Path, Path], prefix: str, total: int, o: Options, c: int
) -> Load:
    """Send ``total`` webhooks with wrk; parse the script's WRK_RESULT line."""
    command = [
        wrk,
        f"-t{o.wrk_threads}",
        f"-c{c}",
        f"-d{o.cap_seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        server.url + ROUTE,
        "--",
        str(files[0]),
        str(files[1]),
        prefix,
        str(total),
        str(o.wrk_threads),
    ]
    wrk_before, (busy_before, total_before) = cpu_children_seconds(), machine_cpu()
    before = cpu_by_kind(server.pid)
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None and p.stderr is not None
        finished = 0
        for line in p.stdout:  # ends when wrk exits, by -d CAP at the latest
            lines.append(line.rstrip("\n"))
            if line.startswith(THREAD_DONE_MARKER):
                finished += 1
                if finished == o.wrk_threads:
                    p.send_signal(signal.SIGINT)  # wrk's main thread would sleep until CAP
        errors = p.stderr.read()
        returncode = p.wait(timeout=60)
    after = cpu_by_kind(server.pid)
    busy_after, total_after = machine_cpu()
    cpu = {kind: after[kind] - before[kind] for kind in after}
    cpu["wrk"] = cpu_children_seconds() - wrk_before
    results = [line for line in lines if line.startswith(WRK_MARKER)]
    if returncode != 0 or not results:
        output = "\n".join(lines)
        raise BenchFailure(f"wrk failed ({returncode}):\n{output}\n{errors}")
    result = json.loads(results[-1][len(WRK_MARKER) :])
    ticks = os.sysconf("SC_CLK_TCK")
    busy, capacity = (busy_after - busy_before) / ticks, (total_after - total_before) / ticks
    load = Load(result, cpu, busy, capacity)
    if load.answered < total:
        raise BenchFailure(
            f"wrk got {load.answered} of {total} answers in {o.cap_seconds}s (errors "
            f"{result['errors']}); raise --cap-seconds or look at the server log"
        )
    return load


# --- database and Redis -------------------------------------------------------------------


def bench_redis_url(url: str, db: int) -> str:
    """``url`` pointed at Redis database ``db``; refuse the configured database itself."""
    parts = urlsplit(url)
    configured = parts.path.strip("/") or "0"
    if configured == str(db):
        raise BenchSetupError(f"REDIS_URL already uses database {db}; pick another --redis-db")
    return urlunsplit(parts._replace(path=f"/{db}"))


def count_rows(app_url: str, tenant_id: uuid.UUID, prefix: str) -> tuple[int, int]:
    """(rows, distinct identifiers) of the run's webhook_events, in a tenant session."""
    db = Database.from_url(app_url, pool_size=1)
    try:
        with db.tenant_session(tenant_id) as session:
            rows, distinct = session.execute(
                text(
                    "SELECT count(*), count(DISTINCT identifier) FROM webhook_events "
                    "WHERE tenant_id = :t AND identifier LIKE :p"
                ),
                {"t": tenant_id, "p": prefix + "-%"},
            ).one()
    finally:
        db.dispose()
    return int(rows), int(distinct)


# --- the run ------------------------------------------------------------------------------


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=MIN_REQUESTS)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=None, help="default: gunicorn's")
    parser.add_argument("--workers", type=int, default=None, help="WEB_CONCURRENCY for both")
    parser.add_argument("--web-threads", type=int, default=None, help="WEB_THREADS for both")
    parser.add_argument("--redis-db", type=int, default=2)
    parser.add_argument("--cap-seconds", type=int, default=600)
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 1_000_000 or not 0 <= args.warmup <= 100_000:
        parser.error("--requests must be 1..1,000,000 and --warmup 0..100,000")
    if not 1 <= args.wrk_threads <= 8 or not 10 <= args.cap_seconds <= JWT_SECONDS - 120:
        parser.error(f"--wrk-threads must be 1..8 and --cap-seconds 10..{JWT_SECONDS - 120}")
    return Options(
        requests=args.requests,
        warmup=args.warmup,
        wrk_threads=args.wrk_threads,
        connections=args.connections,
        workers=args.workers,
        web_threads=args.web_threads,
        redis_db=args.redis_db,
        cap_seconds=args.cap_seconds,
    )


def server_env(o: Options, urls: dict[str, str], keyring: Path) -> dict[str, str]:
    """The environment both gunicorns get (the bare app ignores all but gunicorn's knobs)."""
    # make run's .run/env points OAuth and Connect at the http:// sandbox, which production
    # refuses; the benchmark uses neither.
    ours = ("TANDEM_", "DATABASE_", "OAUTH_", "CONNECT_", "SANDBOX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.pop("PORT", None)
    env |= {
        "TANDEM_ENV": "production",
        "TANDEM_SECRET_KEY": secrets.token_urlsafe(48),
        "TANDEM_BASE_URL": TANDEM_BASE_URL,
        "TANDEM_KEK_KEYRING": str(keyring),
        "DATABASE_URL": urls["app"],
        "DATABASE_OWNER_URL": urls["owner"],
        "DATABASE_MAINTENANCE_URL": urls["maintenance"],
        "REDIS_URL": urls["redis"],
        "WEB_ACCESS_LOG": "0",
    }
    if o.workers is not None:
        env["WEB_CONCURRENCY"] = str(o.workers)
    if o.web_threads is not None:
        env["WEB_THREADS"] = str(o.web_threads)
    return env


def prepare(urls: dict[str, str], roles: BenchUrls, keyring: Path) -> tuple[uuid.UUID, str]:
    """Recreate the database, install the benchmark's installation; (tenant, secret)."""
    recreate_database(urls["owner"], roles.app_role, roles.maintenance_role)
    migrate(urls["owner"])
    create_keyring(keyring)
    settings = load_settings({"DATABASE_URL": urls["app"], "TANDEM_KEK_KEYRING": str(keyring)})
    runtime = build_runtime(settings)
    shared_secret = secrets.token_urlsafe(32)
    try:
        tenant_id, _ = install(
            runtime.db, runtime.keys, InstallRequest(CLIENT_KEY, shared_secret, JIRA_BASE_URL)
        )
    finally:
        runtime.close()
    return tenant_id, shared_secret


def verdict(figures: dict[str, Any]) -> list[str]:
    """What misses the goal (empty when it is met)."""
    missed = []
    if figures["ratio"] < GOAL_RATIO:
        missed.append(f"ratio {figures['ratio']:.3f} < {GOAL_RATIO}")
    if figures["p99_ms"] > GOAL_P99_MS:
        missed.append(f"p99 {figures['p99_ms']:.1f} ms > {GOAL_P99_MS} ms")
    if figures["rows"] != figures["accepted"]:
        missed.append(f"rows {figures['rows']} != accepted {figures['accepted']}")
    if figures["duplicates"]:
        missed.append(f"{figures['duplicates']} duplicates")
    if figures["accepted"] != figures["requests"]:
        missed.append(f"accepted {figures['accepted']} != sent {figures['requests']}")
    if figures["ceiling_non_2xx"]:
        missed.append(f"the bare app answered {figures['ceiling_non_2xx']} non-2xx")
    if figures["access_log"]:
        missed.append("gunicorn's access log was on")
    if figures["queued"] != figures["accepted"]:
        missed.append(f"queued {figures['queued']} != accepted {figures['accepted']}")
    if figures["requests"] < MIN_REQUESTS:
        missed.append(f"only {figures['requests']} requests (< {MIN_REQUESTS})")
    return missed


def run(o: Options, wrk: str, work: Path) -> dict[str, Any]:
    """The whole benchmark; returns the result file's content."""
    roles = bench_urls()  # checks the environment; pins the role variables the migrations read
    environ = os.environ
    urls = {
        "app": with_database(environ["DATABASE_URL"], DATABASE),
        "owner": with_database(environ["DATABASE_OWNER_URL"], DATABASE),
        "maintenance": with_database(environ["DATABASE_MAINTENANCE_URL"], DATABASE),
        "redis": bench_redis_url(environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), o.redis_db),
    }
    keyring = work / "keyring.json"
    note(f"recreating database {DATABASE} and installing the benchmark's installation")
    tenant_id, shared_secret = prepare(urls, roles, keyring)
    queue_redis = redis.Redis.from_url(urls["redis"])
    queue_redis.flushdb()

    env = server_env(o, urls, keyring)
    gconf = gunicorn_settings(env)
    workers, web_threads = int(gconf["workers"]), int(gconf["threads"])
    connections = o.connections or workers * web_threads
    connections = max(o.wrk_threads, connections - connections % o.wrk_threads)
    body = webhook_body()
    body_file, token_file = work / "body.json", work / "token"
    body_file.write_bytes(body)
    run_id = secrets.token_hex(4)
    note(
        f"gunicorn: {workers} {gconf['worker_class']} workers x {web_threads} threads, "
        f"access log off; wrk: {o.wrk_threads} threads, {connections} connections, "
        f"{o.requests} webhooks of {len(body)} bytes per target (+{o.warmup} warm-up); "
        f"{os.cpu_count()} cores shared by wrk, gunicorn, PostgreSQL and Redis"
    )

    def load(server: Server, prefix: str, total: int) -> Load:
        token_file.write_text(signed_token(shared_secret))
        return run_wrk(wrk, server, (body_file, token_file), prefix, total, o, connections)

    with gunicorn(TANDEM_APP, env, work / "tandem.log") as server:
        wait_until_up(server.url, ("/healthz", "/readyz"), work / "tandem.log")
        if o.warmup:
            load(server, f"warm{run_id}", o.warmup)
        queue_redis.flushdb()  # the queue then holds exactly the measured run's jobs
        note(f"Tandem: sending {o.requests} webhooks")
        tandem = load(server, f"run{run_id}", o.requests)
    queued = Queue(QUEUE, connection=queue_redis).count

    with gunicorn(BARE_APP, env, work / "bare.log") as server:
        wait_until_up(server.url, ("/healthz",), work / "bare.log")
        if o.warmup:
            load(server, f"warm{run_id}", o.warmup)
        note(f"bare Flask: sending {o.requests} webhooks")
        bare = load(server, f"run{run_id}", o.requests)

    rows, distinct = count_rows(urls["app"], tenant_id, f"run{run_id}")
    queue_redis.flushdb()
    queue_redis.close()
    return {
        "rps": round(tandem.rps, 1),
        "p50_ms": round(tandem.ms("p50"), 3),
        "p99_ms": round(tandem.ms("p99"), 3),
        "ceiling_rps": round(bare.rps, 1),
        "ratio": round(tandem.rps / bare.rps, 4),
        "accepted": int(tandem.result["accepted"]),
        "rows": rows,
        "duplicates": rows - distinct,
        "answered_duplicate": int(tandem.result["duplicates"]),
        "non_2xx": int(tandem.result["other"]),
        "ceiling_non_2xx": int(bare.result["other"]),
        "queued": queued,
        "requests": o.requests,
        "warmup_requests": o.warmup,
        "body_bytes": len(body),
        "duration": round(tandem.duration, 3),
        "ceiling_duration": round(bare.duration, 3),
        "workers": workers,
        "threads": web_threads,
        "worker_class": gconf["worker_class"],
        "gunicorn": {k: gconf[k] for k in ("keepalive", "timeout", "max_requests")},
        "access_log": gconf["accesslog"] is not None,
        "connections": connections,
        "wrk_threads": o.wrk_threads,
        "cpu_ms_per_request": {"tandem": tandem.cpu_per_request(), "bare": bare.cpu_per_request()},
        "other_cpu_percent": {
            "tandem": round(100 * tandem.other_cpu_share, 1),
            "bare": round(100 * bare.other_cpu_share, 1),
        },
        "tandem": tandem.summary(),
        "ceiling": bare.summary(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "note": (
            "one machine: wrk, gunicorn, PostgreSQL and Redis share its cores; gunicorn's "
            "access log off for both targets (WEB_ACCESS_LOG=0); same gunicorn.conf.py, env "
            "and wrk settings for both; no RQ worker ran; latency percentiles from wrk's "
            "histogram (closed loop, with wrk's own coordinated-omission correction); rps = "
            "answered webhooks / (first thread's start to last thread's last answer)"
        ),
    }


def report(figures: dict[str, Any]) -> list[str]:
    """Print one figure per line and the verdict; return what missed the goal."""
    for key in ("rps", "ceiling_rps", "ratio", "p50_ms", "p99_ms", "accepted", "rows"):
        figure(f"{NAME}.{key}", figures[key])
    for key in ("duplicates", "queued", "requests", "body_bytes", "workers", "connections"):
        figure(f"{NAME}.{key}", figures[key])
    figure(f"{NAME}.duration_s", figures["duration"])
    figure(f"{NAME}.access_log", "on" if figures["access_log"] else "off")
    figure(f"{NAME}.wrk_cpu_percent_of_one_core", figures["ceiling"]["wrk_cpu_percent_of_one_core"])
    for target in ("tandem", "bare"):
        total = sum(figures["cpu_ms_per_request"][target].values())
        figure(f"{NAME}.cpu_ms_per_request.{target}", total)
    missed = verdict(figures)
    print("goal: met" if not missed else f"goal: missed ({'; '.join(missed)})", flush=True)
    return missed


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench: wrk is not installed: run `make install-wrk` (Debian's wrk)", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="tandem-bench-ingest-") as work:
            figures = run(options, wrk, Path(work))
    except (BenchSetupError, BenchFailure) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    for target, percent in figures["other_cpu_percent"].items():
        if percent > 100 * OTHER_CPU_WARNING:
            note(
                f"warning: other processes used {percent}% of the machine's CPU during the "
                f"{target} run; its figures are not comparable (run on a quiet machine)"
            )
    missed = report(figures)
    figures["goal_met"] = not missed
    figures["goal_missed"] = missed
    path = write_results(NAME, figures)
    note(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
