"""Glue between the model assets and the domain code: Feast training sets, training with logged
progress, bundles written and registered in MLflow.

torch is imported where a model trains, not with this module: a run that only refreshes data
and forecasts from a baseline never loads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import pandas as pd

from stock_assets.defs.plots import loss_curve
from stock_assets.defs.resources import FeastResource
from stock_assets.domain import layout
from stock_assets.domain.feature_store.definitions import TIMESTAMP_FIELD
from stock_assets.domain.feature_store.store import close_timestamps, training_frame
from stock_assets.domain.ml.artifacts import new_version, save_bundle
from stock_assets.domain.ml.config import ModelConfig, Strategy
from stock_assets.domain.ml.dataset import PreparedData
from stock_assets.domain.ml.progress import EpochProgress
from stock_assets.domain.tracking import LoggedModel, ModelTracker
from stock_assets.settings import get_settings

if TYPE_CHECKING:
    from stock_assets.domain.ml.model import LSTMForecaster
    from stock_assets.domain.ml.trainer import TrainResult

PROGRESS_PREFIX = "progress"


def feast_training_set(feast: FeastResource, ticker: str, timestamps: pd.Series) -> pd.DataFrame:
    """Point-in-time training set for ``ticker`` at ``timestamps``, rows without data dropped."""
    frame = pd.DataFrame(columns=["close"])
    if len(timestamps):
        frame = training_frame(feast.store(), ticker, timestamps, feast.kept_joins())
        frame = frame.dropna(subset=["close"]).reset_index(drop=True)
    if frame.empty:
        raise dg.Failure(
            f"The Feast offline store has no features for {ticker}: materialize its "
            "'indicators' partition first."
        )
    return frame


def index_training_set(
    feast: FeastResource, index_ticker: str, start: pd.Timestamp, end_exclusive: pd.Timestamp
) -> pd.DataFrame:
    """The index's training set on its stored sessions in [start, end_exclusive): the parent's
    own training timestamps, cut, so the join the parent made answers it."""
    stored = layout.read_table(
        Path(feast.indicators_dir).parent,
        layout.INDICATORS,
        index_ticker,
        columns=[TIMESTAMP_FIELD],
    )
    stamps = pd.Series([], dtype="datetime64[ns, UTC]")
    if stored is not None:
        stamps = pd.to_datetime(stored[TIMESTAMP_FIELD], utc=True)
        low, high = close_timestamps(pd.Series([start, end_exclusive]))
        stamps = stamps[(stamps >= low) & (stamps < high)]
    return feast_training_set(feast, index_ticker, stamps)


def report_progress(
    context: dg.AssetExecutionContext,
    phase: str,
    unit: str,
    done: int,
    total: int,
    **numbers: float,
) -> None:
    """One progress event: an observation of the asset being computed (``phase``, ``unit``,
    ``done``, ``total`` and any numbers, e.g. losses), which ``/status`` reads back with one
    query, and the same as a line of the run's log for people."""
    extra = "".join(f" {k}={v:.5f}" for k, v in numbers.items())
    context.log.info(f"{PROGRESS_PREFIX} {phase}: {unit} {done}/{total}{extra}")
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key if context.has_partition_key else None,
            metadata={"phase": phase, "unit": unit, "done": done, "total": total, **numbers},
        )
    )


def epoch_logger(context: dg.AssetExecutionContext, label: str) -> Callable[[EpochProgress], None]:
    """A training callback that reports every epoch as a progress event."""

    def log(progress: EpochProgress) -> None:
        report_progress(
            context,
            label,
            "epoch",
            progress.epoch,
            progress.total_epochs,
            train_loss=float(progress.train_loss),
            val_loss=float(progress.val_loss),
        )

    return log


@dataclass(frozen=True)
class Trained:
    model: LSTMForecaster
    prepared: PreparedData
    result: TrainResult


def train_logged(
    context: dg.AssetExecutionContext,
    label: str,
    *,
    model: LSTMForecaster,
    prepared: PreparedData,
    config: ModelConfig,
    strategy: Strategy | str,
) -> Trained:
    import torch

    from stock_assets.domain.ml.trainer import train

    threads = get_settings().torch_threads
    if threads is not None:
        # Concurrent runs share the cores: oversubscribed torch threads spin against each other.
        torch.set_num_threads(threads)
    result = train(
        model, prepared, config, strategy, progress_callback=epoch_logger(context, label)
    )
    context.log.info(
        f"{label}: best val loss {result.best_val_loss:.5f} at epoch {result.best_epoch} "
        f"of {result.epochs_run} ({result.wall_time_s:.1f}s, {result.samples_per_s:.0f} samples/s)"
    )
    return Trained(model, prepared, result)


def dagster_tags(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Tags that link an MLflow run to the Dagster run, asset and partition that made it."""
    tags = {
        "dagster.run_id": context.run.run_id,
        "dagster.asset": context.asset_key.to_user_string(),
    }
    if context.has_partition_key:
        tags["dagster.partition"] = context.partition_key
    return tags


def fit_window_metadata(prepared: PreparedData) -> dict[str, str]:
    """Where a production fit's data ends and its out-of-sample (calibration) anchors begin."""
    return {
        "calibration_start": str(prepared.val.anchor_dates[0].date()),
        "data_end": str(pd.Timestamp(prepared.frame["date"].iloc[-1]).date()),
    }


def training_metadata(trained: Trained) -> dict[str, Any]:
    result, prepared = trained.result, trained.prepared
    history = result.history
    return {
        "best_val_loss": dg.MetadataValue.float(round(result.best_val_loss, 6)),
        "best_epoch": dg.MetadataValue.int(result.best_epoch),
        "epochs_run": dg.MetadataValue.int(result.epochs_run),
        "stopped_early": dg.MetadataValue.bool(result.stopped_early),
        "wall_time_s": dg.MetadataValue.float(round(result.wall_time_s, 2)),
        "samples_per_s": dg.MetadataValue.float(round(result.samples_per_s, 1)),
        "device": dg.MetadataValue.text(result.device),
        "data": dg.MetadataValue.json(prepared.summary()),
        "loss_curve": loss_curve([h.train_loss for h in history], [h.val_loss for h in history]),
    }


def _input_example(prepared: PreparedData) -> np.ndarray:
    source = prepared.val.x if len(prepared.val) else prepared.train.x
    return np.asarray(source[:1], dtype=np.float32)


@dataclass(frozen=True)
class Published:
    version: str
    path: Path
    logged: LoggedModel

    def metadata(self) -> dict[str, dg.MetadataValue]:
        return {
            "bundle_version": dg.MetadataValue.text(self.version),
            "bundle_path": dg.MetadataValue.path(str(self.path)),
            "mlflow_run_id": dg.MetadataValue.text(self.logged.run_id),
            "registered_model": dg.MetadataValue.text(self.logged.model_name),
            "model_version": dg.MetadataValue.text(self.logged.model_version),
        }


def publish(
    trained: Trained,
    config: ModelConfig,
    *,
    root: Path,
    bundle_ticker: str,
    registry_ticker: str | None,
    tracker: ModelTracker,
    metadata: dict[str, Any],
    params: dict[str, Any],
    tags: dict[str, str],
) -> Published:
    """Write the immutable bundle (atomically), then log and register it in MLflow.

    The bundle goes first: a registered version always points at a complete bundle.
    """
    version = new_version()
    path = save_bundle(
        root,
        bundle_ticker,
        version,
        state_dict=trained.model.state_dict(),
        scaler=trained.prepared.scaler,
        config=config,
        metadata={
            **metadata,
            **fit_window_metadata(trained.prepared),
            "train_result": trained.result.to_dict(),
        },
    )
    logged = tracker.log_training(
        ticker=registry_ticker,
        run_name=f"{tags.get('role', 'model')}-{registry_ticker or bundle_ticker}-{version}",
        params={**config.to_dict(), **params},
        history=[
            {"train_loss": h.train_loss, "val_loss": h.val_loss} for h in trained.result.history
        ],
        metrics={"best_val_loss": trained.result.best_val_loss},
        model=trained.model,
        input_example=_input_example(trained.prepared),
        bundle_dir=path,
        bundle_version=version,
        tags=tags,
    )
    return Published(version, path, logged)
