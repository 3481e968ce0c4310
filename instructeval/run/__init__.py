"""The run lifecycle: folder, lock, status, request cache, typed results and samples — every run is written here.

`start_run` (run, inject, inject score) and `amend_run` (the judge, contamination --run) open a `Run`;
the atomic writers are the only way anything under a run folder (or beside it) is replaced.
"""

from instructeval.run._files import write_atomic, write_json_atomic, write_jsonl_atomic, write_text_atomic
from instructeval.run._folder import CACHE_FILE, LOCK_FILE
from instructeval.run._lifecycle import Run, amend_run, save_results, start_run, write_samples
from instructeval.run._loaded import LoadedRun, load_run, parse_time
from instructeval.run._provenance import config_hash, default_device, now, package_versions, run_info

__all__ = [
    "CACHE_FILE",
    "LOCK_FILE",
    "LoadedRun",
    "Run",
    "amend_run",
    "config_hash",
    "default_device",
    "load_run",
    "now",
    "package_versions",
    "parse_time",
    "run_info",
    "save_results",
    "start_run",
    "write_atomic",
    "write_json_atomic",
    "write_jsonl_atomic",
    "write_samples",
    "write_text_atomic",
]
