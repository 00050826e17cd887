"""Times on pages: stored in UTC, shown in Asia/Shanghai, the same whichever formatter draws them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask_babel import format_datetime

from hotline.formatting import NUMERIC_PATTERNS, localtime

INSTANTS = [
    datetime(2025, 12, 31, 16, 0, 0, tzinfo=UTC),  # midnight of New Year in Shanghai
    datetime(2026, 2, 16, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 7, 1, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),  # any zone comes in
    datetime(2026, 3, 8, 1, 2, 3),  # naive: UTC
]


@pytest.mark.parametrize("pattern", sorted(NUMERIC_PATTERNS))
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_numeric_patterns_match_babel(app, pattern, locale):
    with app.test_request_context(headers={"Accept-Language": locale}):
        for instant in INSTANTS:
            assert localtime(instant, pattern) == format_datetime(instant, pattern)


def test_times_are_shown_in_shanghai(app):
    with app.test_request_context():
        assert localtime(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == "2026-01-01 00:00"
        assert localtime(datetime(2025, 12, 31, 16, 0, tzinfo=UTC), "MM-dd HH:mm") == "01-01 00:00"
        assert localtime(None) == ""


def test_other_patterns_still_go_through_babel(app):
    with app.test_request_context():
        assert localtime(datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "EEEE") == "星期一"


def test_money_from_a_database_sum_is_shown_like_any_amount():
    """PostgreSQL sums a bigint column as numeric: the Decimal of a whole number of fen reads as money."""
    from decimal import Decimal

    from hotline.formatting import format_yuan

    assert format_yuan(Decimal("123456")) == format_yuan(123456) == "¥1,234.56"
    assert format_yuan(Decimal("-50")) == "-¥0.50"
