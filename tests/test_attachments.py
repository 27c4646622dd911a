"""Attachments: real files made here, checked by content, cleaned, kept across an
error, forwarded once inside the event."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import struct
import time
import zlib

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from tests import files
from tests.conftest import token_of, write_agency
from tests.outbox_db import disk_full_for, rows
from widget import attachments, outbox

CITY = "/f/orel-city-admin"  # allows 3 files of 5 MB, 10 MB in all
TYPED = {  # what a citizen typed beside the files, which every answer must keep
    "topic": "roads",
    "text": "Яма во дворе дома 12 по ул. Ленина, глубиной 20 см 😡 Фото прилагаю",
    "name": "Пётр Иванов",
    "email": "p.ivanov@example.ru",
    "consent": "y",
}


def png_bomb() -> bytes:
    """A valid PNG header claiming 30,000 × 30,000 pixels, a few bytes long."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def pdf_with_javascript(name: bytes = b"/JavaScript") -> bytes:
    """A one-page PDF that runs a script when opened (its action's /S is ``name``)."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue().replace(
        b"/Type /Catalog",
        b"/Type /Catalog /OpenAction << /S " + name + b" /JS (app.alert\\(1\\)) >>",
    )


def post(client, token, attached=(), path=CITY, **fields):
    """Send the form as Chromium does, with the files ``attached`` (name, bytes)."""
    values = {"topic": "roads", "text": "Яма во дворе, фото приложено.", "token": token, **fields}
    body, content_type = files.multipart(values, list(attached))
    return client.post(path, data=body, content_type=content_type)


def kept_what_was_typed(html: str) -> bool:
    return (
        TYPED["text"] in html
        and 'value="roads" checked' in html
        and f'value="{TYPED["name"]}"' in html
        and f'value="{TYPED["email"]}"' in html
    )


def fresh_token(client, path=CITY) -> str:
    return token_of(client.get(path).get_data(as_text=True))


def forwarded(app) -> list[dict]:
    (row,) = rows(app)
    return json.loads(row["event"])["data"]["attachments"]


def test_the_form_offers_files_only_when_the_agency_allows_them(client):
    city = client.get(CITY).get_data(as_text=True)
    assert 'type="file"' in city and 'enctype="multipart/form-data"' in city
    assert "До 3 файлов (JPEG, PNG, HEIC, PDF), каждый не больше 5 МБ" in city
    school = client.get("/f/orel-school-57").get_data(as_text=True)
    assert 'type="file"' not in school and "multipart" not in school


@pytest.mark.parametrize(
    ("size", "taken"),
    [(1_000_000, (1512, 2016)), (3_800_000, (3024, 4032)), (5_000_000, (3024, 4032))],
)
def test_a_phone_photo_is_taken_upright_without_its_exif(client, app, size, taken):
    """Photos as phones take them, up to exactly the agency's 5 MB: taken, turned upright
    (the phone was held upright, its EXIF said so) and stripped of EXIF."""
    original = files.photo(size)
    exif = Image.open(io.BytesIO(original)).getexif()
    assert exif.get_ifd(files.GPS) and exif[files.ORIENTATION] == files.ROTATED
    response = post(client, fresh_token(client), [("IMG_2041.JPG", original)], **TYPED)
    assert response.status_code == 303
    (sent,) = forwarded(app)
    content = base64.b64decode(sent["content"])
    assert sent["name"] == "IMG_2041.JPG" and sent["type"] == "image/jpeg"
    assert sent["size"] == len(content)
    assert sent["sha256"] == hashlib.sha256(content).hexdigest()
    cleaned = Image.open(io.BytesIO(content))
    assert cleaned.size == taken
    assert dict(cleaned.getexif()) == {}
    for trace in (b"iPhone 13", b"Apple", b"F2LXK9Q1HG7M", b"2026:04:21"):
        assert trace not in content


def test_a_phone_heic_becomes_a_jpeg_without_its_exif(client, app):
    original = files.heic()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(files.GPS)
    response = post(client, fresh_token(client), [("IMG_0001.HEIC", original)], **TYPED)
    assert response.status_code == 303
    (sent,) = forwarded(app)
    content = base64.b64decode(sent["content"])
    assert sent["type"] == "image/jpeg" and sent["name"] == "IMG_0001.jpg"
    converted = Image.open(io.BytesIO(content))
    assert converted.format == "JPEG" and converted.size == (1344, 1008)
    assert dict(converted.getexif()) == {} and b"iPhone" not in content


def test_a_screenshot_stays_a_png(client, app):
    response = post(client, fresh_token(client), [("Снимок экрана.png", files.screenshot())])
    assert response.status_code == 303
    (sent,) = forwarded(app)
    shot = Image.open(io.BytesIO(base64.b64decode(sent["content"])))
    assert sent["type"] == "image/png" and shot.size == (1170, 2532)
    assert sent["name"] == "Снимок экрана.png"


def test_a_scanned_pdf_is_forwarded_as_it_is(client, app):
    document = files.scan(pages=4)
    assert len(PdfReader(io.BytesIO(document)).pages) == 4
    response = post(client, fresh_token(client), [("акт осмотра.pdf", document)])
    assert response.status_code == 303
    (sent,) = forwarded(app)
    assert base64.b64decode(sent["content"]) == document and sent["type"] == "application/pdf"


def test_a_scan_is_not_refused_for_what_the_bytes_of_its_pictures_spell(client, app):
    """A scanned page is a JPEG: bytes that look random, where /JS, the name of a PDF's
    script, turns up once in about 20 MB. What runs is read from the PDF's objects, so
    the scan goes through (one scanned PDF in ten of 2.5 MB was refused)."""
    document = files.scan_spelling(b"/JS")
    response = post(client, fresh_token(client), [("акт осмотра.pdf", document)], **TYPED)
    assert response.status_code == 303, response.get_data(as_text=True)
    (sent,) = forwarded(app)
    assert base64.b64decode(sent["content"]) == document


def test_a_renamed_executable_is_refused_and_nothing_is_stored(client, app):
    program = b"MZ\x90\x00\x03\x00\x00\x00" + random.Random(5).randbytes(300_000)
    response = post(client, fresh_token(client), [("photo.jpg", program)])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Файл «photo.jpg» нельзя прикрепить" in html
    assert 'href="#attachments"' in html
    assert rows(app) == []


def test_a_png_decompression_bomb_is_refused(client, app):
    response = post(client, fresh_token(client), [("map.png", png_bomb())])
    assert response.status_code == 422
    assert "слишком большая" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", [b"/JavaScript", b"/J#61vaScript"])
def test_a_pdf_with_javascript_is_refused(client, app, name):
    response = post(client, fresh_token(client), [("акт.pdf", pdf_with_javascript(name))])
    assert response.status_code == 422
    assert "содержит скрипты" in response.get_data(as_text=True)


def test_a_pdf_with_an_embedded_file_is_refused():
    writer = PdfWriter(clone_from=io.BytesIO(files.scan(pages=2)))
    writer.add_attachment("virus.exe", b"MZ")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(attachments.Refused) as refused:
        attachments.check("a.pdf", out.getvalue(), {"application/pdf"})
    assert refused.value.reason == attachments.Refused.ACTIVE


def test_a_fake_pdf_is_refused():
    with pytest.raises(attachments.Refused) as refused:
        attachments.check("a.pdf", b"%PDF-1.7\nnot really\n%%EOF", {"application/pdf"})
    assert refused.value.reason == attachments.Refused.BROKEN


def test_a_file_is_kept_across_a_validation_error_and_forwarded_once(client, app):
    token = fresh_token(client)
    first = post(client, token, [("IMG_2041.jpg", files.photo(1_000_000))], text="")
    assert first.status_code == 422
    html = first.get_data(as_text=True)
    assert "Прикреплено: IMG_2041.jpg (" in html
    assert token_of(html) == token  # the same token: the file is bound to it
    second = post(client, token, [], text="Теперь с текстом")
    assert second.status_code == 303
    assert [a["name"] for a in forwarded(app)] == ["IMG_2041.jpg"]
    db = outbox.connect(app.config["OUTBOX_PATH"])
    assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0


def test_a_kept_file_can_be_removed(client, app):
    token = fresh_token(client)
    html = post(client, token, [("IMG_2041.jpg", files.photo(1_000_000))], text="").get_data(
        as_text=True
    )
    upload_id = html.split('name="remove_attachment" type="checkbox" value="')[1].split('"')[0]
    assert post(client, token, [], remove_attachment=upload_id).status_code == 303
    assert forwarded(app) == []


def test_a_flood_429_still_lists_the_files_kept_under_the_token(client, app, instance):
    """Two tries with photos and no text, then the address's attempts are used up: the
    429 gives the form back with the photos still listed (they are kept, and go with
    the message once it is sent)."""
    base = instance / "agencies" / "_bases" / "orel.toml"
    base.write_text(
        base.read_text().replace('per_ip = "5 per hour"', 'attempts_per_ip = "2 per hour"')
    )
    token = fresh_token(client)
    assert post(client, token, album(1), text="").status_code == 422
    assert post(client, token, album(2)[1:], text="").status_code == 422
    flooded = post(client, token, [], text="Теперь с текстом")
    assert flooded.status_code == 429
    html = flooded.get_data(as_text=True)
    assert "IMG_2041.jpg (" in html and "IMG_2042.jpg (" in html
    assert token_of(html) == token


def album(count: int, size: int = 1_000_000) -> list[tuple[str, bytes]]:
    """``count`` different photos, named as a phone names them."""
    return [(f"IMG_{2041 + n}.jpg", files.photo(size, seed=n)) for n in range(count)]


def test_files_over_the_agencys_count_are_named_and_the_rest_kept(client, app):
    response = post(client, fresh_token(client), album(5), **TYPED)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        "Можно прикрепить не больше 3 файлов. Не прикреплены: «IMG_2044.jpg», «IMG_2045.jpg»"
        in (html)
    )
    assert html.count("Прикреплено:") == 3 and "Прикреплено: IMG_2043.jpg" in html
    assert kept_what_was_typed(html)
    sent = post(client, token_of(html), **TYPED)
    assert sent.status_code == 303
    assert [a["name"] for a in forwarded(app)] == ["IMG_2041.jpg", "IMG_2042.jpg", "IMG_2043.jpg"]


def test_a_whole_album_chosen_at_once_gets_the_form_back_not_a_413(client, app):
    """A citizen who picks 45 screenshots (under the service's 20 MiB together) is told how
    many files the agency takes, and keeps the text and the first three."""
    shots = [(f"Screenshot_{n}.png", files.screenshot()) for n in range(45)]
    response = post(client, fresh_token(client), shots, **TYPED)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Можно прикрепить не больше 3 файлов" in html and html.count("Прикреплено:") == 3
    assert kept_what_was_typed(html)


def test_a_file_over_the_agencys_size_is_named_and_the_rest_kept(client, app):
    """5,000,000 bytes is the city's 5 MB; one byte more is refused, by name, and the
    form comes back with everything the citizen typed and the other photo kept."""
    attached = [("IMG_2041.jpg", files.photo(5_000_001)), ("IMG_2042.jpg", files.photo(1_000_000))]
    response = post(client, fresh_token(client), attached, **TYPED)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Файл «IMG_2041.jpg» больше 5 МБ: уменьшите его или выберите другой файл" in html
    assert "Прикреплено: IMG_2042.jpg (" in html and html.count("Прикреплено:") == 1
    assert kept_what_was_typed(html)
    assert rows(app) == []


LIMIT = 5_000_000  # the city's max_mb, in bytes
KINDS = {  # each kind of file a citizen sends, of exactly ``size`` bytes; what it is sent as
    "IMG_2041.JPG": (lambda size: files.photo(size), "image/jpeg", "IMG_2041.JPG"),
    "IMG_0001.HEIC": (lambda size: files.heic(size=size), "image/jpeg", "IMG_0001.jpg"),
    "Снимок экрана.png": (lambda size: files.screenshot(size=size), "image/png", None),
    "акт осмотра.pdf": (lambda size: files.scan(7, noise=0.2, size=size), "application/pdf", None),
}


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT])
def test_each_kind_of_file_at_and_just_under_the_agencys_size_is_taken(client, app, name, size):
    make, kind, sent_as = KINDS[name]
    response = post(client, fresh_token(client), [(name, make(size))], **TYPED)
    assert response.status_code == 303, response.get_data(as_text=True)
    (sent,) = forwarded(app)
    assert (sent["type"], sent["name"]) == (kind, sent_as or name)


@pytest.mark.parametrize("name", KINDS)
def test_each_kind_of_file_a_byte_over_the_agencys_size_is_named_and_the_text_kept(
    client, app, name
):
    make, _kind, _sent_as = KINDS[name]
    response = post(client, fresh_token(client), [(name, make(LIMIT + 1))], **TYPED)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"Файл «{name}» больше 5 МБ: уменьшите его или выберите другой файл" in html
    assert kept_what_was_typed(html) and "Прикреплено:" not in html
    assert rows(app) == []


def test_files_of_exactly_the_agencys_total_are_taken_and_a_byte_more_is_not(client, app):
    """The city takes 10 MB in all: three scans (forwarded as they are) of 5, 4 and 1 MB
    make exactly that. With the last one byte larger, that one is refused, and the two
    before it and the text are kept."""

    def scans(last: int) -> list[tuple[str, bytes]]:
        return [
            ("plan.pdf", files.scan(7, noise=0.2, size=5_000_000)),
            ("act.pdf", files.scan(6, noise=0.2, size=4_000_000)),
            ("photo-report.pdf", files.scan(1, noise=0.2, size=last)),
        ]

    over = post(client, fresh_token(client), scans(1_000_001), **TYPED)
    assert over.status_code == 422
    html = over.get_data(as_text=True)
    assert "Все файлы вместе должны быть не больше 10 МБ" in html
    assert html.count("Прикреплено:") == 2 and kept_what_was_typed(html)
    assert rows(app) == []
    at = post(client, fresh_token(client), scans(1_000_000), **TYPED)
    assert at.status_code == 303
    assert [a["size"] for a in forwarded(app)] == [5_000_000, 4_000_000, 1_000_000]


def test_files_over_the_agencys_total_are_refused_and_the_rest_kept(client, app):
    """The city takes 5 MB a file, 10 MB in all: the third 4 MB document is one too many;
    the citizen is told, sees the two kept (sizes in MB), and can still send."""
    scans = [files.scan(pages=7, seed=n, noise=0.2) for n in range(3)]
    assert all(4_000_000 < len(s) < 5_000_000 for s in scans)
    attached = [
        (f"{n}.pdf", s) for n, s in zip(("plan", "act", "photo-report"), scans, strict=True)
    ]
    token = fresh_token(client)
    response = post(client, token, attached)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Все файлы вместе должны быть не больше 10 МБ" in html
    assert html.count("Прикреплено:") == 2 and " МБ)" in html
    sent = post(client, token_of(html), email="a@example.ru", consent="y")
    assert sent.status_code == 303
    assert [a["name"] for a in forwarded(app)] == ["plan.pdf", "act.pdf"]


def test_as_many_photos_as_allowed_each_of_the_largest_size_are_taken(client, app, instance):
    """5 photos of exactly 5 MB (25 MB, over the 20 MiB the service once took), for an
    agency that takes 5 files and 20 MB in all: read, re-encoded, all five sent."""
    write_agency(
        instance,
        "orel-photo-archive",
        'name = "Фотоархив"\nregion = "57"\nrouting_key = "57.culture.orel-photo-archive"\n'
        '[[topics]]\nid = "roads"\ntitle = "Дороги"\n'
        "[attachments]\nmax_files = 5\nmax_total_mb = 20\n",
    )
    path = "/f/orel-photo-archive"
    response = post(client, fresh_token(client, path), album(5, 5_000_000), path=path, **TYPED)
    assert response.status_code == 303
    assert [a["name"] for a in forwarded(app)] == [name for name, _ in album(5, 5_000_000)]


def test_as_many_photos_as_allowed_each_of_the_largest_size_get_no_413(client, app):
    """The city's three 5 MB photos make 15 MB: read and answered on the field (all three
    together are over its 10 MB once re-encoded, or taken), never the 413 page."""
    response = post(client, fresh_token(client), album(3, size=5_000_000), **TYPED)
    assert response.status_code in (303, 422)
    if response.status_code == 422:
        html = response.get_data(as_text=True)
        assert "Все файлы вместе должны быть не больше 10 МБ" in html
        assert kept_what_was_typed(html)


def test_an_outbox_that_cannot_keep_a_file_keeps_the_citizens_text(client, app):
    with disk_full_for(app, "uploads"):
        response = post(client, fresh_token(client), [("yard.pdf", files.scan())], text="Яма, 2 м")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Яма, 2 м" in html and "не можем принять сообщение" in html


def test_files_posted_to_an_agency_without_attachments_are_ignored(client, app):
    token = fresh_token(client, "/f/orel-school-57")
    response = post(
        client,
        token,
        [("IMG_2041.jpg", files.photo(1_000_000))],
        path="/f/orel-school-57",
        topic="food",
        email="a@example.ru",
        consent="y",
    )
    assert response.status_code == 303
    assert forwarded(app) == []


def test_abandoned_uploads_are_purged_after_the_token_age(app):
    db = outbox.connect(app.config["OUTBOX_PATH"])
    outbox.store_upload(
        db,
        nonce="old",
        agency_id="a",
        name="a.jpg",
        type="image/jpeg",
        content=b"x",
        keep_seconds=3600,
    )
    db.execute("UPDATE uploads SET created_at = ?", [time.time() - 7200])
    db.conn.commit()
    outbox.store_upload(
        db,
        nonce="new",
        agency_id="a",
        name="b.jpg",
        type="image/jpeg",
        content=b"y",
        keep_seconds=3600,
    )
    assert [u.name for u in outbox.uploads_for(db, "old")] == []
    assert [u.name for u in outbox.uploads_for(db, "new")] == ["b.jpg"]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("C:\\Users\\ivan\\photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\u202e.jpg", "ab.jpg"),
        ("", "file"),
        ("..", "file"),
    ],
)
def test_file_names_are_cleaned(given, shown):
    assert attachments.clean_name(given) == shown


@pytest.mark.parametrize(
    "count, hint, over",
    [
        (1, "До 1 файла (", "не больше 1 файла."),
        (3, "До 3 файлов (", "не больше 3 файлов."),
        (5, "До 5 файлов (", "не больше 5 файлов."),
    ],
)
def test_the_number_of_files_is_said_in_good_russian(client, instance, count, hint, over):
    """«до 1 файла», «до 3 файлов»: never «не больше 1 файлов». (An agency takes 10 files
    at most, so Russian needs no more than the source's two forms: 1, and the others.)"""
    write_agency(
        instance,
        "orel-one-photo",
        'name = "Одно фото"\nregion = "57"\nrouting_key = "57.culture.orel-one-photo"\n'
        'languages = ["ru", "en"]\n[[topics]]\nid = "roads"\ntitle = "Дороги"\n'
        f"[attachments]\nmax_files = {count}\n",
    )
    path = "/f/orel-one-photo"
    assert hint in client.get(path).get_data(as_text=True)
    if count < 5:  # six photos take long to make
        response = post(client, fresh_token(client, path), album(count + 1), path=path)
        assert over in response.get_data(as_text=True)
    english = client.get(path + "?lang=en").get_data(as_text=True)
    assert ("Up to 1 file (" if count == 1 else f"Up to {count} files (") in english
