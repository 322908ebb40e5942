"""The LLM provider factory: configuration errors are clear when it runs (start-up)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pydantic
import pytest

from agent_graph.llm import (
    ChatModelLLM,
    LLMConfigError,
    LLMError,
    LocalLlama,
    LocalTransformers,
    build_llm,
    prepared_model_dir,
)
from agent_graph.service import AnalystService
from stock_assets.settings import Settings


@pytest.fixture(autouse=True)
def _no_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def test_default_is_the_packaged_local_model(tmp_path: Path) -> None:
    llm = build_llm(Settings(data_dir=tmp_path))
    assert isinstance(llm, LocalTransformers)
    assert llm.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and llm.path.exists()


def test_the_llama_cpp_runtime_is_an_optional_extra(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm_runtime="llama-cpp")
    if importlib.util.find_spec("llama_cpp") is None:  # the default install: no compiler run
        with pytest.raises(LLMConfigError, match=r"pip install -e '\.\[llamacpp\]'"):
            build_llm(settings)
    else:
        assert isinstance(build_llm(settings), LocalLlama)
    with pytest.raises(pydantic.ValidationError, match="llm_runtime"):
        Settings(data_dir=tmp_path, llm_runtime="onnx")


def test_the_transformers_runtime_writes_without_digits_reproducibly(tmp_path: Path) -> None:
    """The real SmolLM2 through transformers: text, no digit (numbers come from code), the same
    text for the same seed, and one conversion of the GGUF reused by later loads."""
    llm = build_llm(Settings(data_dir=tmp_path, llm_max_tokens=24))
    assert isinstance(llm, LocalTransformers)
    system, prompt = "You are a careful analyst.", "Describe a calm week in the stock market."
    first = llm.complete(system, prompt)
    assert first.strip() and not any(ch.isdigit() for ch in first)
    assert llm.complete(system, prompt) == first
    folder = prepared_model_dir(llm.path)
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert prepared_model_dir(llm.path) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again
    # No staging folder is left beside it.
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []


def test_the_transformers_runtime_stops_at_its_deadline(tmp_path: Path) -> None:
    llm = build_llm(Settings(data_dir=tmp_path, llm_max_tokens=400))
    llm.load()
    llm.timeout_s = 0.05  # a few tokens at most
    with pytest.raises(LLMError, match="timeout"):
        llm.complete("You are verbose.", "Write a long essay about the history of markets.")


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="llm_provider"):
        Settings(data_dir=tmp_path, llm_provider="gpt-by-mail")
    with pytest.raises(LLMConfigError, match="Unknown llm_provider 'gpt-by-mail'"):
        build_llm(Settings(data_dir=tmp_path), provider="gpt-by-mail")


@pytest.mark.parametrize(
    ("provider", "setting"),
    [("openai", "STOCKOPS_OPENAI_API_KEY"), ("anthropic", "STOCKOPS_ANTHROPIC_API_KEY")],
)
def test_missing_api_key_names_the_setting(tmp_path: Path, provider: str, setting: str) -> None:
    settings = Settings(data_dir=tmp_path, llm_provider=provider)
    with pytest.raises(LLMConfigError, match=setting):
        build_llm(settings)
    # The API builds its agents when the app is created: the error stops the start-up.
    from serving_api.app import create_app

    with pytest.raises(LLMConfigError, match=setting):
        create_app(settings)


def test_missing_local_model_file(tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match="does not exist"):
        build_llm(Settings(data_dir=tmp_path, llm_model=str(tmp_path / "none.gguf")))


@pytest.mark.parametrize(
    ("provider", "key", "cls"),
    [
        ("openai", "openai_api_key", "ChatOpenAI"),
        ("anthropic", "anthropic_api_key", "ChatAnthropic"),
    ],
)
def test_hosted_providers_by_configuration(
    tmp_path: Path, provider: str, key: str, cls: str
) -> None:
    # A placeholder key: building the chat model makes no request (none could succeed here).
    llm = build_llm(Settings(data_dir=tmp_path, llm_provider=provider, **{key: "sk-test"}))
    assert isinstance(llm, ChatModelLLM) and type(llm.model).__name__ == cls
    assert llm.name.startswith(provider + ":")


def test_unreachable_ollama_fails_the_call_and_the_writer_falls_back(tmp_path: Path) -> None:
    # A real LangChain ChatOllama against a port where nothing listens.
    settings = Settings(
        data_dir=tmp_path,
        llm_provider="ollama",
        ollama_base_url="http://127.0.0.1:9",
        llm_timeout_s=5,
        agent_cache_enabled=False,
    )
    llm = build_llm(settings)
    assert isinstance(llm, ChatModelLLM) and type(llm.model).__name__ == "ChatOllama"
    with pytest.raises(LLMError, match="ollama"):
        llm.complete("system", "hello")
    assert AnalystService(settings).llm is not None


def test_abandoned_staging_folders_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    """A conversion killed before its cleanup leaves a staging folder (up to a whole fp32
    model); the next preparation deletes it once it is clearly abandoned, never a fresh one."""
    import os
    import time

    from agent_graph.llm import STAGING_ABANDONED_S

    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"not a model")
    target = tmp_path / "cache" / f"tiny-{gguf.stat().st_size}"
    for name in ("model.safetensors", "tokenizer.json"):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text("ready")
    old, live = target.parent / f".{target.name}-old", target.parent / f".{target.name}-live"
    for folder in (old, live):
        folder.mkdir()
        (folder / "model.safetensors").write_text("partial")
    stale = time.time() - STAGING_ABANDONED_S - 60
    os.utime(old, (stale, stale))
    assert prepared_model_dir(gguf, cache_dir=tmp_path / "cache") == target
    assert not old.exists() and live.exists()
