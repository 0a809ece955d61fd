"""SML transport v1: cut frames out of an arbitrary byte stream, fed in chunks of any size.

A frame is ``1b1b1b1b 01010101 <payload> 1b1b1b1b 1a <pad> <crc lo> <crc hi>``. Escape
sequences stand at 4-byte boundaries; a literal ``1b1b1b1b`` in the payload is sent twice.
Garbage between frames is skipped and counted. A frame interrupted by a new start sequence
(bytes dropped on the wire, or its last bytes lost) is reported as damaged and the new frame
is read from its start sequence, so one damaged frame never swallows the intact frames behind
it.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from pyhm.sml.crc import crc_kermit, crc_x25

ESC = b"\x1b\x1b\x1b\x1b"
START = ESC + b"\x01\x01\x01\x01"
_START_BODY = b"\x01\x01\x01\x01"
DEFAULT_MAX_FRAME = 64 * 1024
_WAIT = -1  # a decision needs bytes that have not arrived yet


class Frame(NamedTuple):
    """One frame cut from the stream, intact or damaged.

    ``payload`` holds the unescaped SML messages without padding (for a damaged frame: what
    was received, for diagnostics only). ``crc`` names the CRC variant that matched
    (``"x25"``, or ``"kermit"`` for old Holley firmware); ``error`` says why a frame is damaged.
    """

    payload: bytes
    crc_ok: bool
    crc: Optional[str]
    error: Optional[str]
    raw: bytes
    aligned: bool = True


def check_frame(raw: bytes) -> Frame:
    """Check one complete frame (start sequence through CRC) and unwrap its payload."""
    end = len(raw) - 8
    pad = raw[end + 5]
    body = raw[: end + 6]
    received_le = raw[end + 6] | (raw[end + 7] << 8)
    if crc_x25(body) == received_le:
        crc: Optional[str] = "x25"
    elif crc_kermit(body) == ((raw[end + 6] << 8) | raw[end + 7]):
        crc = "kermit"
    else:
        crc = None
    payload = raw[8:end]
    if ESC + ESC in payload:
        payload = payload.replace(ESC + ESC, ESC)
    aligned = end % 4 == 0
    if crc is None:
        return Frame(payload, False, None, "CRC mismatch", raw, aligned)
    # Padding is 0 to 3 zero bytes; some DZG firmware announces 4. Any count is accepted if
    # the bytes it covers are zeros.
    if pad > len(payload) or payload[len(payload) - pad :].strip(b"\x00"):
        return Frame(payload, False, crc, f"invalid padding (count {pad})", raw, aligned)
    if pad:
        payload = payload[:-pad]
    return Frame(payload, True, crc, None, raw, aligned)


class FrameReader:
    """Incremental frame finder: ``feed()`` bytes as they arrive, get the frames completed."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.skipped = 0  # garbage bytes outside any frame
        self._buf = bytearray()
        self._in_frame = False
        self._scan = 0
        self._shared = 0  # bytes at the buffer's start that ended the previous frame

    @property
    def pending(self) -> int:
        """Bytes held back: a frame still being received, or a possible partial start."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a half-received frame (the device went away); it is never reported."""
        self._buf.clear()
        self._in_frame = False
        self._scan = 0
        self._shared = 0

    def feed(self, data: bytes) -> List[Frame]:
        """Add received bytes; return the frames they complete, intact and damaged.

        Every decision waits until the bytes it depends on are there, so the result does not
        depend on how the stream was cut into chunks.
        """
        self._buf += data
        return self._cut(final=False)

    def flush(self) -> List[Frame]:
        """End of input: a frame still open is reported as truncated."""
        out = self._cut(final=True)
        if self._in_frame and self._buf:
            out.append(self._damaged(len(self._buf), "truncated"))
        else:
            self._skip(len(self._buf))
        self._in_frame = False
        return out

    def _cut(self, final: bool) -> List[Frame]:
        buf = self._buf
        out: List[Frame] = []
        limit = self.max_frame
        while True:
            if not self._in_frame:
                i = buf.find(START)
                if i < 0:
                    self._skip(len(buf) - min(len(buf), len(START) - 1))
                    break
                self._skip(i)
                self._shared = 0
                self._in_frame = True
                self._scan = 8
            j = buf.find(ESC, self._scan, limit)
            if j < 0:
                if len(buf) >= limit:
                    # No escape within the size limit: a start can only begin in the last 3 bytes.
                    out.append(self._damaged(limit - 3, "frame too long"))
                    continue
                self._scan = max(8, len(buf) - 3)
                break
            if len(buf) < j + 8:
                self._scan = j
                break
            marker = buf[j + 4]
            tail = buf[j + 4 : j + 8]
            if j % 4 == 0:
                if tail == ESC:
                    self._scan = j + 8
                    continue
                if marker == 0x1A:
                    frame = check_frame(bytes(buf[: j + 8]))
                    if frame.crc_ok:
                        out.append(self._take(frame, j + 8))
                        continue
                    damaged: Optional[Frame] = frame
                    end = j + 8
                elif tail == _START_BODY:
                    damaged, end = None, j
                else:
                    damaged, end = None, j + 4
                # Before giving up on a damaged frame, look for a start sequence inside it (the
                # frame lost its last bytes, or its end, and the next frame began there).
                start = self._start_within(end, final)
                if start == _WAIT:
                    self._scan = j
                    break
                if start is not None:
                    out.append(self._damaged(start, "interrupted by a new frame"))
                elif damaged is not None:
                    out.append(self._take(damaged, end))
                elif end == j:
                    out.append(self._damaged(j, "interrupted by a new frame"))
                else:
                    out.append(self._damaged(j + 4, f"invalid escape sequence {bytes(tail).hex()}"))
            elif tail == _START_BODY:
                # Bytes were dropped on the wire: this start is real, the open frame is lost.
                out.append(self._damaged(j, "interrupted by a new frame"))
            else:
                # An unaligned end (padding not re-aligned by the sender) counts if its CRC holds.
                frame = check_frame(bytes(buf[: j + 8])) if marker == 0x1A else None
                if frame is not None and frame.crc_ok:
                    out.append(self._take(frame, j + 8))
                else:
                    self._scan = j + 1
        return out

    def _start_within(self, end: int, final: bool) -> Optional[int]:
        """Where a start sequence begins inside the open frame's first ``end`` bytes (not at
        its own start), None if nowhere, or _WAIT while the bytes after ``end`` that decide it
        have not arrived yet."""
        buf = self._buf
        k = buf.find(START, 1, end + len(START) - 1)
        if 0 < k < end:
            return k
        if not final:
            for k in range(max(1, len(buf) - len(START) + 1), end):
                if START.startswith(buf[k:]):
                    return _WAIT
        return None

    def _take(self, frame: Frame, end: int) -> Frame:
        # A frame whose CRC ends in 0x1b bytes may share them with the next start sequence (the
        # next frame lost its first bytes, or this one its last): they are kept for the search.
        shared = 2 if self._buf[end - 2 : end] == b"\x1b\x1b" else int(self._buf[end - 1] == 0x1B)
        del self._buf[: end - shared]
        self._shared = shared
        self._in_frame = False
        return frame

    def _skip(self, n: int) -> None:
        """Drop ``n`` bytes before any frame; garbage unless they ended the previous frame."""
        shared = min(n, self._shared)
        self._shared -= shared
        self.skipped += n - shared
        del self._buf[:n]

    def _damaged(self, end: int, reason: str) -> Frame:
        raw = bytes(self._buf[:end])
        del self._buf[:end]
        self._in_frame = False
        return Frame(raw[8:], False, None, reason, raw, True)


def read_frames(data: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> List[Frame]:
    """All frames in a complete capture, the truncated last one included."""
    reader = FrameReader(max_frame)
    return reader.feed(data) + reader.flush()
