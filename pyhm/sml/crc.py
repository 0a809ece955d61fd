"""CRC-16 variants used by SML transport v1.

Both are the reflected CCITT polynomial (0x1021). ``binascii.crc_hqx`` computes the
non-reflected form in C, so the input bytes are bit-reversed first and the result bit-reversed
after: the same CRC at C speed instead of a Python loop per byte.
"""

from binascii import crc_hqx

_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _rev16(value: int) -> int:
    return (_REV8[value & 0xFF] << 8) | _REV8[value >> 8]


def crc_x25(data: bytes) -> int:
    """CRC-16/X-25 (init 0xffff, xorout 0xffff): the SML standard for frames and messages."""
    return _rev16(crc_hqx(data.translate(_REV8), 0xFFFF)) ^ 0xFFFF


def crc_kermit(data: bytes) -> int:
    """CRC-16/KERMIT (init 0, no xorout): older Holley DTZ541 firmware uses it instead."""
    return _rev16(crc_hqx(data.translate(_REV8), 0))
