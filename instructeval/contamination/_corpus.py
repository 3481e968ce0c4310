"""Corpus sources streamed as blocks of records: text, JSONL, parquet files, folders of them, hub datasets.

Every reader yields `Block`s of about `block_bytes` so memory stays flat however large the corpus is. A text
file is one document that runs across lines and blocks; a JSON line, a parquet row or a dataset row is one
document of its own (the text of all its string fields, in order).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from instructeval.contamination._ngrams import Words
from instructeval.errors import DataError

BLOCK_BYTES = 4 << 20
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
TEXT_SUFFIXES = (".txt", ".txt.gz", ".md", ".text")
HUB_PREFIX = "hf:"


@dataclass(frozen=True)
class Record:
    """Where a record's text comes from; `counts_lines`: its own newlines advance the line number."""

    source: str
    line: int
    counts_lines: bool = False


@dataclass
class Block:
    """Records read together, with how they join the blocks around them."""

    texts: list[str]
    records: list[Record]
    size: int
    new_documents: int
    continues: bool = False  # the first record goes on with the previous block's last one (a text file)
    carries: bool = False  # the last record goes on in the next block

    newlines: NDArray[np.int64] | None = field(default=None, repr=False)  # found on the first locate

    def locate(self, words: Words, word: int) -> tuple[str, int]:
        """The source and line of a word of this block."""
        index = int(words.records[word])
        record = self.records[index]
        if not record.counts_lines:
            return record.source, record.line
        if self.newlines is None:
            self.newlines = np.flatnonzero(np.frombuffer(words.data, dtype=np.uint8) == ord("\n"))
        before = np.searchsorted(self.newlines, [words.record_starts[index], words.starts[word]])
        return record.source, record.line + int(before[1] - before[0])


def describe_sources(specs: list[str]) -> list[str]:
    """The corpus as given, checked: every path exists (hub ids are checked when they are read)."""
    for spec in specs:
        if not spec.startswith(HUB_PREFIX) and not Path(spec).exists():
            raise DataError(f"corpus {spec} does not exist: pass files, folders or hf:<dataset> to --corpus")
    return specs


def iter_blocks(specs: list[str], block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """Every block of every source, in order."""
    for spec in describe_sources(specs):
        if spec.startswith(HUB_PREFIX):
            yield from _hub_blocks(spec, block_bytes)
            continue
        path = Path(spec)
        files = sorted(p for p in path.rglob("*") if p.is_file() and _readable(p)) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise DataError(f"corpus folder {path} holds no .jsonl, .json, .txt, .md or .parquet file")
        for file in files:
            yield from _file_blocks(file, block_bytes)


def _readable(path: Path) -> bool:
    return path.name.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES + TEXT_SUFFIXES)


def _file_blocks(path: Path, block_bytes: int) -> Iterator[Block]:
    if path.name.endswith(PARQUET_SUFFIXES):
        yield from _parquet_blocks(path, block_bytes)
    elif path.name.endswith(JSONL_SUFFIXES):
        yield from _jsonl_blocks(path, block_bytes)
    else:
        yield from _text_blocks(path, block_bytes)


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[return-value]


def _text_blocks(path: Path, block_bytes: int) -> Iterator[Block]:
    """A text file in blocks cut after a newline: one document, its n-grams running across lines and blocks."""
    line, first, pending = 1, True, b""
    with _open(path) as handle:
        while True:
            chunk = handle.read(block_bytes)
            data = pending + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data  # a line longer than a block: read on
                    continue
                data, pending = data[:cut], data[cut:]
            if not data:
                return
            text = data.decode("utf-8", errors="replace")
            record = Record(str(path), line, counts_lines=True)
            yield Block([text], [record], len(data), int(first), continues=not first, carries=bool(chunk))
            if not chunk:
                return
            line += data.count(b"\n")
            first = False


def _jsonl_blocks(path: Path, block_bytes: int) -> Iterator[Block]:
    texts: list[str] = []
    records: list[Record] = []
    size = 0
    with _open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{number} is not JSON ({exc.msg}); fix the line or pass the file as text"
                ) from exc
            texts.append(document_text(value))
            records.append(Record(str(path), number))
            size += len(raw)
            if size >= block_bytes:
                yield Block(texts, records, size, len(records))
                texts, records, size = [], [], 0
    if texts:
        yield Block(texts, records, size, len(records))


def document_text(value: Any) -> str:
    """The text of a JSON value: its strings in order, one per line (chat messages, prompt and completion...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(document_text(v) for v in value.values() if not isinstance(v, bool | int | float | None))
    if isinstance(value, list):
        return "\n".join(document_text(v) for v in value)
    return ""


def _parquet_blocks(path: Path, block_bytes: int) -> Iterator[Block]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError for damaged files
        raise DataError(f"{path} is not a readable parquet file ({exc})") from exc
    row = 1
    for batch in parquet.iter_batches(batch_size=2048):
        texts = [document_text(r) for r in batch.to_pylist()]
        records = [Record(str(path), row + i) for i in range(len(texts))]
        row += len(texts)
        yield Block(texts, records, batch.nbytes, len(texts))


def _hub_blocks(spec: str, block_bytes: int) -> Iterator[Block]:
    """`hf:<dataset id or folder>[:config][@split]`, streamed (a saved dataset folder is read from disk)."""
    import datasets

    name, _, split = spec.removeprefix(HUB_PREFIX).partition("@")
    name, _, config = name.partition(":") if not Path(name).exists() else (name, "", "")
    try:
        if (Path(name) / "state.json").is_file() or (Path(name) / "dataset_dict.json").is_file():
            loaded: Any = datasets.load_from_disk(name)
        else:
            loaded = datasets.load_dataset(name, config or None, streaming=True)
    except Exception as exc:  # the hub raises many types (ConnectionError, DatasetNotFoundError...)
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"could not read {spec} ({reason}); pass a local copy (a folder or files) to --corpus") from exc
    splits = [split] if split else list(loaded) if hasattr(loaded, "keys") else [""]
    for split_name in splits:
        rows = loaded[split_name] if split_name else loaded
        source = f"{spec.split('@')[0]}@{split_name}" if split_name else spec
        texts: list[str] = []
        records: list[Record] = []
        size = 0
        for number, row in enumerate(rows, start=1):
            texts.append(document_text(row))
            records.append(Record(source, number))
            size += len(texts[-1])
            if size >= block_bytes:
                yield Block(texts, records, size, len(records))
                texts, records, size = [], [], 0
        if texts:
            yield Block(texts, records, size, len(records))
