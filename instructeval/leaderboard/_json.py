"""The site's JSON: inert inside a page's <script> tag, and assembled from parts each encoded once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson


def script_bytes(payload: Any) -> bytes:
    """JSON that is inert inside <script type="application/json">: no '<', '>' or '&' can end or open a tag.
    Encoded by orjson (several times faster than the standard library on a large board); a non-finite float,
    which no score cell holds, would become null."""
    return orjson.dumps(payload).replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")


def script_json(payload: Any) -> str:
    """`script_bytes` as text."""
    return script_bytes(payload).decode()


def extend_json(encoded_object: bytes, **members: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """A non-empty encoded JSON object with more members whose values are already encoded (each encoded once),
    as the chunks to write in order: a member's value may itself be chunks (a list's items), never joined, and
    taken from its iterable only as the chunks are written."""
    yield encoded_object[:-1]
    for key, value in members.items():
        yield f",{json.dumps(key)}:".encode()
        if isinstance(value, bytes):
            yield value
        else:
            yield from value
    yield b"}"


def json_list(items: Iterable[bytes]) -> Iterator[bytes]:
    """Encoded items as the chunks of one encoded JSON list."""
    yield b"["
    for i, item in enumerate(items):
        if i:
            yield b","
        yield item
    yield b"]"
