"""The quality gate: GX suites as code in `expectations/`, run on freshly built marts, results in `quality`.

`Check` is all a suite module needs. `run_gate` and `GateResult` live in `tealeaves.quality.gate`, which
imports Great Expectations (several seconds); they are loaded on first use, so importing this package stays
cheap for the CLI and for Airflow's DAG parsing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tealeaves.quality.checks import Check, Severity

if TYPE_CHECKING:
    from tealeaves.quality.gate import GateResult, run_gate

__all__ = ["Check", "GateResult", "Severity", "run_gate"]

_FROM_GATE = {"GateResult", "run_gate"}


def __getattr__(name: str) -> Any:
    if name in _FROM_GATE:
        from tealeaves.quality import gate

        return getattr(gate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
