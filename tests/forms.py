"""The demo agencies' forms as a citizen fills them in, through the test client."""

from __future__ import annotations

import re

from tests.conftest import token_of

SCHOOL = "/embed/orel-school-57"
CITY = "/f/orel-city-admin"


def send(client, path=SCHOOL, token=None, **fields):
    if token is None:
        token = token_of(client.get(path).get_data(as_text=True))
    data = {"topic": "food", "text": "В столовой холодный суп.", "token": token, "website": ""}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(path, data=data)


def summary_links(html: str) -> list[str]:
    block = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return re.findall(r'href="#([^"]+)"', block.group(0)) if block else []
