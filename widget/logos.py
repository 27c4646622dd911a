"""Agency logos: image files in ``<instance>/logos/``, served as images only.

An SVG can carry script, event handlers, external references and XML entity bombs;
one that has any of them is refused rather than cleaned, so that what is served is
exactly the file the agency's staff can see and fix.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}\.(svg|png|jpg|jpeg)")
MIMETYPES = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
MAX_BYTES = 200_000
SVG_FORBIDDEN = {"script", "foreignobject", "iframe", "object", "embed", "handler", "listener"}


class LogoError(Exception):
    """The logo cannot be served; the message says why."""


@dataclass(frozen=True)
class Logo:
    data: bytes
    mimetype: str
    version: str  # changes with the file: for cache busting


def folder(instance: Path) -> Path:
    return instance / "logos"


def load(instance: str | Path, name: str) -> Logo:
    """The logo file ``name`` of the instance folder, checked; raises LogoError. Read
    again only when the file changes."""
    if not NAME.fullmatch(name):
        raise LogoError("a logo is a file name such as logo.svg, logo.png or logo.jpg")
    path = _path(str(instance), name)
    try:
        stat = path.stat()
    except OSError:
        raise LogoError(f"no file {name} in the logos folder") from None
    return _load(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _path(instance: str, name: str) -> Path:
    """Remembered: every page of an agency with a logo asks for its version, and joining
    and hashing new Paths cost more than the ``stat`` of the file."""
    return folder(Path(instance)) / name


@functools.lru_cache(maxsize=1024)
def _load(path: Path, mtime_ns: int, size: int) -> Logo:
    if size > MAX_BYTES:
        raise LogoError(f"the file is larger than {MAX_BYTES // 1000} KB")
    data = path.read_bytes()
    kind = path.suffix[1:]
    if kind == "svg":
        problem = svg_problem(data)
        if problem:
            raise LogoError(problem)
    elif kind == "png" and not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise LogoError("the file is not a PNG image")
    elif kind in ("jpg", "jpeg") and not data.startswith(b"\xff\xd8\xff"):
        raise LogoError("the file is not a JPEG image")
    return Logo(data, MIMETYPES[kind], f"{mtime_ns:x}{size:x}")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def svg_problem(data: bytes) -> str | None:
    """Why an SVG may not be served, or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "the SVG is not UTF-8 text"
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.I):
        return "the SVG has a DOCTYPE or entities (not allowed)"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return f"the SVG is not well-formed XML ({e})"
    if _local(root.tag) != "svg":
        return "the file is not an SVG image"
    for element in root.iter():
        tag = _local(element.tag)
        if tag in SVG_FORBIDDEN:
            return f"the SVG contains <{tag}> (not allowed)"
        for attribute, value in element.attrib.items():
            name = _local(attribute)
            if name.startswith("on"):
                return f"the SVG has an event handler ({name})"
            if "javascript:" in value.lower().replace(" ", ""):
                return "the SVG contains a javascript: URL"
            if name == "href" and not value.startswith(("#", "data:image/png", "data:image/jpeg")):
                return "the SVG refers to an outside resource (href)"
        if tag == "style" and re.search(r"url\(|@import", element.text or "", re.I):
            return "the SVG's style refers to an outside resource"
    return None
