"""Time arithmetic the generator shares with the tests: the merchant's clock, months and the support team's
business hours."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OPEN_HOUR, CLOSE_HOUR = 9, 17  # the support schedule, Monday to Friday, UTC
BUSINESS_DAY_MINUTES = (CLOSE_HOUR - OPEN_HOUR) * 60
MIDNIGHT = time()


class MerchantClock:
    """The merchant's wall clock. Days, months and times of day (sign-ups, renewals, the export's midnight) are the
    merchant's local ones; every instant it hands out is UTC, so durations added to it afterwards are real elapsed
    time across daylight-saving changes, and an epoch written from it is the UTC instant of that local time."""

    def __init__(self, zone: str = "UTC") -> None:
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}: expected an IANA name such as Australia/Sydney") from None
        self.name = zone
        # A merchant in UTC (the default) reads its days with datetime's own UTC, which astimezone() hands back
        # as it is, instead of a ZoneInfo conversion: the same dates, asked for a million times at 10,000 customers.
        self._local = UTC if zone == "UTC" else self.zone
        # (day, whole hour) -> its UTC instant: month ends and renewals ask for the same local midnights and
        # renewal hours about once per customer-month, a zone lookup each time; a few days x 24 hours at most
        self._hours: dict[tuple[date, time], datetime] = {}
        # day -> its midnight: the most asked for, keyed by the day alone (a date keeps its hash; a tuple of it
        # and a time is made and hashed at every call)
        self._midnights: dict[date, datetime] = {}

    def at(self, day: date, wall: time = MIDNIGHT) -> datetime:
        """The UTC instant at which the merchant's clock shows `wall` on `day` (midnight by default)."""
        if wall is MIDNIGHT:
            instant = self._midnights.get(day)
            if instant is None:
                instant = self._midnights[day] = datetime.combine(day, wall, self.zone).astimezone(UTC)
            return instant
        if wall.minute or wall.second or wall.microsecond:
            return datetime.combine(day, wall, self.zone).astimezone(UTC)
        instant = self._hours.get((day, wall))
        if instant is None:
            instant = self._hours[(day, wall)] = datetime.combine(day, wall, self.zone).astimezone(UTC)
        return instant

    def day_of(self, moment: datetime) -> date:
        """The merchant's calendar day of an instant."""
        return moment.astimezone(self._local).date()

    def wall_time(self, moment: datetime) -> time:
        """The merchant's time of day at an instant."""
        return moment.astimezone(self.zone).time()


# A moment's sub-second part as timedeltas made once: timedelta(0, 0, n) parses its arguments and sums them
# (0.3 us; looking two of these up and subtracting both, 0.14). Every ticket's moments are cut to whole seconds
# and the CRM's to milliseconds.
MICROSECONDS = tuple(timedelta(microseconds=n) for n in range(1000))
MILLISECONDS = tuple(timedelta(milliseconds=n) for n in range(1000))


@cache  # pure, and asked for the same few thousand (month, offset) pairs millions of times
def add_months(day: date, months: int) -> date:
    """The same day-of-month `months` later, clamped to the 28th so every month has it."""
    month_index = day.month - 1 + months
    return date(day.year + month_index // 12, month_index % 12 + 1, min(day.day, 28))


def month_start(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)


# moment.replace(hour=h, minute=0, second=0, microsecond=0) is 0.58 us (keyword arguments); the same datetime
# made by datetime.combine from the moment's date, an hour's time of the same fold and its tzinfo is 0.12 us.
_OPENING = (time(OPEN_HOUR), time(OPEN_HOUR, fold=1))
_CLOSING = (time(CLOSE_HOUR), time(CLOSE_HOUR, fold=1))
_DAYS = tuple(timedelta(days=n) for n in range(8))


def _at(moment: datetime, hour: tuple[time, time]) -> datetime:
    """`moment` at the start of the hour `hour` holds (its date, zone and fold kept)."""
    return datetime.combine(moment.date(), hour[moment.fold], moment.tzinfo)


def _next_open(moment: datetime) -> datetime:
    """The first business minute at or after `moment`."""
    while True:
        if moment.weekday() >= 5:
            moment = _at(moment + _DAYS[7 - moment.weekday()], _OPENING)
        elif moment.hour < OPEN_HOUR:
            moment = _at(moment, _OPENING)
        elif moment.hour >= CLOSE_HOUR:
            moment = _at(moment + ONE_DAY, _OPENING)
        else:
            return moment


ONE_DAY, WEEKEND, SIX_DAYS, ONE_WEEK = _DAYS[1], _DAYS[3], _DAYS[6], _DAYS[7]
BUSINESS_DAYS_A_WEEK = range(5)
BUSINESS_DAY = timedelta(hours=CLOSE_HOUR - OPEN_HOUR)
FULL_DAY_MINUTES = BUSINESS_DAY.total_seconds() / 60  # what a whole business day adds, as the loops compute it


def _next_business_morning(opening: datetime) -> datetime:
    """The next business day's opening after `opening`, itself a business day's opening (what _next_open gives
    for that day's close)."""
    return opening + (WEEKEND if opening.weekday() == 4 else ONE_DAY)


def add_business_minutes(start: datetime, minutes: float) -> datetime:
    """`start` plus `minutes` of business time (Mon-Fri 09:00-17:00 UTC)."""
    moment = _next_open(start)
    close = _at(moment, _CLOSING)
    available = (close - moment).total_seconds() / 60
    if minutes <= available:
        return moment + timedelta(minutes=minutes)
    remaining = minutes - available
    moment = _next_business_morning(close - BUSINESS_DAY)  # _next_open(close), without its calendar lookups
    # Whole business days from that opening on: `remaining` less 480 minutes while it is above 480. Each such
    # subtraction is exact (480 is a whole number, the result is below 2**53 and a multiple of remaining's
    # ulp), so n of them are remaining - 480 * n; n is found without the loop and its edges checked exactly.
    days = max(0, math.ceil(remaining / FULL_DAY_MINUTES) - 1)
    while days and remaining - FULL_DAY_MINUTES * (days - 1) <= FULL_DAY_MINUTES:
        days -= 1
    while remaining - FULL_DAY_MINUTES * days > FULL_DAY_MINUTES:
        days += 1
    remaining -= FULL_DAY_MINUTES * days
    weeks, days = divmod(days, 5)  # five business days are a calendar week from any business-day opening
    moment += timedelta(7 * weeks)  # days
    for _ in range(days):
        moment = _next_business_morning(moment)
    return moment + timedelta(minutes=remaining)


def business_minutes_between(start: datetime, end: datetime) -> float:
    """Business minutes from `start` to `end` (0 when end is not after start)."""
    total, moment = 0.0, _next_open(start)
    if moment >= end:
        return total
    close = _at(moment, _CLOSING)
    total += (min(close, end) - moment).total_seconds() / 60
    # Every later moment is a business day's opening: whole days add the same minutes, in the same order.
    moment = _next_business_morning(close - BUSINESS_DAY)  # _next_open(close)
    # The loop of a day at a time, with its datetime arithmetic hoisted: a day is whole when its opening is at
    # or before `end` less a business day (its close at or before `end`).
    last_whole_opening = end - BUSINESS_DAY
    # A week at a time first: the five business days from an opening open within six days of it, so when that
    # is at or before the last whole opening all five are whole (the same five additions, in the same order),
    # and the sixth opens a week later. A ticket still open at the export is measured over months.
    last_whole_week = last_whole_opening - SIX_DAYS
    while moment <= last_whole_week:
        for _ in BUSINESS_DAYS_A_WEEK:
            total += FULL_DAY_MINUTES
        moment += ONE_WEEK
    while moment < end:
        if moment <= last_whole_opening:
            total += FULL_DAY_MINUTES
        else:
            total += (end - moment).total_seconds() / 60
        moment += WEEKEND if moment.weekday() == 4 else ONE_DAY
    return total
