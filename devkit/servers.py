"""Real servers on loopback for tests and benchmarks: free ports, the API's environment on an
empty data directory, processes started in their own group (stopping one stops its workers) and
waited for until they answer; ``running_api`` is all of it for one API under uvicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("STOCKOPS_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_prefix(kind: str = "test") -> str:
    """A Redis key prefix of one's own (``delete_redis_keys`` removes everything under it)."""
    return f"stockops-{kind}:{uuid.uuid4().hex[:8]}:"


def delete_redis_keys(prefix: str, url: str = REDIS_URL) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def api_env(root: Path, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of an API (or any StockOps process) on ``root``: its own data dir and
    Dagster home, Redis under ``prefix``, none of the caller's ``STOCKOPS_*`` settings."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # Nor the caller's Prometheus multiprocess folder: a server gets its own when it wants one.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STOCKOPS_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "STOCKOPS_DATA_DIR": str(root / "data"),
            "DAGSTER_HOME": str(home),
            "STOCKOPS_REDIS_URL": REDIS_URL,
            "STOCKOPS_REDIS_KEY_PREFIX": prefix,
            "FEAST_USAGE": "False",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "HF_HUB_OFFLINE": "1",
            **extra,
        }
    )
    return env


def uvicorn_api(port: int, log_level: str = "warning") -> list[str]:
    app = "serving_api.app:create_app"
    options = ["--host=127.0.0.1", f"--port={port}", f"--log-level={log_level}"]
    return [str(BIN / "uvicorn"), "--factory", app, *options]


def gunicorn_app(
    port: int,
    app: str = "serving_api.app:create_app()",
    workers: int = 2,
    log_level: str = "warning",
) -> list[str]:
    """As production serves the API: gunicorn with uvicorn workers. At ``info`` each worker logs
    "Application startup complete" once its lifespan has run."""
    return [
        str(BIN / "gunicorn"),
        f"--workers={workers}",
        "--worker-class=uvicorn_worker.UvicornWorker",
        f"--bind=127.0.0.1:{port}",
        "--timeout=120",
        f"--log-level={log_level}",
        app,
    ]


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server in its own process group, so stopping it stops its workers too."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_until(
    ready: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> float:
    """Seconds until ``ready()`` is true; raises with the log's tail if the process exits or
    ``timeout_s`` passes first."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, KeyError, TypeError, ValueError):
            if ready():
                return time.perf_counter() - started
        time.sleep(0.3)
    raise TimeoutError(f"{what} not up after {timeout_s} s:\n{log.read_text()[-3000:]}")


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> float:
    """Seconds until ``url`` answers below 500."""
    return wait_until(
        lambda: httpx.get(url, timeout=5.0).status_code < 500, url, proc, log, timeout_s
    )


_REPOSITORIES = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"


def wait_for_code_location(
    graphql_url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> float:
    """Seconds until a Dagster webserver's GraphQL answers with the code location loaded (it
    answers earlier, before the location is)."""

    def loaded() -> bool:
        body = httpx.post(graphql_url, json={"query": _REPOSITORIES}, timeout=30).json()
        return bool(body["data"]["repositoriesOrError"].get("nodes"))

    return wait_until(loaded, f"{graphql_url} (code location)", proc, log, timeout_s)


@contextlib.contextmanager
def serving(
    cmd: list[str], env: dict[str, str], log: Path, health_url: str, timeout_s: float = 180
) -> Iterator[subprocess.Popen[bytes]]:
    """Start, wait until ``health_url`` answers, yield the process, stop it."""
    proc = start(cmd, env, log)
    try:
        wait_until_up(health_url, proc, log, timeout_s)
        yield proc
    finally:
        stop(proc)


@dataclass(frozen=True)
class RunningApi:
    url: str
    log: Path
    redis_prefix: str
    pid: int


@contextlib.contextmanager
def running_api(
    root: Path, *, log_level: str = "warning", timeout_s: float = 180, **env: str
) -> Iterator[RunningApi]:
    """``uvicorn --factory serving_api.app:create_app`` on a free port over ``root`` (``api_env``
    plus ``env``), once ``/health/live`` answers; its Redis keys are deleted afterwards."""
    prefix = redis_prefix()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "api.log"
    try:
        command, environment = uvicorn_api(port, log_level), api_env(root, prefix, **env)
        with serving(command, environment, log, url + "/health/live", timeout_s) as proc:
            yield RunningApi(url, log, prefix, proc.pid)
    finally:
        with contextlib.suppress(redis.RedisError):
            delete_redis_keys(prefix)


@contextlib.contextmanager
def load_env(root: Path, kind: str = "test") -> Iterator[tuple[dict[str, str], str]]:
    """``api_env`` for an API under load as production serves it: gunicorn workers sharing a
    Prometheus multiprocess folder of their own, rate limits off. Yields the environment and
    its Redis key prefix, whose keys are deleted afterwards."""
    metrics = root / "prom"
    metrics.mkdir(parents=True, exist_ok=True)
    prefix = redis_prefix(kind)
    env = api_env(
        root, prefix, STOCKOPS_RATE_LIMIT_ENABLED="false", PROMETHEUS_MULTIPROC_DIR=str(metrics)
    )
    try:
        yield env, prefix
    finally:
        with contextlib.suppress(redis.RedisError):
            delete_redis_keys(prefix)


LOCAL_POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database on the local PostgreSQL (trust auth), dropped afterwards: its name."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**LOCAL_POSTGRES, dbname="postgres", connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_storage(database: str) -> str:
    """The Dagster instance file's ``storage`` section for ``database`` on the local PostgreSQL."""
    return (
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      username: {LOCAL_POSTGRES['user']}\n      password: ''\n"
        f"      hostname: {LOCAL_POSTGRES['host']}\n      port: {LOCAL_POSTGRES['port']}\n"
        f"      db_name: {database}\n      scheme: postgresql+psycopg2\n"
    )
