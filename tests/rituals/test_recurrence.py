"""Time rules: local times across DST, checked by example and by property."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from rituals.recurrence import Pattern, Schedule

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# Zones with daylight saving in both hemispheres, odd offsets and
# half-hour shifts.
DST_ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Lisbon",
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "America/Havana",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Asia/Jerusalem",
    "Africa/Cairo",
    "America/Asuncion",
    "Asia/Tehran",
    "UTC",
]


def daily(zone: ZoneInfo, at: time, start: date) -> Schedule:
    return Schedule("FREQ=DAILY", start, at, zone)


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def test_the_same_local_time_on_both_sides_of_a_dst_change():
    schedule = daily(BERLIN, time(7, 30), date(2026, 3, 27))
    occurrences = schedule.first_n(4, datetime(2026, 3, 27, tzinfo=UTC))
    assert [local(o, BERLIN).time() for o in occurrences] == [time(7, 30)] * 4
    offsets = [local(o, BERLIN).utcoffset() for o in occurrences]
    assert offsets == [timedelta(hours=1)] * 2 + [timedelta(hours=2)] * 2


def test_a_time_in_the_spring_gap_moves_forward_by_the_gap():
    schedule = daily(BERLIN, time(2, 30), date(2026, 3, 28))
    occurrences = schedule.first_n(3, datetime(2026, 3, 28, tzinfo=UTC))
    readings = [local(o, BERLIN).replace(tzinfo=None) for o in occurrences]
    assert readings == [
        datetime(2026, 3, 28, 2, 30),
        datetime(2026, 3, 29, 3, 30),  # 02:30 does not exist that night
        datetime(2026, 3, 30, 2, 30),
    ]


def test_a_repeated_time_in_autumn_happens_once_at_its_first_occurrence():
    schedule = daily(NEW_YORK, time(1, 30), date(2026, 10, 31))
    occurrences = schedule.first_n(3, datetime(2026, 10, 31, tzinfo=UTC))
    assert len(occurrences) == 3
    first_of_november = occurrences[1]
    assert local(first_of_november, NEW_YORK).replace(tzinfo=None) == datetime(2026, 11, 1, 1, 30)
    assert local(first_of_november, NEW_YORK).utcoffset() == timedelta(hours=-4)  # EDT, the first


def test_weekly_and_monthly_patterns_round_trip_through_rrule():
    for rule in [
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        "FREQ=MONTHLY;BYMONTHDAY=15",
        "FREQ=MONTHLY;BYDAY=1FR",
        "FREQ=MONTHLY;BYDAY=-1SU",
    ]:
        assert Pattern.from_rrule(rule).to_rrule() == rule


def test_first_friday_of_the_month():
    schedule = Schedule("FREQ=MONTHLY;BYDAY=1FR", date(2026, 1, 1), time(19, 0), BERLIN)
    days = [local(o, BERLIN).date() for o in schedule.first_n(3, datetime(2026, 1, 1, tzinfo=UTC))]
    assert days == [date(2026, 1, 2), date(2026, 2, 6), date(2026, 3, 6)]


def test_the_end_date_is_the_last_day():
    schedule = Schedule(
        "FREQ=DAILY", date(2026, 5, 1), time(20, 0), BERLIN, end_date=date(2026, 5, 3)
    )
    assert (
        len(schedule.between(datetime(2026, 4, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)))
        == 3
    )


def test_previous_before_walks_back_newest_first():
    schedule = daily(BERLIN, time(7, 30), date(2026, 1, 1))
    before = datetime(2026, 1, 10, 12, tzinfo=UTC)
    past = schedule.previous_before(before, 3)
    assert [local(o, BERLIN).date() for o in past] == [
        date(2026, 1, 10),
        date(2026, 1, 9),
        date(2026, 1, 8),
    ]


zones = st.sampled_from(DST_ZONES)
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
start_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=300, deadline=None)
@given(zone_name=zones, at=times, start=start_dates)
def test_daily_rules_happen_once_per_local_day_increasing_none_skipped(zone_name, at, start):
    zone = ZoneInfo(zone_name)
    schedule = daily(zone, at, start)
    begin = datetime.combine(start, time.min).replace(tzinfo=zone).astimezone(UTC) - timedelta(
        days=1
    )
    occurrences = schedule.first_n(400, begin)
    assert len(occurrences) == 400
    assert all(a < b for a, b in itertools.pairwise(occurrences))
    days = [local(o, zone).date() for o in occurrences]
    expected = [start + timedelta(days=n) for n in range(400)]
    assert days == expected  # one per local day: none skipped, none doubled
    for o in occurrences:
        reading = local(o, zone)
        # the local time is the chosen one, or moved forward by a spring gap
        shift = datetime.combine(reading.date(), reading.time()) - datetime.combine(
            reading.date(), at
        )
        assert timedelta(0) <= shift <= timedelta(hours=1)


weekday_sets = st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1)


@settings(max_examples=200, deadline=None)
@given(
    zone_name=zones,
    at=times,
    start=start_dates,
    days=weekday_sets,
    interval=st.integers(min_value=1, max_value=4),
)
def test_weekly_rules_are_increasing_and_land_on_chosen_days(zone_name, at, start, days, interval):
    zone = ZoneInfo(zone_name)
    rule = Pattern("weekly", tuple(days), interval=interval).to_rrule()
    schedule = Schedule(rule, start, at, zone)
    begin = datetime.combine(start, time.min).replace(tzinfo=UTC) - timedelta(days=2)
    occurrences = schedule.first_n(60, begin)
    assert len(occurrences) == 60
    assert all(a < b for a, b in itertools.pairwise(occurrences))
    names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    assert all(names[local(o, zone).weekday()] in days for o in occurrences)
    local_days = [local(o, zone).date() for o in occurrences]
    assert len(set(local_days)) == len(local_days)  # never twice on one day


patterns = st.one_of(
    st.just(Pattern("daily")),
    st.builds(
        lambda days, interval: Pattern("weekly", tuple(sorted(days)), interval=interval),
        weekday_sets,
        st.integers(min_value=1, max_value=4),
    ),
    st.builds(lambda day: Pattern("monthly_day", month_day=day), st.integers(1, 31)),
    st.builds(
        lambda nth, day: Pattern("monthly_weekday", nth=nth, nth_weekday=day),
        st.sampled_from([1, 2, 3, 4, -1]),
        st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    zone_name=zones,
    at=times,
    start=start_dates,
    pattern=patterns,
    probe_days=st.integers(0, 3 * 365),
)
def test_next_and_previous_agree_with_walking_the_rule_from_its_start(
    zone_name, at, start, pattern, probe_days
):
    """Jumping ahead (Tend starts the rule near the probe) finds what walking finds."""
    zone = ZoneInfo(zone_name)
    schedule = Schedule(pattern.to_rrule(), start, at, zone)
    begin = datetime.combine(start, time.min).replace(tzinfo=UTC) - timedelta(days=2)
    probe = begin + timedelta(days=probe_days, hours=probe_days % 24)
    walked = []
    for occurrence in schedule.occurrences_after(begin):  # from the start, one step at a time
        walked.append(occurrence)
        if occurrence > probe + timedelta(days=400):
            break
    expected_next = next(o for o in walked if o > probe)
    assert schedule.next_after(probe) == expected_next
    assert schedule.includes(expected_next)
    assert not schedule.includes(expected_next + timedelta(minutes=1))
    expected_previous = [o for o in walked if o < probe][::-1][:5]
    assert schedule.previous_before(probe, 5) == expected_previous
