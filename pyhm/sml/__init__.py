"""The SML decoder: pure functions and objects over bytes, standard library only, no I/O.

Typical use::

    reader = FrameReader()
    for frame in reader.feed(chunk):
        telegram = decode_frame(frame)
        for reading in telegram.readings:
            ...
"""

from pyhm.sml.errors import FrameError, MessageError, ParseError, SmlError
from pyhm.sml.messages import Message, SmlTime, parse_messages
from pyhm.sml.readings import Reading, Telegram, decode_frame, decode_payload
from pyhm.sml.transport import Frame, FrameReader, read_frames

__all__ = [
    "Frame", "FrameError", "FrameReader", "Message", "MessageError", "ParseError", "Reading",
    "SmlError", "SmlTime", "Telegram", "decode_frame", "decode_payload", "parse_messages",
    "read_frames",
]
