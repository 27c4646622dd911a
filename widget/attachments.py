"""Attachments: photos and documents checked by their content, never by their name.

Images are decoded and re-encoded with Pillow, which drops EXIF (GPS position,
device serial numbers) and neutralises polyglot files; HEIC/HEIF photos become JPEG.
A PDF must parse as a PDF and carry no JavaScript, launch actions or embedded
files. This module knows nothing of Flask.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

register_heif_opener()

MAX_PIXELS = 40_000_000  # a 40-megapixel photo; anything larger is refused as a bomb
JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"
PDF = "application/pdf"
KNOWN = {JPEG, PNG, HEIC, "image/heif", PDF}
# Actions that run something or send data somewhere, and names that hide files or script.
PDF_DANGERS = {
    "/JavaScript",
    "/JS",
    "/Launch",
    "/EmbeddedFile",
    "/EmbeddedFiles",
    "/SubmitForm",
    "/ImportData",
    "/RichMedia",
    "/XFA",
    "/GoToE",
}
# The raw bytes are searched too, for objects pypdf may not reach, but only for the names
# long enough that compressed data does not spell them by chance: in the bytes of a scan's
# pictures, which look random, /JS turns up once in about 20 MB and /XFA once in 6 GB,
# the shortest of the others, /GoToE, once in 400 TB. A script needs /JavaScript as well;
# both short names are found where they mean something, in the objects (_walk).
RAW_DANGERS = {name for name in PDF_DANGERS if len(name) > 5}


class Refused(Exception):
    """The file cannot be accepted. ``reason`` is one of the constants below."""

    TYPE = "type"  # not an allowed kind of file
    BROKEN = "broken"  # claims to be a kind it is not, or cannot be read
    TOO_BIG = "too_big"  # too many pixels
    ACTIVE = "active"  # a PDF with script, actions or embedded files

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    name: str
    type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def sniff(head: bytes) -> str | None:
    """The file's type from its first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"mif1",
        b"msf1",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
    ):
        return HEIC
    if head.lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
        return PDF
    return None


def allowed_types(types: list[str]) -> set[str]:
    """The agency's list, with HEIF counted as HEIC."""
    return {HEIC if t == "image/heif" else t for t in types}


def check(name: str, data: bytes, allowed: set[str]) -> Checked:
    """Check one uploaded file; return what will be stored, or raise Refused."""
    kind = sniff(data[:32])
    if kind is None or kind not in allowed_types(list(allowed)):
        raise Refused(Refused.TYPE)
    name = clean_name(name)
    if kind == PDF:
        check_pdf(data)
        return Checked(name, PDF, data)
    return _reencode(name, data, kind)


def _reencode(name: str, data: bytes, kind: str) -> Checked:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise Refused(Refused.TOO_BIG)
            image.load()
            image = ImageOps.exif_transpose(image)  # keep the photo upright without EXIF
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused(Refused.TOO_BIG) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Refused(Refused.BROKEN) from None
    out = io.BytesIO()
    if kind == PNG:
        image.save(out, "PNG", optimize=True)  # no text chunks, no EXIF
        return Checked(name, PNG, out.getvalue())
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(out, "JPEG", quality=85, optimize=True)  # no EXIF, no ICC comment
    if kind == HEIC:
        name = str(PurePosixPath(name).with_suffix(".jpg"))
    return Checked(name, JPEG, out.getvalue())


def check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise Refused(Refused.BROKEN)
    if _names_in(data) & RAW_DANGERS:
        raise Refused(Refused.ACTIVE)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Refused(Refused.BROKEN)  # cannot be checked, nor read by staff
        seen: set[int] = set()
        _walk(reader.trailer["/Root"], seen)
        for page in reader.pages:
            _walk(page, seen)
    except Refused:
        raise
    except (PdfReadError, KeyError, ValueError, TypeError, RecursionError, AttributeError):
        raise Refused(Refused.BROKEN) from None


def _names_in(data: bytes) -> set[str]:
    """PDF names in the raw bytes, with #xx escapes decoded (/J#61vaScript)."""
    names = set()
    for raw in re.findall(rb"/[A-Za-z0-9#]+", data):
        names.add(
            re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), raw).decode("latin-1")
        )
    return names


def _walk(obj, seen: set[int], depth: int = 0) -> None:
    """Look through every object reachable from ``obj`` (object streams included)."""
    if depth > 200:
        raise Refused(Refused.BROKEN)
    if isinstance(obj, IndirectObject):
        key = (obj.idnum, obj.generation)
        if key in seen:
            return
        seen.add(key)
        obj = obj.get_object()
    if isinstance(obj, DictionaryObject):
        if set(obj.keys()) & PDF_DANGERS or obj.get("/S") in PDF_DANGERS:
            raise Refused(Refused.ACTIVE)
        if obj.get("/Subtype") in ("/FileAttachment", "/RichMedia", "/Movie", "/Sound"):
            raise Refused(Refused.ACTIVE)
        for key, value in obj.items():
            if key != "/Parent":
                _walk(value, seen, depth + 1)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            _walk(value, seen, depth + 1)


def clean_name(name: str) -> str:
    """A file name fit to show and to forward: no folders, no control characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(c for c in unicodedata.normalize("NFC", base) if c.isprintable())
    base = base.strip(" .")[-100:]
    return base or "file"
