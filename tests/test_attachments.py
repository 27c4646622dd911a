"""Attachments: real files made here, checked by content, cleaned, kept across an
error, forwarded once inside the event."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib

import pytest
from PIL import Image
from pypdf import PdfWriter

from tests.conftest import token_of
from tests.test_form import rows
from tests.test_outbox import disk_full_for
from widget import attachments, outbox

CITY = "/f/orel-city-admin"  # allows 3 files of 5 MB, 10 MB in all
GPS_TAG = 0x8825


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (120, 80), "green")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[GPS_TAG] = {1: "N", 2: (52.0, 58.0, 0.0), 3: "E", 4: (36.0, 4.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


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


def clean_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


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


def heic() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "HEIF")
    return out.getvalue()


def post(client, token, files=(), path=CITY, **fields):
    data = {"topic": "roads", "text": "Яма во дворе, фото приложено.", "token": token, **fields}
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(path, data=data, content_type="multipart/form-data")


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


def test_a_photo_loses_its_gps_position_and_serial_number(client, app):
    original = jpeg_with_gps()
    assert GPS_TAG in Image.open(io.BytesIO(original)).getexif()
    response = post(client, fresh_token(client), [("двор.jpg", original)])
    assert response.status_code == 303
    (sent,) = forwarded(app)
    content = base64.b64decode(sent["content"])
    assert sent["name"] == "двор.jpg" and sent["type"] == "image/jpeg"
    assert sent["size"] == len(content)
    import hashlib

    assert sent["sha256"] == hashlib.sha256(content).hexdigest()
    cleaned = Image.open(io.BytesIO(content))
    assert cleaned.size == (120, 80)
    assert dict(cleaned.getexif()) == {}
    assert b"SERIAL-123456" not in content and b"PhoneMaker" not in content


def test_a_renamed_executable_is_refused_and_nothing_is_stored(client, app):
    response = post(client, fresh_token(client), [("photo.jpg", b"MZ\x90\x00" + b"\x00" * 500)])
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
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
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


def test_a_clean_pdf_is_forwarded_as_it_is(client, app):
    document = clean_pdf()
    assert post(client, fresh_token(client), [("заявление.pdf", document)]).status_code == 303
    (sent,) = forwarded(app)
    assert base64.b64decode(sent["content"]) == document and sent["type"] == "application/pdf"


def test_a_heic_photo_becomes_a_jpeg(client, app):
    assert post(client, fresh_token(client), [("IMG_0001.HEIC", heic())]).status_code == 303
    (sent,) = forwarded(app)
    assert sent["type"] == "image/jpeg" and sent["name"] == "IMG_0001.jpg"
    assert base64.b64decode(sent["content"]).startswith(b"\xff\xd8\xff")


def test_a_file_is_kept_across_a_validation_error_and_forwarded_once(client, app):
    token = fresh_token(client)
    first = post(client, token, [("yard.jpg", jpeg_with_gps())], text="")
    assert first.status_code == 422
    html = first.get_data(as_text=True)
    assert "Прикреплено: yard.jpg (" in html
    assert token_of(html) == token  # the same token: the file is bound to it
    second = post(client, token, [], text="Теперь с текстом")
    assert second.status_code == 303
    assert [a["name"] for a in forwarded(app)] == ["yard.jpg"]
    db = outbox.connect(app.config["OUTBOX_PATH"])
    assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0


def test_a_kept_file_can_be_removed(client, app):
    token = fresh_token(client)
    html = post(client, token, [("yard.jpg", jpeg_with_gps())], text="").get_data(as_text=True)
    upload_id = html.split('name="remove_attachment" type="checkbox" value="')[1].split('"')[0]
    assert post(client, token, [], remove_attachment=upload_id).status_code == 303
    assert forwarded(app) == []


def test_too_many_files_are_refused(client, app):
    files = [(f"{i}.jpg", jpeg_with_gps()) for i in range(4)]
    response = post(client, fresh_token(client), files)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Можно прикрепить не больше 3 файлов" in html
    assert html.count("Прикреплено:") == 3


def test_a_file_over_the_agencys_size_is_refused(client, app):
    big = b"\xff\xd8\xff" + b"\x00" * 5_000_001
    response = post(client, fresh_token(client), [("big.jpg", big)])
    assert response.status_code == 422
    assert "Файл «big.jpg» больше 5 МБ" in response.get_data(as_text=True)


def pdf_of(megabytes: float) -> bytes:
    """A clean PDF of about that size (a long subject in its metadata)."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Subject": "x" * int(megabytes * 1_000_000)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_files_over_the_agencys_total_are_refused_and_the_rest_kept(client, app):
    """The city takes 5 MB a file, 10 MB in all: the third 4 MB document is one too many;
    the citizen is told, sees the two kept (sizes in MB), and can still send."""
    files = [(f"{n}.pdf", pdf_of(4)) for n in ("plan", "act", "photo-report")]
    token = fresh_token(client)
    response = post(client, token, files)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Все файлы вместе должны быть не больше 10 МБ" in html
    assert html.count("Прикреплено:") == 2 and "(4 МБ)" in html
    sent = post(client, token_of(html), email="a@example.ru", consent="y")
    assert sent.status_code == 303
    assert [a["name"] for a in forwarded(app)] == ["plan.pdf", "act.pdf"]


def test_an_outbox_that_cannot_keep_a_file_keeps_the_citizens_text(client, app):
    with disk_full_for(app, "uploads"):
        response = post(client, fresh_token(client), [("yard.pdf", clean_pdf())], text="Яма, 2 м")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Яма, 2 м" in html and "не можем принять сообщение" in html


def test_a_body_over_the_service_limit_gets_the_413_page(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    response = post(client, fresh_token(client), [("big.pdf", b"%PDF-" + b"0" * 200_000)])
    assert response.status_code == 413
    assert rows(app) == []


def test_files_posted_to_an_agency_without_attachments_are_ignored(client, app):
    token = fresh_token(client, "/f/orel-school-57")
    response = post(
        client,
        token,
        [("a.jpg", jpeg_with_gps())],
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
