"""Files a citizen attaches to a message: checked as they arrive, kept under the form
token in the outbox (so that a form given back with an error keeps them), removable."""

from __future__ import annotations

from flask import current_app
from flask_babel import format_decimal, ngettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from .. import attachments, outbox
from ..agencies import Agency

ATTACHMENT_PROBLEMS = {
    attachments.Refused.TYPE: _l(
        "Файл «%(name)s» нельзя прикрепить: подходят только фотографии и документы PDF"
    ),
    attachments.Refused.BROKEN: _l("Файл «%(name)s» повреждён или не открывается"),
    attachments.Refused.TOO_BIG: _l("Фотография «%(name)s» слишком большая: уменьшите её"),
    attachments.Refused.ACTIVE: _l(
        "PDF «%(name)s» содержит скрипты или вложенные файлы, такой файл принять нельзя"
    ),
}
NAMES_SHOWN = 5  # of the files left out for being too many
TYPE_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "application/pdf": "PDF",
}


def hint(agency: Agency) -> str:
    rules = agency.attachments
    return ngettext(
        "До %(num)s файла (%(types)s), каждый не больше %(mb)s МБ, все вместе — не "
        "больше %(total)s МБ.",
        "До %(num)s файлов (%(types)s), каждый не больше %(mb)s МБ, все вместе — не "
        "больше %(total)s МБ.",
        rules.max_files,
        types=", ".join(TYPE_NAMES.get(t, t) for t in rules.types),
        mb=rules.max_mb,
        total=rules.max_total_mb,
    )


def take(
    agency: Agency, nonce: str, files: MultiDict, removed: list[str]
) -> tuple[list[outbox.Upload], list[str]]:
    """Check and keep the ``files`` sent with a post; drop the ones ticked "remove".

    Returns what is attached now, and the problems with the files just sent.
    """
    rules = agency.attachments
    db = outbox.get_db()
    if removed:
        outbox.remove_uploads(db, nonce, removed)
    kept = outbox.uploads_for(db, nonce)
    errors, left_out = [], []
    for file in files.getlist("attachments"):
        if not file or not file.filename:
            continue  # the browser sends an empty part when nothing was chosen
        name = attachments.clean_name(file.filename)
        if len(kept) >= rules.max_files:
            left_out.append(name)  # not even read: werkzeug's MAX_FORM_PARTS bounds them
            continue
        data = file.read(rules.max_mb * 1_000_000 + 1)
        if len(data) > rules.max_mb * 1_000_000:
            errors.append(
                _l(
                    "Файл «%(name)s» больше %(mb)s МБ: уменьшите его или выберите другой файл",
                    name=name,
                    mb=rules.max_mb,
                )
            )
            continue
        try:
            checked = attachments.check(name, data, set(rules.types))
        except attachments.Refused as refused:
            errors.append(ATTACHMENT_PROBLEMS[refused.reason] % {"name": name})
            continue
        if sum(u.size for u in kept) + checked.size > rules.max_total_mb * 1_000_000:
            errors.append(
                _l("Все файлы вместе должны быть не больше %(mb)s МБ", mb=rules.max_total_mb)
            )
            continue
        outbox.store_upload(
            db,
            nonce=nonce,
            agency_id=agency.id,
            name=checked.name,
            type=checked.type,
            content=checked.content,
            keep_seconds=current_app.config["TOKEN_MAX_AGE"],
        )
        kept = outbox.uploads_for(db, nonce)
    if left_out:
        errors.append(too_many(rules.max_files, left_out))
    return kept, [str(e) for e in errors]


def too_many(count: int, names: list[str]) -> str:
    """The files left out for being over the agency's count, named (the first few)."""
    shown = ", ".join(f"«{name}»" for name in names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown = str(_l("%(names)s и ещё %(more)s", names=shown, more=len(names) - NAMES_SHOWN))
    return ngettext(
        "Можно прикрепить не больше %(num)s файла. Не прикреплены: %(names)s",
        "Можно прикрепить не больше %(num)s файлов. Не прикреплены: %(names)s",
        count,
        names=shown,
    )


def file_size(size: int) -> str:
    if size < 100_000:
        return str(_l("%(kb)s КБ", kb=format_decimal(max(size / 1000, 0.1), "0.#")))
    return str(_l("%(mb)s МБ", mb=format_decimal(size / 1_000_000, "0.#")))
