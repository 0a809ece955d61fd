"""The decoder's own error hierarchy: any byte input either decodes or raises one of these."""


class SmlError(Exception):
    """Base of every error the SML decoder raises for bad input."""


class FrameError(SmlError):
    """The transport layer is damaged: bad CRC, bad escape, interrupted or oversized frame."""


class ParseError(SmlError):
    """The SML payload's TL structure is malformed or truncated."""

    def __init__(self, message: str, offset: int = -1) -> None:
        super().__init__(message if offset < 0 else f"{message} at byte {offset}")
        self.offset = offset


class MessageError(SmlError):
    """The TL structure is well-formed but is not the SML message it claims to be."""
