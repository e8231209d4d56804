"""`tealeaves report` prints the right numbers, not only the right headings.

The command runs once, as a user runs it, against the shared `marts_world` (400 customers, 12 months, seed 2024,
dirty exports, published); its four tables are read back from the terminal text, and every figure is compared
with the value docs/metrics.md defines, computed here from truth.json's realised section, the planted cost ledger
and the export files, to the digits the report prints. Where no truth exists for a figure (support SLA
attainment, the BG/NBD prediction), the oracle is the mart another test already pins to the truth, and the
report's own work (which month, which rows, how pooled) is what is checked.

Formula LTV depends on the precision of its inputs (a gross margin rounded to 4 places moves it by dollars);
docs/metrics.md does not say which precision. The oracle takes each input as the marts publish it (ARPA to the
cent, gross margin % to 4 places, as fct_gross_margin and _customers__models.yml show them) and the report's
own trailing churn, exact.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import TEALEAVES
from tests.finance_oracle import retention_components_from_exports
from tests.ltv_oracle import (
    cents,
    formula_ltv,
    four_places,
    realised_margins,
    realised_world,
    segment_churn,
    trailing_margin,
)
from tests.revenue_oracle import realised_customers, realised_retention
from tests.voice_oracle import nps_category, read_qualtrics_nps
from tests.warehouse import query

PAID_CHANNELS = ("PAID_SEARCH", "PAID_SOCIAL", "EMAIL_MARKETING", "OFFLINE")


# -- what the report printed --------------------------------------------------------------------------------------
def printed_tables(text: str) -> list[list[list[str]]]:
    """The rich tables of the terminal text, each as its rows of cells (the header row first)."""
    tables: list[list[list[str]]] = []
    for line in text.splitlines():
        if line.startswith("┏"):
            tables.append([])
        elif line.startswith(("┃", "│")) and tables:
            separator = line[0]
            tables[-1].append([cell.strip() for cell in line.strip()[1:-1].split(separator)])
    return tables


@pytest.fixture(scope="module")
def report(marts_world, tmp_path_factory) -> tuple[str, list[list[list[str]]]]:
    """`tealeaves report` against the marts world's warehouse: (its output, its tables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(
        TEALEAVES_HOME=str(tmp_path_factory.mktemp("report-home")),
        TEALEAVES_DATABASE_URL=marts_world[0],
        COLUMNS="250",  # wide enough that no row wraps
    )
    result = subprocess.run([TEALEAVES, "report"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    tables = printed_tables(result.stdout)
    assert [table[0] for table in tables] == [
        ["metric", "value", "how"],
        ["channel", "customers", "paid CAC", "blended CAC", "formula LTV", "LTV : blended CAC"],
        ["channel", "customers", "valued", "blended CAC", "CLV", "LTV", "LTV : CAC"],
        ["month", "channel", "spend USD", "new customers", "paid CAC USD"],
    ]
    return result.stdout, tables


# -- the report's number formats, applied to exact values ---------------------------------------------------------
def money(value: Decimal) -> str:
    return f"{cents(value):,.2f} USD"


def amount(value: Decimal) -> str:
    return f"{cents(value):,.2f}"


def share(ratio: Decimal) -> str:
    return f"{(100 * ratio).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def one_place(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


# -- the truth ----------------------------------------------------------------------------------------------------
def spend_and_new_customers(truth: dict) -> dict[tuple[date, str], tuple[Decimal, int]]:
    """(month, channel) -> (ad spend USD, new customers), truth.json's realised.crm."""
    realised = truth["realised"]["crm"]
    result = {}
    for channel in {*realised["paid_spend"], *realised["new_customers"]}:
        for month in {*realised["paid_spend"].get(channel, {}), *realised["new_customers"].get(channel, {})}:
            spend = cents(Decimal(str(realised["paid_spend"].get(channel, {}).get(month, 0))))
            result[(date.fromisoformat(month), channel)] = (
                spend,
                realised["new_customers"].get(channel, {}).get(month, 0),
            )
    return result


def ledger(truth: dict, month: date, *teams: str) -> Decimal:
    """The planted team cost ledger of `month`, summed over `teams`, USD."""
    by_team = truth["planted"]["crm"]["team_costs"]["by_month"][month.isoformat()]
    return sum((cents(Decimal(str(by_team.get(team, 0)))) for team in teams), Decimal(0))


def post_ticket_csat(exports: Path) -> dict[date, tuple[int, int]]:
    """Month -> (answers to the satisfaction question, answers at 4-5 of 5), from every post_ticket_responses*.csv
    (Qualtrics: three header rows; the late delivery read last wins; rows without a response id or cut short are
    broken copies), by the month the response was submitted."""
    responses: dict[str, tuple[date, int]] = {}
    files = sorted((exports / "survey").glob("post_ticket_responses*.csv"), key=lambda path: "__late" in path.name)
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = [name.lower() for name in next(rows)]
            next(rows), next(rows)
            for row in rows:
                record = dict(zip(header, row, strict=True)) if len(row) == len(header) else None
                if record and record["responseid"].strip() and record["q2"].strip():
                    submitted = datetime.strptime(record["enddate"], "%Y-%m-%d %H:%M:%S")
                    responses[record["responseid"].strip()] = (submitted.date().replace(day=1), int(record["q2"]))
    by_month: dict[date, tuple[int, int]] = {}
    for month, score in responses.values():
        answers, satisfied = by_month.get(month, (0, 0))
        by_month[month] = (answers + 1, satisfied + (score >= 4))
    return by_month


def blended_cac_by_channel(truth: dict) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Channel -> (new customers, paid CAC, blended CAC) over every cohort (docs/metrics.md, Acquisition): its ad
    spend, and its share of each month's sales & marketing ledger by share of that month's new customers, ÷ its
    new customers. The shares are exact here; the mart allocates each month to the cent."""
    flows = spend_and_new_customers(truth)
    new_in_month: dict[date, int] = defaultdict(int)
    for (month, _), (_, customers) in flows.items():
        new_in_month[month] += customers
    totals: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for (month, channel), (spend, customers) in flows.items():
        allocated = ledger(truth, month, "sales", "marketing") * customers / new_in_month[month]
        totals[channel][0] += customers
        totals[channel][1] += spend
        totals[channel][2] += spend + allocated
    return {channel: (n, spend / n, cost / n) for channel, (n, spend, cost) in totals.items() if n}


# -- the headline table -------------------------------------------------------------------------------------------
def test_the_headline_is_the_latest_complete_month(report):
    """The export ends on 1 January 2026, so December 2025 is the latest complete month the headline is about."""
    output, _ = report
    assert "Headline metrics, December 2025 (latest complete month)" in output


def test_headline_acquisition_revenue_and_retention_figures_are_the_realised_ones(marts_world, report):
    """December's new customers, paid CAC (ad spend ÷ customers of paid channels), blended CAC (ad spend + sales &
    marketing ledger ÷ all new customers), MRR, NRR, GRR and logo churn, ARPA (MRR ÷ paying customers) × gross
    margin ((MRR − platform cost) ÷ MRR), CAC payback (blended CAC ÷ ARPA × margin), formula LTV (ARPA × margin ÷
    the whole book's logo churn pooled over the 12 months to December) and LTV:CAC, each from truth.json's
    realised MRR, spend and new customers and the planted ledger, by docs/metrics.md, as printed."""
    truth = marts_world[2]
    headline = {row[0]: row[1:] for row in report[1][0][1:]}
    december = date(2025, 12, 1)
    flows = {channel: row for (month, channel), row in spend_and_new_customers(truth).items() if month == december}
    new = sum(customers for _, customers in flows.values())
    paid = [(spend, customers) for channel, (spend, customers) in flows.items() if spend > 0]
    paid_cac = sum(s for s, _ in paid) / sum(n for _, n in paid)
    blended_cac = (sum(s for s, _ in flows.values()) + ledger(truth, december, "sales", "marketing")) / new
    mrr, cost = realised_margins(truth)[december]
    paying = sum(1 for _, series in realised_customers(truth).values() if series.get(december, 0) > 0)
    arpa, margin = cents(mrr / paying), four_places((mrr - cost) / mrr)
    retention = realised_retention(truth)
    _, closing, _, _, nrr, grr, logo_churn = retention[(december, "all")]
    trailing = [row for (month, segment), row in retention.items() if segment == "all"]
    trailing_churn = Decimal(sum(row[3] for row in trailing)) / sum(row[2] for row in trailing)
    formula = formula_ltv(arpa, margin, trailing_churn)
    monthly = [row for (month, segment), row in sorted(retention.items()) if segment == "all" and row[4] is not None]

    assert headline["New customers"][0] == str(new)
    assert headline["Paid CAC"][0] == money(paid_cac)
    assert headline["Blended CAC"][0] == money(blended_cac)
    assert headline["CAC payback"][0] == f"{one_place(cents(blended_cac) / (arpa * margin))} months"
    assert headline["MRR"][0] == money(closing) == money(mrr)
    assert headline["Net revenue retention"][0] == share(nrr)
    assert headline["Gross revenue retention"][0] == share(grr)
    assert headline["Logo churn"][0] == share(logo_churn)
    assert headline["ARPA × gross margin"][0] == f"{money(arpa)} × {share(margin)}"
    # docs/metrics.md: the monthly rates of the latest complete months (at most 12), compounded to a year
    nrr_year, grr_year = (math.prod(float(row[i]) for row in monthly) ** (12 / len(monthly)) for i in (4, 5))
    assert headline["NRR / GRR, annualised"] == [
        f"{nrr_year * 100:.1f}% / {grr_year * 100:.1f}%",
        f"the last {len(monthly)} months' rates compounded to a year",
    ]
    assert headline["Formula LTV"] == [money(formula), f"÷ trailing-12-month churn {share(trailing_churn)}"]
    assert headline["LTV : CAC"][0] == one_place(formula / cents(blended_cac))


def test_headline_cost_to_retain_is_the_realised_retention_cost_over_retained_customers(marts_world, report):
    """Cost to retain (docs/metrics.md) = December's support and customer-success ledger, retention discounts and
    service credits (export files) ÷ customers with realised MRR > 0 at the end of November and of December;
    and blended CAC ÷ that cost."""
    _, exports, truth = marts_world
    headline = {row[0]: row[1:] for row in report[1][0][1:]}
    november, december = date(2025, 11, 1), date(2025, 12, 1)
    discounts, credits = retention_components_from_exports(exports)
    cost = ledger(truth, december, "support", "customer_success") + discounts[december] + credits[december]
    retained = sum(
        1
        for _, series in realised_customers(truth).values()
        if series.get(november, 0) > 0 and series.get(december, 0) > 0
    )
    flows = {ch: row for (month, ch), row in spend_and_new_customers(truth).items() if month == december}
    blended_cac = (sum(s for s, _ in flows.values()) + ledger(truth, december, "sales", "marketing")) / sum(
        n for _, n in flows.values()
    )
    assert headline["Cost to retain a customer"][0] == money(cost / retained)
    assert headline["CAC ÷ cost to retain"][0] == one_place(blended_cac / (cost / retained))


def test_headline_voice_figures_are_the_answers_given_in_december(marts_world, report):
    """NPS = % promoters − % detractors of December's answers (their realised scores from truth.json, the month
    from the Qualtrics export), with the count; CSAT = December's post-ticket satisfaction answers at 4-5 of 5,
    with the count, read straight from the export."""
    _, exports, truth = marts_world
    headline = {row[0]: row[1:] for row in report[1][0][1:]}
    december = date(2025, 12, 1)
    scores = truth["realised"]["survey"]["nps_answers"]
    counts = Counter(
        nps_category(scores[response])
        for response, (submitted, _) in read_qualtrics_nps(exports).items()
        if submitted.date().replace(day=1) == december
    )
    answers = sum(counts.values())
    nps = Decimal(100 * (counts["promoter"] - counts["detractor"])) / answers
    csat_answers, satisfied = post_ticket_csat(exports)[december]
    assert answers > 20 and csat_answers > 20
    assert headline["NPS"][0] == f"{one_place(nps)} ({answers} answers)"
    assert headline["CSAT"][0] == f"{share(Decimal(satisfied) / csat_answers)} ({csat_answers} answers)"


def test_headline_support_figures_pool_december_over_every_priority(marts_world, report):
    """Tickets opened in December are truth.json's realised tickets of every kind; SLA attainment pools December's
    rows of fct_support_performance_monthly (met ÷ measured, docs/metrics.md), the mart test_marts_support pins
    ticket by ticket to a Python recomputation of the Zendesk rules."""
    url, _, truth = marts_world
    headline = {row[0]: row[1:] for row in report[1][0][1:]}
    tickets = sum(months.get("2025-12-01", 0) for months in truth["realised"]["support"]["tickets"].values())
    [(first_met, first_measured, resolution_met, resolution_measured)] = query(
        url,
        "select sum(first_reply_sla_met), sum(first_reply_sla_measured), sum(resolution_sla_met),"
        " sum(resolution_sla_measured) from marts.fct_support_performance_monthly where month = '2025-12-01'",
    )
    assert headline["First-reply SLA met"] == [
        share(Decimal(first_met) / first_measured),
        f"of {tickets} tickets opened",
    ]
    assert headline["Resolution SLA met"][0] == share(Decimal(resolution_met) / resolution_measured)


# -- LTV and CAC by channel ---------------------------------------------------------------------------------------
def test_ltv_and_cac_by_channel_are_the_realised_customers_costs_and_formula_ltv(marts_world, report):
    """Per channel over every cohort: its realised new customers, paid CAC (ad spend ÷ customers) and blended CAC
    (with its share of the sales & marketing ledger), and the mean formula LTV of its customers (each customer's
    ARPA × the trailing gross margin ÷ its segment's churn, from the realised MRR: the oracle of
    test_marts_lifetime_value), and LTV ÷ blended CAC.

    Blended CAC and formula LTV may differ from the oracle by one cent, no more: the mart allocates each month's
    ledger to the cent (12 roundings of at most half a cent over at least 34 customers) and the report averages
    cohorts' means rounded to the cent (half a cent at most)."""
    _, exports, truth = marts_world
    customers = realised_world(exports, truth)
    margin, churn = trailing_margin(truth), segment_churn(truth)
    formula: dict[str, list[Decimal]] = defaultdict(list)
    for customer in customers.values():
        formula[customer.channel].append(formula_ltv(customer.arpa, margin, churn[customer.segment]))
    costs = blended_cac_by_channel(truth)
    printed = {row[0]: row[1:] for row in report[1][1][1:]}
    assert set(printed) == set(costs)

    def near(text: str, value: Decimal) -> bool:
        return abs(Decimal(text.removesuffix(" USD").replace(",", "")) - value) <= Decimal("0.01")

    for channel, (count, paid_cac, blended_cac) in costs.items():
        ltv = sum(formula[channel], Decimal(0)) / len(formula[channel])
        shown_customers, shown_paid, shown_blended, shown_ltv, shown_ratio = printed[channel]
        assert (shown_customers, shown_paid) == (f"{count:,}", money(paid_cac)), channel
        assert near(shown_blended, blended_cac) and near(shown_ltv, ltv), (channel, printed[channel])
        assert len(formula[channel]) == count, channel
        assert shown_ratio == one_place(ltv / blended_cac), channel


def test_predicted_ltv_by_channel_counts_valued_customers_and_takes_their_margin(marts_world, report):
    """Per channel: customers, those the LTV fit valued (customers who bought an add-on; the generator made every
    customer do so), blended CAC as in the table above, predicted CLV per customer = Σ the customers'
    fct_predicted_ltv.predicted_clv_usd ÷ customers, LTV = CLV × the trailing gross margin, and LTV ÷ CAC, each
    within the cent the cohort means are rounded to."""
    url, exports, truth = marts_world
    customers = realised_world(exports, truth)
    margin = trailing_margin(truth)
    clv = dict(query(url, "select customer_key, predicted_clv_usd from marts.fct_predicted_ltv"))
    costs = blended_cac_by_channel(truth)
    printed = {row[0]: row[1:] for row in report[1][2][1:]}
    assert set(printed) == set(costs)
    assert truth["planted"]["billing"]["addon_customers"] == len(customers), "every customer bought an add-on"
    for channel, (count, _, blended_cac) in costs.items():
        keys = [key for key, c in customers.items() if c.channel == channel]
        mean_clv = sum((clv[key] for key in keys), Decimal(0)) / count
        shown_customers, valued, shown_blended, shown_clv, shown_ltv, shown_ratio = printed[channel]
        assert (shown_customers, valued) == (f"{count:,}", f"{count:,}"), channel
        for text, value in ((shown_blended, blended_cac), (shown_clv, mean_clv), (shown_ltv, mean_clv * margin)):
            assert abs(Decimal(text.replace(",", "")) - value) <= Decimal("0.01"), (channel, text, value)
        assert abs(Decimal(shown_ratio) - mean_clv * margin / blended_cac) <= Decimal("0.01"), channel


# -- CAC by channel, last three months ----------------------------------------------------------------------------
def test_acquisition_cost_rows_are_the_realised_spend_and_customers_of_the_last_three_months(marts_world, report):
    """October to December, every channel: realised ad spend, new customers and paid CAC = spend ÷ customers to
    the cent ("—" without customers, 0.00 for organic channels), ordered by month, then spend, largest first."""
    truth = marts_world[2]
    flows = spend_and_new_customers(truth)
    channels = [channel["name"] for channel in truth["truth"]["channels"]]
    expected = []
    for month in (date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)):
        rows = [(channel, *flows.get((month, channel), (Decimal(0), 0))) for channel in channels]
        for channel, spend, customers in sorted(rows, key=lambda row: (-row[1], row[0])):
            cac = amount(spend / customers) if customers else "—"
            expected.append([f"{month:%Y-%m}", channel, amount(spend), str(customers), cac])
    assert report[1][3][1:] == expected
