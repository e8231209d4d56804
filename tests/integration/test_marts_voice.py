"""Voice of the customer: survey scores (NPS, CSAT, CES) and the five classes of product input recover what the
generator planted, and NPS recomputed straight from the Qualtrics export agrees with the mart.

All tests read the shared `marts_world` (400 customers, 12 months, seed 2024, dirty exports), as published to
`marts`.
"""

from __future__ import annotations

import calendar
import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from tests.voice_oracle import nps_category, read_qualtrics_nps
from tests.warehouse import query

# The help desk's ticket kinds (tags) and the class of product input each one is (docs/sources/survey.md).
KIND_CLASSES = {
    "bug_incident": "fault_correction",
    "compliance_security": "necessity",
    "feature_request": "market_driven",
    "sales_blocking": "opportunistic",
    "feedback": "responsiveness",
}
TICKET_WINDOW_DAYS = 28  # the generator opens a month's tickets within 28 days of the month's start


def inputs_by_class(url: str, source: str) -> dict[str, int]:
    """fct_product_input rows of one input source, counted by input class."""
    rows = query(
        url, "select input_class, count(*) from marts.fct_product_input where input_source = %s group by 1", source
    )
    return dict(rows)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def paying_customer_months(url: str, end: date) -> float:
    """Customer-months of paying life in the period, from raw billing subscriptions (not from any dbt model).

    A customer opens tickets in each month of its life from its signup day until churn (the subscription's
    ended_at) or the export's end; the last month counts only for the days before the end, out of 28.
    """
    subscriptions = query(
        url,
        """
        select distinct on (id) start_date, ended_at
        from raw.billing_subscriptions
        where id is not null
        order by id, _batch_id desc, _source_line desc
        """,
    )
    months = 0.0
    for start, ended in subscriptions:
        signed = datetime.fromtimestamp(start, UTC).date()
        stop = min(end, datetime.fromtimestamp(ended, UTC).date()) if ended else end
        month = 0
        while (month_start := add_months(signed, month)) < stop:
            months += min(1.0, (end - month_start).days / TICKET_WINDOW_DAYS)
            month += 1
    return months


def test_nps_counts_equal_the_planted_responses(marts_world):
    """Every de-duplicated NPS response is counted once, in the right category (passives included)."""
    url, _, truth = marts_world
    planted = truth["planted"]["survey"]["nps"]
    responses, promoters, passives, detractors = query(
        url,
        """
        select sum(nps_responses), sum(promoters), sum(passives), sum(detractors)
        from marts.fct_nps_monthly
        where segment = 'all'
        """,
    )[0]
    assert (responses, promoters, passives, detractors) == (
        planted["responses"],
        planted["promoters"],
        planted["passives"],
        planted["detractors"],
    )
    by_segment = query(url, "select sum(nps_responses) from marts.fct_nps_monthly where segment <> 'all'")[0][0]
    assert by_segment == planted["responses"], "the segments add up to 'all'"


def test_overall_nps_is_the_nps_of_the_realised_answers(marts_world):
    """Overall NPS (docs/metrics.md: % promoters − % detractors, passives in the base) over every month equals the
    NPS of the answers the generator realised (truth.json), exactly. Not the planted weights' NPS: the answers
    are draws from them, and a fixed world's few hundred answers sit where that seed put them (this one's 215
    measure 36.7 against the weights' 20, three standard errors above)."""
    url, _, truth = marts_world
    scores = list(truth["realised"]["survey"]["nps_answers"].values())
    promoters, detractors = sum(score >= 9 for score in scores), sum(score <= 6 for score in scores)
    mart = query(
        url,
        """
        select sum(nps_responses), sum(promoters), sum(detractors)
        from marts.fct_nps_monthly where segment = 'all'
        """,
    )[0]
    assert mart == (len(scores), promoters, detractors)


def test_monthly_nps_matches_the_qualtrics_export(marts_world):
    """NPS per month recomputed from the raw Qualtrics CSV files equals fct_nps_monthly's segment 'all'."""
    url, exports, _ = marts_world
    by_month: dict[date, Counter[str]] = defaultdict(Counter)
    for submitted, score in read_qualtrics_nps(exports).values():
        by_month[submitted.date().replace(day=1)][nps_category(score)] += 1
    mart = {
        month: (responses, promoters, passives, detractors, nps)
        for month, responses, promoters, passives, detractors, nps in query(
            url,
            """
            select month, nps_responses, promoters, passives, detractors, nps
            from marts.fct_nps_monthly where segment = 'all'
            """,
        )
    }
    assert by_month, "the export holds NPS responses"
    for month, counts in by_month.items():
        responses = sum(counts.values())
        nps = round(Decimal(100 * (counts["promoter"] - counts["detractor"])) / responses, 2)
        assert mart[month] == (responses, counts["promoter"], counts["passive"], counts["detractor"], nps), month
    empty_months = {month for month, row in mart.items() if row[0] == 0}
    assert empty_months == set(mart) - set(by_month)
    assert all(mart[month][4] is None for month in empty_months), "no responses gives a null NPS, not 0"


def test_every_nps_response_carries_its_realised_score(marts_world):
    """fct_survey_responses holds each NPS response the generator wrote, once, with the score the respondent gave
    (truth.json → realised.survey.nps_answers, by Qualtrics ResponseId), through duplicated, re-cased, cut-short
    and late-delivered rows of the export."""
    url, _, truth = marts_world
    mart = dict(query(url, "select response_id, nps_score from marts.fct_survey_responses where survey_type = 'nps'"))
    assert mart == truth["realised"]["survey"]["nps_answers"]
    assert len(mart) > 200


def test_post_ticket_csat_and_ces_totals_equal_the_planted_answers(marts_world):
    """CSAT (4-5 of 5) and CES (mean of 1-7, share at 5-7) count every post-ticket answer exactly once."""
    url, _, truth = marts_world
    planted = truth["planted"]["survey"]["post_ticket"]
    responses, satisfied, ces_sum, ces_easy = query(
        url,
        """
        select count(*), count(*) filter (where is_satisfied), sum(ces_score), count(*) filter (where is_easy)
        from marts.fct_survey_responses where survey_type = 'post_ticket'
        """,
    )[0]
    assert (responses, satisfied, ces_sum, ces_easy) == (
        planted["responses"],
        planted["csat_satisfied"],
        planted["ces_sum"],
        planted["ces_easy"],
    )
    monthly = query(
        url,
        """
        select sum(csat_responses), sum(csat_satisfied), sum(ces_responses), sum(ces_easy_responses),
               sum(ces_mean * ces_responses)
        from marts.fct_nps_monthly where segment = 'all'
        """,
    )[0]
    assert monthly[:4] == (planted["responses"], planted["csat_satisfied"], planted["responses"], planted["ces_easy"])
    assert abs(monthly[4] - planted["ces_sum"]) < 0.01 * 12, "monthly CES means weigh back to the planted sum"


def test_every_survey_response_is_kept(marts_world):
    """One row per de-duplicated response of each survey, answered or not."""
    url, _, truth = marts_world
    planted = truth["planted"]["survey"]
    counts = dict(query(url, "select survey_type, count(*) from marts.fct_survey_responses group by 1"))
    assert counts == {
        "nps": planted["nps"]["responses"],
        "post_ticket": planted["post_ticket"]["responses"],
        "scorecard": planted["scorecard"]["submissions"],
    }


def test_scorecard_hated_things_are_classified_as_planted(marts_world):
    """The rules put every "What do we do that you hate?" answer in the class the generator planted it in."""
    url, _, truth = marts_world
    counts = inputs_by_class(url, "scorecard_hated_thing")
    planted = {name: count for name, count in truth["planted"]["survey"]["hated_thing_classes"].items() if count}
    assert counts == planted


def test_deal_blocker_notes_are_opportunistic_input(marts_world):
    """Every deal blocker sales logged is one opportunistic input, customer or prospect alike."""
    url, _, truth = marts_world
    counts = inputs_by_class(url, "deal_blocker_note")
    assert counts == {"opportunistic": truth["planted"]["crm"]["deal_blocker_notes"]}


def test_support_tickets_per_class_and_month_are_the_realised_tickets_per_kind(marts_world):
    """Every ticket is one product input of its kind's class (KIND_CLASSES, docs/sources/survey.md), in the month it
    was opened: fct_product_input's support tickets per class and month equal the tickets the generator opened per
    kind and merchant month (truth.json → realised.support.tickets), exactly."""
    url, _, truth = marts_world
    mart = {
        (input_class, month): count
        for input_class, month, count in query(
            url,
            "select input_class, month, count(*) from marts.fct_product_input"
            " where input_source = 'support_ticket' group by 1, 2",
        )
    }
    realised = {
        (KIND_CLASSES[kind], date.fromisoformat(month)): count
        for kind, months in truth["realised"]["support"]["tickets"].items()
        for month, count in months.items()
    }
    assert mart == realised
    assert sum(realised.values()) == truth["planted"]["support"]["tickets"]


def test_support_tickets_by_class_recover_the_planted_kind_rates(marts_world):
    """Tickets per class and paying customer-month match the planted monthly rate of the ticket kind.

    Exposure is paying customer-months from raw billing subscriptions. Counts are Poisson, so the tolerance
    is 4 standard deviations, 4 * sqrt(expected): about 8% for bugs (~750 tickets), about 40% for the
    smallest kind, sales-blocking (~100).
    """
    url, exports, truth = marts_world
    exposure = paying_customer_months(url, date.fromisoformat(truth["end"]))
    assert exposure > 0
    counts = inputs_by_class(url, "support_ticket")
    assert sum(counts.values()) == truth["planted"]["support"]["tickets"], "every ticket is one input"
    for kind in truth["truth"]["support"]["kinds"]:
        expected = kind["monthly_rate"] * exposure
        measured = counts.get(KIND_CLASSES[kind["name"]], 0)
        assert abs(measured - expected) <= 4 * math.sqrt(expected), (kind["name"], measured, expected)
