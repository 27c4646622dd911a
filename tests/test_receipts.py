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
