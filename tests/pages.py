"""The one checker every rendered page in the tests goes through."""

from __future__ import annotations

import re
from collections import Counter

import html5lib

EXPECTED_CSP = [
    "default-src 'none'",
    "script-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
]

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data", "cite", "ping"}


def check_response(response) -> None:
    assert "Set-Cookie" not in response.headers, "promise 2: no response sets a cookie"
    if response.status_code in (301, 302, 303, 304, 307, 308):
        return
    csp = response.headers.get("Content-Security-Policy", "")
    for part in EXPECTED_CSP:
        assert part in csp, f"CSP lacks {part!r}: {csp!r}"
    assert "frame-ancestors" in csp
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    if response.mimetype == "text/html":
        if response.request.method != "HEAD":  # a HEAD has the page's headers, no body
            check_html(response.get_data(as_text=True))
        assert response.headers["Cache-Control"] == "no-store"


def check_html(html: str) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document = parser.parse(html)  # raises on any parse error
    elements = list(document.iter())
    ids = Counter(el.get("id") for el in elements if el.get("id"))
    duplicates = [i for i, n in ids.items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    assert not [el for el in elements if el.tag == "script"], "promise 1: a <script> element"
    for el in elements:
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), f"promise 1: event handler {name}"
            if name.lower() in URL_ATTRIBUTES:  # a field's value may say "javascript:"
                assert not re.match(r"\s*javascript:", value, re.I), "promise 1: javascript: URL"
    for el in elements:
        href = el.get("href") or ""
        if href.startswith("#") and len(href) > 1:
            assert href[1:] in ids, f"a link to #{href[1:]}, which is not on the page"
        if el.tag == "label" and el.get("for"):
            assert el.get("for") in ids, f"a label for {el.get('for')!r}, which is not on the page"
    for form in (el for el in elements if el.tag == "form"):
        assert form.get("action", "").startswith("/"), "a form posts to our own path"
    assert document.find(".//title") is not None and document.find(".//title").text
    assert document.get("lang"), "<html lang> is set"
