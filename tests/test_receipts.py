"""Receipt numbers: readable aloud, typed back in any way, and unguessable."""

from __future__ import annotations

from widget import receipts


def test_receipts_are_eight_readable_characters_and_every_one_is_random():
    made = [receipts.new() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for receipt in made:
        assert len(receipt) == 9 and receipt[4] == "-"
        assert receipts.normalize(receipt) == receipt
        assert not set(receipt.replace("-", "")) & set("ILOU")
    for position in (0, 1, 2, 3, 5, 6, 7, 8):  # no position is stuck or narrowed
        assert {r[position] for r in made} == set(receipts.ALPHABET)


def test_a_receipt_read_over_the_phone_is_understood():
    assert receipts.normalize("k7m29qxd") == "K7M2-9QXD"
    assert receipts.normalize(" K7M2 9QXD ") == "K7M2-9QXD"
    assert receipts.normalize("O1LI-ABCD") == "0111-ABCD"
    assert receipts.normalize("K7M2-9QX") is None


def test_a_receipt_typed_on_a_russian_keyboard_is_understood():
    # А В Е К М Н О Р С Т Х look like Latin letters; a citizen copying K7M2-9QXD from
    # paper on a Russian layout types the Cyrillic ones, in either case.
    assert receipts.normalize("ВТНJ-9QХD") == "BTHJ-9QXD"
    assert receipts.normalize("втнj-9qхd") == "BTHJ-9QXD"
    assert receipts.normalize("АВЕК МНОР") == "ABEK-MH0P"  # О is O, then 0
    assert receipts.normalize("СТХА-СТХА") == "CTXA-CTXA"
    assert receipts.normalize("ЖЖЖЖ-ЖЖЖЖ") is None  # no look-alike: not a receipt


def test_the_done_page_opens_for_a_receipt_typed_in_cyrillic(client):
    from tests.conftest import receipt_in, token_of

    look_alikes = str.maketrans("ABEKMHOPCTX", "АВЕКМНОРСТХ")
    for _ in range(3):  # a receipt has no look-alike letter once in 30: send again
        form = client.get("/embed/orel-school-57")
        posted = client.post(
            "/embed/orel-school-57",
            data={
                "token": token_of(form.get_data(as_text=True)),
                "topic": "food",
                "text": "В столовой второй день холодный суп 🥣, дети жалуются",
                "email": "mama.kati@example.ru",
                "consent": "y",
            },
        )
        assert posted.status_code == 303, posted.get_data(as_text=True)
        receipt = receipt_in(posted.headers["Location"])
        typed = receipt.translate(look_alikes).lower()
        if typed != receipt.lower():
            break
    assert typed != receipt.lower(), "three receipts without a look-alike letter"
    page = client.get(f"/embed/orel-school-57/done/{typed}")
    assert page.status_code == 200
    assert receipt in page.get_data(as_text=True)
