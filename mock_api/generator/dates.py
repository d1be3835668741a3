"""Calendar arithmetic on integer day numbers (days since 1970-01-01), vectorised.

Dates are plain ``int64`` day numbers inside the generator: they sort, subtract and broadcast
like numbers, and are turned into ``YYYY-MM-DD`` text only when a file is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

_EPOCH = date(1970, 1, 1)


def day_number(value: date) -> int:
    """The day number of a calendar date."""
    return (value - _EPOCH).days


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def previous_business_day(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays back to Friday, as payroll and benefit deposits are."""
    wd = weekday(days)
    return days - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))


def iso_dates(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings for day numbers."""
    return np.datetime_as_string(np.asarray(days, dtype="int64").astype("datetime64[D]"), unit="D")


@dataclass(frozen=True)
class MonthGrid:
    """Every calendar month touching a range of days: first day number, length, month of year."""

    start: np.ndarray
    length: np.ndarray
    month_of_year: np.ndarray

    @classmethod
    def covering(cls, first_day: int, last_day: int) -> MonthGrid:
        first = np.datetime64(int(first_day), "D").astype("datetime64[M]")
        last = np.datetime64(int(last_day), "D").astype("datetime64[M]")
        months = np.arange(first, last + 1)
        start = months.astype("datetime64[D]").astype(np.int64)
        end = (months + 1).astype("datetime64[D]").astype(np.int64)
        month_of_year = months.astype(np.int64) % 12 + 1
        return cls(start=start, length=end - start, month_of_year=month_of_year)

    def __len__(self) -> int:
        return len(self.start)

    def index_of(self, days: np.ndarray) -> np.ndarray:
        """The grid index of the month each day falls in."""
        return np.searchsorted(self.start, days, side="right") - 1

    def last_day(self) -> np.ndarray:
        return self.start + self.length - 1
