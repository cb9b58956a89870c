"""TechEmpower's ``fortune`` test: ``GET /fortunes`` -> every row of ``Fortune`` (one
query) plus one added at request time, sorted by message, as an HTML table, every
message HTML-escaped (``<``, ``>``, ``&``, ``"``, ``'``), ``text/html; charset=utf-8``.

A response is correct when it equals :func:`reference_page` after :func:`normalise`,
TechEmpower's way of comparing: markup reduced to bare tags, whitespace-only text between
tags dropped, and every character reference or escape decoded and escaped again one way,
so ``&#39;``, ``&#x27;`` and ``&apos;`` (or ``'`` left as is in text) compare equal, while
an unescaped ``<script>`` (a tag, not text) or a double escape does not.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from operator import itemgetter
from typing import Any

from asgibench.harness.db import ADDED_FORTUNE, FORTUNES, Database
from asgibench.harness.db import app as dbapp
from asgibench.harness.testtypes import TestType

CONTENT_TYPE = b"text/html; charset=utf-8"
_ACCEPT_HTML = ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
_HEAD = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
         "<tr><th>id</th><th>message</th></tr>")
_TAIL = "</table></body></html>"
_by_message = itemgetter(1)


def render(rows: list[tuple[int, str]]) -> bytes:
    """The page for ``rows``, in their order, each message escaped."""
    escape = html.escape
    cells = "".join([f"<tr><td>{row_id}</td><td>{escape(message)}</td></tr>"
                     for row_id, message in rows])
    return f"{_HEAD}{cells}{_TAIL}".encode()


async def respond(db: Database, scope: Any) -> bytes:
    """The benchmark app's route: the rows by one query, one added, sorted, rendered."""
    rows = await db.fortunes()
    rows.append(ADDED_FORTUNE)
    rows.sort(key=_by_message)
    return render(rows)


def statements(n: int) -> dict[str, tuple[int, int]]:
    """Per request: one read of Fortune, nothing else."""
    return {"world_select": (0, 0), "world_update": (0, 0), "fortune_select": (1, 1)}


def reference_page() -> bytes:
    """The correct page for TechEmpower's data, byte for byte what the benchmark app
    sends: the 12 fortunes and the added one, sorted by message, escaped."""
    rows = sorted((*FORTUNES, ADDED_FORTUNE), key=lambda row: row[1])
    body = "".join("<tr><td>{}</td><td>{}</td></tr>".format(
        row_id, message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("'", "&#x27;")) for row_id, message in rows)
    return ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            f"<tr><th>id</th><th>message</th></tr>{body}</table></body></html>").encode()


class _Normaliser(HTMLParser):
    #: Tags a page may add or leave out without changing the table.
    IGNORED = frozenset(("meta", "link", "thead", "tbody"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.text: list[str] = []

    def flush(self) -> None:
        text = "".join(self.text)
        self.text = []
        if text.strip():
            self.out.append(html.escape(text, quote=True))

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.flush()
        if tag not in self.IGNORED:
            self.out.append(f"<{tag}>")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.flush()
        if tag not in self.IGNORED:
            self.out.append(f"</{tag}>")

    def handle_decl(self, decl: str) -> None:
        self.flush()
        self.out.append(f"<!{decl.lower()}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def normalise(page: str) -> str:
    """``page`` in TechEmpower's comparable form: bare lower-case tags (attributes,
    comments, ``meta``/``link``/``thead``/``tbody`` dropped), the doctype lower-cased,
    whitespace-only text dropped, other text decoded and escaped again one way."""
    parser = _Normaliser()
    parser.feed(page)
    parser.close()
    parser.flush()
    return "".join(parser.out)


_REFERENCE = reference_page()
_REFERENCE_NORMAL = normalise(_REFERENCE.decode())
_ROW_END = re.compile(r"(?<=</tr>)")


def check_body(body: bytes) -> str | None:
    """The page equals the reference page after :func:`normalise`; else the first row
    (or part) that differs, with what was expected."""
    if body == _REFERENCE:
        return None
    try:
        page = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"body is not UTF-8: {exc}"
    got = normalise(page)
    if got == _REFERENCE_NORMAL:
        return None
    got_parts, want_parts = _ROW_END.split(got), _ROW_END.split(_REFERENCE_NORMAL)
    for index, (have, want) in enumerate(zip(got_parts, want_parts, strict=False)):
        if have != want:
            where = "the page's head" if index == 0 else f"table row {index + 1}"
            return (f"{where} differs from the reference page: got {have[:120]!r}, "
                    f"expected {want[:120]!r}")
    return (f"the page has {len(got_parts) - 1} table rows, the reference page "
            f"{len(want_parts) - 1}")


TEST_TYPE = TestType(
    name="fortune",
    path="/fortunes",
    accept=_ACCEPT_HTML,
    content_type=re.compile(r"^text/html; ?charset=(UTF|utf)-8$"),
    check_body=check_body,
    levels=(16, 32, 64, 128, 256, 512),
    quick_levels=(128,),
    ranking="best",
    weight=1.5,
    fast_bodies=(_REFERENCE,),
    description="the Fortune rows plus one, sorted, HTML-escaped, as an HTML table",
    handler=dbapp.route(respond, CONTENT_TYPE),
    canned=(CONTENT_TYPE, _REFERENCE),
    database=True,
    statements=statements,
)
