"""The leaderboard: a static site built from results.json and comparison files, read through results.py."""

from instructeval.leaderboard._json import script_json
from instructeval.leaderboard._render import DEFAULT_TITLE, BuiltSite, build_site
from instructeval.leaderboard._serve import site_server

__all__ = ["DEFAULT_TITLE", "BuiltSite", "build_site", "script_json", "site_server"]
