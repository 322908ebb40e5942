"""Point-in-time training sets kept between runs: Feast joins each entity row once per source.

A point-in-time join is row by row: the features joined to ``(ticker, t)`` depend on ``t``, the
ticker's rows in the offline source and the definitions, nothing else. So a join already made
for a set of timestamps answers any subset of them, and only timestamps never joined need Feast.
Feast's file offline store costs about a second per 500 entity rows (it re-reads the source and
hashes every frame it builds), and one onboarding asks for the index's history three times and
the ticker's twice (training, the backtest's parent, the backtest): kept here, each is joined once.

What a kept join is valid for is in its file name: a digest of the feature service and view as the
registry holds them and of the ticker's own source file (the indicators table, one file per
ticker, holding only that ticker's rows: ``layout.table_path``). A new indicator table or new
definitions change the digest, and the next request joins afresh and replaces the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from stock_assets.domain import layout
from stock_assets.domain.feature_store.definitions import (
    ENTITY_NAME,
    INDICATOR_VIEW,
    TIMESTAMP_FIELD,
)
from stock_assets.domain.storage import atomic_write_parquet
from stock_assets.domain.symbols import ticker_slug

if TYPE_CHECKING:
    from feast import FeatureStore

Join = Callable[[pd.DataFrame], pd.DataFrame]
STAMP_DTYPE = "datetime64[ns, UTC]"


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class KeptJoins:
    """Training-set joins kept under ``<feast_dir>/kept_joins``, one per ticker:
    ``<SLUG>/<digest>.parquet``."""

    def __init__(self, feast_dir: Path) -> None:
        self.folder = Path(feast_dir) / "kept_joins"

    def _definitions_digest(self, store: FeatureStore, service: str) -> tuple[str, Path]:
        """The digest of the service and view specs, and the folder the view's source reads."""
        view = store.get_feature_view(INDICATOR_VIEW)
        specs = (
            store.get_feature_service(service).to_proto().spec,
            view.to_proto().spec,
        )
        digest = hashlib.sha256()
        for spec in specs:
            digest.update(spec.SerializeToString(deterministic=True))
        return digest.hexdigest(), Path(view.batch_source.path)  # type: ignore[attr-defined]

    def join(
        self, store: FeatureStore, entity_df: pd.DataFrame, service: str, feast_join: Join
    ) -> pd.DataFrame:
        """``feast_join(entity_df)`` for one ticker's entity rows, from what is kept where it can.

        Rows come back as ``feast_join`` returns them: sorted by ticker and time, one per entity
        row."""
        (ticker,) = entity_df[ENTITY_NAME].unique()
        definitions, source_dir = self._definitions_digest(store, service)
        source = layout.table_path(source_dir.parent, source_dir.name, ticker)
        before = _file_digest(source)
        if before is None:  # nothing to key on: the join finds no rows anyway
            return feast_join(entity_df)
        key = hashlib.sha256(f"{definitions}:{before}".encode()).hexdigest()[:20]
        path = self.folder / ticker_slug(ticker) / f"{key}.parquet"
        kept = self._read(path)
        stamps = pd.to_datetime(entity_df[TIMESTAMP_FIELD], utc=True).astype(STAMP_DTYPE)
        known = kept[TIMESTAMP_FIELD] if kept is not None else pd.Series([], dtype=STAMP_DTYPE)
        missing = stamps[~stamps.isin(known)].drop_duplicates()
        if len(missing):
            fresh = feast_join(pd.DataFrame({ENTITY_NAME: ticker, TIMESTAMP_FIELD: missing}))
            fresh[TIMESTAMP_FIELD] = fresh[TIMESTAMP_FIELD].astype(STAMP_DTYPE)
            if _file_digest(source) != before:
                # The table was rewritten while Feast read it: kept rows and fresh ones would
                # come from two versions of it. Nothing is kept; Feast answers the whole request.
                return feast_join(entity_df)
            kept = fresh if kept is None else pd.concat([kept, fresh], ignore_index=True)
            self._write(kept, path)
        assert kept is not None
        wanted = pd.DataFrame(
            {
                ENTITY_NAME: entity_df[ENTITY_NAME].to_numpy(),
                TIMESTAMP_FIELD: stamps.reset_index(drop=True),
            }
        )
        frame = wanted.merge(kept.drop(columns=ENTITY_NAME), on=TIMESTAMP_FIELD, how="left")
        return frame.sort_values([ENTITY_NAME, TIMESTAMP_FIELD]).reset_index(drop=True)

    @staticmethod
    def _read(path: Path) -> pd.DataFrame | None:
        try:
            frame = pd.read_parquet(path)
        except (FileNotFoundError, OSError):
            return None
        frame[TIMESTAMP_FIELD] = frame[TIMESTAMP_FIELD].astype(STAMP_DTYPE)
        return frame

    @staticmethod
    def _write(frame: pd.DataFrame, path: Path) -> None:
        atomic_write_parquet(frame.sort_values(TIMESTAMP_FIELD).reset_index(drop=True), path)
        for stale in path.parent.glob("*.parquet"):  # joins of an older source or definitions
            if stale != path:
                stale.unlink(missing_ok=True)
