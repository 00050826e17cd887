"""The county's zone is configured once (HOTLINE_TIMEZONE) and checked at start."""

from datetime import timedelta

import pytest

from hotline.timeutil import LOCAL_TZ, LOCAL_UTC_OFFSET, _local_zone


def test_default_zone_is_shanghai_at_utc_plus_8():
    assert LOCAL_TZ.key == "Asia/Shanghai"
    assert timedelta(hours=8) == LOCAL_UTC_OFFSET


def test_a_fixed_offset_zone_is_taken_with_its_offset():
    zone, offset = _local_zone("Asia/Kolkata")
    assert zone.key == "Asia/Kolkata"
    assert offset == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("name", "message"),
    [("Europe/Berlin", "daylight saving time"), ("Nowhere/Atlantis", "not a known time zone")],
)
def test_a_zone_the_reports_cannot_count_in_stops_start_up_naming_the_setting(name, message):
    with pytest.raises(ValueError, match=message) as error:
        _local_zone(name)
    assert str(error.value).startswith(f"HOTLINE_TIMEZONE: {name!r}")
