"""Sweeps: many models, checkpoints and adapters x many tasks on Ray, one model load per model, resumable, then
the comparisons with each tuned model's base and the leaderboard. Ray is the optional extra `instructeval[sweep]`.
"""

from instructeval.sweep._config import (
    Evaluation,
    ModelEntry,
    Resources,
    SweepConfig,
    evaluations_from_flags,
    load_sweep_file,
    models_from_specs,
)
from instructeval.sweep._driver import JOURNAL, SweepReport, SweepRunner, import_ray, model_jobs, ray_cluster
from instructeval.sweep._finish import Finished, finish_sweep
from instructeval.sweep._plan import OptionsBuilder, Pair, pair_state, plan_pairs
from instructeval.sweep._status import status_lines
from instructeval.sweep._watch import CheckpointWatcher, checkpoint_model
from instructeval.sweep._worker import ModelJob, PairOutcome, evaluate_model

__all__ = [
    "JOURNAL",
    "CheckpointWatcher",
    "Evaluation",
    "Finished",
    "ModelEntry",
    "ModelJob",
    "OptionsBuilder",
    "Pair",
    "PairOutcome",
    "Resources",
    "SweepConfig",
    "SweepReport",
    "SweepRunner",
    "checkpoint_model",
    "evaluate_model",
    "evaluations_from_flags",
    "finish_sweep",
    "import_ray",
    "load_sweep_file",
    "model_jobs",
    "models_from_specs",
    "pair_state",
    "plan_pairs",
    "ray_cluster",
    "status_lines",
]
