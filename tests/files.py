"""Files as citizens send them, made here: phone photos, a phone's HEIC, a screenshot, a
scanned multi-page PDF.

What matters about a real photo is that its bytes look random: every byte value, CR and
LF included, turns up anywhere, which is what a multipart parser must cope with (a file
of zeros never finds its bugs). Each photo carries what a phone writes: camera make and
model, orientation, the time, the GPS position. Every file is made from a seed, so a
failing test fails the same way again, and once per test process (``functools.cache``):
a 12-megapixel photo takes half a second to make.
"""

from __future__ import annotations

import functools
import io
import itertools
import random
import re
import zlib

from PIL import Image, ImageDraw, ImageFont
from pillow_heif import register_heif_opener

register_heif_opener()

# EXIF tags a phone writes
MAKE, MODEL, ORIENTATION, DATE_TIME, SERIAL, GPS = 0x010F, 0x0110, 0x0112, 0x0132, 0xA431, 0x8825
ROTATED = 6  # "turn 90° clockwise to view": a phone held upright
PHONE = {MAKE: "Apple", MODEL: "iPhone 13", SERIAL: "F2LXK9Q1HG7M"}
# Red Square, Orel: 52°58′N 36°04′E
GPS_OREL = {1: "N", 2: (52.0, 58.0, 3.5), 3: "E", 4: (36.0, 4.0, 11.2), 5: 0, 6: 152.0}
PHOTO_SIZE = (4032, 3024)  # a 12-megapixel phone camera, held sideways
JPEG_SEGMENT = 65_533  # the most a JPEG marker segment holds
BOUNDARY = "----WebKitFormBoundaryq3NKu3bvDZ7bE9lT"  # as Chromium names its boundaries


def _exif(orientation: int = ROTATED) -> Image.Exif:
    exif = Image.Exif()
    exif.update(PHONE)
    exif[ORIENTATION] = orientation
    exif[DATE_TIME] = "2026:04:21 08:14:03"
    exif[GPS] = GPS_OREL
    return exif


def _scene(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A street: sky fading to the ground, with blobs of colour for cars and trees."""
    width, height = size
    fade = Image.linear_gradient("L").resize(size)
    scene = Image.merge(
        "RGB",
        (
            fade.point(lambda v: 90 + v // 3),
            fade.point(lambda v: 140 + v // 4),
            fade.point(lambda v: 230 - v // 5),
        ),
    )
    draw = ImageDraw.Draw(scene)
    for _ in range(25):
        x, y = rng.randrange(width), rng.randrange(height // 3, height)
        r = rng.randrange(width // 20, width // 5)
        draw.ellipse(
            (x - r, y - r // 2, x + r, y + r // 2), fill=tuple(rng.choices(range(40, 200), k=3))
        )
    return scene


def _noisy(size: tuple[int, int], seed: int, noise: float) -> Image.Image:
    """A scene under the sensor noise of a phone camera in poor light."""
    rng = random.Random(seed)
    grain = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return Image.blend(_scene(size, rng), grain, noise)


def _pad_jpeg(jpeg: bytes, size: int, seed: int) -> bytes:
    """``jpeg`` grown to exactly ``size`` bytes by comment segments of random bytes, placed
    after its EXIF as a phone places its maker notes and depth map."""
    missing = size - len(jpeg)
    if missing == 0:
        return jpeg
    if missing < 4:
        raise ValueError("too little room for a segment")
    rng = random.Random(seed)
    segments = []
    while missing:
        payload = min(missing - 4, JPEG_SEGMENT - 2)
        if 0 < missing - 4 - payload < 4:  # leave enough for the last segment's header
            payload -= 4
        segments.append(b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + rng.randbytes(payload))
        missing -= 4 + payload
    at = 2  # after the markers that come first (APP0 JFIF, APP1 EXIF)
    while jpeg[at] == 0xFF and 0xE0 <= jpeg[at + 1] <= 0xEF:
        at += 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
    return jpeg[:at] + b"".join(segments) + jpeg[at:]


def _filler(made: bytes, size: int, overhead: int, seed: int) -> bytes:
    """The random bytes that, with ``overhead`` bytes of their own box or chunk around
    them, grow the file ``made`` to exactly ``size`` bytes."""
    missing = size - len(made) - overhead
    if missing < 0:
        raise ValueError(f"{len(made)} + {overhead} bytes are more than {size}")
    return random.Random(seed).randbytes(missing)


@functools.cache
def photo(size: int = 3_000_000, seed: int = 1) -> bytes:
    """A phone's JPEG of exactly ``size`` bytes (from about 1 MB): 12 megapixels of noisy
    street at quality 90, EXIF with make, model, serial number, orientation and GPS."""
    dimensions, typical = (PHOTO_SIZE, 3_000_000) if size > 2_000_000 else ((2016, 1512), 800_000)
    noise = 0.1 * 0.95 * size / typical  # a noise of 0.1 makes about ``typical`` bytes
    while True:  # more noise, more bytes: about in proportion
        out = io.BytesIO()
        _noisy(dimensions, seed, noise).save(out, "JPEG", quality=90, exif=_exif())
        made = len(out.getvalue())
        if 0.7 * size <= made <= size - 4:
            return _pad_jpeg(out.getvalue(), size, seed)
        noise *= 0.95 * size / made


@functools.cache
def heic(seed: int = 2, size: int | None = None) -> bytes:
    """An iPhone's HEIC (about 1 MB; x265 is slow, so a smaller picture than a phone's),
    or of exactly ``size`` bytes: grown by a ``free`` box of random bytes at its end, a
    box every HEIF reader skips."""
    out = io.BytesIO()
    _noisy((1344, 1008), seed, 0.1).save(
        out, "HEIF", quality=80, exif=_exif(), enc_params={"preset": "ultrafast"}
    )
    made = out.getvalue()
    if size is None:
        return made
    data = _filler(made, size, 8, seed)
    return made + (8 + len(data)).to_bytes(4, "big") + b"free" + data


@functools.cache
def screenshot(seed: int = 3, size: int | None = None) -> bytes:
    """A phone's screenshot as PNG (1170 × 2532): a coloured bar, a gradient banner, lines
    of text on flat white; or of exactly ``size`` bytes, grown by a private chunk of random
    bytes after the header, where phones put their metadata chunks."""
    rng = random.Random(seed)
    shot = Image.new("RGB", (1170, 2532), "white")
    shot.paste(Image.linear_gradient("L").rotate(90).resize((1170, 400)).convert("RGB"), (0, 140))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1170, 140), fill=(13, 76, 211))
    font = ImageFont.load_default(size=34)
    draw.text((60, 50), "9:41   Gosuslugi", fill="white", font=font)
    for line in range(20):
        y = 600 + line * 90
        number = rng.randrange(1000, 9999)
        draw.text((60, y), f"Request {number}: in progress", fill=(40, 40, 40), font=font)
        draw.line((40, y + 70, 1130, y + 70), fill=(220, 220, 220), width=2)
    draw.rounded_rectangle((60, 2380, 1110, 2480), radius=24, fill=(0, 120, 60))
    out = io.BytesIO()
    shot.save(out, "PNG")
    made = out.getvalue()
    if size is None:
        return made
    kind, data = b"prVt", _filler(made, size, 12, seed)  # an ancillary, private chunk
    chunk = len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    return made[:header_end] + chunk + made[header_end:]


@functools.cache
def scan(pages: int = 3, seed: int = 4, noise: float = 0.12, size: int | None = None) -> bytes:
    """A scanned document as a PDF: ``pages`` A4 pages at 150 dpi, lines of text under a
    scanner's grain (about 0.5 MB a page; more ``noise``, more bytes); or of exactly
    ``size`` bytes, grown as a signing tool grows one (see _pad_pdf)."""
    rng = random.Random(seed)
    font = ImageFont.load_default(size=28)
    images = []
    for number in range(1, pages + 1):
        page = Image.new("L", (1240, 1754), 245)
        draw = ImageDraw.Draw(page)
        draw.text((100, 60), f"Act No. {rng.randrange(100, 999)}, page {number}", fill=0, font=font)
        for line in range(40):
            draw.text(
                (100, 140 + line * 38),
                f"{line + 1}. Lenina St. 12: a hole 2 m wide",
                fill=30,
                font=font,
            )
        grain = Image.frombytes("L", page.size, rng.randbytes(page.width * page.height))
        images.append(Image.blend(page, grain, noise))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue() if size is None else _pad_pdf(out.getvalue(), size, seed)


def _pad_pdf(pdf: bytes, size: int, seed: int) -> bytes:
    """``pdf`` grown to exactly ``size`` bytes by an incremental update, as a signing or
    annotating tool appends one: a stream of random bytes that nothing refers to, its
    cross-reference section, and a trailer pointing back to the first."""
    trailer = pdf[pdf.rindex(b"trailer") :]
    number = int(re.search(rb"/Size (\d+)", trailer)[1])
    root = re.search(rb"/Root (\d+ \d+ R)", trailer)[1]
    previous = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    data = random.Random(seed).randbytes(max(size - len(pdf), 0))

    def update(length: int) -> bytes:
        stream = b"\n%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
            number,
            length,
            data[:length],
        )
        xref_at = len(pdf) + len(stream)
        return stream + (
            b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n"
            % (number, len(pdf) + 1, number + 1, root, previous, xref_at)
        )

    length = len(data)
    for _ in range(5):  # the numbers' digits change the length a little: try again
        grown = pdf + update(length)
        if len(grown) == size:
            return grown
        length += size - len(grown)
        if length < 0:
            raise ValueError("too little room for an update")
    raise ValueError(f"cannot make a PDF of {size} bytes")


def scan_spelling(name: bytes, pages: int = 4, noise: float = 0.2) -> bytes:
    """A scan whose pictures' compressed bytes happen to spell the PDF name ``name`` (such
    as ``/JS``), as one scan in ten of 2.5 MB does for /JS: the first seed that makes
    one, from a seed that does with this machine's Pillow."""
    spelt = re.compile(re.escape(name) + rb"[^A-Za-z0-9#]")
    for seed in itertools.count(107):
        document = scan(pages, seed, noise)
        if spelt.search(document):
            return document
    raise AssertionError("unreachable")


TYPES = {
    ".jpg": "image/jpeg",
    ".heic": "image/heic",
    ".png": "image/png",
    ".pdf": "application/pdf",
}


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A form body exactly as Chromium sends it (files under ``attachments``), and its
    Content-Type. Its length is known to the byte, for tests at a size limit."""
    parts = []
    for name, value in fields.items():
        parts.append(
            f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
        )
    for filename, content in files:
        quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        kind = TYPES.get(filename[filename.rfind(".") :].lower(), "application/octet-stream")
        head = (
            f'Content-Disposition: form-data; name="attachments"; filename="{quoted}"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        )
        parts.append(head.encode() + content)
    delimiter = f"--{BOUNDARY}\r\n".encode()
    body = b"".join(delimiter + part + b"\r\n" for part in parts) + f"--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"
