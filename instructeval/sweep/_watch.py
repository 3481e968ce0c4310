"""`--watch DIR`: a training run's output folder, polled for checkpoints. A checkpoint is a subfolder holding a
model (config.json) or a peft adapter (adapter_config.json); it counts as complete once its marker file exists,
or, without a marker, once its files' names and sizes are the same on two polls in a row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.sweep._config import ModelEntry, Resources

MODEL_FILES = ("config.json", "adapter_config.json")


@dataclass
class CheckpointWatcher:
    """Finds each complete checkpoint under `folder` once."""

    folder: Path
    marker: str | None = None
    seen: set[Path] = field(default_factory=set)
    _sizes: dict[Path, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.folder.is_dir():
            raise InstructEvalError(f"--watch {self.folder} is not a folder: pass the training run's output folder")

    def poll(self) -> list[Path]:
        """The checkpoints that became complete since the last poll, oldest first."""
        ready = []
        candidates = sorted(p for p in self.folder.iterdir() if p.is_dir() and p not in self.seen)
        for checkpoint in sorted(candidates, key=lambda p: p.stat().st_mtime):
            if not any((checkpoint / name).is_file() for name in MODEL_FILES):
                continue
            if self.marker is not None:
                complete = (checkpoint / self.marker).exists()
            else:
                sizes = _sizes(checkpoint)
                complete = self._sizes.get(checkpoint) == sizes
                self._sizes[checkpoint] = sizes
            if complete:
                self.seen.add(checkpoint)
                ready.append(checkpoint)
        return ready


def checkpoint_model(checkpoint: Path, kind: str, base: str | None, resources: Resources) -> ModelEntry:
    """The sweep model of a checkpoint: `<kind>:<folder>`, or an adapter on `base` (default: the base model its
    adapter_config.json names), compared against `base` when one is given."""
    adapter_config = checkpoint / "adapter_config.json"
    if not adapter_config.is_file():
        return ModelEntry(f"{kind}:{checkpoint}", base=base, resources=resources)
    on = base
    if on is None:
        named = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not named:
            raise InstructEvalError(f"{adapter_config} names no base model: pass --base <spec> to load it on")
        on = f"{kind}:{named}"
    return ModelEntry(on, adapter=str(checkpoint), base=base, resources=resources)


def _sizes(folder: Path) -> tuple[tuple[str, int], ...]:
    return tuple(
        sorted((str(path.relative_to(folder)), path.stat().st_size) for path in folder.rglob("*") if path.is_file())
    )
