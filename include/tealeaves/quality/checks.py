"""What a suite module declares: a GX expectation, and whether its failure holds the marts back.

Kept free of any Great Expectations import at runtime, so `from tealeaves.quality import Check` is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

Severity = Literal["blocking", "warning"]
SEVERITIES: tuple[str, ...] = get_args(Severity)


@dataclass(frozen=True)
class Check:
    """One expectation of a suite.

    `blocking`: a failure stops the run at the gate, so BI keeps reading the last good marts.
    `warning`: a failure is stored and reported, and publishing goes ahead; for numbers that are odd
    rather than wrong.
    `needs_inputs`: the check holds only when the mart's required exports are present ("the mart is not
    empty"); for a company without them (no subscriptions, no CRM) the gate runs it as a warning and says why
    (marts.mart_source_coverage).
    """

    expectation: Expectation
    severity: Severity = "blocking"
    needs_inputs: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Check severity must be one of {SEVERITIES}, got {self.severity!r}")
