"""Resident ID numbers (居民身份证号码, GB 11643-1999): normalised and checked by their check digit."""

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l

from hotline.errors import DomainError

#: Weights of the 17 digits, and the check character for each remainder of their weighted sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]")


def normalize_id_number(raw: str | None) -> str | None:
    """``raw`` as it is stored: full-width characters made half-width, spaces and dashes dropped, x made X.

    Empty input gives None. The result is not checked: see ``check_id_number``.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw))
    text = re.sub(r"[\s\-_]", "", text).upper()
    return text or None


def id_number_problem(number: str) -> str | None:
    """Why a normalised ID number cannot be right (a message for the user), or None when it is well formed."""
    if not _SHAPE.fullmatch(number):
        return str(_l("An ID number has 18 characters: 17 digits and a digit or X."))
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return str(_l("The ID number's date of birth (characters 7 to 14) is not a date."))
    if not 1880 <= born.year <= 2100:
        return str(_l("The ID number's date of birth (characters 7 to 14) is not a date."))
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != number[17]:
        return str(_l("The ID number's check digit is wrong: a digit was mistyped."))
    return None


def check_id_number(raw: str | None) -> str | None:
    """The normalised ID number of ``raw`` (None when empty); ``DomainError`` when it cannot be right."""
    number = normalize_id_number(raw)
    if number is None:
        return None
    problem = id_number_problem(number)
    if problem:
        raise DomainError(problem)
    return number
