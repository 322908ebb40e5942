"""Walk-forward backtests of every candidate, the checks beside them, and the champion they
decide.

The ``backtest`` asset re-runs, on the same folds: the latest child's recipe (the challenger),
the baselines (naive, drift, linear, additive, boosted), and the current champion's recipe when it
is a different learned one. The promotion policy (``stock_assets.domain.ml.policy``, versioned, not
configurable) turns that evidence into a decision; ``champion_model`` carries it out on the MLflow
alias ``champion``, which is what serves, whether it points at an LSTM or a baseline.
"""

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from stock_assets import names
from stock_assets.defs.assets.market import INDICATORS_KEY
from stock_assets.defs.assets.models import CHILD_KEY, INDEX_TICKER
from stock_assets.defs.configs import BacktestConfig
from stock_assets.defs.partitions import tickers_partitions
from stock_assets.defs.plots import interval_plot
from stock_assets.defs.resources import FeastResource, MLflowResource, ModelStoreResource
from stock_assets.defs.training import (
    dagster_tags,
    feast_training_set,
    fit_window_metadata,
    index_training_set,
    report_progress,
    train_logged,
)
from stock_assets.domain.ml.artifacts import (
    LSTM_KIND,
    ModelBundle,
    latest_version,
    list_versions,
    load_bundle,
    new_version,
    save_bundle,
    save_mix_bundle,
)
from stock_assets.domain.ml.backtest import (
    CandidateSpec,
    FoldProgress,
    ShortHistoryError,
    WalkForwardResult,
    first_test_input_date,
    run_walk_forward,
)
from stock_assets.domain.ml.candidates import (
    baseline_recipe,
    baseline_specs,
    config_digest,
    fit_production_baseline,
    lstm_spec,
    recipe_id,
)
from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import prepare_data
from stock_assets.domain.ml.evaluation import served_table
from stock_assets.domain.ml.policy import (
    CHALLENGER,
    CHAMPION,
    INSUFFICIENT_HISTORY,
    MIX,
    NO_EVIDENCE_BASELINE,
    POLICY,
    POLICY_VERSION,
    Decision,
    Incumbent,
    against,
    decide,
    plan_summary,
    served_name,
)
from stock_assets.domain.monitoring import write_adopted_reference
from stock_assets.domain.serving import UNREGISTERED
from stock_assets.domain.storage import exclusive_lock
from stock_assets.domain.tracking import ChampionInfo, ModelTracker, registered_model_name

BACKTEST_KEY = dg.AssetKey(names.BACKTEST)
CHAMPION_KEY = dg.AssetKey(names.CHAMPION_MODEL)
PROMOTION_GATE = "promotion_gate"
LEAKAGE_CHECK = "no_leakage_signs"
COVERAGE_CHECK = "calibrated_coverage"
# Decision fields repeated on every row of the backtest table (what champion_model, the API and
# the agents read).
DECISION_COLUMNS = (
    "outcome",
    "served",
    "served_kind",
    "decision_reason",
    "best_baseline",
    "policy_version",
    "challenger_bundle",
    "challenger_recipe_id",
    "incumbent_version",
    "strategy",
)
_TABLE_COLUMNS = [
    "candidate",
    "horizon",
    "relative_mae",
    "p_vs_naive",
    "directional_accuracy",
    "up_rate",
    "coverage",
    "relative_pinball",
    "relative_interval_score",
]


def _backtest_parent(
    context: dg.AssetExecutionContext,
    feast: FeastResource,
    model_store: ModelStoreResource,
    config: ModelConfig,
    cutoff: pd.Timestamp,
) -> ModelBundle:
    """A parent trained only on index rows before ``cutoff`` (the first backtest input date).

    The production parent has seen the index during the child's test years, and the index moves
    with the stock: using it would leak the test period. One such parent per cutoff and parent
    configuration is trained and cached; a file lock keeps concurrent runs from training it twice.
    """
    version = f"cut{cutoff:%Y%m%d}-{config_digest(config)[:8]}"
    root = model_store.backtest_parent_root
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / ".lock"):
        if version in list_versions(root, INDEX_TICKER):
            return load_bundle(root, INDEX_TICKER, version)
        try:
            frame = index_training_set(feast, INDEX_TICKER, pd.Timestamp("1900-01-01"), cutoff)
        except dg.Failure as exc:
            raise dg.Failure(
                f"No {INDEX_TICKER} rows before {cutoff.date()}, the first input row of the "
                "backtest's test period: a parent that never saw the test period cannot be "
                "trained. The index history must start well before the stock's test years "
                f"({exc.description})"
            ) from exc
        prepared = prepare_data(frame, config, test_fraction=0.0)
        # torch loads with the first model built, not with the code location.
        from stock_assets.domain.ml.model import build_model

        trained = train_logged(
            context,
            f"backtest parent <{cutoff.date()}",
            model=build_model(config),
            prepared=prepared,
            config=config,
            strategy="scratch",
        )
        save_bundle(
            root,
            INDEX_TICKER,
            version,
            state_dict=trained.model.state_dict(),
            scaler=prepared.scaler,
            config=config,
            metadata={
                "role": "backtest_parent",
                "train_end_exclusive": str(cutoff.date()),
                **fit_window_metadata(prepared),
            },
        )
        return load_bundle(root, INDEX_TICKER, version)


# What two recipes must share to be scored on the same windows and intervals.
_COMPARABLE = ("horizon", "quantiles", "feature_columns", "val_fraction")


def _incumbent(
    context: dg.AssetExecutionContext,
    tracker: ModelTracker,
    model_store: ModelStoreResource,
    ticker: str,
    challenger: ModelBundle,
) -> tuple[Incumbent | None, ModelBundle | None]:
    """The current champion as the policy sees it, and its learned model's bundle (a mix: the
    learned component serving the most horizons; it is the one re-run)."""
    champion = tracker.champion(registered_model_name(ticker))
    if champion is None or not champion.bundle_version:
        return None, None
    bundle = load_bundle(model_store.children_root, ticker, champion.bundle_version)
    main = bundle.learned
    if main is None:
        plan = tuple(c.candidate for c in bundle.plan) if bundle.components else ()
        return Incumbent("baseline", bundle.plan[0].candidate, champion.model_version, plan), bundle
    if main.metadata.get("recipe_id") == challenger.metadata.get("recipe_id"):
        name = CHALLENGER
    else:
        differs = [
            k for k in _COMPARABLE if getattr(main.config, k) != getattr(challenger.config, k)
        ]
        if differs:
            # A champion forecasting other horizons or quantiles cannot be scored on the
            # challenger's windows: the challenger is judged against the baselines alone.
            context.log.warning(
                f"The champion (version {champion.model_version}) differs from the challenger in "
                f"{differs}: it is not re-run; the challenger is judged against the baselines."
            )
            return None, None
        name = CHAMPION
    # A second learned model in a mix is not re-run: its horizons are open to the others.
    plan = (
        tuple(
            name if c.version == main.version else c.candidate if c.kind != LSTM_KIND else "?"
            for c in bundle.plan
        )
        if bundle.components
        else ()
    )
    return Incumbent("learned", name, champion.model_version, plan), main


def _architecture(child: ModelConfig, parent: ModelConfig) -> ModelConfig:
    """A parent configuration with ``child``'s architecture (what its weights must match)."""
    return parent.replace(
        lookback=child.lookback,
        hidden_size=child.hidden_size,
        num_layers=child.num_layers,
        dropout=child.dropout,
        horizon=child.horizon,
        quantiles=child.quantiles,
        feature_columns=child.feature_columns,
    )


def _lstm_spec(name: str, bundle: ModelBundle, parent: ModelBundle) -> CandidateSpec:
    """``bundle``'s recipe, each fold's child starting from ``parent`` (same architecture)."""
    assert parent.model is not None
    return lstm_spec(
        name,
        bundle.config,
        str(bundle.metadata.get("strategy", "fine_tune")),
        parent.model.state_dict(),
        parent_id=config_digest(parent.config),
    )


def _decision_table(
    result: WalkForwardResult,
    decision: Decision,
    ticker: str,
    challenger: ModelBundle,
    incumbent: Incumbent | None,
) -> pd.DataFrame:
    table = result.metrics.copy()
    table.insert(0, "ticker", ticker)
    table.insert(2, "family", table["candidate"].map(result.candidates))
    # Every comparison the decision rests on, per horizon: against naive (skill), against the
    # best baseline (promotion) and against the champion's recipe when it was re-run.
    for label, reference in (
        ("naive", "naive"),
        ("best_baseline", decision.best_baseline),
        ("champion", CHAMPION if CHAMPION in result.candidates else None),
    ):
        stats, p_values, p_adjusted = against(result, reference)
        table[f"dm_vs_{label}"] = stats
        table[f"p_vs_{label}"] = p_values
        table[f"p_vs_{label}_adjusted"] = p_adjusted
    # Per horizon: the candidate the plan serves there (one model everywhere, or a mix).
    planned = table["horizon"].astype(int).map(lambda h: decision.plan[h - 1])
    table["is_served"] = table["candidate"] == planned
    return _stamp_decision(
        table,
        challenger,
        {
            "outcome": decision.outcome,
            "served": decision.served,
            "served_kind": decision.served_kind,
            "decision_reason": decision.reason,
            "best_baseline": decision.best_baseline,
            "policy_version": decision.policy_version,
            "incumbent_version": incumbent.model_version if incumbent else None,
        },
    )


def _stamp_decision(
    table: pd.DataFrame, challenger: ModelBundle, decision: dict[str, Any]
) -> pd.DataFrame:
    """Repeat the decision's fields and the challenger's (``DECISION_COLUMNS``) on every row."""
    values = {
        **decision,
        "challenger_bundle": challenger.version,
        "challenger_recipe_id": str(challenger.metadata.get("recipe_id", "")),
        "strategy": str(challenger.metadata.get("strategy", "fine_tune")),
    }
    for column in DECISION_COLUMNS:
        table[column] = values[column]
    return table


def _markdown(table: pd.DataFrame) -> str:
    shown = table[[c for c in _TABLE_COLUMNS if c in table.columns]].copy()
    return shown.round(4).to_markdown(index=False)


def _decision_metrics(table: pd.DataFrame) -> dict[str, float]:
    columns = [
        c
        for c in (
            "relative_mae",
            "coverage",
            "pinball_pct",
            "interval_score_pct",
            "dm_vs_naive",
            "p_vs_naive",
            "dm_vs_best_baseline",
            "p_vs_best_baseline",
            "dm_vs_champion",
            "p_vs_champion",
        )
        if c in table.columns
    ]
    values = {
        f"{row.candidate}_{col}_h{int(row.horizon)}": float(getattr(row, col))
        for row in table.itertuples()
        for col in columns
    }
    return {k: v for k, v in values.items() if math.isfinite(v)}


def _log_evidence(
    tracker: ModelTracker,
    ticker: str,
    challenger: ModelBundle,
    decision: Decision,
    table: pd.DataFrame,
) -> str | None:
    """Per-horizon metrics of every candidate and the decision on the challenger's MLflow run."""
    model_name = registered_model_name(ticker)
    version = tracker.version_for_bundle(model_name, challenger.version)
    if version is None:
        return None
    run_id = tracker.run_id_for_version(model_name, version)
    if run_id:
        metrics = {f"backtest_{k}": v for k, v in _decision_metrics(table).items()}
        tracker.log_metrics_to_run(run_id, metrics)
        tracker.log_dict_to_run(run_id, decision.to_dict(), "promotion_decision.json")
    tracker.set_version_tag(model_name, version, "promotion_decision", decision.outcome)
    tracker.set_version_tag(model_name, version, "promotion_gate", decision.reason[:4900])
    tracker.set_version_tag(model_name, version, "policy_version", decision.policy_version)
    return version


def _insufficient_history(
    context: dg.AssetExecutionContext,
    ticker: str,
    challenger: ModelBundle,
    exc: ShortHistoryError,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Too little history to backtest: the naive forecast serves, claiming no skill, and every
    check says why (a recent listing is a normal case, not a failed run)."""
    reason = (
        f"{ticker} has {exc.rows} sessions of complete history, and a walk-forward backtest of "
        f"{exc.n_folds} folds needs at least {exc.needed}."
    )
    horizon = challenger.config.horizon
    table = pd.DataFrame(
        {
            "ticker": ticker,
            "candidate": NO_EVIDENCE_BASELINE,
            "family": "baseline",
            "horizon": range(1, horizon + 1),
            **{column: float("nan") for column in _TABLE_COLUMNS[2:]},
            "is_served": True,
            "sessions": exc.rows,
            "sessions_needed": exc.needed,
        }
    )
    _stamp_decision(
        table,
        challenger,
        {
            "outcome": INSUFFICIENT_HISTORY,
            "served": NO_EVIDENCE_BASELINE,
            "served_kind": "baseline",
            "decision_reason": reason,
            "best_baseline": NO_EVIDENCE_BASELINE,
            "policy_version": POLICY_VERSION,
            "incumbent_version": None,
        },
    )
    context.log.warning(f"{reason} The naive forecast serves until then.")
    yield dg.Output(
        table,
        metadata={
            "decision": dg.MetadataValue.text(reason),
            "outcome": dg.MetadataValue.text(INSUFFICIENT_HISTORY),
            "served_model": dg.MetadataValue.text(NO_EVIDENCE_BASELINE),
            "plan": dg.MetadataValue.text(plan_summary((NO_EVIDENCE_BASELINE,) * horizon)),
            "best_baseline": dg.MetadataValue.text(NO_EVIDENCE_BASELINE),
            "policy_version": dg.MetadataValue.text(POLICY_VERSION),
            "sessions": dg.MetadataValue.int(exc.rows),
            "sessions_needed": dg.MetadataValue.int(exc.needed),
            "challenger_bundle": dg.MetadataValue.text(challenger.version),
        },
    )
    not_run = f"Not backtested: {reason}"
    yield dg.AssetCheckResult(
        check_name=PROMOTION_GATE,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{not_run} Nothing is promoted; the naive forecast serves.",
        metadata={"outcome": INSUFFICIENT_HISTORY, "served": NO_EVIDENCE_BASELINE},
    )
    yield dg.AssetCheckResult(
        check_name=LEAKAGE_CHECK,
        passed=True,
        description=f"{not_run} No learned model is judged or served, so none can leak.",
    )
    yield dg.AssetCheckResult(
        check_name=COVERAGE_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{not_run} The naive forecast's interval coverage is not measured yet.",
    )


@dg.asset(
    key=BACKTEST_KEY,
    partitions_def=tickers_partitions,
    ins={"indicators": dg.AssetIn(key=INDICATORS_KEY)},
    deps=[CHILD_KEY],
    group_name="evaluation",
    pool=names.TRAINING_POOL,
    kinds={"pytorch", "mlflow"},
    owners=["team:ml"],
    check_specs=[
        dg.AssetCheckSpec(
            name=PROMOTION_GATE,
            asset=BACKTEST_KEY,
            description="The challenger beats the best baseline and the champion (Diebold-"
            "Mariano, HAC, p < 0.05 at h=1, worse at no horizon), with calibrated intervals. "
            "A warning when not: the champion or the best baseline keeps serving.",
        ),
        dg.AssetCheckSpec(
            name=LEAKAGE_CHECK,
            asset=BACKTEST_KEY,
            blocking=True,
            description="No learned candidate is too good next to the baselines of the same "
            "windows, and the backtest parent never saw the test period. Blocks promotion.",
        ),
        dg.AssetCheckSpec(
            name=COVERAGE_CHECK,
            asset=BACKTEST_KEY,
            description="The served model's interval coverage is within 3 points of nominal "
            "at every horizon.",
        ),
    ],
)
def backtest(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    indicators: pd.DataFrame,
    feast: FeastResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Walk-forward evaluation of the latest child (the challenger), the baselines and the
    champion's recipe on the same folds, and the promotion policy's decision on that evidence:
    per horizon, MAE and RMSE against naive, direction beside the always-up rate, calibrated
    interval coverage, pinball loss and interval score, with Diebold-Mariano p-values."""
    ticker = context.partition_key
    try:
        # The latest child: the newest bundle may be a baseline the policy registered since.
        version = latest_version(model_store.children_root, ticker, kind=LSTM_KIND)
        if version is None:
            raise FileNotFoundError(f"no child model for {ticker}: materialize 'child_model'")
        challenger = load_bundle(model_store.children_root, ticker, version)
        parent = load_bundle(model_store.parent_root, INDEX_TICKER)
    except FileNotFoundError as exc:
        raise dg.Failure(f"Nothing to backtest for {ticker}: {exc}") from exc
    tracker = mlflow.tracker()
    incumbent, incumbent_bundle = _incumbent(context, tracker, model_store, ticker, challenger)
    frame = feast_training_set(feast, ticker, indicators["event_timestamp"])
    try:  # the folds are planned here, before any fold's parent is trained
        cutoff = first_test_input_date(
            frame, challenger.config, n_folds=config.n_folds, test_years=config.test_years
        )
    except ShortHistoryError as exc:
        yield from _insufficient_history(context, ticker, challenger, exc)
        return
    # Each LSTM recipe's folds start from a parent of its own architecture that never saw the
    # test period (a champion trained before a change of the parent's size gets its own).
    bt_parent = _backtest_parent(context, feast, model_store, parent.config, cutoff)
    specs = [*baseline_specs(challenger.config), _lstm_spec(CHALLENGER, challenger, bt_parent)]
    if incumbent is not None and incumbent.candidate == CHAMPION and incumbent_bundle is not None:
        champion_parent = _backtest_parent(
            context,
            feast,
            model_store,
            _architecture(incumbent_bundle.config, parent.config),
            cutoff,
        )
        specs.append(_lstm_spec(CHAMPION, incumbent_bundle, champion_parent))

    phase = f"backtest {ticker}"

    def on_progress(progress: FoldProgress) -> None:
        # Called as the challenger starts a fold: the folds before it are done.
        if progress.epoch is None and progress.candidate == CHALLENGER:
            report_progress(context, phase, "fold", progress.fold - 1, progress.n_folds)

    result = run_walk_forward(
        frame,
        specs,
        challenger.config,
        n_folds=config.n_folds,
        test_years=config.test_years,
        progress_callback=on_progress,
        parent_train_end=bt_parent.metadata["data_end"],
    )
    report_progress(context, phase, "fold", len(result.folds), len(result.folds))
    decision = decide(result, incumbent=incumbent)
    table = _decision_table(result, decision, ticker, challenger, incumbent)
    challenger_version = _log_evidence(tracker, ticker, challenger, decision, table)

    served_metrics = table[table["is_served"]].sort_values("horizon")
    plot_frame = result.plot_frame(decision.plan[0], 1).rename(columns={"target_date": "date"})
    h1 = served_metrics[served_metrics["horizon"] == 1].iloc[0]
    yield dg.Output(
        table,
        metadata={
            "decision": dg.MetadataValue.text(decision.reason),
            "outcome": dg.MetadataValue.text(decision.outcome),
            "served_model": dg.MetadataValue.text(decision.served),
            "plan": dg.MetadataValue.text(plan_summary(decision.plan)),
            "best_baseline": dg.MetadataValue.text(decision.best_baseline),
            "policy_version": dg.MetadataValue.text(POLICY_VERSION),
            "served_relative_mae_h1": dg.MetadataValue.float(round(float(h1["relative_mae"]), 4)),
            "served_p_vs_naive_h1": dg.MetadataValue.float(
                round(float(h1["p_vs_naive"]), 4) if pd.notna(h1["p_vs_naive"]) else 1.0
            ),
            "metrics": dg.MetadataValue.md(_markdown(table)),
            "comparisons": dg.MetadataValue.md(
                decision.comparison_table().to_markdown(index=False)
            ),
            "served_h1_forecast_vs_actual": interval_plot(
                plot_frame, f"{ticker} backtest, {decision.plan[0]}, h=1"
            ),
            "challenger_bundle": dg.MetadataValue.text(challenger.version),
            "challenger_version": dg.MetadataValue.text(challenger_version or UNREGISTERED),
            "strategy": dg.MetadataValue.text(str(challenger.metadata.get("strategy"))),
            "folds": dg.MetadataValue.json([f.__dict__ for f in result.folds]),
            "first_test_input_date": dg.MetadataValue.text(result.first_test_input_date),
            "backtest_parent_data_end": dg.MetadataValue.text(str(bt_parent.metadata["data_end"])),
        },
    )
    comparisons = decision.comparison_table()
    yield dg.AssetCheckResult(
        check_name=PROMOTION_GATE,
        passed=decision.promoted,
        severity=dg.AssetCheckSeverity.WARN,
        description=decision.reason,
        metadata={
            "outcome": decision.outcome,
            "served": decision.served,
            "policy_version": decision.policy_version,
            "comparisons": dg.MetadataValue.md(comparisons.to_markdown(index=False)),
        },
    )
    # Only the challenger's signs block: a champion whose recipe leaks is retired by the
    # decision itself, which champion_model must then be free to carry out.
    leaks = list(decision.challenger_leakage)
    retired = [s for s in decision.leakage if s not in leaks]
    yield dg.AssetCheckResult(
        check_name=LEAKAGE_CHECK,
        passed=not leaks,
        description=(
            "The challenger is not implausibly better than the baselines of the same windows, "
            "and its parent never saw the test period."
            if not leaks
            else "Leakage until proven otherwise: " + "; ".join(leaks)
        )
        + (
            f" The champion's recipe leaks and is retired: {'; '.join(retired)}." if retired else ""
        ),
        metadata={
            "signs": dg.MetadataValue.json(leaks),
            "backtest_parent_data_end": str(bt_parent.metadata["data_end"]),
            "first_test_input_date": result.first_test_input_date,
        },
    )
    off = {
        int(r.horizon): round(float(r.coverage), 4)
        for r in served_metrics.itertuples()
        if abs(r.coverage - r.nominal_coverage) > POLICY.coverage_tolerance
    }
    yield dg.AssetCheckResult(
        check_name=COVERAGE_CHECK,
        passed=not off,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{decision.served}: coverage within {POLICY.coverage_tolerance:.0%} of nominal at "
            "every horizon."
            if not off
            else f"{decision.served}: coverage off nominal at horizons {sorted(off)}."
        ),
        metadata={
            "coverage": dg.MetadataValue.json(
                {int(r.horizon): round(float(r.coverage), 4) for r in served_metrics.itertuples()}
            )
        },
    )


def _serve_baseline(
    context: dg.AssetExecutionContext,
    name: str,
    frame: pd.DataFrame,
    config_source: ModelBundle,
    tracker: ModelTracker,
    model_store: ModelStoreResource,
) -> tuple[str, str]:
    """Fit the baseline on all the data, write its bundle, register it: (version, bundle)."""
    ticker = context.partition_key
    baseline, window = fit_production_baseline(name, frame, config_source.config)
    version = new_version()
    recipe = baseline_recipe(name)
    path = save_bundle(
        model_store.children_root,
        ticker,
        version,
        baseline=baseline,
        config=config_source.config,
        metadata={"role": "baseline", "recipe": recipe, "recipe_id": recipe_id(recipe), **window},
    )
    logged = tracker.log_baseline(
        ticker=ticker,
        run_name=f"baseline-{name}-{ticker}-{version}",
        params={"baseline": name, **window},
        bundle_dir=path,
        bundle_version=version,
        tags={
            "role": "baseline",
            "kind": "baseline",
            "ticker": ticker,
            "candidate": name,
            **dagster_tags(context),
        },
    )
    return logged.model_version, version


def _learned_bundle(
    name: str, row: pd.Series, model_store: ModelStoreResource, previous: ChampionInfo | None
) -> ModelBundle:
    """The bundle of a learned candidate of the plan: the challenger, or the champion's LSTM (a
    mix's learned component when the champion is a mix)."""
    ticker = str(row["ticker"])
    if name == CHALLENGER:
        return load_bundle(model_store.children_root, ticker, str(row["challenger_bundle"]))
    if previous is None or not previous.bundle_version:
        raise dg.Failure(f"The decision keeps the champion's LSTM for {ticker}, which has none.")
    learned = load_bundle(model_store.children_root, ticker, previous.bundle_version).learned
    if learned is None:
        raise dg.Failure(f"The champion of {ticker} holds no LSTM to keep serving.")
    return learned


def _carry_out(
    context: dg.AssetExecutionContext,
    plan: tuple[str, ...],
    backtest: pd.DataFrame,
    indicators: pd.DataFrame,
    feast: FeastResource,
    tracker: ModelTracker,
    model_store: ModelStoreResource,
    previous: ChampionInfo | None,
) -> str:
    """Register what the plan serves and return its registry version: a learned model's own
    version, a baseline fitted on all the data, or a mix bundle of them (one model per
    horizon)."""
    row = backtest.iloc[0]
    ticker = context.partition_key
    model_name = registered_model_name(ticker)
    challenger = load_bundle(model_store.children_root, ticker, str(row["challenger_bundle"]))
    served = served_name(plan)
    if served in (CHALLENGER, CHAMPION):
        bundle = _learned_bundle(served, row, model_store, previous)
        version = tracker.version_for_bundle(model_name, bundle.version)
        if version is None:
            raise dg.Failure(f"No registered version of {model_name} for bundle {bundle.version}.")
        return version
    frame = feast_training_set(feast, ticker, indicators["event_timestamp"])
    if served != MIX:
        version, _ = _serve_baseline(context, served, frame, challenger, tracker, model_store)
        return version
    components: dict[str, Path | tuple[Any, dict[str, Any]]] = {}
    for name in dict.fromkeys(plan):
        if name in (CHALLENGER, CHAMPION):
            components[name] = _learned_bundle(name, row, model_store, previous).path
        else:
            baseline, window = fit_production_baseline(name, frame, challenger.config)
            recipe = baseline_recipe(name)
            components[name] = (
                baseline,
                {"role": "baseline", "recipe": recipe, "recipe_id": recipe_id(recipe), **window},
            )
    version = new_version()
    path = save_mix_bundle(
        model_store.children_root,
        ticker,
        version,
        config=challenger.config,
        plan=plan,
        components=components,
        metadata={"role": "mix", "plan": list(plan), "decided_on": str(row["challenger_bundle"])},
    )
    logged = tracker.log_baseline(
        ticker=ticker,
        run_name=f"mix-{ticker}-{version}",
        params={"plan": plan_summary(plan)},
        bundle_dir=path,
        bundle_version=version,
        tags={
            "role": "mix",
            "kind": "mix",
            "ticker": ticker,
            "candidate": "mix",
            **dagster_tags(context),
        },
        kind="mix",
    )
    return logged.model_version


@dg.asset(
    key=CHAMPION_KEY,
    partitions_def=tickers_partitions,
    ins={
        "backtest": dg.AssetIn(key=BACKTEST_KEY),
        "indicators": dg.AssetIn(key=INDICATORS_KEY),
    },
    group_name="evaluation",
    kinds={"mlflow"},
    owners=["team:ml"],
)
def champion_model(
    context: dg.AssetExecutionContext,
    backtest: pd.DataFrame,
    indicators: pd.DataFrame,
    feast: FeastResource,
    mlflow: MLflowResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """The model that serves forecasts: the MLflow alias ``champion``, moved as the promotion
    policy decided, horizon by horizon. One model everywhere: the challenger when promoted, else
    the champion keeping its place, else the best baseline (fitted on all the data and
    registered). Different models per horizon: a mix bundle that records which serves which.

    Runs only when the backtest's blocking leakage check passed. Every decision is an MLflow run
    (evidence, outcome, alias move): the champion's history.
    """
    ticker = context.partition_key
    row = backtest.iloc[0]
    outcome, served = str(row["outcome"]), str(row["served"])
    tracker = mlflow.tracker()
    model_name = registered_model_name(ticker)
    previous = tracker.champion(model_name)
    new_version_id: str | None = previous.model_version if previous else None
    served_rows = served_table(backtest)
    plan = tuple(str(c) for c in served_rows["candidate"])
    if outcome in ("promote", "serve_baseline", "reassign", INSUFFICIENT_HISTORY):
        new_version_id = _carry_out(
            context, plan, backtest, indicators, feast, tracker, model_store, previous
        )
        tracker.set_champion(model_name, new_version_id)
    elif outcome != "keep":
        raise dg.Failure(f"Unexpected decision {outcome!r}: {row['decision_reason']}")
    # What started this challenger: onboarding, drift, decay (live skill), replay or by hand.
    trigger = context.run.tags.get(names.TRIGGER_TAG, names.MANUAL_TRIGGER)
    decision = {
        "ticker": ticker,
        "outcome": outcome,
        "served": served,
        "served_kind": str(row["served_kind"]),
        "plan": list(plan),
        "reason": str(row["decision_reason"]),
        "policy_version": str(row["policy_version"]),
        "previous_champion": previous.model_version if previous else None,
        "champion": new_version_id,
        "served_metrics": served_rows.to_dict(orient="records"),
        "decided_at": datetime.now(UTC).isoformat(),
        "trigger": trigger,
    }
    params: dict[str, Any] = {
        k: decision[k]
        for k in ("outcome", "served", "policy_version", "previous_champion", "champion")
    }
    params["challenger_version"] = tracker.version_for_bundle(
        model_name, str(row["challenger_bundle"])
    )
    params["reason"] = decision["reason"]
    run_id = tracker.log_decision(
        ticker=ticker,
        run_name=f"decision-{ticker}-{outcome}",
        params=params,
        metrics=_decision_metrics(backtest),
        decision=decision,
        tags={"outcome": outcome, "trigger": trigger, **dagster_tags(context)},
    )
    # A decision on a drift or decay retrain validated the data up to now, the new regime
    # included: drift is measured against it from here on, which closes the drift episode.
    data_end = str(pd.Timestamp(indicators["date"].max()).date())
    if names.DRIFT_TRIGGER in trigger or names.DECAY_TRIGGER in trigger:
        write_adopted_reference(
            model_store.children_root, ticker, data_end, outcome, decision["decided_at"]
        )
    moved = (previous.model_version if previous else None) != new_version_id
    return dg.MaterializeResult(
        metadata={
            "outcome": dg.MetadataValue.text(outcome),
            "served_model": dg.MetadataValue.text(served),
            "served_kind": dg.MetadataValue.text(str(row["served_kind"])),
            "plan": dg.MetadataValue.text(plan_summary(plan)),
            "model": dg.MetadataValue.text(model_name),
            "champion_version": dg.MetadataValue.text(new_version_id or "none"),
            "previous_champion": dg.MetadataValue.text(
                previous.model_version if previous else "none"
            ),
            "alias_moved": dg.MetadataValue.bool(moved),
            "reason": dg.MetadataValue.text(str(row["decision_reason"])),
            "policy_version": dg.MetadataValue.text(str(row["policy_version"])),
            "decision_run_id": dg.MetadataValue.text(run_id),
            "trigger": dg.MetadataValue.text(trigger),
            "drift_reference_end": dg.MetadataValue.text(data_end),
        }
    )
