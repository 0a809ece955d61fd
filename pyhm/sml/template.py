"""The fast path: a meter sends the same telegram layout every second; decode it by template.

The layout of a payload (where every TL field stands and what type and size it announces) is
a function of its TL bytes alone, each TL deciding where the next one stands. So once one
payload has been decoded the slow way, a later payload of the same length whose bytes at those
TL positions are equal has the same structure; the few *values* that steer decoding (choice
tags: message types, time forms) are compared too. Then one ``struct.unpack_from`` pulls every
value out in C, and the readings are assembled from known indices: the same readings the slow
path yields (a property test holds the two paths equal), several times faster.
"""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any, Callable, Dict, List, Optional, Tuple

from pyhm.sml.messages import GET_LIST_RES, OPEN_RES
from pyhm.sml.tl import END, read_tl

_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SIGNED = {1: "b", 2: "h", 4: "i", 8: "q"}
MAX_LENGTHS = 64  # payload lengths remembered
MAX_PER_LENGTH = 4  # layouts remembered per length


class _Leaf:
    """A scalar in the scanned tree: its index in the unpacked values."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Scan:
    """Walk a payload's TL structure once, recording what a template needs."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.tl_positions: List[int] = []
        self.fmt: List[str] = [">"]
        self.codes: List[str] = []
        self.odd_ints: List[Tuple[int, bool]] = []
        self.count = 0

    def leaf(self, code: str) -> _Leaf:
        self.fmt.append(code)
        self.codes.append(code)
        self.count += 1
        return _Leaf(self.count - 1)

    def value(self, pos: int, end: int) -> Tuple[Any, int]:
        data = self.payload
        b = data[pos]
        self.tl_positions.append(pos)
        if b == 0:
            self.fmt.append("x")
            return END, pos + 1
        kind, length, p = read_tl(data, pos, end)
        self.tl_positions.extend(range(pos + 1, p))
        self.fmt.append("x" * (p - pos))
        if kind == 0x70:
            out = []
            for _ in range(length):
                v, p = self.value(p, end)
                out.append(v)
            return out, p
        q = p + length
        if length == 0:
            return None, q
        if kind == 0x00:
            return self.leaf(f"{length}s"), q
        if kind == 0x40:
            return self.leaf("?"), q
        codes = _SIGNED if kind == 0x50 else _UNSIGNED
        if length in codes:
            return self.leaf(codes[length]), q
        leaf = self.leaf(f"{length}s")
        self.odd_ints.append((leaf.index, kind == 0x50))
        return leaf, q


def _tuple_getter(indices: List[int]) -> Callable[[Any], Tuple[Any, ...]]:
    """itemgetter that returns a tuple for one index too."""
    if len(indices) == 1:
        index = indices[0]
        return lambda seq: (seq[index],)
    return itemgetter(*indices)


def _choice_tags(node: Any, out: List[int]) -> None:
    """Indices of every value that may steer decoding: the int heading a 2-entry list."""
    if isinstance(node, list):
        if len(node) == 2 and isinstance(node[0], _Leaf):
            out.append(node[0].index)
        for child in node:
            _choice_tags(child, out)


def _at(node: Any) -> Any:
    """A field of the template: an index into the values, or None for an absent field."""
    if node is None:
        return None
    if isinstance(node, _Leaf):
        return node.index
    raise ValueError("not a scalar field")


def _time_spec(node: Any) -> Any:
    """How to rebuild an SML_Time: None, ("bare", i), (tag-index, value-index), or local."""
    if node is None:
        return None
    if isinstance(node, _Leaf):
        return ("bare", node.index)
    tag, inner = node
    if isinstance(inner, list):
        return ("local", tag.index, _at(inner[0]), _at(inner[1]), _at(inner[2]))
    return ("choice", tag.index, _at(inner))


class Template:
    """One remembered payload layout and how to turn its values into readings."""

    __slots__ = ("tl_get", "tl_key", "unpack", "odd_ints", "key_get", "key", "open_server", "lists")

    def __init__(self, payload: bytes) -> None:
        scan = _Scan(payload)
        pos, end = 0, len(payload)
        messages = []
        while pos < end:
            if payload[pos] == 0:
                scan.tl_positions.append(pos)
                scan.fmt.append("x")
                pos += 1
                continue
            message, pos = scan.value(pos, end)
            messages.append(message)
        self.tl_get = _tuple_getter(scan.tl_positions)
        self.tl_key = self.tl_get(payload)
        self.unpack: Callable[[bytes], Tuple[Any, ...]] = struct.Struct("".join(scan.fmt)).unpack
        self.odd_ints = scan.odd_ints
        values = self.values(payload)
        tags: List[int] = []
        _choice_tags(messages, tags)
        self.key_get = _tuple_getter(tags) if tags else None
        self.key = self.key_get(values) if self.key_get else None
        self.open_server: Optional[int] = None  # the first Open.Res's server id field
        self.lists: List[Tuple[Optional[int], Tuple[Tuple[Any, ...], ...]]] = []  # per GetList.Res
        seen_open = False
        for message in messages:
            tag, body = message[3]
            tag = values[tag.index]
            if tag == OPEN_RES and not seen_open:
                seen_open = True
                self.open_server = _at(body[3])
            elif tag == GET_LIST_RES:
                rows = []
                for e in body[4] or []:
                    name, status, t, unit, scaler, value = e[:6]
                    if isinstance(value, list):
                        raise ValueError("structured values take the slow path")
                    if scaler is not None and scan.codes[scaler.index] != "b":
                        raise ValueError("a scaler wider than Integer8 takes the slow path")
                    if value is None:
                        continue
                    rows.append((_at(name), _at(status), _time_spec(t), _at(unit), _at(scaler), _at(value)))
                self.lists.append((_at(body[1]), tuple(rows)))

    def values(self, payload: bytes) -> Tuple[Any, ...]:
        values = self.unpack(payload)
        if self.odd_ints:
            as_list = list(values)
            for i, signed in self.odd_ints:
                as_list[i] = int.from_bytes(as_list[i], "big", signed=signed)
            return tuple(as_list)
        return values

    def match(self, payload: bytes) -> Optional[Tuple[Any, ...]]:
        """The payload's values if it has this layout, else None."""
        if self.tl_get(payload) != self.tl_key:
            return None
        values = self.values(payload)
        if self.key_get is not None and self.key_get(values) != self.key:
            return None
        return values


class TemplateCache:
    """Layouts by payload length, a few per length, the oldest lengths forgotten first."""

    def __init__(self) -> None:
        self._by_length: Dict[int, List[Template]] = {}

    def find(self, payload: bytes) -> Optional[Tuple[Template, Tuple[Any, ...]]]:
        for template in self._by_length.get(len(payload), ()):
            values = template.match(payload)
            if values is not None:
                return template, values
        return None

    def learn(self, payload: bytes) -> None:
        """Remember the layout of a payload the slow path decoded without error."""
        try:
            template = Template(payload)
        except (ValueError, TypeError, IndexError, struct.error):
            return  # an exotic layout: it keeps taking the slow path
        bucket = self._by_length.pop(len(payload), [])
        bucket.insert(0, template)
        del bucket[MAX_PER_LENGTH:]
        self._by_length[len(payload)] = bucket
        while len(self._by_length) > MAX_LENGTHS:
            del self._by_length[next(iter(self._by_length))]
