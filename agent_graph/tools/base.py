"""What every market-expert tool returns: its status, a code-made summary and its numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ToolStatus = Literal["ok", "skipped", "error"]


@dataclass(frozen=True)
class ToolResult:
    """``summary`` is written by code from ``numbers``; the critic accepts exactly those."""

    name: str
    status: ToolStatus
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    numbers: tuple[tuple[str, float], ...] = ()
    dates: tuple[str, ...] = ()  # ISO dates the summary may state

    @property
    def ran(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["numbers"] = [list(n) for n in self.numbers]
        return out


def ran(tools: Iterable[ToolResult], name: str) -> ToolResult | None:
    """The result of the tool ``name`` when it ran, else None."""
    return next((t for t in tools if t.name == name and t.ran), None)
