"""Which files the wheel carries (everything else is in pyproject.toml).

The repository's top-level `tasks/`, `writing_prompts/` and `leaderboard/` (instructeval.paths.SHIPPED_FOLDERS)
are installed inside the package as `instructeval/_<folder>`, where instructeval.paths finds them.
"""

import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup

SHIPPED_FOLDERS = runpy.run_path(str(Path(__file__).parent / "instructeval" / "paths.py"))["SHIPPED_FOLDERS"]
PACKAGE_DATA = ["*.json", "*.jsonl", "*.jsonl.gz", "*.md", "*.txt", "*.tsv", "*.yaml"]


def shipped_packages(folder: str) -> list[str]:
    """`instructeval._<folder>` and one package per directory below it, all carrying every file."""
    root = f"instructeval._{folder}"
    return [root, *(f"{root}.{sub}" for sub in find_namespace_packages(where=folder, exclude=["*__pycache__"]))]


shipped = {folder: shipped_packages(folder) for folder in SHIPPED_FOLDERS}
setup(
    packages=[
        *find_namespace_packages(include=["instructeval", "instructeval.*"], exclude=["*__pycache__"]),
        *(package for packages in shipped.values() for package in packages),
    ],
    package_dir={f"instructeval._{folder}": folder for folder in SHIPPED_FOLDERS},
    package_data={
        "": PACKAGE_DATA,
        **{package: ["*"] for packages in shipped.values() for package in packages},
    },
    exclude_package_data={"": ["*.pyc"]},
)
