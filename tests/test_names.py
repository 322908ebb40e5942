"""The name sheet (``stock_assets.names``) is the only place a name of the code location is
spelled: it matches the code location, and no other module writes an asset, job, sensor,
schedule or run-tag name as a string of its own."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from devkit.sources import python_files
from stock_assets import names

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "tests" / "snapshots" / "code_location.json"
# Where names are looked for: every Python package of ours. The Streamlit app imports nothing of
# ours (an import-linter contract): it reads names from the API's answers.
SCANNED = ("stock_assets", "serving_api", "agent_graph", "bench", "devkit", "tests")
SHEET = Path(names.__file__).resolve()
# Modules allowed to spell names for a while (a test below fails once one of them no longer
# does). None today.
PENDING: set[str] = set()
# Words that are asset names and, here, mean something else: (file, word) -> what it means.
HOMONYMS = {
    ("serving_api/cache.py", names.FORECAST): "the Redis namespace of cached forecast answers",
    ("tests/serving_api/test_analyze.py", names.FORECAST): "a section of the agents' report",
    ("agent_graph/report.py", names.FORECAST): "a section of the agents' report",
}


def _snapshot() -> dict:
    return json.loads(SNAPSHOT.read_text())


def test_the_sheet_lists_every_asset_of_the_code_location() -> None:
    assert sorted(names.ASSETS) == sorted(_snapshot()["assets"])


def test_the_sheet_lists_every_job_of_the_code_location() -> None:
    assert sorted(names.JOBS) == sorted(_snapshot()["jobs"])
    assert set(names.TRAINING_JOBS) <= set(names.JOBS)


def test_the_sheet_lists_every_sensor_and_schedule() -> None:
    snapshot = _snapshot()
    assert sorted(names.SENSORS) == snapshot["sensors"]
    assert sorted(names.SCHEDULES) == sorted(s.split(" (")[0] for s in snapshot["schedules"])


def test_the_training_jobs_are_those_that_train() -> None:
    """What the sheet calls a training job is what selects a model-training asset."""
    trains = {names.PARENT_MODEL, names.CHILD_MODEL, names.BACKTEST}
    jobs = _snapshot()["jobs"]
    assert {j for j, spec in jobs.items() if trains & set(spec["assets"])} == set(
        names.TRAINING_JOBS
    )


def _spelled() -> dict[str, str]:
    """Every string the sheet owns, with the constant that holds it. Asset, job, sensor and
    schedule names and run tags; trigger values, the partition set and the pool are common
    words ("daily", "tickers", "training") and stay out of the search."""
    owned = {*names.ASSETS, *names.JOBS, *names.SENSORS, *names.SCHEDULES}
    return {
        value: constant
        for constant, value in vars(names).items()
        if isinstance(value, str)
        and constant.isupper()
        and (value in owned or constant.endswith("_TAG"))
    }


def _fields(tree: ast.AST) -> set[int]:
    """Ids of the string nodes that name a field, not an asset, even when the word is an asset
    name ("forecast", "backtest"): a subscript (``body["forecast"]``), the left of ``in`` and a
    dict literal's key
    (``ins={"indicators": ...}`` names the function's parameter; JSON bodies). Op config is the
    exception: a key whose value is ``{"config": ...}`` names an op (an asset) and stays
    searched."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            ids.add(id(node.slice))
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            ids.add(id(node.left))  # "forecast" in body
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and not _is_op_config(value):
                    ids.add(id(key))
    return ids


def _is_op_config(node: ast.AST) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == "config" for k in node.keys
    )


def spelled_names(path: Path) -> list[str]:
    """``file:line: "name"`` for every string constant in ``path`` equal to a sheet name (an
    asset name used as a field name excepted, see ``_fields``)."""
    owned = _spelled()
    assets_only = set(names.ASSETS) - {*names.JOBS, *names.SENSORS, *names.SCHEDULES}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    fields = _fields(tree)
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    return [
        f"{where}:{node.lineno}: {node.value!r} (names.{owned[node.value]})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in owned
        and not (node.value in assets_only and id(node) in fields)
        and (str(where), node.value) not in HOMONYMS
    ]


def test_no_module_spells_a_name_outside_the_sheet() -> None:
    found = [
        hit
        for path in python_files(*SCANNED)
        if path.resolve() != SHEET
        if str(path.relative_to(REPO)) not in PENDING
        for hit in spelled_names(path)
    ]
    assert not found, "take these names from stock_assets.names:\n" + "\n".join(found)


def test_the_pending_modules_still_need_the_exemption() -> None:
    settled = [name for name in sorted(PENDING) if not spelled_names(REPO / name)]
    assert not settled, f"remove from PENDING, they spell no name any more: {settled}"


def test_the_search_finds_a_spelled_name(tmp_path: Path) -> None:
    """The check above can fail: a job name, a tag and an op name in a run config written as
    strings are found; an ``ins`` key (a parameter name) and a JSON field are not."""
    module = tmp_path / "spelled.py"
    module.write_text(
        'JOB = "onboard_ticker"\n'
        'spec = dict(ins={"forecast": 1})\n'
        'TAG = "stockops/trigger"\n'
        'price = body["forecast"]\n'
        'config = {"ops": {"child_model": {"config": {}}}}\n'
    )
    hits = spelled_names(module)
    assert [h.split(": ", 1)[1] for h in hits] == [
        "'onboard_ticker' (names.ONBOARD_TICKER_JOB)",
        "'stockops/trigger' (names.TRIGGER_TAG)",
        "'child_model' (names.CHILD_MODEL)",
    ]
