"""A small real platform for tests and benchmarks: the code location's own assets (taken from
the definitions, never retyped), on a Dagster instance and a data directory of its own, run with
tiny model sizes (``devkit.sizes``) under the real promotion policy, a real MLflow (SQLite) store
and a real Feast repo.

``TinyPlatform.run`` materializes any selection with the platform's op config (only the ops
selected get theirs); ``bootstrap`` and ``onboard`` do what the onboarding plan's two runs do.
``trained_platform`` is one such platform per process with a served ticker, for the tests that
only read what a trained platform serves.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from devkit.sizes import TINY
from stock_assets.definitions import build_definitions, defs
from stock_assets.defs.assets.features import FEATURE_DEFINITIONS_KEY
from stock_assets.defs.batches import BATCH_OP, batch_runs
from stock_assets.defs.jobs import BOOTSTRAP_ASSETS, DATA_ASSETS, ONBOARD_ASSETS
from stock_assets.defs.resources import MarketDataResource, resources_from_settings
from stock_assets.defs.run_state import materialized
from stock_assets.domain.serving import ServingModel, resolve_serving_model
from stock_assets.domain.storage import exclusive_lock
from stock_assets.domain.tracking import ModelTracker
from stock_assets.names import PARTITION_TAG, TICKER_BATCH_JOB, TICKERS_PARTITION
from stock_assets.settings import INDEX_TICKER, Settings

ASSETS: list[dg.AssetsDefinition] = list(defs.assets)  # type: ignore[arg-type]
Selection = Sequence[dg.AssetsDefinition | dg.AssetKey | str]


def _name(item: dg.AssetsDefinition | dg.AssetKey | str) -> str:
    if isinstance(item, dg.AssetsDefinition):
        return item.key.to_user_string()
    return item.to_user_string() if isinstance(item, dg.AssetKey) else item


@dataclass
class TickerRun:
    """One ticker's run inside a batch, read back from the instance (the few reads of an
    ``ExecuteInProcessResult`` the tests make)."""

    run: dg.DagsterRun
    instance: dg.DagsterInstance

    @property
    def success(self) -> bool:
        return self.run.status == dg.DagsterRunStatus.SUCCESS

    @functools.cached_property
    def all_events(self) -> list[dg.DagsterEvent]:
        records = self.instance.get_records_for_run(self.run.run_id, limit=100_000).records
        return [e for r in records if (e := r.event_log_entry.dagster_event) is not None]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return [e for e in self.all_events if e.is_step_materialization]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [
            e.event_specific_data
            for e in self.all_events
            if e.event_type_value == dg.DagsterEventType.ASSET_CHECK_EVALUATION.value
        ]


@dataclass
class BatchOutcome:
    """A batch run's result and each ticker's run, by ticker."""

    result: dg.ExecuteInProcessResult
    runs: dict[str, TickerRun]


@dataclass
class TinyPlatform:
    instance: dg.DagsterInstance
    settings: Settings
    resources: dict[str, Any]
    config: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(TINY))

    def run(
        self,
        selection: Selection,
        config: Mapping[str, dict[str, Any]] | None = None,
        partition: str | None = None,
        *,
        tags: Mapping[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Materialize ``selection`` (assets, keys or names); failures are returned, not
        raised."""
        names = {_name(item) for item in selection}
        ops = {k: v for k, v in {**self.config, **(config or {})}.items() if k in names}
        return dg.materialize(
            ASSETS,
            selection=[dg.AssetKey.from_user_string(n) for n in names],
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            run_config={"ops": ops},
            tags=dict(tags or {}),
            raise_on_error=False,
        )

    def must(self, selection: Selection, partition: str | None = None, **kwargs: Any) -> Any:
        """``run`` that must succeed (the failed steps' messages otherwise)."""
        result = self.run(selection, partition=partition, **kwargs)
        assert result.success, [
            e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"
        ]
        return result

    def run_batch(self, request: dg.RunRequest) -> BatchOutcome:
        """Execute a ``ticker_batch`` run request in process, as a run worker would, and read
        back each ticker's run from the instance. The platform's op config joins each ticker's
        run config; the resources are the current settings' (what a run worker loads), not
        ``self.resources``."""
        ops = request.run_config["ops"][BATCH_OP]["config"]
        child = json.loads(ops.get("run_config", "{}"))
        child["ops"] = {**self.config, **child.get("ops", {})}
        run_config = {"ops": {BATCH_OP: {"config": {**ops, "run_config": json.dumps(child)}}}}
        job = build_definitions(self.settings).resolve_job_def(TICKER_BATCH_JOB)
        result = job.execute_in_process(
            run_config=run_config,
            instance=self.instance,
            tags=dict(request.tags),
            raise_on_error=False,
        )
        runs = {
            run.tags[PARTITION_TAG]: TickerRun(run, self.instance)
            for run in batch_runs(self.instance, result.run_id)
        }
        return BatchOutcome(result, runs)

    def register(self, *tickers: str) -> None:
        known = set(self.instance.get_dynamic_partitions(TICKERS_PARTITION))
        new = [t for t in dict.fromkeys((INDEX_TICKER, *tickers)) if t not in known]
        if new:
            self.instance.add_dynamic_partitions(TICKERS_PARTITION, new)

    def data(self, *tickers: str) -> None:
        """Each ticker's data and features (the Feast registry first, once)."""
        self.register(*tickers)
        if not materialized(self.instance, FEATURE_DEFINITIONS_KEY):
            self.must([FEATURE_DEFINITIONS_KEY])
        for ticker in tickers:
            self.must(DATA_ASSETS, ticker)

    def bootstrap(self) -> None:
        """What the plan's first run does: Feast registry, the index's data, the parent."""
        self.register()
        self.must(BOOTSTRAP_ASSETS, INDEX_TICKER)

    def onboard(
        self,
        ticker: str,
        through: Selection | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """What the plan's second run does for ``ticker`` (data to forecast), or ``through``
        only, after its data."""
        self.register(ticker)
        if through is None:
            return self.must(ONBOARD_ASSETS, ticker, tags=tags)
        self.must(DATA_ASSETS, ticker, tags=tags)
        return self.must(through, ticker, tags=tags)

    @property
    def tracker(self) -> ModelTracker:
        return ModelTracker(self.settings.resolved_mlflow_tracking_uri)

    def serving(self, ticker: str) -> ServingModel:
        return resolve_serving_model(self.tracker, self.settings.resolved_outputs_dir, ticker)


@contextlib.contextmanager
def tiny_platform(
    root: Path,
    *,
    settings: Settings | None = None,
    market_data: MarketDataResource | None = None,
    config: Mapping[str, dict[str, Any]] | None = None,
    dagster_home: Path | None = None,
) -> Iterator[TinyPlatform]:
    """A platform under ``root`` (nothing materialized yet): its own Dagster instance (a test
    instance, or the one at ``dagster_home`` that a server will open afterwards) and, unless
    ``settings`` are given, data directory."""
    settings = settings or Settings(data_dir=root / "data")
    resources = resources_from_settings(settings)
    if market_data is not None:
        resources["market_data"] = market_data
    merged = {**TINY, **(config or {})}
    if dagster_home is not None:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            yield TinyPlatform(instance, settings, resources, merged)
        return
    home = root / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield TinyPlatform(instance, settings, resources, merged)


def train_for_servers(
    data_dir: Path,
    dagster_home: Path,
    tickers: Sequence[str] = ("AAPL",),
    config: Mapping[str, dict[str, Any]] | None = None,
) -> float:
    """Onboard ``tickers`` (the bootstrap, then each from data to forecast) into a data dir and
    Dagster home that servers open afterwards, with tiny model sizes unless ``config`` says
    otherwise (``FULL_SIZE``: the code location's defaults); returns the seconds it took."""
    started = time.perf_counter()
    settings = Settings(data_dir=data_dir)
    with tiny_platform(
        data_dir.parent, settings=settings, dagster_home=dagster_home, config=config
    ) as platform:
        platform.bootstrap()
        for ticker in tickers:
            platform.onboard(ticker)
    return time.perf_counter() - started


# The ticker ``trained_platform`` serves.
TRAINED_TICKER = "AAPL"


@functools.cache
def trained_platform(ticker: str = TRAINED_TICKER) -> TinyPlatform:
    """The bootstrap and ``ticker`` onboarded to a served forecast (~30 s), once per process.

    Real Dagster runs on the offline sample, as the onboarding plan makes them. On real prices no
    tiny LSTM beats the naive forecast, so the champion is the naive baseline: what is read from
    it is what is really served. Its instance is closed when the process exits.
    """
    root = Path(tempfile.mkdtemp(prefix="stockops-trained-"))
    context = tiny_platform(root)
    platform = context.__enter__()
    atexit.register(context.__exit__, None, None, None)
    platform.bootstrap()
    platform.onboard(ticker)
    return platform


# Set (to a folder) by the test suite: the quick benchmarks that serve a trained platform share
# one per model sizes instead of each training its own (training is most of their time).
SHARED_ENV = "STOCKOPS_DEVKIT_SHARED_DIR"


@contextlib.contextmanager
def served_platform(
    kind: str,
    config: Mapping[str, dict[str, Any]] | None = None,
    tickers: Sequence[str] = ("AAPL",),
) -> Iterator[tuple[Path, float]]:
    """A folder laid out as ``devkit.servers.api_env`` reads it (``data/``, ``dagster_home/``)
    with ``tickers`` onboarded (``train_for_servers``), and the seconds training took.

    With ``STOCKOPS_DEVKIT_SHARED_DIR`` set, the folder is kept there, one per sizes and tickers,
    and the next caller gets it as the last one left it (0 s of training); otherwise it is a
    fresh temporary folder, removed afterwards."""
    shared = os.environ.get(SHARED_ENV)
    if not shared:
        root = Path(tempfile.mkdtemp(prefix=f"stockops-{kind}-"))
        try:
            yield root, _trained(root, tickers, config)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    key = json.dumps([list(tickers), config], sort_keys=True, default=str)
    root = Path(shared) / hashlib.sha256(key.encode()).hexdigest()[:12]
    with exclusive_lock(root.with_suffix(".lock")):
        seconds = 0.0 if (root / "trained").exists() else _trained(root, tickers, config)
        (root / "trained").touch()
    yield root, seconds


def _trained(
    root: Path, tickers: Sequence[str], config: Mapping[str, dict[str, Any]] | None
) -> float:
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return train_for_servers(root / "data", home, tickers, config)
