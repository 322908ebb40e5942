"""MLflow: experiment runs, registered model versions and the ``champion`` alias.

Model versions carry the tag ``bundle_version``: the folder under ``outputs/<ticker>/`` that holds
the exact state dict and scaler, so the API can serve the champion without unpickling MLflow models.
Aliases, not stages (stages are deprecated in MLflow 3).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION_ALIAS = "champion"
PARENT_MODEL_NAME = "stockops-parent"
EXPERIMENT = "stockops"
BUNDLE_TAG = "bundle_version"
DECISION_ROLE = "decision"
_TORCH_REQUIREMENT = "torch==2.13.0"


def plain_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with numpy scalars (pandas records carry them) turned into plain Python."""

    def plain(value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else str(value)

    return dict(json.loads(json.dumps(dict(data), default=plain)))


def registered_model_name(ticker: str | None) -> str:
    """``stockops-parent`` or ``stockops-child-<ticker>`` with registry-safe characters."""
    if ticker is None:
        return PARENT_MODEL_NAME
    return "stockops-child-" + re.sub(r"[^A-Za-z0-9._-]", "_", ticker)


def configure(tracking_uri: str) -> None:
    """Point MLflow at ``tracking_uri``; for SQLite, create the folder first."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)


def default_artifact_location(tracking_uri: str) -> str | None:
    """Beside a SQLite store, never MLflow's default ``./mlruns`` in whatever folder runs us.

    A tracking server decides its own artifact root, so None is returned for anything else.
    """
    if tracking_uri.startswith("sqlite:///"):
        folder = Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
        return folder.resolve().as_uri()
    return None


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_name: str
    model_version: str
    bundle_version: str


@dataclass(frozen=True)
class ChampionInfo:
    model_name: str
    model_version: str
    bundle_version: str | None
    run_id: str | None


class ModelTracker:
    """Runs and registry operations against one tracking URI."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str = EXPERIMENT,
        artifact_location: str | None = None,
    ) -> None:
        configure(tracking_uri)
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        existing = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (
            existing.experiment_id
            if existing
            else self.client.create_experiment(
                experiment,
                artifact_location=artifact_location or default_artifact_location(tracking_uri),
            )
        )

    def log_training(
        self,
        *,
        ticker: str | None,
        run_name: str,
        params: Mapping[str, Any],
        history: Iterable[Mapping[str, float]],
        metrics: Mapping[str, float],
        model: Any,
        input_example: np.ndarray,
        bundle_dir: Path,
        bundle_version: str,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        """One run: params, per-epoch losses, final metrics, the bundle and a registered version."""
        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        model_name = registered_model_name(ticker)
        with mlflow.start_run(
            experiment_id=self.experiment_id, run_name=run_name, tags=dict(tags or {})
        ) as run:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            for step, epoch in enumerate(history, start=1):
                mlflow.log_metrics({k: float(v) for k, v in epoch.items()}, step=step)
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
            model.eval()
            with torch.no_grad():
                output = model(torch.from_numpy(input_example)).numpy()
            info = mlflow.pytorch.log_model(
                model,
                name="model",
                input_example=input_example,
                signature=infer_signature(input_example, output),
                registered_model_name=model_name,
                pip_requirements=[_TORCH_REQUIREMENT],
            )
            version = str(info.registered_model_version)
            self.client.set_model_version_tag(model_name, version, BUNDLE_TAG, bundle_version)
            if ticker is not None:
                self.client.set_model_version_tag(model_name, version, "ticker", ticker)
            return LoggedModel(run.info.run_id, model_name, version, bundle_version)

    def _ensure_registered(self, model_name: str) -> None:
        try:
            self.client.get_registered_model(model_name)
        except MlflowException:
            self.client.create_registered_model(model_name)

    def log_baseline(
        self,
        *,
        ticker: str,
        run_name: str,
        params: Mapping[str, Any],
        bundle_dir: Path,
        bundle_version: str,
        tags: Mapping[str, str] | None = None,
        kind: str = "baseline",
    ) -> LoggedModel:
        """A baseline's (or a mix's: ``kind="mix"``) run (params, the bundle) and a registered
        version pointing at it.

        A baseline is a few numbers in a JSON file, not a torch model, and a mix is a folder of
        bundles: the registry version's source is the bundle folder the run logged, and serving
        reads it like any bundle.
        """
        model_name = registered_model_name(ticker)
        with mlflow.start_run(
            experiment_id=self.experiment_id, run_name=run_name, tags=dict(tags or {})
        ) as run:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
            self._ensure_registered(model_name)
            mv = self.client.create_model_version(
                model_name,
                source=f"{run.info.artifact_uri}/bundle",
                run_id=run.info.run_id,
                tags={BUNDLE_TAG: bundle_version, "ticker": ticker, "kind": kind},
            )
            return LoggedModel(run.info.run_id, model_name, str(mv.version), bundle_version)

    def log_decision(
        self,
        *,
        ticker: str,
        run_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        decision: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """One run per promotion decision: the evidence (metrics, p-values), the outcome, and
        the alias move; searchable by ticker, so the champion's history is the list of these."""
        with mlflow.start_run(
            experiment_id=self.experiment_id,
            run_name=run_name,
            tags={**dict(tags or {}), "role": DECISION_ROLE, "ticker": ticker},
        ) as run:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            finite = {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
            if finite:
                mlflow.log_metrics(finite)
            mlflow.log_dict(plain_json(decision), "decision.json")
            return str(run.info.run_id)

    def decisions(self, ticker: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest promotion decisions of a ticker, newest first (the alias history)."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.role = '{DECISION_ROLE}' and tags.ticker = '{ticker}'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
        return [
            {
                "run_id": r.info.run_id,
                "time": int(r.info.start_time),
                "outcome": r.data.params.get("outcome"),
                "served": r.data.params.get("served"),
                "previous_champion": r.data.params.get("previous_champion"),
                "champion": r.data.params.get("champion"),
                "challenger_version": r.data.params.get("challenger_version"),
                "policy_version": r.data.params.get("policy_version"),
                "reason": r.data.params.get("reason"),
                "trigger": r.data.tags.get("trigger"),
            }
            for r in runs
        ]

    def log_metrics_to_run(self, run_id: str, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            if value is not None and np.isfinite(value):
                self.client.log_metric(run_id, key, float(value))

    def log_dict_to_run(self, run_id: str, data: Mapping[str, Any], artifact_file: str) -> None:
        self.client.log_dict(run_id, plain_json(data), artifact_file)

    def set_champion(self, model_name: str, version: str) -> None:
        self.client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)

    def champion(self, model_name: str) -> ChampionInfo | None:
        """The version behind the ``champion`` alias, or None when there is none (yet)."""
        try:
            mv = self.client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
        except MlflowException:
            return None
        return ChampionInfo(model_name, str(mv.version), mv.tags.get(BUNDLE_TAG), mv.run_id)

    def version_for_bundle(self, model_name: str, bundle_version: str) -> str | None:
        """The registered version whose ``bundle_version`` tag is ``bundle_version``."""
        try:
            versions = self.client.search_model_versions(f"name = '{model_name}'")
        except MlflowException:
            return None
        for mv in versions:
            if mv.tags.get(BUNDLE_TAG) == bundle_version:
                return str(mv.version)
        return None

    def run_id_for_version(self, model_name: str, version: str) -> str | None:
        return self.client.get_model_version(model_name, version).run_id

    def version_tags(self, model_name: str, version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(model_name, version).tags)

    def set_version_tag(self, model_name: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(model_name, version, key, value)
