"""Per-customer calibration summaries (frequency, recency, age, mean repeat spend) and their validation.

BG/NBD and Gamma-Gamma see a customer only through these four numbers, so this is the one boundary where
bad data is caught: every check names the customer and the value, because a crash deep inside scipy or a
fit on impossible histories (a repeat purchase at age 0, a last purchase after the end of calibration) would
otherwise produce plausible-looking but meaningless parameters.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import LtvInputError
from .units import TimeUnit

FloatArray = NDArray[np.float64]

# Recency and age come from dates divided by a unit, so allow rounding in the last printed digit.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CustomerSummaries:
    """Calibration-period summaries, one entry per customer, all durations in ``time_unit``.

    frequency: repeat transactions (the first purchase is not counted); recency: age at the last repeat
    transaction (0 when there is none); T: age at the end of calibration; monetary_value: mean spend of the
    repeat transactions (0 when there are none), used only by Gamma-Gamma; spend_frequency: how many repeat
    transactions monetary_value is the mean of, when that is not all of them (a $0 purchase is a purchase for
    BG/NBD but no draw from Gamma-Gamma's spend distribution, whose values are > 0); None means frequency.
    """

    customer_ids: tuple[Hashable, ...]
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    time_unit: TimeUnit
    monetary_value: FloatArray | None = None
    spend_frequency: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.customer_ids)

    @property
    def spend_x(self) -> FloatArray:
        """Gamma-Gamma's x: the number of repeat transactions whose mean is monetary_value."""
        return self.frequency if self.spend_frequency is None else self.spend_frequency

    @classmethod
    def from_arrays(
        cls,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
        time_unit: TimeUnit,
        monetary_value: Sequence[float] | FloatArray | None = None,
        customer_ids: Sequence[Hashable] | None = None,
        spend_frequency: Sequence[float] | FloatArray | None = None,
    ) -> CustomerSummaries:
        """Build and validate; raises LtvInputError naming the first customer at fault."""
        x = _as_vector("frequency", frequency)
        t_x = _as_vector("recency", recency)
        age = _as_vector("T", T)
        m = None if monetary_value is None else _as_vector("monetary_value", monetary_value)
        x_m = None if spend_frequency is None else _as_vector("spend_frequency", spend_frequency)
        ids = tuple(range(len(x))) if customer_ids is None else tuple(customer_ids)
        lengths = {len(x), len(t_x), len(age), len(ids)} | {len(v) for v in (m, x_m) if v is not None}
        if len(lengths) != 1:
            raise LtvInputError(
                f"frequency, recency, T, monetary_value and customer_ids must have one entry per customer; "
                f"got lengths frequency={len(x)}, recency={len(t_x)}, T={len(age)}, ids={len(ids)}"
                + (f", monetary_value={len(m)}" if m is not None else "")
                + (f", spend_frequency={len(x_m)}" if x_m is not None else "")
            )
        summaries = cls(ids, x, t_x, age, TimeUnit(time_unit), m, x_m)
        summaries.validate()
        return summaries

    def validate(self) -> None:
        """Check each customer's history is one the models can have produced."""
        x, t_x, age = self.frequency, self.recency, self.T
        _first_bad(self, ~np.isclose(x, np.round(x)) | (x < 0), "frequency must be a whole number >= 0", x)
        _first_bad(self, age < 0, f"T (age at calibration end, in {self.time_unit.value}) must be >= 0", age)
        _first_bad(self, t_x < 0, "recency must be >= 0", t_x)
        _first_bad(
            self, t_x > age + _TOLERANCE, "recency (age at last purchase) cannot exceed T (age at calibration end)", t_x
        )
        _first_bad(
            self,
            (x > 0) & (t_x <= 0),
            "a customer with repeat purchases (frequency > 0) must have recency > 0; recency 0 means no repeat",
            t_x,
        )
        _first_bad(self, (x == 0) & (t_x != 0), "a customer with no repeat purchase must have recency 0", t_x)
        if self.spend_frequency is not None:
            x_m = self.spend_frequency
            _first_bad(
                self,
                ~np.isclose(x_m, np.round(x_m)) | (x_m < 0) | (x_m > x),
                "spend_frequency must be a whole number from 0 to frequency",
                x_m,
            )
        if self.monetary_value is not None:
            m, x_m = self.monetary_value, self.spend_x
            _first_bad(self, (x_m > 0) & (m <= 0), "mean repeat spend must be > 0 for a customer with repeats", m)
            _first_bad(self, m < 0, "mean repeat spend cannot be negative", m)


def _as_vector(name: str, values: Sequence[float] | FloatArray) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LtvInputError(f"{name}: expected numbers, got {values!r:.80}") from exc
    if array.ndim != 1:
        raise LtvInputError(f"{name}: expected one value per customer (a 1-d sequence), got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise LtvInputError(f"{name}: value at position {bad[0]} is {array[bad[0]]}; every value must be finite")
    return array


def _first_bad(summaries: CustomerSummaries, mask: NDArray[np.bool_], rule: str, values: FloatArray) -> None:
    bad = np.flatnonzero(mask)
    if bad.size:
        i = int(bad[0])
        raise LtvInputError(
            f"customer {summaries.customer_ids[i]!r} (position {i}): {rule}; got frequency={summaries.frequency[i]:g}, "
            f"recency={summaries.recency[i]:g}, T={summaries.T[i]:g}, offending value {values[i]:g} "
            f"({bad.size} customer(s) break this rule). Fix the summary or drop the customer before fitting."
        )
