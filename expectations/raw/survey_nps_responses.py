"""Qualtrics NPS responses, per batch: the 0-10 answer is the whole metric."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import key_is_unique

TABLE = "survey_nps_responses"
GRAIN = ("responseid",)


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        *key_is_unique(["responseid"]),
        Check(ex.ExpectColumnValuesToBeBetween(column="q1", min_value=0, max_value=10, description="NPS is 0-10")),
    ]
