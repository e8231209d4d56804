"""Identity across systems: billing, help desk and survey records find their CRM company, and what cannot be
matched is kept and counted."""

from __future__ import annotations

import json
from dataclasses import replace

import psycopg
import pytest

from tealeaves.generate import default_truth
from tests.conftest import dbt_build
from tests.warehouse import query


@pytest.fixture(scope="module")
def identity(pipeline):
    truth = default_truth()
    # More of the mess identity matching exists for: missing CRM ids and email variants.
    messy = replace(truth, dirt=replace(truth.dirt, billing_without_crm_id=0.3, email_variant=0.4))
    return pipeline(
        "identity", "+int_customer_identity +fct_identity_match_rates", customers=200, months=4, seed=3, truth=messy
    )


def test_billing_customers_without_a_crm_id_are_matched_to_the_right_company(identity):
    """Every billing customer lands on the CRM company the generator made it for (truth.json →
    realised.billing.customer_company), the 30% exported without metadata.hubspot_company_id too: those are
    matched by contact email or domain, never by name (two companies may share a name)."""
    url, _, truth = identity
    rows = query(
        url,
        """
        select source_id, match_method, crm_company_id
        from intermediate.int_customer_identity
        where source_system = 'billing_customer'
        """,
    )
    without_id = [method for _, method, _ in rows if method != "explicit_id"]
    assert len(without_id) == truth["planted"]["billing"]["billing_without_crm_id"] > 0
    matched = {source_id: company for source_id, _, company in rows}
    assert matched == truth["realised"]["billing"]["customer_company"]


def test_email_variants_in_other_systems_still_find_their_company(identity):
    url, _, _ = identity
    variants = query(
        url,
        """
        select count(*) filter (where is_matched), count(*)
        from intermediate.int_customer_identity
        where source_system in ('survey_respondent', 'support_user') and email like '%.net'
    """,
    )[0]
    assert variants[1] > 0, "the planted alias-domain emails are present"
    assert variants[0] == variants[1]


def test_match_rates_account_for_every_record_of_every_source(identity):
    url, _, _ = identity
    rates = query(
        url,
        """
        select source_system, sum(records), max(source_records), sum(share_of_source_pct)
        from marts_build.fct_identity_match_rates group by source_system order by 1
    """,
    )
    identities = dict(query(url, "select source_system, count(*) from intermediate.int_customer_identity group by 1"))
    assert {s for s, *_ in rates} == {"billing_customer", "support_organization", "support_user", "survey_respondent"}
    for source, records, source_records, share in rates:
        assert records == source_records == identities[source]
        assert abs(share - 100) < 0.05


def test_unmatched_records_are_kept_not_dropped(identity, tmp_path):
    """A billing customer nothing in the CRM knows, delivered as Stripe exports a customer, is kept as unmatched."""
    from tealeaves.load import load_paths

    url, _, _ = identity
    delivery = tmp_path / "delivery" / "customers.jsonl"
    delivery.parent.mkdir()
    stranger = {"id": "cus_stranger", "object": "customer", "email": "someone@nowhere.example", "created": 1735700000}
    delivery.write_text(json.dumps(stranger) + "\n", encoding="utf-8")
    [loaded] = load_paths(url, [delivery], "billing")
    try:
        dbt_build(url, "stg_billing__customers int_customer_identity", tmp_path / "with_stranger")
        row = query(
            url,
            "select match_method, crm_company_id from intermediate.int_customer_identity"
            " where source_id = 'cus_stranger'",
        )
    finally:  # the module's other tests read the world as generated
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw.billing_customers where _batch_id = %s", [loaded.batch_id])
        dbt_build(url, "stg_billing__customers int_customer_identity", tmp_path / "restored", full_refresh=True)
    assert row == [("unmatched", None)]
