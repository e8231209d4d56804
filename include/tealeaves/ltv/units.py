"""The time unit every BG/NBD quantity is measured in.

BG/NBD parameters only mean something together with their unit: alpha is in the same unit as recency and T,
so a model fitted in weeks predicts nonsense if it is handed a horizon in days. Keeping the unit on the
fit result makes that mistake impossible to make silently.
"""

from __future__ import annotations

from enum import StrEnum

DAYS_PER_MONTH = 365.25 / 12


class TimeUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"

    @property
    def days(self) -> float:
        """Length of one unit in days (a month is an average Gregorian month, 30.4375 days)."""
        return {TimeUnit.DAYS: 1.0, TimeUnit.WEEKS: 7.0, TimeUnit.MONTHS: DAYS_PER_MONTH}[self]

    def from_days(self, days: float) -> float:
        return days / self.days

    def from_months(self, months: float) -> float:
        return months * DAYS_PER_MONTH / self.days
