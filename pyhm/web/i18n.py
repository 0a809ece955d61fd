"""The UI's language: English or German, chosen per request from the browser's Accept-Language.

Text goes through the standard library's `gettext`: templates call ``_("…")`` (and ``n_()`` for
plurals), the page script calls ``t("…")``/``tn(…)``. The German catalogue is
``locale/de/LC_MESSAGES/pyhm.po``, compiled to ``pyhm.mo`` beside it by ``scripts/i18n``, which
also collects every marked string (`marked_strings`); a test checks both are complete and current.
The script's strings reach the page as a JSON block (not executed, so the CSP still forbids inline
script), and the page's ``lang`` is the browser's own tag (``de-AT``, ``en-GB``) so that numbers
and dates follow it while the words follow the catalogue.
"""

from __future__ import annotations

import gettext
import io
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Dict, Iterator, List, NamedTuple, Tuple

LANGUAGES = ("en", "de")  # the first is the source language and the fallback
DOMAIN = "pyhm"
TEMPLATE_CALL = re.compile(r"""\b(?:N_|n?_)\(\s*(?P<q>["'])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)"""
                           r"""(?:\s*,\s*(?P<q2>["'])(?P<p>(?:\\.|(?!(?P=q2)).)*)(?P=q2))?""")
SCRIPT_CALL = re.compile(r"""\btn?\(\s*"(?P<s>(?:\\.|[^"\\])*)"(?:\s*,\s*"(?P<p>(?:\\.|[^"\\])*)")?""")
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
_SINGLETON = re.compile(r"-[A-Za-z0-9](?:-|$)")  # -u-, -t-, -x-: extensions (digits, clock) the page must not take


class Language(NamedTuple):
    """What one request is answered in: ``code`` picks the words, ``tag`` the number and date formats."""

    code: str
    tag: str


@lru_cache(maxsize=256)  # a household's few browsers send the same header on every request
def choose(accept_language: str) -> Language:
    """The best of `LANGUAGES` for an Accept-Language header (RFC 9110 q-values); English if none fits.

    The browser's whole tag is kept when its language is one we speak, so ``de-CH`` gets German
    words with Swiss number formats. A malformed header counts as absent, never as an error."""
    ranked: List[Tuple[float, int, str]] = []
    for i, part in enumerate(accept_language[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        tag, q = tag.strip(), 1.0
        if params.strip().lower().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if _TAG.match(tag) and 0 < q <= 1:
            ranked.append((-q, i, _SINGLETON.split(tag)[0]))
    for _, _, tag in sorted(ranked):
        code = tag.split("-")[0].lower()
        if code in LANGUAGES:
            return Language(code, tag)
    return Language(LANGUAGES[0], LANGUAGES[0])


@lru_cache(maxsize=None)
def translations(code: str) -> gettext.NullTranslations:
    """The catalogue of one language (English, the source, needs none)."""
    if code == LANGUAGES[0]:
        return gettext.NullTranslations()
    mo = resources.files("pyhm.web").joinpath(f"locale/{code}/LC_MESSAGES/{DOMAIN}.mo").read_bytes()
    return gettext.GNUTranslations(io.BytesIO(mo))


def N_(text: str) -> str:
    """Marks text for the catalogue where it is written; the page translates it where it is shown."""
    return text


def _unescape(text: str) -> str:
    return json.loads('"' + text.replace("\\'", "'") + '"')


def marked_strings(text: str, script: bool = False) -> Iterator[Tuple[str, str]]:
    """Each marked string of a template or Python source (``_``/``n_``/`N_`) or of the script
    (``t``/``tn``), as (singular, plural or "")."""
    for m in (SCRIPT_CALL if script else TEMPLATE_CALL).finditer(text):
        yield _unescape(m.group("s")), _unescape(m.group("p") or "")


@lru_cache(maxsize=1)
def _script_strings() -> Tuple[Tuple[str, str], ...]:
    static = resources.files("pyhm.web").joinpath("static")
    scripts = sorted(p.name for p in static.iterdir() if p.name.endswith(".js"))
    return tuple(dict.fromkeys(key for name in scripts
                               for key in marked_strings(static.joinpath(name).read_text(encoding="utf-8"), script=True)))


@lru_cache(maxsize=None)
def script_catalogue(code: str) -> str:
    """The script's strings in one language, as JSON safe inside a ``<script type=application/json>``.

    Keys are the English text; a plural is stored under its singular as [one, other]."""
    tr = translations(code)
    table: Dict[str, object] = {}
    for singular, plural in _script_strings():
        table[singular] = [tr.ngettext(singular, plural, 1), tr.ngettext(singular, plural, 2)] if plural \
            else tr.gettext(singular)
    return json.dumps(table, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")


def all_marked() -> Dict[Tuple[str, str], List[str]]:
    """Every marked string of the web UI (templates, Python, script), with where it is used."""
    web = resources.files("pyhm.web")
    sources = [(f"templates/{p.name}", False) for p in web.joinpath("templates").iterdir() if p.name.endswith(".tpl")]
    sources += [(p.name, False) for p in web.iterdir() if p.name.endswith(".py") and p.name != "i18n.py"]
    sources += [(f"static/{p.name}", True) for p in web.joinpath("static").iterdir() if p.name.endswith(".js")]
    found: Dict[Tuple[str, str], List[str]] = {}
    for name, script in sorted(sources):
        for key in marked_strings(web.joinpath(name).read_text(encoding="utf-8"), script):
            found.setdefault(key, []).append(name)
    return found
