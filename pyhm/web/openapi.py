"""The API described as OpenAPI 3.0, served at /api/openapi.json (a test holds it to the routes)."""

from __future__ import annotations

from typing import Any, Dict

from pyhm import __version__


def _param(name: str, description: str, required: bool = False, schema: Any = None) -> Dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


_TIME = "ISO 8601 (local time when it has no offset) or milliseconds since the epoch"
_METER = _param("meter", "meter id, name or server id (hex)", True)
_ERRORS = {
    "400": {"description": "a bad parameter; the JSON error names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "401": {"description": "login required (session cookie or HTTP Basic)"},
    "404": {"description": "no such meter or series", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}


def _get(summary: str, params: list, secured: bool = True, extra: Any = None) -> Dict[str, Any]:
    op: Dict[str, Any] = {"summary": summary, "parameters": params,
                          "responses": {"200": {"description": "OK", "content": {"application/json": {}}}, **_ERRORS}}
    if not secured:
        op["security"] = []
    if extra:
        op["responses"].update(extra)
    return {"get": op}


OPENAPI: Dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "pyhm", "version": __version__,
             "description": "Readings of German smart meters. Times are ISO 8601 with offset; values exact decimals."},
    "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "pyhm_session"}},
        "schemas": {"Error": {"type": "object", "required": ["error"],
                              "properties": {"error": {"type": "string"}, "parameter": {"type": "string"}}}},
    },
    "security": [{"basic": []}, {"session": []}],
    "paths": {
        "/api/meters": _get("Every meter: power now (per phase), the last hour's power as minute means (`hour`: "
                            "`from` ms, `step_ms`, `power`: 60 whole watts or null), energy today, `yesterday` up to the same local wall time, this month, "
                            "last telegram, head", []),
        "/api/meters/{ref}": {"get": {**_get("One meter with all its series and their latest values", [])["get"],
                                      "parameters": [{"name": "ref", "in": "path", "required": True,
                                                      "description": "meter id, name or server id (hex)",
                                                      "schema": {"type": "string"}}]}},
        "/api/series": _get("A series over a time range with at most `points` points; the store picks the resolution", [
            _METER, _param("obis", "OBIS code, e.g. 1-0:16.7.0", True),
            _param("from", _TIME + "; default: 24 hours before `to`"), _param("to", _TIME + "; default: now"),
            _param("points", "at most this many points (2 to 5000; default 1000)", schema={"type": "integer"})]),
        "/api/consumption": _get("Energy per local day, week, month or year, from a counter", [
            _METER, _param("obis", "the counter (default 1-0:1.8.0*255, import)"),
            _param("period", "day, week, month or year (default day)",
                   schema={"type": "string", "enum": ["day", "week", "month", "year"]}),
            _param("from", _TIME + "; default: 30 days before `to`"), _param("to", _TIME + "; default: now")]),
        "/api/energy": _get("One meter's import and export (kWh) over a local day, week, month or year: bars per hour, "
                            "day or month, totals, the previous period and the same period a year before, the base load "
                            "(median over the nights of the lowest hourly import between 00:00 and 05:00, in W) and "
                            "its yearly cost at the configured price", [
            _METER, _param("period", "day, week, month or year (default day)",
                           schema={"type": "string", "enum": ["day", "week", "month", "year"]}),
            _param("date", "a day in the period, YYYY-MM-DD (default: today in the household's zone)",
                   schema={"type": "string", "format": "date"})],
            extra={"429": {"description": "busy: a few energy answers are being computed; try again after Retry-After seconds",
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}),
        "/api/export": _get("A series as CSV or JSON, for download", [
            _METER, _param("obis", "OBIS code", True), _param("from", _TIME), _param("to", _TIME),
            _param("format", "csv or json", schema={"type": "string", "enum": ["csv", "json"]}),
            _param("resolution", "raw, minute, hour or day",
                   schema={"type": "string", "enum": ["raw", "minute", "hour", "day"]})]),
        "/api/status": _get("Heads, reception health over the last hour, database, versions", []),
        "/api/openapi.json": _get("This document", []),
        "/healthz": _get("Is data arriving? 200 when fresh, 503 when not; no login", [], secured=False,
                         extra={"503": {"description": "no fresh data"}}),
    },
}
