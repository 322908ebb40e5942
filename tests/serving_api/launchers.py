"""A run launcher for API tests that must not train: it records what it was asked to launch and
executes nothing (what it launched stays busy). The on-demand flow is exercised for real, end to
end, by test_on_demand.py and test_graphql_launch.py."""

from __future__ import annotations

import threading
import uuid

from serving_api.runs import RunSpec


class RecordingLauncher:
    name = "recording"

    def __init__(self) -> None:
        self.specs: list[RunSpec] = []
        self._lock = threading.Lock()

    def submit(self, spec: RunSpec) -> str:
        with self._lock:
            self.specs.append(spec)
        return str(uuid.uuid4())

    def busy(self, job_name: str, partition: str | None) -> bool:
        with self._lock:
            return any((s.job_name, s.partition) == (job_name, partition) for s in self.specs)

    def close(self) -> None:
        pass
