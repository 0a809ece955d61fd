"""The README's MQTT section tells the truth: its configuration parses, its topics are the ones
published, and its history message has exactly the fields a real one has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional, Tuple

import yaml

from mqtthelp import Site
from pyhm.config import parse
from pyhm.mqtt.history import Cursor, History
from pyhm.mqtt.topics import Topics
from pyhm.store import Query

ROOT = Path(__file__).resolve().parents[1]
SECTION = (ROOT / "README.md").read_text().split("## MQTT", 1)[1].split("\n## ", 1)[0]


def block(lang: str) -> str:
    return SECTION.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def test_readme_configuration_example_is_valid() -> None:
    cfg = parse(block("yaml"), "README").mqtt
    assert cfg is not None and (cfg.host, cfg.port, cfg.tls, cfg.site) == ("broker.lan", 8883, True, "house")


def test_readme_topics_are_the_published_ones() -> None:
    cfg = parse(block("yaml"), "README").mqtt
    assert cfg is not None
    t = Topics(cfg)
    for topic in (t.status, t.state("<meter>"), t.readings("<meter>"), t.discovery("<meter>")):
        assert f"`{topic.replace(cfg.site, '<site>')}`" in SECTION, topic


def real_messages(tmp: Path) -> List[dict]:
    site = Site(tmp)
    site.tick()
    cfg = parse(block("yaml"), "README").mqtt
    assert cfg is not None
    q = Query(tmp / "pyhm.db")
    history = History(Cursor(tmp / "cursor.json"), Topics(cfg))
    history.start(q)
    site.tick(2)
    sent: List[Tuple[str, str]] = []

    class Acked:
        def is_published(self) -> bool:
            return True

    def publish(topic: str, payload: str) -> Optional[Acked]:
        sent.append((topic, payload))
        return Acked()

    assert history.pump(q, publish) == 4
    q.close()
    site.writer.close()
    return [json.loads(p) for _, p in sent]


def test_readme_history_schema_has_exactly_the_fields_of_a_real_message(tmp_path: Path) -> None:
    example = json.loads(block("json"))
    documented = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?(?:, `(\w+)`)?", SECTION, re.M))
    fields = {f for row in documented for f in row if f}
    for message in real_messages(tmp_path):
        assert set(message) | {"held"} == set(example) == fields
        assert message["schema"] == example["schema"] == "pyhm/v1"
        for value in message["values"].values():
            assert set(value) == {"value", "unit"}


def test_shipped_configuration_has_a_valid_commented_mqtt_example() -> None:
    text = (ROOT / "pyhm.cfg").read_text()
    assert parse(text, "pyhm.cfg").mqtt is None, "not configured by default: the unit does not start"
    example = text.split("\n# mqtt:", 1)[1].split("\n\n", 1)[0]
    uncommented = "mqtt:" + "\n".join(line[1:] for line in example.splitlines())
    cfg = parse(uncommented, "pyhm.cfg").mqtt
    assert cfg is not None and yaml.safe_load(uncommented)["mqtt"]["url"] == cfg.url
