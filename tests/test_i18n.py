"""German and English: the language chosen per request, every UI string translated, no string
left out of the catalogue, the compiled catalogue current."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import List

import pytest

from pyhm.web import i18n
from webhelp import PASSWORD, Server, build_db

WEB = Path(i18n.__file__).parent
PO = WEB / "locale" / "de" / "LC_MESSAGES" / "pyhm.po"
UNITS = {"W", "kWh", "Wh", "V", "A", "Hz", "pyhm", "MiB", "OBIS"}


@pytest.mark.parametrize("header, code, tag", [
    ("de-DE,de;q=0.9,en;q=0.8", "de", "de-DE"),
    ("en-GB,en;q=0.9,de;q=0.5", "en", "en-GB"),
    ("fr-FR, de-AT;q=0.7, en;q=0.3", "de", "de-AT"),
    ("en;q=0.2, de;q=0.9", "de", "de"),
    ("fr, it", "en", "en"),
    ("", "en", "en"),
    ("de;q=abc, en", "en", "en"),
    ("<script>, de;q=0", "en", "en"),
    # Extensions would change the page's digits or clock (Arabic-Indic digits that the typed
    # range cannot read back, a 12-hour German clock): the page keeps language and region.
    ("en-u-nu-arab", "en", "en"),
    ("de-DE-u-hc-h12-nu-thai, en", "de", "de-DE"),
    ("de-CH-x-private", "de", "de-CH"),
    ("de-t-en", "de", "de"),
])
def test_the_language_follows_accept_language(header: str, code: str, tag: str) -> None:
    assert i18n.choose(header) == (code, tag)


def _po_entries() -> dict:
    """msgid (or (msgid, plural)) → msgstr(s) and flags, read by the stdlib-free rules of the PO format."""
    entries, current, key = {}, {}, None
    for line in PO.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current.get("msgid"):
                entries[(current["msgid"], current.get("msgid_plural", ""))] = current
            current, key = {}, None
        elif line.startswith("#,"):
            current["flags"] = line[2:]
        elif line.startswith("#~"):
            current["obsolete"] = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += json.loads(line)
        else:
            key, _, text = line.partition(" ")
            current[key] = json.loads(text)
    return entries


def test_every_marked_string_has_a_german_translation() -> None:
    marked = i18n.all_marked()
    entries = _po_entries()
    assert len(marked) > 3
    missing = [k for k in marked if k not in entries]
    assert not missing, f"run scripts/i18n: not in the German catalogue: {missing}"
    for key, entry in entries.items():
        assert "fuzzy" not in entry.get("flags", ""), f"fuzzy translation left: {key}"
        assert not entry.get("obsolete"), f"obsolete entry: {key}"
        texts = [entry[k] for k in entry if k.startswith("msgstr")]
        assert texts and all(texts), f"no German text for {key}"
        for text in texts:  # a placeholder the translation lost would show as {name}
            assert set(re.findall(r"\{\w+\}", text)) <= set(re.findall(r"\{\w+\}", key[0] + key[1])), key
    unused = [k for k in entries if k not in marked]
    assert not unused, f"run scripts/i18n: entries no page uses: {unused}"


def test_the_compiled_catalogue_is_the_source_catalogue() -> None:
    shipped = i18n.translations("de")
    for (singular, plural), entry in _po_entries().items():
        if plural:
            assert shipped.ngettext(singular, plural, 1) == entry["msgstr[0]"]
            assert shipped.ngettext(singular, plural, 2) == entry["msgstr[1]"]
        else:
            assert shipped.gettext(singular) == entry["msgstr"], "the .mo is stale: run scripts/i18n"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs msgfmt (gettext)")
def test_the_catalogue_passes_msgfmt_check(tmp_path: Path) -> None:
    out = tmp_path / "de.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(PO)], check=True, capture_output=True)
    with out.open("rb") as f:
        fresh = gettext.GNUTranslations(f)
    assert fresh._catalog == i18n.translations("de")._catalog  # type: ignore[attr-defined]


class _Text(HTMLParser):
    """The text a person reads in a template once its code and expressions are taken out."""

    READ = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.words: List[str] = []
        self.code = 0  # inside <code>: a command, the same in every language

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.words += [v for k, v in attrs if k in self.READ and v]
        self.code += tag == "code"

    def handle_endtag(self, tag: str) -> None:
        self.code -= tag == "code"

    def handle_data(self, data: str) -> None:
        if not self.code:
            self.words.append(data)


@pytest.mark.parametrize("template", sorted(p.name for p in (WEB / "templates").glob("*.tpl")))
def test_templates_have_no_text_outside_gettext(template: str) -> None:
    source = (WEB / "templates" / template).read_text(encoding="utf-8")
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    reader = _Text()
    reader.feed(source)
    left = [w for text in reader.words for w in re.findall(r"[^\W\d_]{2,}", text) if w not in UNITS]
    assert not left, f"{template}: text not marked for translation: {left}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("i18n")
    import time
    build_db(tmp / "pyhm.db", int(time.time() * 1000), day=False)
    s = Server(tmp)
    yield s
    s.stop()


def _page(server: Server, path: str, language: str) -> str:
    status, headers, body = server.request("GET", path, headers={"Accept-Language": language}, auth=PASSWORD)
    assert status == 200
    assert headers.get("vary") == "Accept-Language"
    return body.decode()


@pytest.mark.parametrize("path", ["/", "/status", "/meter/1", "/login"])
def test_pages_speak_the_browsers_language(server: Server, path: str) -> None:
    german = _page(server, path, "de-DE,de;q=0.9,en;q=0.5")
    english = _page(server, path, "en-US,en;q=0.9")
    assert '<html lang="de-DE"' in german and '<html lang="en-US"' in english
    if path != "/login":
        assert ">Abmelden<" in german and ">Log out<" in english
    words = json.loads(re.search(r'<script type="application/json" id="i18n">(.*?)</script>', german, re.S).group(1))
    assert all(isinstance(v, (str, list)) for v in words.values())
    assert words == json.loads(i18n.script_catalogue("de"))
