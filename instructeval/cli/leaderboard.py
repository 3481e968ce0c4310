"""`instructeval leaderboard build|serve`: generate the static leaderboard site from results, preview it locally."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from instructeval.leaderboard import DEFAULT_TITLE, build_site, site_server


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `leaderboard` with its `build` and `serve` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "leaderboard", help="build the static leaderboard site from run folders, or preview it"
    )
    actions = parser.add_subparsers(dest="leaderboard_command", required=True)

    build = actions.add_parser("build", help="generate the site from results.json and comparison*.json files")
    build.add_argument("paths", nargs="+", type=Path, help="run folders, or folders searched for them (e.g. runs/)")
    build.add_argument("--out", type=Path, default=Path("site"), help="folder for the site (default: site/)")
    build.add_argument("--title", default=DEFAULT_TITLE, help="page title")
    build.add_argument(
        "--models-meta",
        type=Path,
        help="JSON/YAML file: model name -> {family, size, url, base, instruction_data, method} (family and "
        "size override the name's)",
    )
    build.add_argument(
        "--include-incomplete",
        action="store_true",
        help="also take tasks from running or failed runs (default: only complete runs)",
    )
    build.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that render the model pages (default: one per CPU; 1 builds in this process)",
    )
    build.set_defaults(func=build_command)

    serve = actions.add_parser("serve", help="serve a built site on 127.0.0.1 for a local preview")
    serve.add_argument("site", type=Path, nargs="?", default=Path("site"), help="the built site (default: site/)")
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0 picks a free one)")
    serve.set_defaults(func=serve_command)
    return parser


def build_command(args: argparse.Namespace) -> int:
    """Build and say what went in."""
    built = build_site(
        args.paths,
        args.out,
        title=args.title,
        models_meta=args.models_meta,
        include_incomplete=args.include_incomplete,
        workers=args.workers,
    )
    print(
        f"leaderboard: {built.models} models from {built.runs} runs, {built.comparisons} comparisons -> {built.index}"
    )
    return 0


def serve_command(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    server = site_server(args.site, args.port)
    host, port = server.server_address[:2]
    print(f"serving {args.site} at http://{host!s}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
