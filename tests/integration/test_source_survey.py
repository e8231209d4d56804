"""The survey source end to end on real parts: generated Qualtrics/Typeform exports → raw → dbt staging.

One small world with extra planted mess is generated, loaded and built once for the module; each test then
states one fact a user of the survey data relies on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from tealeaves.generate import default_truth, generate
from tealeaves.generate.sinks import LATE_SUFFIX
from tealeaves.load import load_paths
from tests.conftest import create_database, dbt_build
from tests.warehouse import query

# More mess than the defaults, so a small world still carries every kind of defect.
DIRT = {"exact_duplicate": 0.05, "near_duplicate": 0.05, "malformed": 0.05, "missing_id": 0.05, "late_arriving": 0.1}
STAGING = {
    "survey/nps_responses.csv": "stg_survey__nps_responses",
    "survey/post_ticket_responses.csv": "stg_survey__post_ticket_responses",
    "survey/scorecard.jsonl": "stg_survey__scorecard_responses",
}


def _sink_name(path: Path) -> str:
    """survey/post_ticket_responses__late.csv and its main file are one sink in truth.json."""
    return f"survey/{path.name.replace(LATE_SUFFIX, '')}"


@pytest.fixture(scope="module")
def survey(server, tmp_path_factory):
    """A database of this module's own, holding the loaded survey exports and the built staging models."""
    url = create_database(server, "t_source_survey")

    out = tmp_path_factory.mktemp("survey-world")
    truth = default_truth()
    truth = replace(truth, dirt=replace(truth.dirt, **DIRT))
    report = generate(out / "exports", customers=150, months=6, seed=7, truth=truth)
    batches = load_paths(url, [out / "exports" / "survey"], source="survey")

    dbt_build(url, "staging.survey source:survey", out)
    return {"url": url, "report": report, "batches": batches, "exports": out / "exports" / "survey"}


def test_every_survey_row_is_loaded_or_rejected_and_only_planted_defects_are_rejected(survey):
    files = survey["report"]["files"]
    loaded: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for batch in survey["batches"]:
        assert batch.status == "loaded"
        assert batch.rows_in == batch.rows_loaded + batch.rows_rejected
        totals = loaded[_sink_name(batch.file)]
        for field in ("rows_in", "rows_loaded", "rows_rejected"):
            totals[field] += getattr(batch, field)
    assert set(loaded) == set(STAGING), "every survey export was found and loaded"
    for sink, totals in loaded.items():
        planted = files[sink]
        assert totals["rows_rejected"] == planted.get("malformed", 0) + planted.get("missing_id", 0), sink
        # Qualtrics' question-text and ImportId rows are skipped, not counted as rows or rejected.
        lines = sum(
            planted.get(k, 0) for k in ("records", "exact_duplicate", "near_duplicate", "malformed", "missing_id")
        )
        assert totals["rows_in"] == lines, sink
    assert sum(f.get("malformed", 0) + f.get("missing_id", 0) for f in map(files.get, STAGING)) > 0, "mess was planted"


def test_qualtrics_exports_carry_three_header_rows_and_data_starts_on_line_four(survey):
    for name in ("nps_responses.csv", "post_ticket_responses.csv"):
        second, third = (survey["exports"] / name).read_text().splitlines()[1:3]
        assert second.startswith("Start Date,End Date,Response Type") and third.startswith('"{""ImportId""')
    for table in ("survey_nps_responses", "survey_post_ticket_responses"):
        assert query(survey["url"], f"select min(_source_line) from raw.{table}") == [(4,)]


def test_staging_keeps_one_row_per_planted_response(survey):
    files, planted = survey["report"]["files"], survey["report"]["planted"]["survey"]
    for sink, model in STAGING.items():
        assert query(survey["url"], f"select count(*) from staging.{model}") == [(files[sink]["records"],)], model
    assert query(survey["url"], "select count(*) from staging.stg_survey__scorecard_answers") == [
        (planted["scorecard"]["answers"],)
    ]
    hated = query(survey["url"], "select count(hated_thing_text) from staging.stg_survey__scorecard_responses")
    assert hated == [(sum(planted["hated_thing_classes"].values()),)]


def test_nps_from_staging_equals_nps_of_the_simulated_answers(survey):
    nps = survey["report"]["planted"]["survey"]["nps"]
    assert nps["responses"] > 0
    expected = round(100.0 * (nps.get("promoters", 0) - nps.get("detractors", 0)) / nps["responses"], 4)
    [(measured,)] = query(
        survey["url"],
        "select round(100.0 * (count(*) filter (where nps_score >= 9) - count(*) filter (where nps_score <= 6))"
        " / count(*), 4) from staging.stg_survey__nps_responses",
    )
    assert float(measured) == expected


def test_ces_and_csat_from_staging_equal_the_planted_answers(survey):
    tickets = survey["report"]["planted"]["survey"]["post_ticket"]
    [(responses, ces_sum, low_effort, satisfied)] = query(
        survey["url"],
        "select count(*), sum(ces_score), count(*) filter (where is_low_effort),"
        " count(*) filter (where is_satisfied) from staging.stg_survey__post_ticket_responses",
    )
    assert (responses, ces_sum, low_effort, satisfied) == (
        tickets["responses"],
        tickets["ces_sum"],
        tickets.get("ces_easy", 0),
        tickets.get("csat_satisfied", 0),
    )


def test_responses_link_to_crm_companies_except_anonymous_ones(survey):
    planted = survey["report"]["planted"]["survey"]
    for model, key in (("stg_survey__nps_responses", "nps"), ("stg_survey__post_ticket_responses", "post_ticket")):
        [(unlinked,)] = query(
            survey["url"], f"select count(*) filter (where crm_company_id is null) from staging.{model}"
        )
        assert unlinked == planted[key].get("without_company_id", 0), model
