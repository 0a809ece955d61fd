"""SML messages: the typed view of a frame's payload.

Every message is ``[transactionId, groupNo, abortOnError, [tag, body], crc16, endOfSmlMsg]``.
Responses are decoded field by field into named tuples; requests too (a meter never sends
them, but a capture from a bus or a gateway may hold them). Unknown tags keep their raw
fields, so one odd message never hides the readings in the rest of the frame.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from pyhm.sml.crc import crc_kermit, crc_x25
from pyhm.sml.errors import MessageError, ParseError
from pyhm.sml.tl import read_list, read_tl, read_value

_from_bytes = int.from_bytes
_new_tuple = tuple.__new__  # a NamedTuple without its keyword handling: many entries a telegram

OPEN_REQ, OPEN_RES = 0x0100, 0x0101
CLOSE_REQ, CLOSE_RES = 0x0200, 0x0201
GET_PROFILE_PACK_REQ, GET_PROFILE_PACK_RES = 0x0300, 0x0301
GET_PROFILE_LIST_REQ, GET_PROFILE_LIST_RES = 0x0400, 0x0401
GET_PROC_PARAMETER_REQ, GET_PROC_PARAMETER_RES = 0x0500, 0x0501
SET_PROC_PARAMETER_REQ = 0x0600
GET_LIST_REQ, GET_LIST_RES = 0x0700, 0x0701
ATTENTION_RES = 0xFF01


class SmlTime(NamedTuple):
    """An SML_Time. ``kind``: sec_index, timestamp (UTC seconds), local_timestamp, or bare
    (Holley DTZ541 sends a plain unsigned instead of the choice)."""

    kind: str
    value: int
    local_offset: Optional[int] = None  # minutes
    season_offset: Optional[int] = None  # minutes


class OpenRequest(NamedTuple):
    codepage: Optional[bytes]
    client_id: Optional[bytes]
    req_file_id: Optional[bytes]
    server_id: Optional[bytes]
    username: Optional[bytes]
    password: Optional[bytes]
    sml_version: Optional[int]


class OpenResponse(NamedTuple):
    codepage: Optional[bytes]
    client_id: Optional[bytes]
    req_file_id: Optional[bytes]
    server_id: Optional[bytes]
    ref_time: Optional[SmlTime]
    sml_version: Optional[int]


class CloseRequest(NamedTuple):
    global_signature: Optional[bytes]


class CloseResponse(NamedTuple):
    global_signature: Optional[bytes]


class ListEntry(NamedTuple):
    obj_name: bytes
    status: Optional[int]
    val_time: Optional[SmlTime]
    unit: Optional[int]
    scaler: Optional[int]
    value: Any
    value_signature: Optional[bytes]
    value_width: Optional[int] = None  # bytes an integer value was sent in


class GetListRequest(NamedTuple):
    client_id: Optional[bytes]
    server_id: Optional[bytes]
    username: Optional[bytes]
    password: Optional[bytes]
    list_name: Optional[bytes]


class GetListResponse(NamedTuple):
    client_id: Optional[bytes]
    server_id: Optional[bytes]
    list_name: Optional[bytes]
    act_sensor_time: Optional[SmlTime]
    entries: List[ListEntry]
    list_signature: Optional[bytes]
    act_gateway_time: Optional[SmlTime]


class Tree(NamedTuple):
    """SML_Tree; ``value`` is (choice tag, value): 1 value, 2 period, 3 tupel, 4 time, 5 list entry."""

    parameter_name: Optional[bytes]
    value: Optional[Tuple[int, Any]]
    children: List["Tree"]


class GetProcParameterRequest(NamedTuple):
    server_id: Optional[bytes]
    username: Optional[bytes]
    password: Optional[bytes]
    parameter_tree_path: List[bytes]
    attribute: Optional[bytes]


class GetProcParameterResponse(NamedTuple):
    server_id: Optional[bytes]
    parameter_tree_path: List[bytes]
    parameter_tree: Optional[Tree]


class SetProcParameterRequest(NamedTuple):
    server_id: Optional[bytes]
    username: Optional[bytes]
    password: Optional[bytes]
    parameter_tree_path: List[bytes]
    parameter_tree: Optional[Tree]


class GetProfileRequest(NamedTuple):
    """GetProfilePack.Req and GetProfileList.Req share one layout."""

    server_id: Optional[bytes]
    username: Optional[bytes]
    password: Optional[bytes]
    with_rawdata: Optional[bool]
    begin_time: Optional[SmlTime]
    end_time: Optional[SmlTime]
    parameter_tree_path: List[bytes]
    object_list: Optional[List[bytes]]
    das_details: Optional[Tree]


class ProfileHeader(NamedTuple):
    obj_name: bytes
    unit: Optional[int]
    scaler: Optional[int]


class ProfilePeriod(NamedTuple):
    val_time: Optional[SmlTime]
    status: Optional[int]
    values: List[Tuple[Any, Optional[bytes]]]
    period_signature: Optional[bytes]


class GetProfilePackResponse(NamedTuple):
    server_id: Optional[bytes]
    act_time: Optional[SmlTime]
    reg_period: Optional[int]
    parameter_tree_path: List[bytes]
    headers: List[ProfileHeader]
    periods: List[ProfilePeriod]
    rawdata: Optional[bytes]
    profile_signature: Optional[bytes]


class PeriodEntry(NamedTuple):
    obj_name: bytes
    unit: Optional[int]
    scaler: Optional[int]
    value: Any
    value_signature: Optional[bytes]


class GetProfileListResponse(NamedTuple):
    server_id: Optional[bytes]
    act_time: Optional[SmlTime]
    reg_period: Optional[int]
    parameter_tree_path: List[bytes]
    val_time: Optional[SmlTime]
    status: Optional[int]
    entries: List[PeriodEntry]
    rawdata: Optional[bytes]
    period_signature: Optional[bytes]


class AttentionResponse(NamedTuple):
    server_id: Optional[bytes]
    attention_no: Optional[bytes]
    attention_msg: Optional[bytes]
    attention_details: Optional[Tree]


class UnknownBody(NamedTuple):
    fields: Any


class Message(NamedTuple):
    transaction_id: Optional[bytes]
    group_no: Optional[int]
    abort_on_error: Optional[int]
    tag: int
    body: Any
    crc_ok: Optional[bool]  # None when the message carries no CRC to check


def _fields(value: Any, count: int, what: str) -> List[Any]:
    if not isinstance(value, list) or len(value) != count:
        raise MessageError(f"{what}: expected a list of {count} fields")
    return value


def _items(value: Any, what: str) -> List[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MessageError(f"{what}: expected a list")
    return value


def sml_time(value: Any) -> Optional[SmlTime]:
    """Decode an SML_Time choice (or the Holley bare unsigned)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return SmlTime("bare", value)
    if isinstance(value, list) and len(value) == 2:
        tag, inner = value
        if tag == 1 and isinstance(inner, int):
            return SmlTime("sec_index", inner)
        if tag == 2 and isinstance(inner, int):
            return SmlTime("timestamp", inner)
        if tag == 3 and isinstance(inner, list) and len(inner) == 3 and isinstance(inner[0], int):
            return SmlTime("local_timestamp", inner[0], inner[1], inner[2])
    raise MessageError(f"invalid SML_Time: {_shown(value)}")


def _shown(value: Any) -> str:
    """An SML value in an error message: its kind and value as SML says them, not a Python repr."""
    if isinstance(value, bytes):
        return f"octet string {value.hex(' ')}" if value else "empty octet string"
    if isinstance(value, list):
        return f"list of {len(value)}"
    if isinstance(value, bool):
        return "boolean true" if value else "boolean false"
    return "nothing" if value is None else f"integer {value}"


def _tree(value: Any, depth: int = 0) -> Optional[Tree]:
    if value is None:
        return None
    name, par, children = _fields(value, 3, "SML_Tree")
    if par is not None:
        if not isinstance(par, list) or len(par) != 2 or not isinstance(par[0], int):
            raise MessageError("SML_ProcParValue: expected a choice")
        par = (par[0], sml_time(par[1]) if par[0] == 4 else par[1])
    kids = [_tree(c, depth + 1) for c in _items(children, "SML_Tree children")]
    return Tree(name, par, kids)  # type: ignore[arg-type]


def _list_entry(value: Any, width: Optional[int] = None) -> ListEntry:
    if not isinstance(value, list) or len(value) != 7:
        raise MessageError("SML_ListEntry: expected a list of 7 fields")
    name, status, t, unit, scaler, val, sig = value
    if not isinstance(name, bytes):
        raise MessageError("SML_ListEntry: objName is not an octet string")
    if scaler is not None and (scaler.__class__ is not int or not -128 <= scaler <= 127):
        raise MessageError(f"SML_ListEntry: scaler {_shown(scaler)} is not an Integer8")
    if unit is not None and unit.__class__ is not int:
        raise MessageError(f"SML_ListEntry: unit {_shown(unit)} is not an Unsigned8")
    return _new_tuple(ListEntry, (name, status, sml_time(t) if t is not None else None, unit, scaler, val, sig, width))


def _open_req(f: List[Any]) -> OpenRequest:
    return OpenRequest(*_fields(f, 7, "SML_PublicOpen.Req"))


def _open_res(f: List[Any]) -> OpenResponse:
    c, cl, req, srv, t, ver = _fields(f, 6, "SML_PublicOpen.Res")
    return OpenResponse(c, cl, req, srv, sml_time(t), ver)


def _close_req(f: List[Any]) -> CloseRequest:
    return CloseRequest(*_fields(f, 1, "SML_PublicClose.Req"))


def _close_res(f: List[Any]) -> CloseResponse:
    return CloseResponse(*_fields(f, 1, "SML_PublicClose.Res"))


def _get_list_req(f: List[Any]) -> GetListRequest:
    return GetListRequest(*_fields(f, 5, "SML_GetList.Req"))


def _get_list_res(f: List[Any], widths: Optional[List[Optional[int]]] = None) -> GetListResponse:
    cl, srv, name, t, vals, sig, gw = _fields(f, 7, "SML_GetList.Res")
    items = _items(vals, "valList")
    if widths is None:
        entries = [_list_entry(e) for e in items]
    else:
        entries = [_list_entry(e, w) for e, w in zip(items, widths)]
    return GetListResponse(cl, srv, name, sml_time(t), entries, sig, sml_time(gw))


def _read_get_list_res(payload: bytes, pos: int, end: int) -> Tuple[Any, Optional[List[Optional[int]]], int]:
    """The fields of a GetList.Res body, and the width each entry's integer value was sent in
    (which the plain values lose). A body of another shape is read as it is, for
    ``_get_list_res`` to reject."""
    if payload[pos] != 0x77:
        fields, pos = read_value(payload, pos, end, 3)
        return fields, None, pos
    head, pos = read_list(payload, pos + 1, 4, end, 3)
    if pos >= end or payload[pos] & 0x70 != 0x70:
        rest, pos = read_list(payload, pos, 3, end, 3)
        return head + rest, None, pos
    _, count, pos = read_tl(payload, pos, end)
    entries: List[Any] = []
    widths: List[Optional[int]] = []
    for _ in range(count):
        if pos >= end:
            raise ParseError("list runs past the end of data", pos)
        if payload[pos] != 0x77:
            entry, pos = read_value(payload, pos, end, 4)
            width = None
        else:
            entry, pos = read_list(payload, pos + 1, 5, end, 5)
            b = payload[pos] if pos < end else 0
            kind = b & 0xF0
            if (kind == 0x50 or kind == 0x60) and 2 <= b & 0x0F <= 9 and pos + (b & 0x0F) <= end:
                width = (b & 0x0F) - 1
                value = _from_bytes(payload[pos + 1 : pos + 1 + width], "big", signed=kind == 0x50)
                pos += 1 + width
            else:
                width = None
                value, pos = read_value(payload, pos, end, 5)
            if pos < end and payload[pos] == 0x01:
                signature, pos = None, pos + 1
            else:
                signature, pos = read_value(payload, pos, end, 5)
            entry += [value, signature]
        entries.append(entry)
        widths.append(width)
    tail, pos = read_list(payload, pos, 2, end, 3)
    return head + [entries] + tail, widths, pos


def _get_proc_req(f: List[Any]) -> GetProcParameterRequest:
    srv, user, pw, path, attr = _fields(f, 5, "SML_GetProcParameter.Req")
    return GetProcParameterRequest(srv, user, pw, _items(path, "parameterTreePath"), attr)


def _get_proc_res(f: List[Any]) -> GetProcParameterResponse:
    srv, path, tree = _fields(f, 3, "SML_GetProcParameter.Res")
    return GetProcParameterResponse(srv, _items(path, "parameterTreePath"), _tree(tree))


def _set_proc_req(f: List[Any]) -> SetProcParameterRequest:
    srv, user, pw, path, tree = _fields(f, 5, "SML_SetProcParameter.Req")
    return SetProcParameterRequest(srv, user, pw, _items(path, "parameterTreePath"), _tree(tree))


def _profile_req(f: List[Any]) -> GetProfileRequest:
    srv, user, pw, raw, begin, end, path, objs, das = _fields(f, 9, "SML_GetProfile.Req")
    return GetProfileRequest(
        srv, user, pw, raw, sml_time(begin), sml_time(end), _items(path, "parameterTreePath"),
        objs, _tree(das),
    )


def _profile_pack_res(f: List[Any]) -> GetProfilePackResponse:
    srv, t, period, path, headers, periods, raw, sig = _fields(f, 8, "SML_GetProfilePack.Res")
    hs = [ProfileHeader(*_fields(h, 3, "SML_ProfObjHeaderEntry")) for h in _items(headers, "header_List")]
    ps = []
    for p in _items(periods, "period_List"):
        vt, status, values, psig = _fields(p, 4, "SML_ProfObjPeriodEntry")
        vs = [tuple(_fields(v, 2, "SML_ValueEntry")) for v in _items(values, "value_List")]
        ps.append(ProfilePeriod(sml_time(vt), status, vs, psig))  # type: ignore[arg-type]
    return GetProfilePackResponse(srv, sml_time(t), period, _items(path, "parameterTreePath"), hs, ps, raw, sig)


def _profile_list_res(f: List[Any]) -> GetProfileListResponse:
    srv, t, period, path, vt, status, entries, raw, sig = _fields(f, 9, "SML_GetProfileList.Res")
    es = [PeriodEntry(*_fields(e, 5, "SML_PeriodEntry")) for e in _items(entries, "period_List")]
    return GetProfileListResponse(
        srv, sml_time(t), period, _items(path, "parameterTreePath"), sml_time(vt), status, es, raw, sig
    )


def _attention_res(f: List[Any]) -> AttentionResponse:
    srv, no, msg, details = _fields(f, 4, "SML_Attention.Res")
    return AttentionResponse(srv, no, msg, _tree(details))


BODIES: Dict[int, Callable[[List[Any]], Any]] = {
    OPEN_REQ: _open_req,
    OPEN_RES: _open_res,
    CLOSE_REQ: _close_req,
    CLOSE_RES: _close_res,
    GET_PROFILE_PACK_REQ: _profile_req,
    GET_PROFILE_PACK_RES: _profile_pack_res,
    GET_PROFILE_LIST_REQ: _profile_req,
    GET_PROFILE_LIST_RES: _profile_list_res,
    GET_PROC_PARAMETER_REQ: _get_proc_req,
    GET_PROC_PARAMETER_RES: _get_proc_res,
    SET_PROC_PARAMETER_REQ: _set_proc_req,
    GET_LIST_REQ: _get_list_req,
    GET_LIST_RES: _get_list_res,
    ATTENTION_RES: _attention_res,
}



def _message_crc_x25(data: bytes) -> int:
    # The message CRC is sent low byte first inside an Unsigned16 (or a one-byte unsigned when
    # that reads below 0x100), so as an integer it is the byte-swapped CRC.
    value = crc_x25(data)
    return ((value & 0xFF) << 8) | (value >> 8)


# Holley's KERMIT variant sends its CRCs high byte first, messages included.
MESSAGE_CRC: Dict[str, Callable[[bytes], int]] = {"x25": _message_crc_x25, "kermit": crc_kermit}


def parse_messages(payload: bytes, crc: str = "x25") -> List[Message]:
    """Decode every message of a frame payload (or of a bare message sequence).

    ``crc`` names the CRC variant of the enclosing frame; message CRCs are checked with it and
    reported per message. They do not reject a message: several meters (eBZ DD3 among them)
    send wrong message CRCs inside frames whose frame CRC is right.
    """
    crc_fn = MESSAGE_CRC[crc]
    out: List[Message] = []
    pos = 0
    end = len(payload)
    while pos < end:
        if payload[pos] == 0:  # fill bytes between or after messages
            pos += 1
            continue
        start = pos
        kind, count, p = read_tl(payload, pos, end)
        if kind != 0x70 or count < 5:
            raise ParseError("an SML message must be a list of 6 fields", pos)
        (tid, group, abort), p = read_list(payload, p, 3, end, 1)
        widths = None
        tag = None
        if p + 1 < end and payload[p] == 0x72 and payload[p + 1] & 0xF0 == 0x60:
            tag, q = read_value(payload, p + 1, end, 2)
        if tag == GET_LIST_RES:
            # The readings: read so that the widths of their integers are kept too.
            fields, widths, p = _read_get_list_res(payload, q, end)
            choice: Any = [tag, fields]
        else:
            choice, p = read_value(payload, p, end, 1)
        crc_at = p
        received, p = read_value(payload, p, end, 1)
        for _ in range(count - 5):
            _, p = read_value(payload, p, end, 1)
        pos = p
        if not isinstance(choice, list) or len(choice) != 2 or not isinstance(choice[0], int):
            raise MessageError(f"message at byte {start}: body is not a tagged choice")
        tag, fields = choice
        if widths is not None:
            body: Any = _get_list_res(fields, widths)
        else:
            build = BODIES.get(tag)
            body = build(fields) if build is not None else UnknownBody(fields)
        crc_ok: Optional[bool] = None
        if isinstance(received, int) and not isinstance(received, bool):
            crc_ok = crc_fn(payload[start:crc_at]) == received
        out.append(Message(tid, group, abort, tag, body, crc_ok))
    return out
