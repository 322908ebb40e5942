"""Launching Dagster runs: one interface, two implementations.

* :class:`GraphQLLauncher` asks a Dagster webserver through Dagster's own GraphQL client
  (``DagsterGraphQLClient.submit_job_execution``): the instance's run coordinator and run launcher
  (queueing, concurrency pools, Kubernetes) then apply as for any run.
* :class:`LocalLauncher` executes the job in a background thread of this process against the same
  Dagster instance, so the run still shows in the UI: the embedded default, no webserver needed.

Either way runs are read back from the instance's run storage (the same rows the webserver
reads, one query, and they survive an API restart).

This is the single module of ``serving_api`` allowed to import ``stock_assets.definitions`` (for
the job definitions the local launcher executes); import-linter encodes that exception.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import dagster as dg
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from gql.transport.exceptions import TransportConnectionFailed, TransportServerError
from requests import RequestException

from serving_api.problems import DependencyUnavailableError, LaunchRejectedError
from stock_assets.names import PARTITION_TAG
from stock_assets.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """What to run: a job (optionally only some of its assets), for one ticker partition or
    none, with run config and tags."""

    job_name: str
    partition: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    asset_selection: Sequence[dg.AssetKey] | None = None

    def all_tags(self) -> dict[str, str]:
        tags = dict(self.tags)
        if self.partition is not None:
            tags[PARTITION_TAG] = self.partition
        return tags


class RunLauncher(Protocol):
    """Starts a Dagster run and returns its run id without waiting for it."""

    name: str

    def submit(self, spec: RunSpec) -> str: ...

    def busy(self, job_name: str, partition: str | None) -> bool:
        """Submitted here and not finished, whether or not its run record exists yet."""
        ...

    def close(self) -> None: ...


class GraphQLLauncher:
    """Launches through a Dagster webserver (``STOCKOPS_DAGSTER_GRAPHQL_URL``)."""

    name = "graphql"

    def __init__(self, settings: Settings, client: DagsterGraphQLClient | None = None) -> None:
        assert settings.dagster_graphql_url, "GraphQLLauncher needs STOCKOPS_DAGSTER_GRAPHQL_URL"
        self.url = settings.dagster_graphql_url
        self.location = settings.dagster_repository_location
        self.repository = settings.dagster_repository_name
        self._client = client or graphql_client(self.url, settings.dagster_graphql_timeout_s)

    def submit(self, spec: RunSpec) -> str:
        try:
            return self._client.submit_job_execution(
                spec.job_name,
                repository_location_name=self.location,
                repository_name=self.repository,
                run_config=dict(spec.run_config),
                tags=spec.all_tags(),
                asset_selection=list(spec.asset_selection) if spec.asset_selection else None,
            )
        except DagsterGraphQLClientError as exc:
            if _unreachable(exc):
                raise DependencyUnavailableError("Dagster", f"webserver at {self.url}") from exc
            detail = f"{exc.args[0]}: {exc.args[1]}" if len(exc.args) > 1 else str(exc)
            raise LaunchRejectedError(
                f"Dagster could not launch {spec.job_name}: {detail[:500]}"
            ) from exc

    def busy(self, job_name: str, partition: str | None) -> bool:
        return False  # the webserver creates the run record before it answers

    def close(self) -> None:
        pass


def _unreachable(exc: BaseException) -> bool:
    """The webserver did not answer (refused, timed out, 5xx), as opposed to answering no."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TransportConnectionFailed | TransportServerError | RequestException):
            return True
        cause = cause.__cause__
    return False


def graphql_client(url: str, timeout_s: float) -> DagsterGraphQLClient:
    """Dagster's client for a GraphQL URL such as ``https://host:3000/prefix/graphql``."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"STOCKOPS_DAGSTER_GRAPHQL_URL is not a URL: {url!r}")
    return DagsterGraphQLClient(
        parts.hostname,
        port_number=parts.port,
        use_https=parts.scheme == "https",
        timeout=max(1, round(timeout_s)),
        path_prefix=parts.path.removesuffix("/").removesuffix("/graphql"),
    )


class LocalLauncher:
    """Executes jobs in this process (one at a time), against the shared Dagster instance.

    Runs execute one after another on a single worker thread: training saturates the cores and
    the SQLite stores prefer one writer. Run ids are made here, so the caller can hand out the
    run before its record exists; ``busy`` covers the time until it finishes.
    """

    name = "local"

    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        self.settings = settings
        self.instance = instance
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stockops-run")
        self._submitted: dict[str, tuple[RunSpec, Future[str]]] = {}
        self._lock = threading.Lock()
        self._definitions: dg.Definitions | None = None

    def _job(self, name: str) -> dg.JobDefinition:
        with self._lock:
            if self._definitions is None:
                # The only import of the code location in serving_api (see module docstring):
                # the same assets and jobs as the Dagster UI, bound to *this app's* settings.
                from stock_assets.definitions import build_definitions

                self._definitions = build_definitions(self.settings)
            return self._definitions.resolve_job_def(name)

    def submit(self, spec: RunSpec) -> str:
        run_id = str(uuid.uuid4())
        job = self._job(spec.job_name)  # fail fast on an unknown job, in the request

        def execute() -> str:
            try:
                result = job.execute_in_process(
                    run_config=dict(spec.run_config),
                    instance=self.instance,
                    partition_key=spec.partition,
                    asset_selection=list(spec.asset_selection) if spec.asset_selection else None,
                    run_id=run_id,
                    tags=dict(spec.tags),
                    raise_on_error=False,
                )
                return "SUCCESS" if result.success else "FAILURE"
            except Exception:
                # The run record (if created) carries the failure; keep the thread alive.
                log.exception("Local run %s of %s crashed", run_id, spec.job_name)
                return "FAILURE"

        with self._lock:
            self._submitted[run_id] = (spec, self._pool.submit(execute))
        return run_id

    def busy(self, job_name: str, partition: str | None) -> bool:
        with self._lock:
            return any(
                s.job_name == job_name and s.partition == partition and not f.done()
                for s, f in self._submitted.values()
            )

    def wait(self, run_id: str, timeout_s: float) -> str | None:
        """Block until a run submitted here ends (tests, the command line); None on timeout."""
        with self._lock:
            entry = self._submitted.get(run_id)
        if entry is None:
            return None
        try:
            return entry[1].result(timeout=timeout_s)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def launcher_from_settings(settings: Settings, instance: dg.DagsterInstance) -> RunLauncher:
    if settings.dagster_graphql_url:
        return GraphQLLauncher(settings)
    return LocalLauncher(settings, instance)
