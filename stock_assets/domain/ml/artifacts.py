"""Model bundles on disk: immutable versions written atomically.

Layout::

    <outputs_dir>/<ticker_slug>/<version>/
        model.pt        LSTM: state dict (torch.save; loaded with weights_only=True)
        scaler.pkl      LSTM: FeatureScaler (loaded with an allow-list unpickler)
        forecaster.json baseline: its fitted state (``BaselineForecaster.to_state``)
        config.json     ModelConfig.to_dict() (windows, horizon, quantiles, features)
        metadata.json   caller's metadata + kind, ticker, version, created_at, sha256 of the files

A bundle is of kind ``lstm`` or ``baseline``; either serves through ``ModelBundle.forecaster``.
A third kind, ``mix``, serves each horizon from the model the promotion policy chose for it::

        mix.json        the plan: the component serving each horizon
        config.json, metadata.json
        components/<name>/  one complete lstm or baseline bundle per component (copied in, so a
                            mix is one self-contained folder, like any version)

Writes go to a hidden temp dir (``.tmp-...``) next to the final one; every file and the dir are
fsynced, then the dir is renamed into place in one ``rename`` (atomic on POSIX within a file
system). A crash leaves at most a hidden temp dir, which is never listed as a version. An existing
version is never overwritten (``FileExistsError``): versions are immutable.

Ticker slug: the repo-wide scheme of ``stock_assets.domain.symbols`` (validated, upper-cased,
percent-encoded: ``^GSPC`` -> ``%5EGSPC``, ``BRK-B`` -> ``BRK-B``), so model folders line up with
the asset tables and market-data files of the same ticker.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stock_assets.domain.ml.config import ModelConfig
from stock_assets.domain.ml.dataset import FeatureScaler
from stock_assets.domain.ml.forecasters import BaselineForecaster, Forecaster
from stock_assets.domain.symbols import normalize_ticker, ticker_from_slug, ticker_slug

if TYPE_CHECKING:  # torch loads with the first LSTM bundle, not with this module
    import torch

    from stock_assets.domain.ml.model import LSTMForecaster

MODEL_FILE = "model.pt"
SCALER_FILE = "scaler.pkl"
BASELINE_FILE = "forecaster.json"
CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
BUNDLE_FILES: tuple[str, ...] = (MODEL_FILE, SCALER_FILE, CONFIG_FILE, METADATA_FILE)
BASELINE_BUNDLE_FILES: tuple[str, ...] = (BASELINE_FILE, CONFIG_FILE, METADATA_FILE)
MIX_FILE = "mix.json"
MIX_BUNDLE_FILES: tuple[str, ...] = (MIX_FILE, CONFIG_FILE, METADATA_FILE)
COMPONENTS_DIR = "components"
# 2: LSTM head reads the last input row; calibration start recorded; baseline bundles.
BUNDLE_FORMAT = 2
LSTM_KIND = "lstm"
BASELINE_KIND = "baseline"
MIX_KIND = "mix"
TEMP_PREFIX = ".tmp-"
# Re-exported: callers of this module name bundle folders without reaching into ``symbols``.
__all__ = [
    "ModelBundle",
    "cleanup_stale_temp_dirs",
    "latest_version",
    "list_versions",
    "load_bundle",
    "load_bundle_from_path",
    "new_version",
    "normalize_ticker",
    "save_bundle",
    "save_mix_bundle",
    "ticker_from_slug",
    "ticker_slug",
    "validate_version",
]

_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------
def new_version(now: datetime | None = None) -> str:
    """A sortable version name from the UTC time, e.g. ``20240102T210000123456Z``."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def validate_version(version: str) -> str:
    """Version names are plain, non-hidden path components."""
    if not _VERSION_RE.match(version):
        raise ValueError(f"invalid version {version!r}: use letters, digits, '.', '_', '-'")
    return version


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def _write_bytes(path: Path, payload: bytes) -> str:
    """Write, flush and fsync one file; return its sha256."""
    with path.open("wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(payload).hexdigest()


def _fsync_dir(path: Path) -> None:
    """Persist a directory entry (a rename) itself; not possible on every platform."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _serialise_state_dict(state_dict: dict[str, torch.Tensor]) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, buf)
    return buf.getvalue()


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def _write_files(
    folder: Path,
    ticker: str,
    version: str,
    *,
    config: ModelConfig,
    state_dict: dict[str, torch.Tensor] | None,
    scaler: FeatureScaler | None,
    baseline: BaselineForecaster | None,
    metadata: dict[str, Any] | None,
) -> None:
    """An LSTM or baseline bundle's files in ``folder`` (which exists), metadata last."""
    if (baseline is None) == (state_dict is None or scaler is None):
        raise ValueError("a bundle holds either an LSTM (state_dict and scaler) or a baseline")
    checksums = {CONFIG_FILE: _write_bytes(folder / CONFIG_FILE, _json_bytes(config.to_dict()))}
    if baseline is not None:
        kind = BASELINE_KIND
        checksums[BASELINE_FILE] = _write_bytes(
            folder / BASELINE_FILE, _json_bytes(baseline.to_state())
        )
    else:
        assert state_dict is not None and scaler is not None
        kind = LSTM_KIND
        checksums[MODEL_FILE] = _write_bytes(folder / MODEL_FILE, _serialise_state_dict(state_dict))
        checksums[SCALER_FILE] = _write_bytes(
            folder / SCALER_FILE, pickle.dumps(scaler, protocol=pickle.HIGHEST_PROTOCOL)
        )
    _write_metadata(folder, ticker, version, kind, checksums, metadata)


def _write_metadata(  # noqa: PLR0917 - one bundle's identity, all required
    folder: Path,
    ticker: str,
    version: str,
    kind: str,
    checksums: dict[str, str],
    metadata: dict[str, Any] | None,
) -> None:
    meta = {
        **(metadata or {}),
        "kind": kind,
        "ticker": normalize_ticker(ticker),
        "ticker_slug": ticker_slug(ticker),
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "bundle_format": BUNDLE_FORMAT,
        "sha256": checksums,
    }
    _write_bytes(folder / METADATA_FILE, _json_bytes(meta))


def _publish(outputs_dir: str | Path, ticker: str, version: str, write: Any) -> Path:
    """Run ``write(tmp_dir)`` in a hidden temp dir and rename it into place in one step."""
    validate_version(version)
    parent = Path(outputs_dir) / ticker_slug(ticker)
    final = parent / version
    if final.exists():
        raise FileExistsError(f"model version already exists (versions are immutable): {final}")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{TEMP_PREFIX}{version}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        write(tmp)
        _fsync_dir(tmp)
        if final.exists():  # a concurrent writer won the race
            raise FileExistsError(f"model version already exists: {final}")
        try:
            # One rename publishes the whole version. It fails on a non-empty target, so a
            # version that appeared after the check above is not overwritten either.
            tmp.replace(final)
        except OSError as exc:
            raise FileExistsError(f"could not publish {final}: {exc}") from exc
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def save_bundle(
    outputs_dir: str | Path,
    ticker: str,
    version: str,
    *,
    config: ModelConfig,
    state_dict: dict[str, torch.Tensor] | None = None,
    scaler: FeatureScaler | None = None,
    baseline: BaselineForecaster | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle to ``<outputs_dir>/<slug>/<version>/`` atomically; return that path.

    An LSTM bundle needs ``state_dict`` and ``scaler``; a baseline bundle ``baseline``.
    Raises ``FileExistsError`` if the version exists. On any error the temp dir is removed and
    nothing is visible; previous versions are untouched.
    """
    if (baseline is None) == (state_dict is None or scaler is None):
        raise ValueError("a bundle holds either an LSTM (state_dict and scaler) or a baseline")

    def write(tmp: Path) -> None:
        _write_files(
            tmp,
            ticker,
            version,
            config=config,
            state_dict=state_dict,
            scaler=scaler,
            baseline=baseline,
            metadata=metadata,
        )

    return _publish(outputs_dir, ticker, version, write)


def save_mix_bundle(
    outputs_dir: str | Path,
    ticker: str,
    version: str,
    *,
    config: ModelConfig,
    plan: list[str] | tuple[str, ...],
    components: dict[str, Path | tuple[BaselineForecaster, dict[str, Any]]],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a ``mix`` bundle: ``plan[h - 1]`` names the component serving horizon ``h``; each
    component is an existing bundle folder (copied in) or a fitted baseline with its metadata.
    Atomic and immutable like ``save_bundle``."""
    if len(plan) != config.horizon:
        raise ValueError(f"a plan names one model per horizon: {len(plan)} for {config.horizon}")
    missing = sorted(set(plan) - set(components))
    if missing:
        raise ValueError(f"the plan names models without a component: {missing}")

    def write(tmp: Path) -> None:
        folder = tmp / COMPONENTS_DIR
        folder.mkdir()
        for name in dict.fromkeys(plan):
            source = components[name]
            target = folder / name
            if isinstance(source, Path):
                if not _is_complete(source) or _kind_of(source) == MIX_KIND:
                    raise ValueError(f"not a complete lstm or baseline bundle: {source}")
                shutil.copytree(source, target)
            else:
                target.mkdir()
                baseline, meta = source
                _write_files(
                    target,
                    ticker,
                    f"{version}-{name}",
                    config=config,
                    state_dict=None,
                    scaler=None,
                    baseline=baseline,
                    metadata=meta,
                )
        mix = {"horizons": [{"horizon": h, "model": n} for h, n in enumerate(plan, 1)]}
        checksums = {
            CONFIG_FILE: _write_bytes(tmp / CONFIG_FILE, _json_bytes(config.to_dict())),
            MIX_FILE: _write_bytes(tmp / MIX_FILE, _json_bytes(mix)),
        }
        _write_metadata(tmp, ticker, version, MIX_KIND, checksums, metadata)

    return _publish(outputs_dir, ticker, version, write)


def cleanup_stale_temp_dirs(
    outputs_dir: str | Path, ticker: str, older_than_s: float = 3600
) -> int:
    """Remove temp dirs left by crashed writers (older than ``older_than_s``); return the count."""
    parent = Path(outputs_dir) / ticker_slug(ticker)
    if not parent.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for entry in parent.iterdir():
        if entry.name.startswith(TEMP_PREFIX) and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def _is_complete(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith("."):
        return False
    return any(
        all((path / name).is_file() for name in files)
        for files in (BUNDLE_FILES, BASELINE_BUNDLE_FILES, MIX_BUNDLE_FILES)
    )


def _kind_of(path: Path) -> str:
    try:
        return str(json.loads((path / METADATA_FILE).read_text()).get("kind", LSTM_KIND))
    except (OSError, ValueError):
        return LSTM_KIND


def list_versions(outputs_dir: str | Path, ticker: str, kind: str | None = None) -> list[str]:
    """Complete versions of a ticker, oldest first (by ``created_at``, then name); only bundles
    of ``kind`` (``lstm``, ``baseline`` or ``mix``) when given."""
    parent = Path(outputs_dir) / ticker_slug(ticker)
    if not parent.is_dir():
        return []
    keyed: list[tuple[str, str]] = []
    for entry in parent.iterdir():
        if not _is_complete(entry):
            continue
        try:
            meta = json.loads((entry / METADATA_FILE).read_text())
            created = str(meta["created_at"])
        except (OSError, ValueError, KeyError):
            continue  # unreadable metadata: not a usable version
        if kind is not None and str(meta.get("kind", LSTM_KIND)) != kind:
            continue
        keyed.append((created, entry.name))
    return [name for _, name in sorted(keyed)]


def latest_version(outputs_dir: str | Path, ticker: str, kind: str | None = None) -> str | None:
    """The newest complete version (of ``kind``, when given), or None."""
    versions = list_versions(outputs_dir, ticker, kind)
    return versions[-1] if versions else None


class _ScalerUnpickler(pickle.Unpickler):
    """Only what a pickled ``FeatureScaler`` needs: no arbitrary code from a tampered file.

    ``FeatureScaler`` pickles its arrays as plain lists, so the class itself is the only global.
    """

    _ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {("stock_assets.domain.ml.dataset", "FeatureScaler")}
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: an LSTM (``model`` + ``scaler``), a fitted baseline, or a mix of them
    (``components``: the bundle serving each horizon, index h - 1)."""

    config: ModelConfig
    metadata: dict[str, Any]
    path: Path
    model: LSTMForecaster | None = None
    scaler: FeatureScaler | None = None
    baseline: BaselineForecaster | None = None
    components: tuple[ModelBundle, ...] = ()

    @property
    def version(self) -> str:
        # A mix's components keep the version they were published under.
        return str(self.metadata.get("version", self.path.name))

    @property
    def ticker(self) -> str:
        return str(self.metadata["ticker"])

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", LSTM_KIND))

    @property
    def candidate(self) -> str:
        """What model this is: ``lstm``, the baseline's name (``naive``, ``linear``, ...) or
        ``mix``."""
        if self.components:
            return MIX_KIND
        return self.baseline.name if self.baseline is not None else LSTM_KIND

    @property
    def plan(self) -> tuple[ModelBundle, ...]:
        """The bundle serving each horizon: the components of a mix, else this one everywhere."""
        return self.components or (self,) * self.config.horizon

    @property
    def learned(self) -> ModelBundle | None:
        """The LSTM that serves the most horizons (this bundle, for an LSTM; None if none)."""
        learned = [b for b in self.plan if b.kind == LSTM_KIND]
        versions = [b.version for b in learned]
        return max(learned, key=lambda b: versions.count(b.version)) if learned else None

    @property
    def forecaster(self) -> Forecaster:
        """The bundle behind the ``Forecaster`` interface (what serving calls)."""
        if self.components:
            raise TypeError("a mix has one forecaster per horizon: forecast through its plan")
        if self.baseline is not None:
            return self.baseline
        from stock_assets.domain.ml.lstm_candidate import LSTMCandidate

        return LSTMCandidate(self.config, model=self.model, scaler=self.scaler)

    @property
    def calibration_start(self) -> str | None:
        """Date of the first anchor this model did not train on (its first validation anchor)."""
        value = self.metadata.get("calibration_start")
        return None if value is None else str(value)


def load_bundle_from_path(path: str | Path, verify: bool = True) -> ModelBundle:
    """Load a bundle directory; ``verify`` checks the files' sha256 against the metadata."""
    path = Path(path)
    if not _is_complete(path):
        raise FileNotFoundError(f"not a complete model bundle: {path}")
    metadata = json.loads((path / METADATA_FILE).read_text())
    if int(metadata.get("bundle_format", 1)) < BUNDLE_FORMAT:
        raise ValueError(
            f"{path} is a format-{metadata.get('bundle_format', 1)} bundle, from before the "
            f"current model (format {BUNDLE_FORMAT}): retrain it (materialize the model again)"
        )
    if verify:
        for name, digest in metadata.get("sha256", {}).items():
            if hashlib.sha256((path / name).read_bytes()).hexdigest() != digest:
                raise ValueError(f"checksum mismatch for {path / name}")
    config = ModelConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
    if metadata.get("kind") == MIX_KIND:
        return _load_mix(path, config, metadata, verify)
    if metadata.get("kind") == BASELINE_KIND:
        state = json.loads((path / BASELINE_FILE).read_text())
        baseline = BaselineForecaster.from_state(state)
        return ModelBundle(config=config, metadata=metadata, path=path, baseline=baseline)
    with (path / SCALER_FILE).open("rb") as fh:
        scaler = _ScalerUnpickler(fh).load()
    if not isinstance(scaler, FeatureScaler):
        raise TypeError(f"{path / SCALER_FILE} does not hold a FeatureScaler")
    import torch

    from stock_assets.domain.ml.model import build_model

    weights = torch.load(path / MODEL_FILE, weights_only=True, map_location="cpu")
    model = build_model(config)
    model.load_state_dict(weights, strict=True)
    model.eval()
    return ModelBundle(config=config, metadata=metadata, path=path, model=model, scaler=scaler)


def _load_mix(
    path: Path, config: ModelConfig, metadata: dict[str, Any], verify: bool
) -> ModelBundle:
    plan = [str(h["model"]) for h in json.loads((path / MIX_FILE).read_text())["horizons"]]
    loaded: dict[str, ModelBundle] = {}
    for name in dict.fromkeys(plan):
        component = load_bundle_from_path(path / COMPONENTS_DIR / name, verify)
        if component.components or component.config.horizon != config.horizon:
            raise ValueError(
                f"{path}: component {name!r} is not a single {config.horizon}-day model"
            )
        loaded[name] = component
    return ModelBundle(
        config=config,
        metadata=metadata,
        path=path,
        components=tuple(loaded[name] for name in plan),
    )


def load_bundle(outputs_dir: str | Path, ticker: str, version: str | None = None) -> ModelBundle:
    """Load ``version`` (default: the latest complete one) of a ticker's model."""
    if version is None:
        version = latest_version(outputs_dir, ticker)
        if version is None:
            raise FileNotFoundError(f"no model version for {ticker!r} under {outputs_dir}")
    return load_bundle_from_path(
        Path(outputs_dir) / ticker_slug(ticker) / validate_version(version)
    )
