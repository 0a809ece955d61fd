"""The bottle application: pages, JSON API, static assets, login (served by `pyhm.web.server`).

Every request but the login page, the static assets and /healthz needs a session cookie or
HTTP Basic. Static assets are looked up by name in a table loaded from the package at start:
no file is ever opened by a path from the request. Every answer carries strict security
headers (no inline script, no external origin).
"""

from __future__ import annotations

import base64
import binascii
import errno
import gettext
import html
import logging
import sqlite3
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, Optional
from urllib.parse import quote

import bottle

from pyhm import exactjson, export
from pyhm.config import Config
from pyhm.localtime import zone, zone_name
from pyhm.store import Query, SchemaError
from pyhm.store.query import NotFound
from pyhm.web import api, energy, i18n, metrics
from pyhm.web.auth import COOKIE, Auth, Blocked, NoPassword
from pyhm.web.i18n import N_
from pyhm.web.openapi import OPENAPI
from pyhm.web.summary import Encoded, Summary

log = logging.getLogger("pyhm.web")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
]
ASSETS = {  # URL name → (package file, content type)
    "app.js": ("static/app.js", "text/javascript; charset=utf-8"),
    "energy.js": ("static/energy.js", "text/javascript; charset=utf-8"),
    "style.css": ("static/style.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": ("static/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": ("static/vendor/uPlot.min.css", "text/css; charset=utf-8"),
    "favicon.svg": ("static/favicon.svg", "image/svg+xml"),
}
PUBLIC = ("/login", "/healthz")
MAX_BODY = 4096
MAX_NEXT = 500
ENERGY_AT_ONCE = 4  # energy answers computed at once: a year is ~0.1 s of CPU; 16 workers serve everything
HEADINGS = {  # the message page's heading for an error status
    400: N_("Bad request"), 401: N_("Login required"), 403: N_("Forbidden"), 404: N_("Not found"),
    405: N_("Method not allowed"), 408: N_("Request timeout"), 413: N_("Request too large"),
    429: N_("Too many attempts"), 500: N_("Internal error"), 503: N_("Unavailable"),
}


class Unusable(Exception):
    """The database file exists but cannot be read (not a database, damaged, wrong schema)."""


class _Discard:
    """``wsgi.errors`` for bottle: it would print every traceback there, unthrottled; pyhm logs
    each failure once through its rate-limited logger instead (``Web._error_page``)."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _package_file(name: str) -> bytes:
    return resources.files("pyhm.web").joinpath(name).read_bytes()


_HEADER_NAMES = {h[0].lower() for h in HEADERS}


def secure(app: Callable) -> Callable:
    """WSGI middleware: the security headers on every answer, errors included."""
    def wrapped(environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.errors"] = _Discard()

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            headers = [h for h in headers if h[0].lower() not in _HEADER_NAMES] + HEADERS
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return wrapped


class Web:
    """The application and what it needs: the configuration, the password, the database."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tz = zone(config.timezone)
        self.auth = Auth(config.web.credentials, config.web.session_days * 86400)
        self.assets = {name: (_package_file(path), kind) for name, (path, kind) in ASSETS.items()}
        self.templates = {name: _package_file(f"templates/{name}.tpl").decode() for name in
                          ("base", "login", "dashboard", "meter", "status", "message", "energy")}
        self._local = threading.local()
        self.summary = Summary()
        self._energy_slots = threading.BoundedSemaphore(ENERGY_AT_ONCE)
        self._metrics = metrics.registry(self.query)
        self.app = bottle.Bottle()
        self.app.config["catchall"] = True
        self.app.install(self._database_guard)
        self._routes()

    # -- plumbing -------------------------------------------------------------------------

    def wsgi(self) -> Callable:
        return secure(self.app)

    def query(self) -> Optional[Query]:
        """This thread's read-only connection (None while the acquisition has made no database)."""
        q = getattr(self._local, "query", None)
        if q is None:
            path = self.config.database.path
            try:
                q = self._local.query = Query(path, self.tz)
            except SchemaError as exc:
                if _not_made_yet(Path(path)):
                    return None
                raise Unusable(str(exc)) from None
            except sqlite3.DatabaseError as exc:
                raise Unusable(f"cannot read the database {path}: {exc}") from None
        return q

    def _forget_query(self) -> None:
        q = getattr(self._local, "query", None)
        self._local.query = None
        if q is not None:
            q.close()

    def _database_guard(self, callback: Callable) -> Callable:
        """Bottle plugin: a database that cannot be read is a clear 503 and one log line, not a 500."""
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except (Unusable, sqlite3.DatabaseError) as exc:
                self._forget_query()  # the next request opens the file again (it may be replaced)
                text = str(exc) if isinstance(exc, Unusable) else f"cannot read the database {self.config.database.path}: {exc}"
                log.error("database error: %s", text)
                if bottle.request.path == "/healthz":
                    return self.json({"status": "database-error", "fresh": False, "error": "the database cannot be read"}, 503)
                return self.problem(503, N_("the database cannot be read: see the log of pyhm web"), N_("Database error"))
        return wrapped

    def problem(self, status: int, message: str, heading: Optional[str] = None, **values: Any) -> str:
        """An error answer: JSON in English for the API (and /healthz), a message page for people
        in their language; ``values`` fill the message's {placeholders} after its translation."""
        if bottle.request.path.startswith("/api/") or bottle.request.path == "/healthz":
            return self.error(status, message.format(**values))
        bottle.response.status = status
        bottle.response.content_type = "text/html; charset=utf-8"
        tr = self.translation()
        return self.render("message", title=f"pyhm · {status}", nav=False,
                           heading=tr.gettext(heading or HEADINGS.get(status, str(status))),
                           message=tr.gettext(message).format(**values))

    def render(self, name: str, **values: Any) -> str:
        """A page in the request's language: templates get ``_``/``n_`` and the page its ``lang``."""
        lang = self.language()
        tr = i18n.translations(lang.code)
        words = {"_": tr.gettext, "n_": tr.ngettext, "lang": lang,
                 "series_name": lambda name: api.series_name(name, tr.gettext), "escape": html.escape}
        bottle.response.set_header("Vary", "Accept-Language")
        body = bottle.template(self.templates[name], **words, **values)
        return bottle.template(self.templates["base"], body=body, title=values.get("title", "pyhm"),
                               nav=values.get("nav", True), tz=zone_name(self.tz), stale=api.FRESH_S,
                               script_text=i18n.script_catalogue(lang.code), **words)

    @staticmethod
    def language() -> i18n.Language:
        """The language of this request's pages (its Accept-Language)."""
        return i18n.choose(bottle.request.environ.get("HTTP_ACCEPT_LANGUAGE", ""))  # raw: tags are ASCII, bytes never fail

    def translation(self) -> gettext.NullTranslations:
        """The catalogue of this request's language, for text Python puts on a page."""
        return i18n.translations(self.language().code)

    @staticmethod
    def client() -> str:
        return bottle.request.environ.get("REMOTE_ADDR", "?")  # never X-Forwarded-For: no proxy here

    def logged_in(self) -> bool:
        """A live session cookie, or the password over HTTP Basic (Blocked when braked)."""
        if self.auth.valid_session(bottle.request.get_cookie(COOKIE)):
            return True
        header = bottle.request.environ.get("HTTP_AUTHORIZATION", "")
        if header[:6].lower() == "basic ":
            try:
                _, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeError, ValueError):
                return False
            return self.auth.login(self.client(), password[:1024])
        return False

    def json(self, data: Any, status: int = 200) -> str:
        bottle.response.status = status
        bottle.response.content_type = "application/json"
        return data if isinstance(data, Encoded) else exactjson.dumps(data)

    def error(self, status: int, message: str, parameter: Optional[str] = None) -> str:
        body: Dict[str, Any] = {"error": message}
        if parameter:
            body["parameter"] = parameter
        return self.json(body, status)

    # -- routes ---------------------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app
        app.add_hook("before_request", self._guard)
        app.route("/login", "GET", self.login_page)
        app.route("/login", "POST", self.login)
        app.route("/logout", "POST", self.logout)
        app.route("/", "GET", self.dashboard)
        app.route("/meter/<ref>", "GET", self.meter_page)
        app.route("/status", "GET", self.status_page)
        app.route("/energy", "GET", self.energy_page)
        app.route("/energy/<ref>", "GET", self.energy_page)
        app.route("/static/<name>", "GET", self.static)
        app.route("/healthz", "GET", self.healthz)
        app.route("/api/openapi.json", "GET", lambda: self.json(OPENAPI))
        app.route("/api/meters", "GET", self.api(lambda q, p: self.summary.encoded(q)))
        app.route("/api/meters/<ref>", "GET", self.api(lambda q, p, ref: api.meter_detail(q, ref)))
        app.route("/api/series", "GET", self.api(self._series))
        app.route("/api/consumption", "GET", self.api(self._consumption))
        app.route("/api/energy", "GET", self._energy_api(self.api(self._energy)))
        app.route("/api/status", "GET", lambda: self.json(api.status(self.query())))
        app.route("/api/export", "GET", self.export)
        app.route("/metrics", "GET", self.metrics)
        for code in (400, 401, 403, 404, 405, 413, 429, 500, 503):
            app.error(code)(self._error_page)

    def _guard(self) -> None:
        path = bottle.request.path
        try:
            length = int(bottle.request.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise bottle.HTTPError(400, N_("bad Content-Length")) from None
        if length > MAX_BODY:
            raise bottle.HTTPError(413, N_("request too large"))
        if path in PUBLIC or path.startswith("/static/"):
            return
        try:
            self.auth.require_password()
            ok = self.logged_in()
        except NoPassword as exc:
            if path.startswith("/api/"):
                raise bottle.HTTPResponse(self.error(503, str(exc)), status=503)
            raise bottle.HTTPResponse(self._no_password(str(exc)), status=503)
        except Blocked as exc:
            log.warning("HTTP Basic from %s refused: too many failed logins", self.client())
            page = self.problem(429, N_("Too many attempts. Try again in {seconds} seconds."), seconds=exc.retry_after)
            raise bottle.HTTPResponse(page, status=429, headers={"Retry-After": exc.retry_after})
        if ok:
            return
        if path.startswith("/api/") or path == "/metrics":
            headers = {} if bottle.request.get_header("X-Requested-With") else {"WWW-Authenticate": 'Basic realm="pyhm"'}
            raise bottle.HTTPResponse(self.error(401, "login required"), status=401, headers=headers)
        raise bottle.HTTPResponse(status=303, headers={"Location": "/login?next=" + quote(bottle.request.fullpath)})

    def _error_page(self, err: bottle.HTTPError) -> str:
        if err.status_code == 500:
            log.error("error answering %s: %s", bottle.request.path, err.exception, exc_info=err.exception)
        message = err.body if isinstance(err.body, str) and err.status_code != 500 else N_("internal error")
        if err.status_code == 404 and message.startswith("Not found: "):  # bottle's own: no such route
            message = N_("There is no page at this address.")
        elif err.status_code == 405:
            message = N_("This address does not take this kind of request.")
        return self.problem(err.status_code, message.replace("{", "{{").replace("}", "}}"))

    def api(self, handler: Callable) -> Callable:
        """An API route: checked parameters in, JSON out; bad input is 400, unknown things 404."""
        def route(**kwargs: str) -> str:
            q = self.query()
            if q is None:
                return self.error(503, "no database yet: is the acquisition service running?")
            try:
                return self.json(handler(q, bottle.request.query, **kwargs))
            except api.BadParameter as exc:
                return self.error(400, exc.message, exc.name)
            except NotFound as exc:
                return self.error(404, str(exc))
        return route

    def _series(self, q: Query, p: Any) -> Dict[str, Any]:
        start, end = api.time_range(p, 86_400_000, self.tz)
        return api.series(q, api.checked("meter", p.get("meter"), str), api.checked("obis", p.get("obis"), api.obis),
                          start, end, api.checked("points", p.get("points"), api.points, 1000))

    def _consumption(self, q: Query, p: Any) -> Dict[str, Any]:
        start, end = api.time_range(p, 30 * 86_400_000, self.tz)
        return api.consumption(q, api.checked("meter", p.get("meter"), str),
                               api.checked("obis", p.get("obis"), api.obis, api.IMPORT),
                               api.checked("period", p.get("period"), api.period, "day"), start, end)

    def _energy_api(self, route: Callable[[], str]) -> Callable[[], str]:
        """At most ENERGY_AT_ONCE energy answers computed at a time; more get a quick 429, so
        that a burst of year requests cannot hold every worker while / and /healthz wait."""
        def limited() -> str:
            if not self._energy_slots.acquire(blocking=False):
                bottle.response.set_header("Retry-After", "1")
                return self.error(429, f"busy: {ENERGY_AT_ONCE} energy requests are being computed; try again in a second")
            try:
                return route()
            finally:
                self._energy_slots.release()
        return limited

    def _energy(self, q: Query, p: Any) -> Dict[str, Any]:
        return energy.energy(q, api.checked("meter", p.get("meter"), str),
                             api.checked("period", p.get("period"), api.period, "day"),
                             api.checked("date", p.get("date"), energy.day, None) if p.get("date") else None,
                             self.config.energy)

    def export(self) -> Any:
        p = bottle.request.query
        q = self.query()
        if q is None:
            return self.error(503, "no database yet")
        try:
            start, end = api.time_range(p, 86_400_000, self.tz)
            fmt = api.checked("format", p.get("format"), _choice("csv", "json"), "csv")
            resolution = api.checked("resolution", p.get("resolution"), _choice(*export.RESOLUTIONS), "raw")
            meter = api.meter_of(q, api.checked("meter", p.get("meter"), str))
            series = api.series_of(q, meter, api.checked("obis", p.get("obis"), api.obis))
        except api.BadParameter as exc:
            return self.error(400, exc.message, exc.name)
        except NotFound as exc:
            return self.error(404, str(exc))
        chunks = export.chunks(q, series, start, end, resolution, fmt)
        first = next(chunks)  # a database error before the first byte is still a clean 503
        name = f"{meter.label}-{series.obis}".replace(" ", "_")
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        bottle.response.content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}.{fmt}"')
        return self._stream(first, chunks)

    def _stream(self, first: str, rest: Iterator[str]) -> Iterator[str]:
        """An export as it is read, in constant memory. A failure after the first byte cannot
        change the status any more: it is logged and the connection dropped, so the client
        sees an incomplete answer rather than a short file that looks whole."""
        yield first
        try:
            yield from rest
        except sqlite3.DatabaseError as exc:
            self._forget_query()
            log.error("export from %s aborted: %s", self.config.database.path, exc)
            raise OSError(errno.EPIPE, "export aborted") from None  # the server closes quietly on EPIPE

    def static(self, name: str) -> Any:
        asset = self.assets.get(name)
        if asset is None:
            raise bottle.HTTPError(404, N_("no such file"))
        body, kind = asset
        bottle.response.content_type = kind
        return body

    def metrics(self) -> bytes:
        body, bottle.response.content_type = metrics.exposition(self._metrics, bottle.request.get_header("Accept", ""))
        return body

    def healthz(self) -> str:
        data = api.health(self.query())
        return self.json(data, 200 if data["fresh"] else 503)

    # -- pages ----------------------------------------------------------------------------

    def login_page(self) -> str:
        return self.render("login", title="pyhm · login", nav=False, error=None, next=_safe_next(), retry=None)

    def login(self) -> Any:
        client = self.client()
        password = _form("password")
        try:
            ok = self.auth.login(client, password[:1024])
        except NoPassword as exc:
            bottle.response.status = 503
            return self._no_password(str(exc))
        except Blocked as exc:
            bottle.response.status = 429
            bottle.response.set_header("Retry-After", exc.retry_after)
            return self.render("login", title="pyhm · login", nav=False, next=_safe_next(),
                               error=None, retry=int(exc.retry_after))
        if not ok:
            log.warning("failed login from %s", client)
            bottle.response.status = 401
            return self.render("login", title="pyhm · login", nav=False, next=_safe_next(), error=N_("Wrong password."),
                               retry=None)
        bottle.response.set_cookie(COOKIE, self.auth.new_session(), secure=True, httponly=True, samesite="strict",
                                   max_age=int(self.auth.session_seconds), path="/")
        _see_other(_safe_next())

    def logout(self) -> Any:
        self.auth.end_session(bottle.request.get_cookie(COOKIE))
        bottle.response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        _see_other("/login")

    def _no_password(self, message: str) -> str:
        tr = self.translation()
        return self.render("message", title="pyhm", nav=False, heading=tr.gettext(N_("Set a password first")),
                           message=tr.gettext(N_("{problem}. Then reload this page.")).format(problem=message))

    def dashboard(self) -> str:
        q = self.query()
        data = self.summary.get(q) if q is not None else {"meters": [], "acquisition": {"running": False}}
        return self.render("dashboard", title="pyhm", data=data)

    def meter_page(self, ref: str) -> str:
        q = self.query()
        if q is None:
            raise bottle.HTTPError(404, N_("no database yet"))
        try:
            detail = api.meter_detail(q, ref)
        except (NotFound, api.BadParameter):
            raise bottle.HTTPError(404, N_("There is no such meter.")) from None
        return self.render("meter", title=f"pyhm · {detail['label']}", meter=detail)

    def energy_page(self, ref: Optional[str] = None) -> str:
        """The Energy page of one meter (the first without ``ref``); the script fills it in."""
        q = self.query()
        meters = q.meters() if q is not None else []
        try:
            meter = api.meter_of(q, ref) if q is not None and ref is not None else (meters[0] if meters else None)
        except (NotFound, api.BadParameter) as exc:
            raise bottle.HTTPError(404, str(exc))
        p = bottle.request.query
        period = p.get("period") if p.get("period") in api.PERIODS else "day"
        try:
            when = energy.day(p.get("date") or "")
        except ValueError:
            when = None
        title = meter.label if meter else self.translation().gettext(N_("Energy"))
        return self.render("energy", title="pyhm · " + title, meters=meters, meter=meter,
                           period=period, date=when.isoformat() if when else "",
                           price=self.config.energy.price is not None)

    def status_page(self) -> str:
        return self.render("status", title="pyhm · " + self.translation().gettext(N_("Status")),
                           data=api.status(self.query()), advice=api.ADVICE)


def _not_made_yet(path: Path) -> bool:
    """No file yet, or one the acquisition is still creating (no tables): no database yet."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return not path.exists()
    try:
        return db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    except sqlite3.Error:
        return False
    finally:
        db.close()


def _see_other(target: str) -> None:
    """A 303 to a path on this site, carrying the cookies set on the response."""
    res = bottle.response.copy(cls=bottle.HTTPResponse)
    res.status = 303
    res.set_header("Location", target)
    raise res


def _form(name: str) -> str:
    """A form field as text ('' if absent or not UTF-8); a body that never arrives is a 408."""
    try:
        return bottle.request.forms.getunicode(name) or ""
    except OSError:  # the client sent less than its Content-Length and went quiet
        raise bottle.HTTPError(408, N_("the request body did not arrive")) from None
    except ValueError:
        raise bottle.HTTPError(400, N_("malformed form")) from None


def _safe_next() -> str:
    """Where to go after the login: a path on this site, else "/".

    Only printable ASCII without a backslash is kept: browsers drop tabs and newlines from a
    URL and read a backslash as a slash, so "/(tab)/evil.example" would leave the site."""
    target = bottle.request.query.getunicode("next") or _form("next") or "/"
    if (not target.startswith("/") or target.startswith("//") or len(target) > MAX_NEXT
            or any(not "!" <= c <= "~" or c == "\\" for c in target)):
        return "/"
    return target


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text
    return parse



