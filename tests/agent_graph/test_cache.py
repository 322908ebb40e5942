"""The semantic cache with real MiniLM embeddings in real Qdrant local mode."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_graph.cache import SemanticCache, embed, request_text
from stock_assets.settings import Settings

RECORD = {"ticker": "AAPL", "as_of": "2013-03-01", "report": {"markdown": "# AAPL"}}


@pytest.fixture
def cache(tmp_path: Path) -> SemanticCache:
    cache = SemanticCache(Settings(data_dir=tmp_path, agent_cache_max_entries=3))
    yield cache
    cache.close()


def test_hit_and_misses(cache: SemanticCache) -> None:
    assert cache.lookup("AAPL", "2013-03-01", "1-v", None) is None  # empty
    assert cache.put("AAPL", "2013-03-01", "1-v", "Is the outlook positive?", RECORD)
    # The same request, written differently (case, spacing): a hit, with the stored record.
    hit = cache.lookup("AAPL", "2013-03-01", "1-v", "  is the outlook POSITIVE?")
    assert hit is not None and hit.record == RECORD and hit.score >= 0.95
    # A near paraphrase clears the 0.95 bar; a different question does not.
    near = cache.lookup("AAPL", "2013-03-01", "1-v", "Is the outlook positive")
    assert near is not None
    assert cache.lookup("AAPL", "2013-03-01", "1-v", "What are the main risks?") is None
    # Same question, other data as-of date, model or ticker: filtered out, a miss.
    assert cache.lookup("AAPL", "2013-03-04", "1-v", "Is the outlook positive?") is None
    assert cache.lookup("AAPL", "2013-03-01", "2-w", "Is the outlook positive?") is None
    assert cache.lookup("MSFT", "2013-03-01", "1-v", "Is the outlook positive?") is None
    assert cache.count() == 1


def test_embeddings_are_real_minilm() -> None:
    a, b = embed(request_text("AAPL", None)), embed(request_text("AAPL", "risks"))
    assert len(a) == 384 and abs(sum(x * x for x in a) - 1.0) < 1e-4  # normalised
    assert sum(x * y for x, y in zip(a, b, strict=True)) < 0.95


def test_prunes_by_count_and_age(tmp_path: Path) -> None:
    cache = SemanticCache(Settings(data_dir=tmp_path, agent_cache_max_entries=3))
    try:
        for day in range(1, 6):
            cache.put("AAPL", f"2013-03-0{day}", "1-v", None, RECORD)
        assert cache.count() == 3  # the two oldest went
        assert cache.lookup("AAPL", "2013-03-01", "1-v", None) is None
        assert cache.lookup("AAPL", "2013-03-05", "1-v", None) is not None
        # Age: with a limit in the past of every entry, a prune empties the collection.
        cache.settings = cache.settings.model_copy(update={"agent_cache_max_age_days": 1e-9})
        time.sleep(0.01)
        assert cache.prune() == 3 and cache.count() == 0
    finally:
        cache.close()


def test_a_folder_locked_by_another_process_degrades_to_no_cache(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom qdrant_client import QdrantClient\n"
            f"c = QdrantClient(path={str(folder)!r})\nprint('ready', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        cache = SemanticCache(Settings(data_dir=tmp_path, qdrant_path=folder))
        assert cache.lookup("AAPL", "2013-03-01", "1-v", None) is None
        assert not cache.put("AAPL", "2013-03-01", "1-v", None, RECORD)
        assert cache.status.startswith("unavailable:") and "already accessed" in cache.status
    finally:
        holder.kill()
        holder.wait()


def test_disabled_cache_says_so(tmp_path: Path) -> None:
    cache = SemanticCache(Settings(data_dir=tmp_path, agent_cache_enabled=False))
    assert cache.status == "disabled" and cache.lookup("AAPL", "x", "y", None) is None
    assert not (tmp_path / "qdrant").exists()
