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
_WIDTHS = {code: width for codes in (_UNSIGNED, _SIGNED) for width, code in codes.items()}
_INT_CODES = set(_WIDTHS)
_WIDTHS.update({f"{width}s": width for width in (3, 5, 6, 7)})
MAX_LENGTHS = 64  # payload lengths remembered
MAX_PER_LENGTH = 4  # layouts remembered per length
# Layouts seen once, remembered until their second sighting. One that does not come back within
# this many other new layouts is too rare to keep a template for: a length holds only a few.
MAX_SIGHTED = 64


class _Leaf:
    """A scalar in the scanned tree: its index in the unpacked values, where its TL stands."""

    __slots__ = ("index", "pos")

    def __init__(self, index: int, pos: int) -> None:
        self.index = index
        self.pos = pos


class _Scan:
    """Walk a payload's TL structure once, recording what a template needs."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.tl_positions: List[int] = []
        self.fmt: List[str] = [">"]
        self.codes: List[str] = []
        self.odd_ints: List[Tuple[int, bool]] = []
        self.count = 0

    def leaf(self, code: str, pos: int) -> _Leaf:
        self.fmt.append(code)
        self.codes.append(code)
        self.count += 1
        return _Leaf(self.count - 1, pos)

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
            return self.leaf(f"{length}s", pos), q
        if kind == 0x40:
            return self.leaf("?", pos), q
        codes = _SIGNED if kind == 0x50 else _UNSIGNED
        if length in codes:
            return self.leaf(codes[length], pos), q
        leaf = self.leaf(f"{length}s", pos)
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

    __slots__ = ("tl_get", "tl_key", "unpack", "odd_ints", "key_get", "key", "open_server", "lists",
                 "tags", "crcs")

    def __init__(self, payload: bytes) -> None:
        scan = _Scan(payload)
        pos, end = 0, len(payload)
        messages = []
        starts = []
        while pos < end:
            if payload[pos] == 0:
                scan.tl_positions.append(pos)
                scan.fmt.append("x")
                pos += 1
                continue
            starts.append(pos)
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
        odd = {i for i, _ in scan.odd_ints}
        self.tags: Tuple[int, ...] = tuple(values[_at(m[3][0])] for m in messages)
        # Per message: where the bytes its CRC covers end and the CRC's value (None: no CRC).
        self.crcs: List[Optional[Tuple[int, int, int]]] = [
            (start, m[4].pos, m[4].index)
            if isinstance(m[4], _Leaf) and (scan.codes[m[4].index] in _INT_CODES or m[4].index in odd) else None
            for start, m in zip(starts, messages)
        ]
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
                    width = _WIDTHS.get(scan.codes[value.index]) if isinstance(value, _Leaf) else None
                    rows.append((_at(name), _at(status), _time_spec(t), _at(unit), _at(scaler), _at(value), width))
                self.lists.append((_at(body[1]), tuple(rows)))

    def values(self, payload: bytes) -> Tuple[Any, ...]:
        values = self.unpack(payload)
        if self.odd_ints:
            as_list = list(values)
            for i, signed in self.odd_ints:
                as_list[i] = int.from_bytes(as_list[i], "big", signed=signed)
            return tuple(as_list)
        return values

    def message_crcs(self, payload: bytes, values: Tuple[Any, ...], crc: Callable[[bytes], int]) -> Tuple[Optional[bool], ...]:
        """Whether each message's own CRC holds (None: it carries none), as the slow path says."""
        return tuple(None if c is None else crc(payload[c[0] : c[1]]) == values[c[2]] for c in self.crcs)

    def match(self, payload: bytes) -> Optional[Tuple[Any, ...]]:
        """The payload's values if it has this layout, else None."""
        if self.tl_get(payload) != self.tl_key:
            return None
        values = self.values(payload)
        if self.key_get is not None and self.key_get(values) != self.key:
            return None
        return values


def _step(b: int) -> int:
    """How far from a one-byte TL the next TL stands (0: a multi-byte TL, read in full)."""
    if b & 0x80:
        return 0
    if b & 0x70 == 0x70 or b & 0x0F == 0:
        return 1  # a list's entries follow its TL; 0x00 ends a message
    return b & 0x0F


_STEPS = bytes(_step(b) for b in range(256))


def layout_key(payload: bytes) -> bytes:
    """The TL bytes of a payload in order: equal for payloads of the same layout. One flat pass
    (a list's entries follow its TL, so no recursion), far cheaper than building a template."""
    out = bytearray()
    append = out.append
    steps = _STEPS
    pos, end = 0, len(payload)
    while pos < end:
        b = payload[pos]
        step = steps[b]
        if step:
            append(b)
            pos += step
            continue
        kind, length, p = read_tl(payload, pos, end)
        out += payload[pos:p]
        pos = p if kind == 0x70 else p + length
    return bytes(out)


class TemplateCache:
    """Layouts by payload length, a few per length, the oldest lengths forgotten first.

    A layout is learned on its second sighting: building a template costs more than a slow
    decode, and a stream whose layouts keep changing (integers sent in their smallest width)
    would pay it for layouts that never come back.
    """

    def __init__(self) -> None:
        self._by_length: Dict[int, List[Template]] = {}
        self._sighted: Dict[bytes, None] = {}

    def find(self, payload: bytes) -> Optional[Tuple[Template, Tuple[Any, ...]]]:
        for template in self._by_length.get(len(payload), ()):
            values = template.match(payload)
            if values is not None:
                return template, values
        return None

    def sighted(self, payload: bytes) -> None:
        """The slow path decoded ``payload`` without error: learn its layout if seen before."""
        key = layout_key(payload)
        if key in self._sighted:
            del self._sighted[key]
            self.learn(payload)
            return
        self._sighted[key] = None
        if len(self._sighted) > MAX_SIGHTED:
            del self._sighted[next(iter(self._sighted))]

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
