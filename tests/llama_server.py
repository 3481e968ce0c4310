"""Start llama-cpp-python's OpenAI-compatible server with llama.cpp's extra weight buffers (AMX repacking) off.

    python tests/llama_server.py --model X.gguf --host 127.0.0.1 --port P [any llama_cpp.server flag]

On the development VM the CPU advertises AMX and llama.cpp repacks the weights for it at load; the first
request then dies with a general protection fault at `ldtilecfg` in libggml-cpu (a native build of
llama-cpp-python 0.3.36). The server has no flag for `use_extra_bufts`, so this sets it in the model defaults
before handing over to `python -m llama_cpp.server`.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

import llama_cpp.llama_cpp as bindings

_defaults = bindings.llama_model_default_params


def _without_extra_buffers() -> Any:
    params = _defaults()
    params.use_extra_bufts = False
    return params


if __name__ == "__main__":
    bindings.llama_model_default_params = _without_extra_buffers
    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
