"""The consent to the processing of personal data (152-FZ, art. 9): its words and their
version, the same for the page that shows them and for the record a message keeps."""

from __future__ import annotations

import functools
import hashlib

from babel import localedata
from babel.lists import format_list
from babel.support import Translations

from . import i18n
from .agencies import Agency


def N_(message: str) -> str:
    """Marks a string for translation (pybabel finds ``N_``); translated where used."""
    return message


# The default consent (152-FZ, art. 9): {data} becomes the personal data the form asks
# for, {operator} the agency's full name. An agency's own wording may use them too.
DEFAULT_CONSENT = N_(
    "Я даю согласие на обработку моих персональных данных, указанных в этой форме "
    "({data}), чтобы организация рассмотрела моё сообщение и ответила мне. Оператор "
    "персональных данных — {operator}. Согласие действует до достижения этой цели; я могу "
    "отозвать его, написав оператору."
)
CONSENT_DATA = {
    "name": N_("имя"),
    "email": N_("адрес электронной почты"),
    "phone": N_("номер телефона"),
    "address": N_("почтовый адрес"),
}


@functools.lru_cache(maxsize=16)
def _catalogue(lang: str) -> Translations:
    """The widget's own catalogue for ``lang`` (its source strings for Russian, or for
    a language without one), whatever language the page is in."""
    return Translations.load(str(i18n.TRANSLATIONS), [lang])


def wording(agency: Agency, lang: str) -> tuple[str, str]:
    """The consent's words and their version on a form of ``agency`` in ``lang``: the
    one place that decides both, for the page and for the record, so the version
    recorded is always that of the words shown.

    The agency's wording in ``lang``, else in its first language, with the version
    given beside that wording (followed by a hash of the words once {data} or {operator}
    are filled in; a hash alone when no version is given); else the default wording in
    ``lang``, whose version changes whenever the default words do.
    """
    for words_lang in dict.fromkeys((lang, agency.language)):
        texts = agency.texts.get(words_lang)
        if texts is not None and texts.consent:
            text = _fill_consent(texts.consent, agency, _catalogue(words_lang), words_lang)
            digest = hashlib.sha256(text.encode()).hexdigest()
            if texts.consent_version is None:
                return text, digest[:12]
            if text == texts.consent:
                return text, texts.consent_version
            # Filled in with this agency's fields and name, one wording (often a base's)
            # reads differently in each agency: each reading needs its own version.
            return text, f"{texts.consent_version}-{digest[:10]}"
    words_lang = lang if lang in i18n.catalogued() else i18n.SOURCE_LANGUAGE
    catalogue = _catalogue(words_lang)
    template = catalogue.gettext(DEFAULT_CONSENT)
    text = _fill_consent(template, agency, catalogue, words_lang)
    wording = "\n".join([template, *(catalogue.gettext(w) for w in CONSENT_DATA.values())])
    return text, "otklik-default-" + hashlib.sha256(wording.encode()).hexdigest()[:10]


def _fill_consent(template: str, agency: Agency, catalogue: Translations, lang: str) -> str:
    """``template`` with {data} (the contact fields the form shows) and {operator}."""
    words = [catalogue.gettext(CONSENT_DATA[f]) for f in agency.contact.shown()]
    locale = i18n.formatting_locale(lang)
    data = format_list(words, locale=locale if localedata.exists(locale) else i18n.SOURCE_LANGUAGE)
    return template.replace("{data}", data).replace("{operator}", agency.name)
