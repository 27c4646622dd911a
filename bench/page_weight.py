"""Page weight: what a citizen's browser downloads on a first visit to the form.

The form page, then every stylesheet, image, script, frame and font it references
(and every url() inside those stylesheets), fetched through the app itself; bytes
raw and gzip-ed (level 6, what nginx and most CDNs use), the number of requests,
JavaScript bytes, and any request to a third party.

Run: ``.venv/bin/python bench/page_weight.py``; see bench/README.md.
"""

from __future__ import annotations

import gzip
import re
import shutil
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PUBLIC_URL, ROOT, print_machine, row, shown, write_results

AGENCY = "orel-school-57"
HOST = "http://localhost"  # the test client's origin
RAW_AIM = 15_000
GZIP_AIM = 6_000
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class Subresources(HTMLParser):
    """The URLs a browser fetches while loading a page (not the links a person follows)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rel = (a.get("rel") or "").lower().split()
        if tag == "link" and a.get("href") and {"stylesheet", "icon", "preload"} & set(rel):
            self.found.append(("css" if "stylesheet" in rel else "other", a["href"]))
        elif tag == "script":
            self.found.append(("js", a.get("src") or "(inline)"))
        elif tag in ("img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
            self.found.append(("image" if tag == "img" else "other", a["src"]))
        elif tag == "object" and a.get("data"):
            self.found.append(("other", a["data"]))
        if a.get("srcset"):
            for candidate in a["srcset"].split(","):
                self.found.append(("image", candidate.split()[0]))
        if a.get("style"):
            self.found += [("image", u or i) for u, i in CSS_URL.findall(a["style"])]


def first_visit(client, path: str, top_level: bool) -> dict:
    """Fetch a page as a first-time visitor's browser would; return the tally."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    fetched = {HOST + path: ("html", page.data)}
    queue = _references(HOST + path, page.get_data(as_text=True), html=True)
    third_party, inline_js = [], 0
    while queue:
        kind, url = queue.pop(0)
        if url == "(inline)":
            inline_js += 1
            continue
        if url.startswith("data:") or url in fetched:
            continue
        if urlsplit(url).netloc != urlsplit(HOST).netloc:
            third_party.append(url)
            continue
        response = client.get(url[len(HOST) :])
        fetched[url] = (kind, response.data)
        if kind == "css":
            queue += _references(url, response.get_data(as_text=True), html=False)
    if top_level and not re.search(r'<link[^>]+rel="[^"]*icon', page.get_data(as_text=True)):
        # a browser asks for /favicon.ico when a top-level page (not a frame) names no icon
        response = client.get("/favicon.ico")
        fetched[HOST + "/favicon.ico"] = (f"favicon ({response.status_code})", response.data)
    everything = b"".join(body for _, body in fetched.values())
    js = sum(len(body) for kind, body in fetched.values() if kind == "js")
    return {
        "requests": len(fetched) + len(third_party),
        "raw": len(everything),
        "gzip": sum(len(gzip.compress(body, 6)) for _, body in fetched.values()),
        "js_bytes": js,
        "inline_scripts": inline_js,
        "third_party": third_party,
        "parts": {url[len(HOST) :]: (kind, len(body)) for url, (kind, body) in fetched.items()},
    }


def _references(base: str, text: str, html: bool) -> list[tuple[str, str]]:
    if html:
        parser = Subresources()
        parser.feed(text)
        found = parser.found
    else:
        found = [("image", u or i) for u, i in CSS_URL.findall(text)]
    return [(kind, url if url == "(inline)" else urljoin(base, url)) for kind, url in found]


def main() -> None:
    from widget import create_app

    print_machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-weight-") as tmp:
        instance = Path(tmp) / "instance"
        shutil.copytree(ROOT / "instance" / "agencies", instance / "agencies")
        app = create_app({"secret_key": "bench", "public_url": PUBLIC_URL}, instance_path=instance)
        client = app.test_client()
        for kind, label in (("embed", "in an iframe"), ("f", "standalone page")):
            path = f"/{kind}/{AGENCY}"
            tally = first_visit(client, path, top_level=kind == "f")
            parts = ", ".join(f"{p} {k} {n} B" for p, (k, n) in tally["parts"].items())
            print(f"{path} ({label}): {parts}", flush=True)
            name = f"first visit {path.replace(AGENCY, '<agency>')}"
            rows += [
                row(
                    f"{name}: bytes raw",
                    tally["raw"],
                    "B",
                    aim=f"< {RAW_AIM}",
                    ok=tally["raw"] < RAW_AIM,
                    note=parts,
                ),
                row(
                    f"{name}: bytes gzip-ed",
                    tally["gzip"],
                    "B",
                    aim=f"< {GZIP_AIM}",
                    ok=tally["gzip"] < GZIP_AIM,
                ),
                row(f"{name}: requests", tally["requests"], "requests"),
                row(
                    f"{name}: JavaScript",
                    tally["js_bytes"] + tally["inline_scripts"],
                    "B + inline scripts",
                    aim="0",
                    ok=tally["js_bytes"] == 0 and tally["inline_scripts"] == 0,
                ),
                row(
                    f"{name}: third-party requests",
                    len(tally["third_party"]),
                    "requests",
                    aim="0",
                    ok=not tally["third_party"],
                    note=" ".join(tally["third_party"]),
                ),
            ]
    path = write_results("page_weight", rows)
    print(f"# wrote {shown(path)}", flush=True)


if __name__ == "__main__":
    main()
