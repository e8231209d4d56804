"""What a gate run found, shaped for the person on call and for the `quality` tables.

Every value here is already JSON-ready (GX's Decimals, dates and tuples converted), so a result can go to
PostgreSQL, an Airflow XCom or a Slack message as it is. No Great Expectations import: a notifier can format
a result without paying for GX.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tealeaves.quality.checks import Severity

# Keyword arguments that say nothing about what was expected; left out of summaries.
_NOT_EXPECTATIONS = {"batch_id", "column", "column_list", "column_A", "column_B", "result_format"}
_MAX_TEXT = 160


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one table.

    `observed_value` is what GX observed: its own `observed_value` for table-level expectations (a row
    count, a number of rows a query returned); for row-by-row expectations, which have none, the counts GX
    did observe (`element_count`, `unexpected_percent`, `missing_count`). `error` is set when GX could not
    judge at all (missing table or column, bad SQL); such an outcome counts as failed.
    """

    suite: str
    table: str  # schema-qualified, as validated
    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    severity: Severity
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_sample: list[Any]
    description: str | None = None
    error: str | None = None

    def describe(self) -> str:
        """One line: what was checked, what was expected, what was found."""
        target = f"{self.expectation_type}({self.column})" if self.column else self.expectation_type
        bounds = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in _NOT_EXPECTATIONS)
        if self.description:
            target += f' "{self.description}"' + (f" ({bounds})" if bounds else "")
        elif bounds:
            target += f" expected {bounds}"
        return f"{self.suite}: {target}; {self._observed()}"

    def _observed(self) -> str:
        if self.error:
            return f"could not be evaluated: {_short(self.error)}"
        observed = self.observed_value
        if isinstance(observed, dict) and "element_count" in observed:
            found = f"{self.unexpected_count} of {observed['element_count']} rows unexpected"
            if observed.get("missing_count"):  # GX skips nulls in most row-by-row expectations
                found += f" ({observed['missing_count']} null, not checked)"
        elif self.unexpected_count is not None:
            found = f"{self.unexpected_count} unexpected rows"
        else:
            found = _short(observed)
        if self.unexpected_sample:
            found += f", e.g. {_short(self.unexpected_sample)}"
        return f"found {found}"


@dataclass(frozen=True)
class SuiteResult:
    """One suite run against one table. `error` says why the table could not be validated at all."""

    suite: str
    schema: str
    table: str
    started_at: datetime
    finished_at: datetime
    outcomes: tuple[ExpectationOutcome, ...]
    error: str | None = None

    @property
    def success(self) -> bool:
        """True when this suite lets the data through: it ran, and no blocking expectation failed."""
        return self.error is None and not any(not o.success and o.severity == "blocking" for o in self.outcomes)


@dataclass(frozen=True)
class GateResult:
    run_id: str
    suites: tuple[SuiteResult, ...]

    @property
    def passed(self) -> bool:
        """True when the marts may be published: every suite ran and no blocking expectation failed."""
        return all(s.success for s in self.suites)

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [o for s in self.suites for o in s.outcomes if not o.success and o.severity == "blocking"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for s in self.suites for o in s.outcomes if not o.success and o.severity == "warning"]

    def summary(self) -> str:
        """A few lines for a log, an alert or a terminal: the verdict first, then each failure."""
        checked = sum(len(s.outcomes) for s in self.suites)
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"Quality gate {verdict} for run {self.run_id}: {len(self.suites)} suite(s),"
            f" {checked} expectations, {len(self.blocking_failures)} blocking failure(s),"
            f" {len(self.warnings)} warning(s)."
        ]
        for severity, label in (("blocking", "BLOCKING"), ("warning", "warning")):
            for suite in self.suites:
                if suite.error:
                    if severity == "blocking":
                        lines.append(
                            f"  {label} {suite.suite}: {suite.schema}.{suite.table} not validated: {suite.error}"
                        )
                    continue
                lines += [
                    f"  {label} {o.describe()}" for o in suite.outcomes if not o.success and o.severity == severity
                ]
        return "\n".join(lines)


def _short(value: Any) -> str:
    text = str(value).replace("\n", " ")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."
