"""JSON with exact decimals: a Decimal is written as the number it is (``12345.6``), never
through a float. Used wherever readings leave pyhm as JSON (CLI, export, web API)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_encode_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def dumps(obj: Any) -> str:
    """Serialise dicts, lists, strings, ints, bools, None and Decimals; compact, ASCII."""
    parts: list = []
    _write(obj, parts.append)
    return "".join(parts)


def _write(obj: Any, out: Any) -> None:
    if obj is None:
        out("null")
    elif obj is True:
        out("true")
    elif obj is False:
        out("false")
    elif isinstance(obj, str):
        out(_encode_str(obj))
    elif isinstance(obj, int):
        out(str(int(obj)))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"{obj} has no JSON form")
        out(format(obj, "f"))
    elif isinstance(obj, float):
        out(json.dumps(obj))
    elif isinstance(obj, dict):
        out("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out(",")
            out(_encode_str(str(key)))
            out(":")
            _write(value, out)
        out("}")
    elif isinstance(obj, (list, tuple)):
        out("[")
        for i, value in enumerate(obj):
            if i:
                out(",")
            _write(value, out)
        out("]")
    else:
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
