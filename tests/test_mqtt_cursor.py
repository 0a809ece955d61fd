"""The history cursor: it moves only over acknowledged messages and only in order, at most
``window`` messages wait for acknowledgement, the file is replaced atomically, and a damaged
file is set aside with a clear log line instead of stopping the service."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from mqtthelp import Site
from pyhm.config import parse
from pyhm.mqtt.history import Cursor, History
from pyhm.mqtt.topics import Topics
from pyhm.store import Query

TOPICS = Topics(parse("mqtt:\n  url: mqtt://b\n  site: s\n").mqtt)  # type: ignore[arg-type]


class Handle:
    def __init__(self) -> None:
        self.acked = False

    def is_published(self) -> bool:
        return self.acked


class Broker:
    """Takes messages; acknowledges only what the test says."""

    def __init__(self) -> None:
        self.sent: List[Tuple[str, dict, Handle]] = []

    def __call__(self, topic: str, payload: str) -> Optional[Handle]:
        h = Handle()
        self.sent.append((topic, json.loads(payload), h))
        return h


def setup(tmp: Path, window: int = 100) -> Tuple[Site, Query, History, Broker]:
    site = Site(tmp, meters=1)
    site.tick()
    q = Query(tmp / "pyhm.db")
    history = History(Cursor(tmp / "cursor.json"), TOPICS, window)
    history.start(q)
    return site, q, history, Broker()


def saved(tmp: Path, site: Site) -> int:
    return json.loads((tmp / "cursor.json").read_text())["meters"][site.key(0)]["ts_ms"]


def test_the_cursor_moves_only_over_acknowledged_messages_in_order(tmp_path: Path) -> None:
    site, q, history, broker = setup(tmp_path)
    start = site.clock.ms
    site.tick(3)
    assert history.pump(q, broker) == 3
    ts = [m["ts_ms"] for _, m, _ in broker.sent]
    broker.sent[1][2].acked = True  # the second is acknowledged before the first
    history.collect()
    history.save()
    assert saved(tmp_path, site) == start
    broker.sent[0][2].acked = True
    history.collect()
    history.save()
    assert saved(tmp_path, site) == ts[1] and history.inflight == 1
    assert not list(tmp_path.glob(".cursor.json.tmp")), "written by rename, nothing left behind"
    # A restart resumes after the last acknowledged telegram: the third comes again, once.
    again = History(Cursor(tmp_path / "cursor.json"), TOPICS)
    again.start(q)
    broker2 = Broker()
    assert again.pump(q, broker2) == 1 and broker2.sent[0][1]["ts_ms"] == ts[2]
    q.close()
    site.writer.close()


def test_at_most_window_messages_wait_for_acknowledgement(tmp_path: Path) -> None:
    site, q, history, broker = setup(tmp_path, window=5)
    site.tick(12)
    assert history.pump(q, broker) == 5 and history.backlog
    assert history.pump(q, broker) == 0
    for _, _, h in broker.sent:
        h.acked = True
    history.collect()
    assert history.pump(q, broker) == 5
    for _, _, h in broker.sent:
        h.acked = True
    history.collect()
    assert history.pump(q, broker) == 2 and not history.backlog
    assert [m["ts_ms"] for _, m, _ in broker.sent] == sorted({m["ts_ms"] for _, m, _ in broker.sent})
    q.close()
    site.writer.close()


@pytest.mark.parametrize("content", ["{not json", '{"version": 99, "meters": {}}', '{"version": 1, "meters": {"a": 5}}'])
def test_a_damaged_cursor_is_set_aside_and_logged(tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cursor.json"
    path.write_text(content)
    with caplog.at_level(logging.ERROR, "pyhm.mqtt"):
        cursor = Cursor(path)
    assert cursor.meters == {} and not path.exists()
    assert (tmp_path / "cursor.json.bad").read_text() == content
    assert "history cursor" in caplog.text and "unusable" in caplog.text
