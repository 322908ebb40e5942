"""Which model serves a ticker: the MLflow ``champion``, whatever it is (an LSTM or a baseline).

The promotion policy decides what the champion is (``stock_assets.domain.ml.policy``); nothing
that has not been through it is served. Shared by the ``forecast`` asset, the API and the agents,
so all answer with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stock_assets.domain.ml.artifacts import ModelBundle, latest_version, load_bundle
from stock_assets.domain.symbols import normalize_ticker
from stock_assets.domain.tracking import ModelTracker, registered_model_name


class NoModelError(LookupError):
    """The ticker has no champion yet (never trained, or its evaluation has not finished)."""


@dataclass(frozen=True)
class ServingModel:
    bundle: ModelBundle
    model_version: str | None  # MLflow registered version of the champion

    @property
    def model(self) -> str:
        """``lstm``, or the baseline's name (``naive``, ``drift``, ``linear``)."""
        return self.bundle.candidate

    @property
    def kind(self) -> str:
        """``learned`` or ``baseline``."""
        return "baseline" if self.bundle.kind == "baseline" else "learned"


def resolve_serving_model(tracker: ModelTracker, children_root: Path, ticker: str) -> ServingModel:
    symbol = normalize_ticker(ticker)
    champion = tracker.champion(registered_model_name(symbol))
    if champion is not None and champion.bundle_version:
        bundle = load_bundle(children_root, symbol, champion.bundle_version)
        return ServingModel(bundle, champion.model_version)
    if latest_version(children_root, symbol) is None:
        raise NoModelError(f"No model has been trained for {symbol} yet.")
    raise NoModelError(
        f"{symbol} has a trained model but no champion yet: its backtest and promotion decision "
        "have not completed (or the leakage check blocked them)."
    )
