"""tests/required_tools.py: a missing program skips a test locally and fails it under CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.required_tools import require_tool

MISSING = "stockops-no-such-program"


@pytest.mark.parametrize("ci", ["", "0", "false"])
def test_missing_program_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(Skipped, match=MISSING):
        require_tool(MISSING)


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_program_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(Failed, match="CI is set"):
        require_tool(MISSING)


def test_finds_programs_on_path_and_through_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CI", "true")
    assert Path(require_tool("sh")).name == "sh"
    program = tmp_path / "tool"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("STOCKOPS_TEST_TOOL", str(program))
    assert require_tool(MISSING, env="STOCKOPS_TEST_TOOL") == str(program)
    program.chmod(0o644)  # not executable: not a program
    with pytest.raises(Failed):
        require_tool(MISSING, env="STOCKOPS_TEST_TOOL")
