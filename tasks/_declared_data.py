"""The generic loader as lm-eval's `custom_dataset` hook (lm-eval imports hooks from a file beside the YAML)."""

from instructeval.data.declared import load_task_data as load

__all__ = ["load"]
