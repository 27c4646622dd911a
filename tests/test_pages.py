"""The page checker itself: it must refuse what a browser or a validator would."""

from __future__ import annotations

import pytest

from tests.pages import check_html

VALID = """<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Сообщение — Школа № 57</title>
</head>
<body><main id="main"><h1>Написать в организацию</h1></main></body>
</html>
"""


def test_a_valid_page_passes():
    check_html(VALID)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # html5lib parses each of these without a murmur; none of them is valid HTML
        ('<meta name="responsive-embedded-sizing">', "meta"),
        ('<meta property="og:locale">', "meta"),
        ('<img src="/logo/x">', "alt"),
        ('<button type="send">Отправить</button>', "type"),
        ('<a href="https://школа 57.рф/">сайт</a>', "href"),
        ('<label for="name">Имя</label><input id="name" type="txt">', "type"),
    ],
)
def test_invalid_html_is_refused(change, named):
    with pytest.raises(AssertionError, match="not valid HTML") as caught:
        check_html(VALID.replace("<h1>", change + "<h1>"))
    assert named in str(caught.value)
