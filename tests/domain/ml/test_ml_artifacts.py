"""Bundles: round trip, immutability, atomic publish, slugs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from stock_assets.domain.ml import artifacts
from stock_assets.domain.ml.artifacts import (
    latest_version,
    list_versions,
    load_bundle,
    new_version,
    save_bundle,
    ticker_from_slug,
    ticker_slug,
)
from stock_assets.domain.ml.config import TINY
from stock_assets.domain.ml.dataset import FeatureScaler, PreparedData
from stock_assets.domain.ml.model import build_model


@pytest.fixture
def data(prepared_data: Callable[..., PreparedData]) -> PreparedData:
    return prepared_data(300, seed=5)


def _save(root: Path, version: str, data: PreparedData, seed: int = 42) -> Path:
    model = build_model(TINY.replace(seed=seed))
    return save_bundle(
        root,
        "^GSPC",
        version,
        state_dict=model.state_dict(),
        scaler=data.scaler,
        config=TINY,
        metadata={"strategy": "scratch"},
    )


def test_slugs() -> None:
    assert ticker_slug("^GSPC") == "%5EGSPC"
    assert ticker_slug(" aapl ") == "AAPL"
    assert ticker_slug("BRK-B") == "BRK-B"
    for ticker in ("^GSPC", "BRK.B", "ES=F", "AAPL"):
        assert ticker_from_slug(ticker_slug(ticker)) == ticker
    for bad in ("", "../etc", "A/B", "^", ".AAPL", "A_B"):
        with pytest.raises(ValueError):
            ticker_slug(bad)


def test_round_trip(tmp_path: Path, data: PreparedData) -> None:
    model = build_model(TINY.replace(seed=3))
    path = save_bundle(
        tmp_path,
        "^GSPC",
        "v1",
        state_dict=model.state_dict(),
        scaler=data.scaler,
        config=TINY,
        metadata={"a": 1},
    )
    assert path == tmp_path / "%5EGSPC" / "v1"
    bundle = load_bundle(tmp_path, "^gspc")
    assert bundle.version == "v1" and bundle.ticker == "^GSPC"
    assert bundle.config == TINY and bundle.metadata["a"] == 1
    for (k, v), (k2, v2) in zip(
        model.state_dict().items(), bundle.model.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(v, v2)
    assert isinstance(bundle.scaler, FeatureScaler)
    assert bundle.scaler.to_dict() == data.scaler.to_dict()


def test_versions_are_immutable_and_latest_is_newest(tmp_path: Path, data: PreparedData) -> None:
    first, second = new_version(), new_version()
    assert first < second or first == second
    _save(tmp_path, "a-version", data)
    _save(tmp_path, "0-older-name-but-newer", data, seed=1)
    assert list_versions(tmp_path, "^GSPC") == ["a-version", "0-older-name-but-newer"]
    assert latest_version(tmp_path, "^GSPC") == "0-older-name-but-newer"
    with pytest.raises(FileExistsError):
        _save(tmp_path, "a-version", data)
    assert latest_version(tmp_path, "MSFT") is None
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path, "MSFT")


def test_interrupted_write_leaves_previous_version_intact(
    tmp_path: Path, data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(tmp_path, "v1", data)
    real_write = artifacts._write_bytes
    calls = {"n": 0}

    def failing_write(path: Path, payload: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 3:  # model and scaler written, then the "disk" fails
            raise OSError("disk full")
        return real_write(path, payload)

    monkeypatch.setattr(artifacts, "_write_bytes", failing_write)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path, "v2", data, seed=9)
    monkeypatch.undo()

    assert list_versions(tmp_path, "^GSPC") == ["v1"]
    assert sorted(p.name for p in (tmp_path / "%5EGSPC").iterdir()) == ["v1"]
    assert load_bundle(tmp_path, "^GSPC").version == "v1"


def test_leftover_temp_dir_is_never_a_version(tmp_path: Path, data: PreparedData) -> None:
    _save(tmp_path, "v1", data)
    # What a killed writer leaves behind: a hidden temp dir with every file present.
    leftover = tmp_path / "%5EGSPC" / ".tmp-v2-deadbeef"
    leftover.mkdir()
    for name in artifacts.BUNDLE_FILES:
        (leftover / name).write_text("{}")
    partial = tmp_path / "%5EGSPC" / "v3"  # a half-copied dir without metadata
    partial.mkdir()
    (partial / artifacts.MODEL_FILE).write_bytes(b"")
    assert list_versions(tmp_path, "^GSPC") == ["v1"]
    assert artifacts.cleanup_stale_temp_dirs(tmp_path, "^GSPC", older_than_s=-1) == 1
    assert not leftover.exists()


def test_tampered_files_are_refused(tmp_path: Path, data: PreparedData) -> None:
    path = _save(tmp_path, "v1", data)
    meta = json.loads((path / "metadata.json").read_text())
    assert set(meta["sha256"]) == {"model.pt", "scaler.pkl", "config.json"}
    (path / "config.json").write_text(json.dumps(TINY.replace(epochs=99).to_dict()))
    with pytest.raises(ValueError, match="checksum"):
        load_bundle(tmp_path, "^GSPC", "v1")
