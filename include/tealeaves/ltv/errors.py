"""Errors a caller of the LTV models can act on.

They are separate from numpy/scipy failures on purpose: a DAG task should fail with a sentence that names the
customer and the value at fault, not with a RuntimeWarning and NaN parameters written to a mart.
"""

from __future__ import annotations


class LtvError(Exception):
    """Base class for everything the ltv package raises on purpose."""


class LtvInputError(LtvError, ValueError):
    """The customer summaries cannot be fitted: wrong values, too few customers, or no information to fit on."""


class NotConvergedError(LtvError):
    """Predictions were asked of a fit whose optimiser did not reach an interior maximum."""
