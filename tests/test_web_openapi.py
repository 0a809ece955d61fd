"""/api/openapi.json describes exactly the API routes the application has."""

from __future__ import annotations

import re
from pathlib import Path

from pyhm.config import Config, WebConfig
from pyhm.web.app import Web
from pyhm.web.openapi import OPENAPI


def test_every_api_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    web = Web(Config(web=WebConfig(credentials=tmp_path / "c.json")))
    routes = set()
    for route in web.app.routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.rule)
        if path.startswith("/api/") or path == "/healthz":
            routes.add((path, route.method.lower()))
    documented = {(path, method) for path, ops in OPENAPI["paths"].items() for method in ops}
    assert routes == documented


def test_parameters_are_described() -> None:
    for path, ops in OPENAPI["paths"].items():
        for op in ops.values():
            assert op["summary"] and "200" in op["responses"]
            for p in op["parameters"]:
                assert p["description"] and p["in"] in ("query", "path"), (path, p)
    assert OPENAPI["paths"]["/healthz"]["get"]["security"] == []
