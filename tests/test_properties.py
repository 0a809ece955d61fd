"""Property tests: any bytes either decode or yield an SmlError; chunking never matters."""

from __future__ import annotations

from typing import List

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from pyhm.sml import FrameReader, SmlError, decode_frame, decode_payload, parse_messages, read_frames

PAYLOADS: List[bytes] = []
STREAMS: List[bytes] = []
for _entry in corpus.entries():
    _data = corpus.data(_entry)
    STREAMS.append(_data)
    PAYLOADS += [f.payload for f in read_frames(_data) if f.crc_ok]
    if _entry["file"].startswith("messages_only/"):
        PAYLOADS.append(_data)

SETTINGS = settings(max_examples=int(__import__("os").environ.get("PYHM_HYPOTHESIS_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_sml_error(payload: bytes) -> None:
    try:
        parse_messages(payload)
    except SmlError:
        pass
    t = decode_payload(payload)  # the same, reported instead of raised
    assert t.ok or t.error


@st.composite
def mutated(draw: st.DrawFn, pool: List[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[i]
        elif op == "truncate":
            del data[i:]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    parse_or_sml_error(data)
    for frame in read_frames(data):
        decode_frame(frame)


@SETTINGS
@given(mutated(PAYLOADS))
def test_mutated_payloads(payload: bytes) -> None:
    parse_or_sml_error(payload)


@SETTINGS
@given(mutated(STREAMS))
def test_mutated_streams(stream: bytes) -> None:
    for frame in read_frames(stream):
        t = decode_frame(frame)
        assert t.crc_ok == frame.crc_ok


def _chunked(stream: bytes, cuts: List[int]) -> list:
    reader = FrameReader()
    out = []
    last = 0
    for cut in sorted(set(c % (len(stream) + 1) for c in cuts)) + [len(stream)]:
        out += reader.feed(stream[last:cut])
        last = cut
    return out + reader.flush()


@SETTINGS
@given(st.one_of(st.sampled_from(STREAMS), mutated(STREAMS)), st.lists(st.integers(0, 1 << 20), max_size=40))
def test_chunking_never_changes_the_result(stream: bytes, cuts: List[int]) -> None:
    whole = read_frames(stream)
    assert _chunked(stream, cuts) == whole
    assert [decode_frame(f) for f in _chunked(stream, cuts)] == [decode_frame(f) for f in whole]


def test_byte_by_byte_equals_whole_on_every_capture() -> None:
    for stream in STREAMS:
        reader = FrameReader()
        frames = []
        for i in range(len(stream)):
            frames += reader.feed(stream[i : i + 1])
        assert frames + reader.flush() == read_frames(stream)


# The fast path (a remembered layout) must say exactly what the slow path says.

from pyhm.sml.readings import _by_template, readings_of, server_id_of  # noqa: E402
from pyhm.sml.messages import MESSAGE_CRC  # noqa: E402
from pyhm.sml.template import Template, TemplateCache, layout_key  # noqa: E402
from pyhm.simulator import OBIS_POWER, SimulatedMeter  # noqa: E402
from pyhm.sml.encode import Entry, Int, encode_telegram  # noqa: E402

_meter = SimulatedMeter(3)


def _learnable(payload: bytes) -> bool:
    try:
        Template(payload)
    except ValueError:  # exotic layouts (structured values) always take the slow path
        return False
    return decode_payload(payload).ok


TEMPLATED = [p for p in PAYLOADS if _learnable(p)]
TEMPLATED += [read_frames(_meter.telegram())[0].payload for _ in range(5)]


@SETTINGS
@given(st.sampled_from(TEMPLATED), st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), min_size=1, max_size=6))
def test_template_fast_path_equals_slow_path(payload: bytes, flips: list) -> None:
    template = Template(payload)
    changed = bytearray(payload)
    for index, xor in flips:
        changed[index % len(changed)] ^= xor
    values = template.match(bytes(changed))
    if values is None:
        return
    assert layout_key(bytes(changed)) == layout_key(payload)  # what a second sighting goes by
    messages = parse_messages(bytes(changed))  # raises if the fast path accepted a bad payload
    assert _by_template(template, values) == (server_id_of(messages), readings_of(messages))
    assert template.tags == tuple(m.tag for m in messages)
    assert template.message_crcs(bytes(changed), values, MESSAGE_CRC["x25"]) == tuple(m.crc_ok for m in messages)


def test_template_path_is_taken_for_repeated_layouts() -> None:
    meter = SimulatedMeter(11)
    first, second = (read_frames(meter.telegram())[0].payload for _ in range(2))
    template = Template(first)
    assert template.match(second) is not None
    assert decode_payload(second).readings == readings_of(parse_messages(second))


def test_a_layout_is_learned_on_its_second_sighting() -> None:
    meter = SimulatedMeter(20)
    first, second = (read_frames(meter.telegram())[0].payload for _ in range(2))
    assert first != second and Template(first).match(second) is not None  # one layout
    cache = TemplateCache()
    cache.sighted(first)
    assert cache.find(first) is None  # seen once: not worth a template yet
    cache.sighted(second)
    assert cache.find(first) is not None and cache.find(second) is not None
    # Layouts seen once each (a power sent in 1 to 6 bytes) are never learned.
    server = meter.server_id
    varied = [read_frames(encode_telegram(server, [Entry(OBIS_POWER, Int(-5, width), 27, -2)]))[0].payload
              for width in range(1, 7)]
    for payload in varied:
        cache.sighted(payload)
    assert all(cache.find(p) is None for p in varied)
