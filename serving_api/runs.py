"""Launching Dagster runs: one interface, two implementations.

* :class:`GraphQLLauncher` asks a Dagster webserver (``launchRun`` mutation): the instance's run
  coordinator and run launcher (queueing, concurrency limits, K8s) then apply as for any run.
* :class:`LocalLauncher` executes the job in a background thread of this process against the same
  Dagster instance, so the run still shows in the UI: the embedded default, no webserver needed.

Either way a task id IS a Dagster run id, and run state is read back from the instance's run
storage, so it survives an API restart.

This is the single module of ``serving_api`` allowed to import ``stock_assets.definitions`` (for
the job definitions the local launcher executes); import-linter encodes that exception.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import dagster as dg
import httpx

from serving_api.errors import ApiError, dependency_unavailable
from stock_assets.defs.run_state import PARTITION_TAG
from stock_assets.settings import Settings

log = logging.getLogger(__name__)

TERMINAL = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}


@dataclass(frozen=True)
class RunSpec:
    """What to run: a job, optionally for one ticker partition, with config and tags."""

    job_name: str
    partition: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def all_tags(self) -> dict[str, str]:
        tags = dict(self.tags)
        if self.partition is not None:
            tags[PARTITION_TAG] = self.partition
        return tags


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, recursively for nested mappings (run config overrides)."""
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class RunLauncher(Protocol):
    """Starts a Dagster run and returns its run id without waiting for it."""

    name: str

    def submit(self, spec: RunSpec) -> str: ...

    def wait(self, instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> str | None:
        """Block until the run ends; returns its final status name (None on timeout)."""
        ...

    def pending(self, run_id: str) -> bool:
        """True while the run was submitted but has no run record yet."""
        ...

    def close(self) -> None: ...


def poll_until_done(instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> str | None:
    """Poll the run storage until the run is terminal (remote runs: nothing else to wait on)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in TERMINAL:
            return run.status.value
        time.sleep(0.5)
    return None


class GraphQLLauncher:
    """Launches through a Dagster webserver's GraphQL API (``launchRun``), with httpx."""

    name = "graphql"
    _MUTATION = """
    mutation LaunchRun($executionParams: ExecutionParams!) {
      launchRun(executionParams: $executionParams) {
        __typename
        ... on LaunchRunSuccess { run { runId status } }
        ... on RunConfigValidationInvalid { errors { message } }
        ... on Error { message }
      }
    }
    """

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        assert settings.dagster_graphql_url, "GraphQLLauncher needs STOCKOPS_DAGSTER_GRAPHQL_URL"
        self.url = settings.dagster_graphql_url
        self.location = settings.dagster_repository_location
        self.repository = settings.dagster_repository_name
        self._client = client or httpx.Client(timeout=settings.dagster_graphql_timeout_s)

    def submit(self, spec: RunSpec) -> str:
        variables = {
            "executionParams": {
                "selector": {
                    "repositoryLocationName": self.location,
                    "repositoryName": self.repository,
                    "jobName": spec.job_name,
                },
                "runConfigData": dict(spec.run_config),
                "executionMetadata": {
                    "tags": [{"key": k, "value": v} for k, v in spec.all_tags().items()]
                },
            }
        }
        try:
            response = self._client.post(
                self.url, json={"query": self._MUTATION, "variables": variables}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise dependency_unavailable("Dagster", f"webserver at {self.url}: {exc}") from exc
        body = response.json()
        if body.get("errors"):
            message = "; ".join(str(e.get("message")) for e in body["errors"])
            raise ApiError(502, "dagster_error", f"Dagster rejected the launch: {message}")
        result = body["data"]["launchRun"]
        if result["__typename"] == "LaunchRunSuccess":
            return str(result["run"]["runId"])
        detail = result.get("message") or "; ".join(
            str(e.get("message")) for e in result.get("errors", [])
        )
        raise ApiError(
            502,
            "dagster_error",
            f"Dagster could not launch {spec.job_name}: {result['__typename']}: {detail}",
        )

    def wait(self, instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> str | None:
        return poll_until_done(instance, run_id, timeout_s)

    def pending(self, run_id: str) -> bool:
        return False  # the webserver creates the run record before it answers

    def close(self) -> None:
        self._client.close()


class LocalLauncher:
    """Executes jobs in this process (one at a time), against the shared Dagster instance.

    Runs execute one after another on a single worker thread: training saturates the cores and
    the SQLite stores prefer one writer. Run ids are generated up front so the caller can hand out
    the task id before the run record exists (``pending`` covers that window).
    """

    name = "local"

    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        self.settings = settings
        self.instance = instance
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stockops-run")
        self._futures: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._definitions: dg.Definitions | None = None

    def _job(self, name: str) -> dg.JobDefinition:
        with self._lock:
            if self._definitions is None:
                # The only import of the code location in serving_api (see module docstring):
                # the same assets and jobs as the Dagster UI, bound to *this app's* settings.
                from stock_assets.definitions import ASSETS, JOBS
                from stock_assets.defs.resources import resources_from_settings

                self._definitions = dg.Definitions(
                    assets=ASSETS,
                    jobs=JOBS,
                    resources=resources_from_settings(self.settings),
                    executor=dg.in_process_executor,
                )
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
            self._futures[run_id] = self._pool.submit(execute)
        return run_id

    def wait(self, instance: dg.DagsterInstance, run_id: str, timeout_s: float) -> str | None:
        future = self._futures.get(run_id)
        if future is None:
            return poll_until_done(instance, run_id, timeout_s)
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            return None

    def pending(self, run_id: str) -> bool:
        """Submitted and not finished (its run record may not exist yet)."""
        future = self._futures.get(run_id)
        return future is not None and not future.done()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def launcher_from_settings(settings: Settings, instance: dg.DagsterInstance) -> RunLauncher:
    if settings.dagster_graphql_url:
        return GraphQLLauncher(settings)
    return LocalLauncher(settings, instance)
