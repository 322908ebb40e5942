"""Which model serves a ticker: the MLflow ``champion``, else the latest child flagged.

Shared by the ``forecast`` asset and the API, so both answer with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stock_assets.domain.ml.artifacts import ModelBundle, latest_version, load_bundle
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.domain.tracking import ModelTracker, registered_model_name


class NoModelError(LookupError):
    """The ticker has no trained model yet."""


@dataclass(frozen=True)
class ServingModel:
    bundle: ModelBundle
    model_version: str | None  # MLflow registered version; None if it was never registered
    is_champion: bool

    @property
    def below_baseline(self) -> bool:
        """True when no version has passed the promotion gate: served, but flagged."""
        return not self.is_champion


def resolve_serving_model(tracker: ModelTracker, children_root: Path, ticker: str) -> ServingModel:
    symbol = normalize_ticker(ticker)
    champion = tracker.champion(registered_model_name(symbol))
    if champion is not None and champion.bundle_version:
        bundle = load_bundle(children_root, symbol, champion.bundle_version)
        return ServingModel(bundle, champion.model_version, is_champion=True)
    version = latest_version(children_root, symbol)
    if version is None:
        raise NoModelError(f"No model has been trained for {symbol} yet.")
    bundle = load_bundle(children_root, symbol, version)
    registered = tracker.version_for_bundle(registered_model_name(symbol), version)
    return ServingModel(bundle, registered, is_champion=False)
