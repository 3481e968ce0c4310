"""The `instructeval` command: thin argument parsing over the Python API; every error prints one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence

from instructeval.errors import InstructEvalError

# Subcommand -> one-line summary. Each lives in instructeval/cli/<name>.py with `add_parser(subparsers)`; only the
# chosen one is imported, so a mistyped flag or a bad model spec is reported in well under a second.
COMMANDS = {
    "run": "evaluate a model on tasks or a suite",
    "tasks": "list tasks, protocols and data sources",
    "judge": "(re)grade a run's stored writing answers with an LLM judge",
    "compare": "paired significance tests between runs (base vs tuned)",
    "plan": "examples needed to detect a paired difference (and which --limit)",
    "inject": "knowledge injection: base vs in-context vs fine-tuning on new facts",
    "contamination": "test examples found in a training corpus (n-gram overlap), and a run's clean-subset scores",
    "leaderboard": "build the static leaderboard site from run folders, or preview it",
    "sweep": "evaluate many models (checkpoints, adapters) on many tasks on a Ray cluster",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser; the subcommand named in argv gets its full flags, the others a summary line."""
    parser = argparse.ArgumentParser(prog="instructeval", description="Evaluate instruction-tuned language models.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, summary in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"instructeval.cli.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch; user errors print one line and exit 2, unexpected ones one line and exit 1."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    try:
        return int(args.func(args) or 0)
    except InstructEvalError as exc:
        print(f"instructeval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = "with --resume to continue" if hasattr(args, "resume") else "to start it again"
        print(f"instructeval: interrupted; rerun the same command {again}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line here, the traceback kept in a file for the report
        if os.environ.get(SHOW_TRACEBACK):
            raise
        summary = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
        print(
            f"instructeval: internal error ({type(exc).__name__}: {summary}); finished work is kept (a run resumes "
            f"with --resume); please report it with the traceback in {_save_traceback()}",
            file=sys.stderr,
        )
        return 1


SHOW_TRACEBACK = "INSTRUCTEVAL_TRACEBACK"
"""Set (to anything) to let an unexpected exception raise with its traceback instead of the one-line report."""


def _save_traceback() -> str:
    """Write the current exception's traceback to a new file in the temp folder; its path."""
    with tempfile.NamedTemporaryFile("w", prefix="instructeval-error-", suffix=".txt", delete=False) as handle:
        traceback.print_exc(file=handle)
    return handle.name


if __name__ == "__main__":
    sys.exit(main())
