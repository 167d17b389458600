"""Zone rules as yearly RRULEs (rituals/vtimezone.py); the feed tests check every zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from rituals.vtimezone import YearlyRule, parse_footer


def test_a_change_at_24_00_becomes_the_next_days_weekday_in_a_shifted_week():
    # Chile: "first Saturday of September at 24:00" is the Sunday among days 2-8.
    chile = parse_footer("<-04>4<-03>,M9.1.6/24,M4.1.6/24")
    assert chile.start.rrules() is not None
    ((rule, month),) = chile.start.rrules()
    assert rule.to_ical() == b"FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=9"
    assert month == 9
    assert chile.start.date_in(2040) == datetime(2040, 9, 2)  # 1 September 2040 is a Saturday


def test_a_shifted_week_that_spills_into_the_next_month_becomes_two_rules():
    # Egypt: "last Thursday of October at 24:00" is a Friday from 26 October to 1 November.
    egypt = parse_footer("EET-2EEST,M4.5.5/0,M10.5.4/24")
    rules = egypt.end.rrules()
    assert [rule.to_ical() for rule, _ in rules] == [
        b"FREQ=YEARLY;BYDAY=FR;BYMONTHDAY=-6,-5,-4,-3,-2,-1;BYMONTH=10",
        b"FREQ=YEARLY;BYDAY=FR;BYMONTHDAY=1;BYMONTH=11",
    ]
    assert egypt.end.date_in(2030) == datetime(2030, 11, 1)  # 31 October 2030 is a Thursday


def test_a_february_week_shifted_past_the_28th_has_no_rule_and_falls_back():
    # Its days depend on leap years; no zone has one today.
    assert YearlyRule(month=2, week=4, weekday=0, time=timedelta(hours=50)).rrules() is None
