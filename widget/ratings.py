"""The citizen's rating of an answer: was the question solved, how satisfied they are,
and an optional comment. The form is checked here; ``submissions.Intake.rate`` takes
it the way every post is taken, and ``events.build_rated`` makes its event."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from . import forms

SOLVED = ("yes", "partly", "no")
SCORES = (5, 4, 3, 2, 1)  # the best first: the order a citizen reads them in
COMMENT_MAX = 1000
# In the order the rating form asks them: what its error summary follows.
FIELD_ORDER = ("solved", "score", "comment")

SOLVED_WORDS = {"yes": _l("Да"), "partly": _l("Частично"), "no": _l("Нет")}
SCORE_WORDS = {
    5: _l("5 — очень доволен"),
    4: _l("4 — доволен"),
    3: _l("3 — так себе"),
    2: _l("2 — недоволен"),
    1: _l("1 — совсем недоволен"),
}


@dataclass(frozen=True)
class Rating:
    """One rating as it was given (``comment``: None once delivered and forgotten)."""

    solved: str
    score: int
    comment: str | None
    rated_at: float


class RatingForm(FlaskForm):
    Meta = forms.FeedbackForm.Meta  # no session CSRF (our token), WTForms' words translated

    solved = RadioField(
        _l("Ваш вопрос решён?"),
        choices=[SelectChoice(value, words) for value, words in SOLVED_WORDS.items()],
        filters=[forms.strip_blank],
        validators=[DataRequired(_l("Ответьте, решён ли ваш вопрос"))],
        validate_choice=False,
    )
    score = RadioField(
        _l("Насколько вы довольны ответом?"),
        choices=[SelectChoice(str(n), SCORE_WORDS[n]) for n in SCORES],
        filters=[forms.strip_blank],
        validators=[InputRequired(_l("Выберите оценку от 1 до 5"))],
        validate_choice=False,
    )
    comment = TextAreaField(
        _l("Комментарий"),
        filters=[forms.strip_blank, forms.unify_newlines],
        validators=[
            Length(max=COMMENT_MAX, message=_l("Комментарий должен быть не длиннее 1000 символов"))
        ],
    )
    token = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.solved.data and self.solved.data not in SOLVED:
            self.solved.errors = [_l("Ответьте, решён ли ваш вопрос")]
            valid = False
        if self.score.data and self.score.data not in {str(n) for n in SCORES}:
            self.score.errors = [_l("Выберите оценку от 1 до 5")]
            valid = False
        text = self.comment.data or ""
        if forms.BAD_CHARACTERS.search(text) or forms.BIDI_CONTROLS.search(text):
            self.comment.data = forms.BIDI_CONTROLS.sub("", forms.BAD_CHARACTERS.sub("", text))
            self.comment.errors = [forms.BAD_CHARACTERS_MESSAGE]
            valid = False
        return valid

    def rating(self, now: float) -> Rating:
        return Rating(self.solved.data, int(self.score.data), self.comment.data or None, now)
