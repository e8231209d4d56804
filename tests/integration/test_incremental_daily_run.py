"""One more day of exports, built incrementally, gives the marts a full rebuild gives, row for row (issue 15).

Two warehouses get the same files. Warehouse `incremental` loads day one and builds; then loads day two and builds
again, where the incremental models recompute only the keys day two touched: the incremental staging tables the
records its batches carry, the ticket-keyed support models the tickets it touched (moving the SLA clocks of the
others still open), int_invoices_converted the invoices it touched. A re-export of day one's invoices is staged on
day one before the raw gate sees it, and the gate fails it on day two: staging must fall back to their day-one
copies. A priority change exported on day one but dated after its as-of moment counts only on day two, whose as-of
moment passes it: no record of day two names its ticket. Likewise a corrected FX rate for a day of day one must
convert that day's invoices again. The product-input models recompute the inputs day two touched; each of their
rules has a planted case that only it catches: a company missing from day one's export that a deal blocker note
names, a commented rating whose ticket is deleted, a rater and a survey respondent matched to another customer (the
rater's ticket, of no organization, moves with them), an organization linked to another company, a prospect's answer
whose company changes its original source. Identity resolution recomputes the records day two may match otherwise;
its rules that no record of the matched one carries have planted cases: a respondent claiming the company exported
late, an NPS answer exported again with another email (its old respondent leaves), a CRM contact exported with
another email (its old one matches nothing any more), a domain a second company claims and one its company no longer
names (an organization matched by either, and its users, are unmatched). The customer-month MRR models recompute the
customers day two touched and every customer's last months; their rules have planted cases too: a Stripe customer
merged into one CRM company on day one and moved on to another on day two (the customer it left and the one it
joined), a paying company whose original source changes. int_invoices_netted and int_purchases_netted recompute the
invoices day two touched; their rules have planted refunds: one naming only its charge, one whose charge comes a day
late, and one whose metadata moves it from one invoice to another. Day two moves the gross margin of a month
before the latest, which int_customer_revenue priced its customers' invoices at: each customer with an invoice in
it is priced again. Two scorecard submissions come again on day two, one with fewer answers, one with none: their
staged answers must be the newest copy's. Between day two's first load (the FX correction) and the rest, the
incremental models past staging are built by hand, without staging, which does not hold the load yet: the daily
build must still take its batches. Warehouse `rebuilt` loads the same files in the
same order and builds once, from scratch. Every staging and intermediate table and every mart must then hold the
same multiset of rows. Day two is cut from one generated world 4 days before its end (tealeaves.generate.next_day
says what each day holds).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tealeaves.generate.next_day import split_next_day
from tests.conftest import DAILY_BUILD, create_database, dbt_build, incremental_plans
from tests.warehouse import query

WORLD = {"customers": 250, "months": 6, "seed": 515}
# day one and the rebuilt warehouse need the tables, not their checks: seeds and models only
TABLES_ONLY = replace(DAILY_BUILD, exclude=(*DAILY_BUILD.exclude, "resource_type:test"))
# a build by hand of the incremental models past staging, between a load and the DAG's build: staging does not
# hold the load yet, so none of them may count its batches as done (macros/incremental_by_key.sql, model_through_sql)
STATE_SQL = "select through_batch_id from intermediate.incremental_state where model = %s"
PAST_STAGING = replace(
    DAILY_BUILD, select=("config.materialized:incremental",), exclude=(*TABLES_ONLY.exclude, "path:models/staging")
)
# the staging tables kept incrementally (macros/staging_incremental.sql) and the raw tables they stage
RESTAGED_MODELS = {
    "stg_billing__charges": ("billing_charges",),
    "stg_billing__credit_notes": ("billing_credit_notes",),
    "stg_billing__customers": ("billing_customers",),
    "stg_billing__invoice_line_items": ("billing_invoice_line_items", "billing_invoices"),
    "stg_billing__invoices": ("billing_invoices",),
    "stg_billing__refunds": ("billing_refunds",),
    "stg_billing__subscription_events": ("billing_subscription_events",),
    "stg_billing__subscriptions": ("billing_subscriptions",),
    "stg_crm__companies": ("crm_companies",),
    "stg_crm__contacts": ("crm_contacts",),
    "stg_crm__deal_notes": ("crm_deal_notes",),
    "stg_crm__deal_stage_history": ("crm_deal_stage_history",),
    "stg_crm__deals": ("crm_deals",),
    "stg_support__organizations": ("support_organizations",),
    "stg_support__satisfaction_ratings": ("support_satisfaction_ratings",),
    "stg_support__ticket_comments": ("support_ticket_comments",),
    "stg_support__ticket_field_history": ("support_ticket_field_history",),
    "stg_support__ticket_metric_events": ("support_ticket_metric_events",),
    "stg_support__tickets": ("support_tickets",),
    "stg_support__users": ("support_users",),
    "stg_survey__nps_responses": ("survey_nps_responses",),
    "stg_survey__post_ticket_responses": ("survey_post_ticket_responses",),
    "stg_survey__scorecard_responses": ("survey_scorecard_responses",),
    "stg_survey__scorecard_answers": ("survey_scorecard_responses",),
}
# each incremental intermediate model and the key it recomputes by
INCREMENTAL_MODELS = {
    "int_ticket_statuses_dated": "ticket_id",
    "int_tickets_measured": "ticket_id",
    "int_tickets_sla_targets": "ticket_id",
    "int_invoices_converted": "invoice_id",
    "int_invoices_netted": "invoice_id",
    "int_purchases_netted": "invoice_id",
    "int_customer_purchase_history": "customer_key",
    "int_customer_revenue": "customer_key",
    "int_customers_acquired": "customer_key",
    "int_subscription_mrr_monthly": "subscription_id",
    "fct_support_tickets": "ticket_id",
    "int_contact_emails": "email",
    "int_company_domains": "domain",
    "int_survey_respondents": "respondent_email",
    "int_customer_identity": "(source_system, source_id)",
    "int_customer_inputs_collected": "(input_source, source_id)",
    "int_customer_inputs_classified": "(input_source, source_id)",
    "fct_product_input": "(input_source, source_id)",
    "fct_survey_responses": "(survey_type, response_id)",
    "int_customer_mrr_monthly": "customer_key",
    "fct_mrr_movements": "customer_key",
    "int_customer_signals_monthly": "customer_key",
    "fct_customer_health": "customer_key",
}


def _load(url: str, *folders: Path, gate: bool = True) -> None:
    """Load each folder's exports, then run the raw gate on them, as the daily DAG does (unless `gate` is off)."""
    from tealeaves.load import load_paths
    from tealeaves.quality.raw_gate import run_raw_gate

    for folder in folders:
        load_paths(url, sorted(p for p in folder.iterdir() if p.is_dir()))
    if gate:
        run_raw_gate(url, "incremental daily run")


def _records(folder: Path, name: str) -> list[dict]:
    """The JSON records of every export of `name` in the folder (its late and next-day files too, in name order),
    without the generator's malformed lines, which the loader quarantines."""
    records = []
    for path in sorted(folder.glob(f"{name}*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _csv_records(folder: Path, name: str) -> list[dict]:
    """The rows of every CSV export of `name` in the folder (its late and next-day files too, in name order)."""
    records = []
    for path in sorted(folder.glob(f"{name}*.csv")):
        with path.open(encoding="utf-8", newline="") as rows:
            records.extend(csv.DictReader(rows))
    return records


def _jsonl_text(*folders: Path) -> str:
    """Every JSON Lines export in the folders, as one text: an id in it is named by some record there."""
    return "".join(path.read_text(encoding="utf-8") for folder in folders for path in folder.rglob("*.jsonl"))


def _write_csv(path: Path, records: list[dict]) -> None:
    """A CSV export of `records`, with the first one's fields as its header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


NEW_IN_THE_FAILING_FILE = "in_only_in_a_failed_file"


def _failing_reexport(day1: Path, day2: Path, folder: Path) -> set[str]:
    """A re-export of day one's first invoices with negative amounts paid, which the raw gate fails, their ids; and
    an invoice only this file has (NEW_IN_THE_FAILING_FILE), paid, of a Stripe customer no other record of the file
    or of day two names, which must leave staging with it and the customer models' revenue and purchases (only
    its own record then finds its customer)."""
    delivered = [record for record in _records(day1 / "billing", "invoices") if isinstance(record.get("id"), str)][:20]
    assert len(delivered) == 20, "day one holds invoices"
    named = _jsonl_text(day2) + json.dumps(delivered)
    buyer = next(
        c["id"]
        for c in _records(day1 / "billing", "customers")
        if isinstance(c.get("id"), str) and c["id"] not in named
    )
    (folder / "billing").mkdir(parents=True)
    with (folder / "billing" / "invoices.jsonl").open("w", encoding="utf-8") as out:
        for record in delivered:
            out.write(json.dumps(dict(record, amount_paid=-abs(record.get("amount_paid") or 0) - 100)) + "\n")
        new = dict(delivered[0], id=NEW_IN_THE_FAILING_FILE, customer=buyer, lines=[], status="paid", subscription=None)
        out.write(json.dumps(dict(new, amount_paid=5000, amount_due=5000, total=5000, subtotal=5000)) + "\n")
    return {record["id"] for record in delivered}


def _instant(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _support_as_of(support: Path) -> datetime:
    """The as-of moment of a help-desk export: its latest ticket creation or update, comment or status change
    (macros/support_as_of.sql)."""
    moments = [_instant(t.get(key)) for t in _records(support, "tickets") for key in ("created_at", "updated_at")]
    moments += [_instant(c.get("created_at")) for c in _records(support, "ticket_comments")]
    history = _records(support, "ticket_field_history")
    moments += [_instant(h.get("updated")) for h in history if h.get("field_name") == "status"]
    return max(m for m in moments if m is not None)


def _zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _named_on(day: Path) -> set[int]:
    """The tickets any support record of the day names."""
    named = {
        r.get("ticket_id")
        for name in ("ticket_comments", "ticket_field_history", "ticket_metric_events", "satisfaction_ratings")
        for r in _records(day / "support", name)
    }
    return named | {t.get("id") for t in _records(day / "support", "tickets")}


WAITING_TICKET = 364999999998


def _waiting_ticket(day1: Path, folder: Path) -> None:
    """A normal-priority ticket opened half an hour before day one's as-of moment, never answered and named by no
    later record (WAITING_TICKET): its first-reply target is not yet judged on day one and breached on day two,
    whose as-of moment is days later. Only fct_support_tickets can tell, by judging it again unasked."""
    template = next(t for t in _records(day1 / "support", "tickets") if t.get("priority") == "normal")
    opened = _zulu(_support_as_of(day1 / "support") - timedelta(minutes=30))
    ticket = dict(template, id=WAITING_TICKET, status="new", created_at=opened, updated_at=opened)
    (folder / "support").mkdir(parents=True)
    (folder / "support" / "tickets__waiting.jsonl").write_text(json.dumps(ticket) + "\n", encoding="utf-8")


def _late_rating(url: str, day1: Path, day2: Path, folder: Path) -> int:
    """A good rating of a day-one ticket solved, judged and not yet rated, given an hour after day one's as-of moment
    and delivered on day two by the ratings export alone: no record of the ticket comes on day two, and nothing else
    makes fct_support_tickets look at it again. Returns its id."""
    rated = {r.get("ticket_id") for r in _records(day1 / "support", "satisfaction_ratings")}
    named = rated | _named_on(day2)
    tickets = {t.get("id"): t for t in _records(day1 / "support", "tickets")}
    candidates = query(
        url,
        """
        select ticket_id from marts_build.fct_support_tickets
        where is_solved and csat_rating is null
            and (first_reply_target_minutes is null or first_reply_sla_met is not null)
            and (resolution_target_minutes is null or resolution_sla_met is not null)
        order by ticket_id
        """,
    )
    ticket = tickets[next(t for (t,) in candidates if t not in named and t in tickets)]
    moment = _zulu(_support_as_of(day1 / "support") + timedelta(hours=1))
    rating = {
        "id": 364999999997,
        "ticket_id": ticket["id"],
        "requester_id": ticket.get("requester_id"),
        "assignee_id": ticket.get("assignee_id"),
        "score": "good",
        "comment": None,
        "created_at": moment,
        "updated_at": moment,
    }
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / "satisfaction_ratings__late.jsonl").write_text(json.dumps(rating) + "\n", encoding="utf-8")
    return ticket["id"]


def _organization_linked_later(
    url: str, day1: Path, day2: Path, folder: Path, others: set[int]
) -> tuple[int, str, int]:
    """The organization of a day-one ticket, exported again on day two with another CRM company's id in its
    external_id (an admin linking it by hand in Zendesk): identity resolution now gives its tickets that company,
    though no record of those tickets comes on day two. The ticket's requester, a CRM contact of the company the
    ticket had, is exported again on day two without an organization (Zendesk users may belong to none): matched
    by their email, to the same company as before, so only the organization's match changes the ticket. Returns
    the ticket, the customer key it must get and the requester's id."""
    organizations = {o.get("id"): o for o in _records(day1 / "support", "organizations")}
    users = {u.get("id"): u for u in _records(day1 / "support", "users")}
    tickets = query(
        url,
        """
        select tickets.ticket_id, tickets.organization_id, tickets.customer_key, tickets.requester_id
        from marts_build.fct_support_tickets as tickets
        inner join staging.stg_support__users as requesters on tickets.requester_id = requesters.user_id
        inner join staging.stg_crm__contacts as contacts on requesters.email = contacts.email
        where tickets.organization_id is not null and tickets.customer_key = 'crm:' || contacts.company_id
        order by tickets.ticket_id
        """,
    )
    # the other planted tickets' organizations are left alone: each of those tickets must be recomputed for its
    # own reason only
    named = _named_on(day2) | others
    named_users = {u.get("id") for u in _records(day2 / "support", "users")}
    taken = set(
        query(url, "select organization_id from staging.stg_support__tickets where ticket_id = any(%s)", sorted(others))
    )
    ticket, organization, current, requester = next(
        (t, o, k, u)
        for t, o, k, u in tickets
        if t not in named and o in organizations and (o,) not in taken and u in users and u not in named_users
    )
    [(company,)] = query(
        url,
        "select min(company_id) from staging.stg_crm__companies where 'crm:' || company_id is distinct from %s",
        current,
    )
    moment = _zulu(_support_as_of(day1 / "support") + timedelta(hours=1))
    linked = dict(organizations[organization], external_id=str(company), updated_at=moment)
    detached = dict(users[requester], organization_id=None, updated_at=moment)
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / "organizations__late.jsonl").write_text(json.dumps(linked) + "\n", encoding="utf-8")
    (folder / "support" / "users__detached.jsonl").write_text(json.dumps(detached) + "\n", encoding="utf-8")
    return ticket, f"crm:{company}", requester  # int_customer_identity's key of a matched record


def _rating_of_ticket_deleted_later(
    url: str, day1: Path, day2: Path, folder: Path, others: set[int], other_users: set[int]
) -> tuple[int, int, int]:
    """A commented rating of a day-one ticket, whose ticket is exported again on day two as deleted (Zendesk's
    incremental export keeps a deleted ticket, with status deleted): the rating's comment leaves the product input,
    though no record of the rating comes on day two. Returns the rating's id, its ticket's and its requester's."""
    named = _named_on(day2) | others
    tickets = {t.get("id"): t for t in _records(day1 / "support", "tickets")}
    ratings = query(
        url,
        "select satisfaction_rating_id, ticket_id, requester_id from staging.stg_support__satisfaction_ratings"
        " where rating_comment is not null order by 1",
    )
    rating, ticket, requester = next(
        (r, t, u) for r, t, u in ratings if t not in named and t in tickets and u not in other_users
    )
    moment = _zulu(_support_as_of(day1 / "support") + timedelta(hours=1))
    deleted = dict(tickets[ticket], status="deleted", updated_at=moment)
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / "tickets__deleted.jsonl").write_text(json.dumps(deleted) + "\n", encoding="utf-8")
    return rating, ticket, requester


def _ticket_without_organization(day1: Path, day2: Path, others: set[int]) -> int:
    """A ticket with a commented rating, exported on day one without an organization (Zendesk allows a ticket whose
    requester belonged to none when it was filed): its customer is its requester's. Neither it nor its requester
    comes again on day two, nor is it one of `others`. Returns the ticket (_requester_moved_later moves its
    requester)."""
    named = _named_on(day2) | others
    named_users = {u.get("id") for u in _records(day2 / "support", "users")}
    users = {u.get("id") for u in _records(day1 / "support", "users")}
    # the last one: the other plants take the first that suit them
    ticket = next(
        r.get("ticket_id")
        for r in reversed(_records(day1 / "support", "satisfaction_ratings"))
        if r.get("comment")
        and r.get("ticket_id") not in named
        and r.get("requester_id") in users
        and r.get("requester_id") not in named_users
    )
    for path in sorted((day1 / "support").glob("tickets*.jsonl")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, dict) and record.get("id") == ticket:
                line = json.dumps(dict(record, organization_id=None)) + "\n"
            lines.append(line)
        path.write_text("".join(lines), encoding="utf-8")
    return ticket


def _requester_moved_later(
    url: str, day1: Path, day2: Path, folder: Path, others: set[int], other_users: set[int]
) -> tuple[int, int, str]:
    """The help-desk user who left a commented rating on day one, on a ticket of no organization, exported again on
    day two in an organization of another customer: identity resolution now gives the user, and so the rating's
    comment and the ticket (whose customer is its requester's), that customer, though no record of the rating or
    its ticket comes on day two. Returns the rating's id, its ticket and the customer key both must get."""
    users = {u.get("id"): u for u in _records(day1 / "support", "users")}
    named_users = {u.get("id") for u in _records(day2 / "support", "users")} | other_users
    ratings = query(
        url,
        """
        select ratings.satisfaction_rating_id, ratings.ticket_id, ratings.requester_id, users.customer_key
        from staging.stg_support__satisfaction_ratings as ratings
        inner join intermediate.int_customer_identity as users
            on users.source_system = 'support_user' and users.source_id = ratings.requester_id::text
        inner join staging.stg_support__tickets as tickets on ratings.ticket_id = tickets.ticket_id
        where ratings.rating_comment is not null and tickets.organization_id is null
        order by 1
        """,
    )
    named = _named_on(day2) | others
    rating, ticket, requester, current = next(
        (r, t, u, k) for r, t, u, k in ratings if t not in named and u in users and u not in named_users
    )
    # an organization no other file of day two changes, matched to another customer
    named_organizations = {o.get("id") for o in _records(day2 / "support", "organizations")}
    named_organizations |= {o.get("id") for o in _records(folder / "support", "organizations")}
    organizations = query(
        url,
        "select source_id::bigint, customer_key from intermediate.int_customer_identity"
        " where source_system = 'support_organization' and customer_key is not null"
        " and customer_key is distinct from %s order by 1",
        current,
    )
    organization, customer_key = next((o, k) for o, k in organizations if o not in named_organizations)
    moment = _zulu(_support_as_of(day1 / "support") + timedelta(hours=1))
    moved = dict(users[requester], organization_id=organization, updated_at=moment)
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / "users__moved.jsonl").write_text(json.dumps(moved) + "\n", encoding="utf-8")
    return rating, ticket, customer_key


def _respondent_matched_later(url: str, day1: Path, folder: Path) -> tuple[str, str, str]:
    """A survey answer with no CRM id of its own, whose respondent's email a CRM contact of another company carries
    from day two on (the contact exported again, moved there): identity resolution now gives the respondent, and so
    the answer, that company, though no survey record comes on day two. Returns the answer's input source, its id
    and the customer key it must get."""
    answers = query(
        url,
        """
        select answers.input_source, answers.source_id, answers.respondent_email, respondents.customer_key
        from (
            select 'nps_comment', response_id, respondent_email, crm_company_id, score_reason
            from staging.stg_survey__nps_responses
            union all
            select 'post_ticket_comment', response_id, respondent_email, crm_company_id, comment
            from staging.stg_survey__post_ticket_responses
            union all
            select 'scorecard_hated_thing', submission_id, respondent_email, crm_company_id, hated_thing_text
            from staging.stg_survey__scorecard_responses
        ) as answers (input_source, source_id, respondent_email, crm_company_id, input_text)
        inner join intermediate.int_customer_identity as respondents
            on respondents.source_system = 'survey_respondent' and respondents.source_id = answers.respondent_email
        where answers.input_text is not null and respondents.match_method <> 'explicit_id'
        order by 1, 2
        """,
    )
    source, answer, email, current = answers[0]
    [(company,)] = query(
        url,
        "select min(company_id) from staging.stg_crm__companies where 'crm:' || company_id is distinct from %s",
        current,
    )
    contacts = _csv_records(day1 / "crm", "contacts")
    # the contact's newest copy, as staging keeps it; a new contact when the email is no contact's
    contact = next(
        (row for row in reversed(contacts) if (row.get("email") or "").strip().lower() == email),
        dict.fromkeys(contacts[0], "") | {"hs_object_id": "51999999999", "email": email},
    )
    _write_csv(folder / "crm" / "contacts__moved.csv", [dict(contact, associatedcompanyid=str(company))])
    return source, answer, f"crm:{company}"


def _contact_renamed_later(url: str, day1: Path, folder: Path) -> tuple[str, str]:
    """A CRM contact exported again on day two with another email at the same domain. The billing customer or
    help-desk user that matched its old email (match_method email) loses that evidence, though no record of theirs
    comes on day two and the old email is in no staging row any more: it falls back to its email's domain, the same
    company's. No survey respondent carries the email (_respondent_matched_later plants there). Returns the record's
    source system and id."""
    records = query(
        url,
        """
        select identities.source_system, identities.source_id, identities.email
        from intermediate.int_customer_identity as identities
        inner join intermediate.int_company_domains as domains
            on split_part(identities.email, '@', 2) = domains.domain and identities.crm_company_id = domains.company_id
        where identities.match_method = 'email'
            and identities.source_system in ('billing_customer', 'support_user')
            and (select count(*) from staging.stg_crm__contacts as contacts where contacts.email = identities.email) = 1
            and not exists (
                select from intermediate.int_customer_identity as respondents
                where respondents.source_system = 'survey_respondent' and respondents.source_id = identities.email
            )
        order by 1, 2
        """,
    )
    assert records, "a record matched by a contact's email at its company's domain"
    system, source_id, email = records[0]
    contact = next(
        row for row in reversed(_csv_records(day1 / "crm", "contacts")) if (row.get("email") or "").lower() == email
    )
    local, domain = email.split("@")
    _write_csv(folder / "crm" / "contacts__renamed.csv", [dict(contact, email=f"{local}.renamed@{domain}")])
    return system, source_id


def _domain_shared_later(url: str, day1: Path, folder: Path, taken: set[str]) -> str:
    """A help-desk organization matched by its one domain name alone, which a second CRM company's record claims too
    from day two on (an additional domain): the domain identifies neither, so the organization is unmatched and its
    users fall back to their own emails, though no help-desk record comes on day two. The organization's company and
    the second one are none of `taken` (customer keys). Returns the organization's id."""
    organizations = query(
        url,
        """
        select identities.source_id, organizations.domain_names[1], identities.crm_company_id
        from intermediate.int_customer_identity as identities
        inner join staging.stg_support__organizations as organizations
            on identities.source_id = organizations.organization_id::text
        where identities.source_system = 'support_organization' and identities.match_method = 'domain'
            and cardinality(organizations.domain_names) = 1
            and identities.customer_key <> all(%s)
        order by 1
        """,
        sorted(taken),
    )
    assert organizations, "an organization matched by its one domain"
    organization, domain, company = organizations[0]
    companies = [row for row in _csv_records(day1 / "crm", "companies") if row.get("hs_object_id")]
    second = next(
        row
        for row in reversed(companies)
        if row["hs_object_id"] != str(company) and f"crm:{row['hs_object_id']}" not in taken
    )
    claimed = ";".join(filter(None, [second.get("hs_additional_domains"), domain]))
    _write_csv(folder / "crm" / "companies__claiming.csv", [dict(second, hs_additional_domains=claimed)])
    return organization


def _write_nps_answer(day1: Path, path: Path, **fields: str) -> None:
    """A Qualtrics NPS export at `path` holding one answer: day one's first, with `fields` set (its three header
    rows as day one's export has them)."""
    with (day1 / "survey" / "nps_responses.csv").open(encoding="utf-8", newline="") as rows:
        header, labels, import_ids, template, *_ = csv.reader(rows)
    answer = dict(zip(header, template, strict=True)) | fields
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, labels, import_ids, [answer[column] for column in header]])


def _nps_answer_readdressed_later(url: str, day1: Path, folder: Path, taken: set[str], planted: set[str]) -> str:
    """An NPS answer, its respondent's only survey response, exported again on day two with another email (a
    corrected recipient): the old respondent answered nothing any more and leaves identity resolution, though no
    staging row names their email. Neither the respondent's customer is one of `taken` nor the answer one of
    `planted`. Returns the old email."""
    respondents = query(
        url,
        """
        select respondents.respondent_email, substr(respondents.response_keys[1], 5)
        from intermediate.int_survey_respondents as respondents
        inner join intermediate.int_customer_identity as identities
            on identities.source_system = 'survey_respondent' and identities.source_id = respondents.respondent_email
        where cardinality(respondents.response_keys) = 1 and respondents.response_keys[1] like 'nps:%%'
            and substr(respondents.response_keys[1], 5) <> all(%s)
            and identities.customer_key is not null and identities.customer_key <> all(%s)
        order by 1
        """,
        sorted(planted),
        sorted(taken),
    )
    assert respondents, "a respondent of one NPS answer"
    email, response = respondents[0]
    rows = []
    for path in sorted((day1 / "survey").glob("nps_responses*.csv")):
        with path.open(encoding="utf-8", newline="") as lines:
            header, labels, import_ids, *answers = csv.reader(lines)
        rows += [
            (header, labels, import_ids, answer)
            for answer in answers
            if dict(zip(header, answer, strict=True))["ResponseId"] == response
        ]
    header, labels, import_ids, answer = rows[-1]
    answer = [
        f"readdressed.{response.lower()}@nowhere.example" if c == "RecipientEmail" else v
        for c, v in zip(header, answer, strict=True)
    ]
    (folder / "survey").mkdir(parents=True, exist_ok=True)
    with (folder / "survey" / "nps_responses__readdressed.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, labels, import_ids, answer])
    return email


def _prospect_answer_recounted_later(day1: Path, answered: Path, folder: Path) -> tuple[str, str, str]:
    """An NPS reason from a contact of a CRM company that never bought (a prospect asked during a trial), with no
    CRM id of its own, delivered with day one: identity resolution gives it the prospect through the contact's
    email. On day two the company's record comes again with another original source and head count: the answer's
    acquisition channel in fct_product_input and its segment in fct_survey_responses change, though no record of
    the answer comes and its customer stays the same. Returns the answer's id, the channel it must get and the
    company's id."""
    companies = {row["hs_object_id"]: row for row in _csv_records(day1 / "crm", "companies") if row.get("hs_object_id")}
    contacts = {}
    for row in _csv_records(day1 / "crm", "contacts"):
        contacts.setdefault(row.get("associatedcompanyid"), row)
    company = next(
        c for c, row in companies.items() if (row.get("lifecyclestage") or "").lower() != "customer" and c in contacts
    )
    channel = "REFERRALS" if companies[company].get("hs_analytics_source") != "REFERRALS" else "ORGANIC_SEARCH"
    _write_nps_answer(
        day1,
        answered / "survey" / "nps_responses__trial.csv",
        ResponseId="R_prospectAnswer01",
        RecipientEmail=contacts[company]["email"],
        ExternalReference="",
        Q2="Waiting on single sign-on before we buy",
    )
    # 5,000 employees is enterprise, 10 is smb (stg_crm__companies)
    employees = "10" if int(companies[company].get("numberofemployees") or 0) >= 1000 else "5000"
    updated = dict(companies[company], hs_analytics_source=channel, numberofemployees=employees)
    _write_csv(folder / "crm" / "companies__updated.csv", [updated])
    return "R_prospectAnswer01", channel, company


def _answer_naming_company_later(day1: Path, answered: Path, company: int) -> str:
    """An NPS answer delivered with day one whose CRM id (ExternalReference) names the company day one's export
    left out (_company_exported_later), without an email (an anonymous link carrying the CRM id, so identity
    resolution has no respondent to match): no customer on day one; on day two the company's record makes it the
    company's, though no record of the answer comes. Returns its id."""
    _write_nps_answer(
        day1,
        answered / "survey" / "nps_responses__named.csv",
        ResponseId="R_namedLater0001",
        RecipientEmail="",
        ExternalReference=str(company),
    )
    return "R_namedLater0001"


def _respondent_claiming_company_later(day1: Path, answered: Path, company: int) -> str:
    """An NPS answer delivered with day one from a respondent no CRM contact or domain knows, whose CRM id names the
    company day one's export left out (_company_exported_later): the respondent is unmatched on day one; on day two
    the company's record makes the explicit id match, though no survey record comes. Returns the respondent's
    email."""
    email = "buyer@claims-later.example"
    _write_nps_answer(
        day1,
        answered / "survey" / "nps_responses__claiming.csv",
        ResponseId="R_claimsLater001",
        RecipientEmail=email,
        ExternalReference=str(company),
    )
    return email


def _scorecards_delivered_again(day1: Path, later: Path) -> dict[str, set[str]]:
    """Two of day one's scorecard submissions delivered again on day two: one without its last two answers, one
    with none (staging keeps a submission's newest copy, and a full rebuild unnests no answer of the second; the
    incremental run must drop the older copy's answers, which no new row names). Returns the question refs each
    must keep, by token."""
    records = _records(day1 / "survey", "scorecard")
    tokens = Counter(record.get("token") for record in records)
    chosen = [
        record
        for record in records
        if record.get("token") and tokens[record["token"]] == 1 and len(record.get("answers") or []) >= 4
    ][:2]
    fewer, emptied = dict(chosen[0], answers=chosen[0]["answers"][:-2]), dict(chosen[1], answers=[])
    (later / "survey").mkdir(parents=True, exist_ok=True)
    (later / "survey" / "scorecard__again.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in (fewer, emptied)), encoding="utf-8"
    )
    return {fewer["token"]: {a["field"]["ref"] for a in fewer["answers"]}, emptied["token"]: set()}


def _company_exported_later(day1: Path, folder: Path) -> int:
    """A CRM company a deal blocker note names, left out of day one's companies export and delivered on day two (an
    export cut while the company was being entered): day one's note names a company staging does not hold; day
    two's company record makes it the note's customer, though no note comes on day two. Returns its id."""
    crm = day1 / "crm"
    blocking = [
        note.get("associatedcompanyid")
        for note in _csv_records(crm, "deal_notes")
        if (note.get("hs_note_body") or "").lower().startswith("deal blocker:")
    ]
    kept, moved, header = {}, [], None
    for path in sorted(crm.glob("companies*.csv")):
        header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept[path] = lines
    company = next(
        c for c in blocking if c and any(line.startswith(f"{c},") for lines in kept.values() for line in lines)
    )
    for path, lines in kept.items():
        moved += [line for line in lines if line.startswith(f"{company},")]
        path.write_text(
            header + "".join(line for line in lines if not line.startswith(f"{company},")), encoding="utf-8"
        )
    (folder / "crm").mkdir(parents=True, exist_ok=True)
    (folder / "crm" / "companies__entered.csv").write_text(header + "".join(moved), encoding="utf-8")
    return int(company)


def _quiet_stripe_customers(day1: Path, others: tuple[Path, ...]) -> list[tuple[int, str, str]]:
    """Day one's Stripe customers with MRR through to the end that no record of `others` (day two's exports, the
    failing re-export) names, each the only one claiming its CRM company: (first subscription start, Stripe id,
    CRM company id), in start order."""
    named = _jsonl_text(*others)
    customers = [c for c in _records(day1 / "billing", "customers") if isinstance(c.get("metadata"), dict)]
    claims = Counter(c["metadata"].get("hubspot_company_id") for c in customers)
    first_started: dict[str, int] = {}
    for subscription in _records(day1 / "billing", "subscriptions"):
        customer, started = subscription.get("customer"), subscription.get("start_date")
        if subscription.get("status") != "active" or not isinstance(started, int) or subscription["id"] in named:
            first_started[customer] = -1  # not a customer with MRR through to the end
        elif first_started.get(customer, 0) >= 0:
            first_started[customer] = min(first_started.get(customer, started), started)
    return sorted(
        (first_started[c["id"]], c["id"], c["metadata"]["hubspot_company_id"])
        for c in customers
        if first_started.get(c["id"], -1) > 0
        and c["id"] not in named
        and claims[c["metadata"].get("hubspot_company_id")] == 1
    )


def _billing_customer_moved(quiet: list[tuple[int, str, str]], day1: Path, merged: Path, moved: Path) -> dict:
    """A Stripe customer whose metadata names another CRM company twice: merged into company `a` on day one (a
    finance clerk fixing the link), then moved on to company `b` on day two. On day two `a` loses its months' MRR
    and `b` gains it, though no subscription record names either and both keep their cohort month, segment and
    channel (their own Stripe customers, from `quiet`, started first): only the recorded identity change finds
    `b`, and only the value it replaced finds `a`. Returns the moved Stripe customer, the customer keys of `a` and
    `b` and the three Stripe customers."""
    (first, stripe_a, company_a), (_, stripe_b, company_b) = quiet[:2]
    first_month = datetime.fromtimestamp(first, UTC).replace(day=1, hour=0, minute=0, second=0)
    # started in the data's second or third month: MRR in months before those day two recomputes for everyone
    _, mover, _ = next(
        c for c in reversed(quiet) if datetime.fromtimestamp(c[0], UTC) < first_month + timedelta(days=80)
    )
    record = next(c for c in _records(day1 / "billing", "customers") if c.get("id") == mover)
    for folder, name, company in ((merged, "customers__merged", company_a), (moved, "customers__moved", company_b)):
        (folder / "billing").mkdir(parents=True, exist_ok=True)
        (folder / "billing" / f"{name}.jsonl").write_text(
            json.dumps(dict(record, metadata=dict(record["metadata"], hubspot_company_id=company))) + "\n",
            encoding="utf-8",
        )
    return {"mover": mover, "a": f"crm:{company_a}", "b": f"crm:{company_b}", "stripe": [stripe_a, stripe_b, mover]}


def _paying_company_resourced(quiet: list[tuple[int, str, str]], day1: Path, folder: Path) -> tuple[str, str, str]:
    """The CRM company of a Stripe customer from `quiet` (the third to start), exported again on day two with another
    original source: every month of its customer changes acquisition channel, though no billing record comes and
    identity resolution gives it the same customer. Returns its Stripe customer, its customer key and the channel."""
    _, stripe, company = quiet[2]
    [row] = [row for row in _csv_records(day1 / "crm", "companies") if row.get("hs_object_id") == company]
    channel = "REFERRALS" if row.get("hs_analytics_source") != "REFERRALS" else "ORGANIC_SEARCH"
    _write_csv(folder / "crm" / "companies__resourced.csv", [dict(row, hs_analytics_source=channel)])
    return stripe, f"crm:{company}", channel


def _domain_dropped_later(url: str, day1: Path, folder: Path, taken: set[str]) -> str:
    """A help-desk organization matched by its one domain name alone, the primary domain of a CRM company whose
    record comes again on day two with another one: the old domain is no company's any more, though only the
    company's record, which no longer names it, comes. The company is none of `taken` (customer keys) and is not
    exported again otherwise. Returns the organization's id."""
    restaged = {row.get("hs_object_id") for row in _csv_records(folder / "crm", "companies")}
    organizations = query(
        url,
        """
        select identities.source_id, identities.crm_company_id
        from intermediate.int_customer_identity as identities
        inner join staging.stg_support__organizations as organizations
            on identities.source_id = organizations.organization_id::text
        inner join staging.stg_crm__companies as companies
            on identities.crm_company_id = companies.company_id
        where identities.source_system = 'support_organization' and identities.match_method = 'domain'
            and organizations.domain_names = array[companies.domain]
            and not companies.domain = any(companies.additional_domains)
            and identities.customer_key <> all(%s)
        order by 1
        """,
        sorted(taken),
    )
    organization, company = next((o, c) for o, c in organizations if str(c) not in restaged)
    [row] = [row for row in _csv_records(day1 / "crm", "companies") if row.get("hs_object_id") == str(company)]
    _write_csv(folder / "crm" / "companies__redomained.csv", [dict(row, domain=f"renamed-{company}.example")])
    return organization


def _sole_payer_moved_later(
    url: str, quiet: list[tuple[int, str, str]], day1: Path, day2: Path, folder: Path, taken: set[str]
) -> tuple[str, str]:
    """A Stripe customer from `quiet`, its CRM company's only billing customer, whose metadata names on day two a
    CRM company no billing customer belongs to and no export of day two carries: the first company stops being a
    customer and the other becomes one, though no invoice comes on day two. Only the recorded identity change
    finds either. Neither company is one of `taken` (customer keys). Returns the customer keys it leaves and
    joins."""
    restaged = {row.get("hs_object_id") for day in (day2, folder) for row in _csv_records(day / "crm", "companies")}
    sole = {
        key
        for (key,) in query(
            url,
            "select customer_key from intermediate.int_customer_identity where source_system = 'billing_customer'"
            " group by customer_key having count(*) = 1",
        )
    }
    stripe, company = next(
        (stripe, company)
        for _, stripe, company in quiet[3:]
        if f"crm:{company}" in sole and f"crm:{company}" not in taken and company not in restaged
    )
    joined = next(
        str(company)
        for (company,) in query(
            url,
            """
            select company_id from staging.stg_crm__companies
            where 'crm:' || company_id not in (select customer_key from intermediate.int_customers_acquired)
                and 'crm:' || company_id <> all(%s)
            order by company_id
            """,
            sorted(taken),
        )
        if str(company) not in restaged
    )
    record = next(c for c in _records(day1 / "billing", "customers") if c.get("id") == stripe)
    (folder / "billing").mkdir(parents=True, exist_ok=True)
    (folder / "billing" / "customers__repointed.jsonl").write_text(
        json.dumps(dict(record, metadata=dict(record["metadata"], hubspot_company_id=joined))) + "\n",
        encoding="utf-8",
    )
    return f"crm:{company}", f"crm:{joined}"


def _late_priority_change(day1: Path, day2: Path, folder: Path) -> int:
    """A priority change to urgent on a ticket open at day one's end, exported with day one (an audit export taken
    an hour after the tickets one) and dated an hour after day one's as-of moment, Zendesk's latest ticket update,
    comment or status change of the export (macros/support_as_of.sql). Day one's build does not count it yet; day
    two's as-of moment is later, so day two must, though no record of day two names the ticket. The ticket has no
    applied SLA (the priority decides its policy) and no other priority change. Returns its id."""
    support1, support2 = day1 / "support", day2 / "support"
    tickets = _records(support1, "tickets")
    history = _records(support1, "ticket_field_history")
    day1_as_of = _support_as_of(support1)
    day2_moments = [_instant(t.get("updated_at")) for t in _records(support2, "tickets")]
    assert max(m for m in day2_moments if m is not None) > day1_as_of + timedelta(hours=1), "day two moves the as-of"

    named_later = _named_on(day2)
    events = _records(support1, "ticket_metric_events") + _records(support2, "ticket_metric_events")
    applied = {e.get("ticket_id") for e in events if e.get("type") == "apply_sla"}
    prioritised = {h.get("ticket_id") for h in history if h.get("field_name") == "priority"}
    [ticket, *_] = [
        t
        for t in tickets
        if t.get("status") in ("new", "open")
        and t.get("priority") in ("low", "normal")
        and t.get("id") not in named_later | applied | prioritised
    ]
    (folder / "support").mkdir(parents=True)
    change = {
        "id": 364999999999,
        "ticket_id": ticket["id"],
        "field_name": "priority",
        "value": "urgent",
        "previous_value": ticket["priority"],
        "updated": _zulu(day1_as_of + timedelta(hours=1)),
        "user_id": ticket.get("assignee_id") or ticket.get("submitter_id"),
    }
    (folder / "support" / "ticket_field_history.jsonl").write_text(json.dumps(change) + "\n", encoding="utf-8")
    return ticket["id"]


def _fx_rate_correction(day1: Path, folder: Path) -> str:
    """A corrected EUR rate, delivered on day two, for the day of day one's last EUR invoice (not one of those the
    failing re-export names): it must convert that invoice again, though no record of the invoice came on day
    two. Returns the invoice's id."""
    *_, invoice = [
        record
        for record in _records(day1 / "billing", "invoices")
        if record.get("currency") == "eur"
        and isinstance(record.get("created"), int)
        and isinstance(record.get("id"), str)
    ]
    day = datetime.fromtimestamp(invoice["created"], UTC).date()  # the test's reporting time zone is UTC
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "fx_rates__correction.csv").write_text(
        f"rate_date,currency,rate_to_usd\n{day},EUR,1.100000\n"
    )
    return invoice["id"]


def _signals_changed_later(
    url: str, day1: Path, day2: Path, folder: Path, candidates: list[tuple[str, str]], named_tickets: set[int]
) -> dict:
    """Three records of day two that change customer months of int_customer_signals_monthly three months or more
    before the data's last month, older than any month day two recomputes for every customer, each of customers
    (`candidates`: (customer key, Stripe customer)) nothing else of day two touches:
    - `ticket`: a ticket of customer `a` exported again in the organization of customer `b` (an agent fixing the
      ticket's organization): `a` opened one ticket fewer that month, `b` one more; only what signals read before
      finds `a`;
    - `answer`: an NPS answer of customer `c` (its CRM id), exported again naming customer `d`'s company (Qualtrics
      lets a response's embedded data be edited), `d` having answered no NPS survey: `c`'s latest answer and `d`'s
      change from that month on;
    - `charge`: a failed payment attempt of customer `e` on an invoice of that month, an hour before the charge
      that paid it, delivered late (day two): `e` has one failed charge more that month;
    - `rescored`: an NPS answer of customer `f`, its latest that month, exported again with a score of the other
      side (0 for a passive's or promoter's, 10 for a detractor's): `f`'s latest score changes, not its customer.
    Returns the keys, ids and months."""
    keys = [key for key, _ in candidates]
    signals_sql = "select customer_key, month from intermediate.int_customer_signals_monthly"
    old_months = f"month <= (select max(month) - interval '3 months' from ({signals_sql}) as all_months)"
    busy = {
        key
        for (key,) in query(
            url,
            "select distinct customer_key from marts_build.fct_support_tickets"
            " where ticket_id = any(%s) and customer_key is not null",
            sorted(named_tickets),
        )
    }
    ticket, a, month = query(
        url,
        f"""
        select tickets.ticket_id, tickets.customer_key, tickets.month
        from marts_build.fct_support_tickets as tickets
        inner join ({signals_sql}) as signals using (customer_key, month)
        where tickets.customer_key = any(%s) and tickets.customer_key <> all(%s) and tickets.organization_id is not null
            and {old_months}
        order by 1 limit 1
        """,
        keys,
        sorted(busy),
    )[0]
    named_organizations = {o.get("id") for o in _records(day2 / "support", "organizations")}
    named_organizations |= {o.get("id") for o in _records(folder / "support", "organizations")}
    organization, b = next(
        (o, k)
        for o, k in query(
            url,
            f"""
            select identities.source_id::bigint, identities.customer_key
            from intermediate.int_customer_identity as identities
            inner join ({signals_sql}) as signals on identities.customer_key = signals.customer_key
            where identities.source_system = 'support_organization' and signals.month = %s
                and identities.customer_key = any(%s) and identities.customer_key <> all(%s)
            order by 1
            """,
            month,
            keys,
            sorted(busy | {a}),
        )
        if o not in named_organizations
    )
    record = [t for t in _records(day1 / "support", "tickets") if t.get("id") == ticket][-1]
    moment = _zulu(_support_as_of(day1 / "support") + timedelta(hours=1))
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / "tickets__reorganized.jsonl").write_text(
        json.dumps(dict(record, organization_id=organization, updated_at=moment)) + "\n", encoding="utf-8"
    )

    rows = {}
    for path in sorted((day1 / "survey").glob("nps_responses*.csv")):
        with path.open(encoding="utf-8", newline="") as lines:
            header, labels, import_ids, *answers = csv.reader(lines)
        rows |= {row[header.index("ResponseId")]: row for row in answers if len(row) == len(header)}
    answers = query(
        url,
        f"""
        select responses.response_id, responses.customer_key, min(signals.month)
        from marts_build.fct_survey_responses as responses
        inner join intermediate.int_customer_signals_monthly as signals
            on responses.customer_key = signals.customer_key and responses.submitted_at = signals.latest_nps_at
        where responses.survey_type = 'nps' and responses.customer_key = any(%s) and responses.customer_key <> all(%s)
            and signals.{old_months}
        group by 1, 2
        order by 1
        """,
        keys,
        [a, b],
    )
    answer, c, answer_month = next(
        (r, k, m) for r, k, m in answers if r in rows and f"crm:{rows[r][header.index('ExternalReference')]}" == k
    )
    d = next(
        k
        for (k,) in query(
            url,
            f"""
            select customer_key from ({signals_sql}) as signals
            where month = %s and customer_key = any(%s) and customer_key <> all(%s)
                and customer_key not in (
                    select customer_key from marts_build.fct_survey_responses
                    where survey_type = 'nps' and customer_key is not null
                )
            order by 1
            """,
            answer_month,
            keys,
            [a, b, c],
        )
    )
    moved = rows[answer]
    moved[header.index("ExternalReference")] = d.removeprefix("crm:")

    stripe = dict(candidates)
    e, charge_month, invoice = query(
        url,
        f"""
        select invoices.customer_key, signals.month, invoices.invoice_id
        from (
            -- mid-month, so that an attempt an hour earlier counts in the same month in any time zone
            select identities.customer_key, charges.invoice_id, date_trunc('month', charges.created_at)::date as month
            from staging.stg_billing__charges as charges
            inner join intermediate.int_customer_identity as identities
                on identities.source_system = 'billing_customer' and identities.source_id = charges.billing_customer_id
            where charges.charge_status = 'succeeded' and charges.invoice_id is not null
                and extract(day from charges.created_at) between 3 and 25
        ) as invoices
        inner join ({signals_sql}) as signals using (customer_key, month)
        where invoices.customer_key = any(%s) and invoices.customer_key <> all(%s) and signals.{old_months}
        order by 1, 2, 3 limit 1
        """,
        keys,
        [a, b, c, d],
    )[0]
    paid = next(charge for charge in _records(day1 / "billing", "charges") if charge.get("invoice") == invoice)
    attempt = dict(paid, id="ch_failedAttempt01", status="failed", paid=False, captured=False, amount_captured=0)
    attempt |= {"failure_code": "card_declined", "failure_message": "Your card was declined."}
    attempt |= {"outcome": {"network_status": "declined_by_network", "type": "issuer_declined"}}
    (folder / "billing").mkdir(parents=True, exist_ok=True)
    (folder / "billing" / "charges__failed_attempt.jsonl").write_text(
        json.dumps(attempt | {"created": paid["created"] - 3600}) + "\n", encoding="utf-8"
    )
    assert stripe[e] == paid["customer"]

    rescored, f, rescored_month = next(
        (r, k, m)
        for r, k, m in answers
        if k not in (c, d, e) and r in rows and f"crm:{rows[r][header.index('ExternalReference')]}" == k
    )
    was = int(rows[rescored][header.index("Q1")])
    score = 0 if was >= 7 else 10
    rows[rescored][header.index("Q1")], rows[rescored][header.index("Q1_NPS_GROUP")] = str(score), "13"[score > 6]
    (folder / "survey").mkdir(parents=True, exist_ok=True)
    with (folder / "survey" / "nps_responses__edited.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, labels, import_ids, moved, rows[rescored]])
    return {
        "ticket": (ticket, a, b, month),
        "answer": (answer, c, d, answer_month),
        "charge": (e, charge_month),
        "rescored": (rescored, f, rescored_month, was, score),
    }


def _refunds_later(day1: Path, others: tuple[Path, ...], customers: set[str], folder: Path) -> dict[str, str]:
    """Refunds that change day one's paid invoices on day two, each found by one rule of int_invoices_netted only
    (a refund names its invoice in metadata, else its charge does; Stripe lets metadata be edited):
    - `charged`: a new refund without metadata, of the invoice's charge, exported on day one;
    - `charge_late`: a refund without metadata exported on day one, whose charge is exported only on day two (taken
      out of day one's charges);
    - `left` and `joined`: a refund naming `left` on day one, re-exported on day two naming `joined` (a clerk
      fixing the link), of the charge of a third invoice, `bystander`, so that only the refund's versions find
      `left`.
    The invoices are USD, paid, of Stripe customers not in `customers`, and named by no record of `others` (day
    two's exports); one-off purchases (no subscription). Returns the invoice of each."""
    named_later = _jsonl_text(*others)
    charges = {
        c["invoice"]: c
        for c in _records(day1 / "billing", "charges")
        if isinstance(c.get("invoice"), str) and isinstance(c.get("id"), str)
    }
    invoices = [
        i
        for i in _records(day1 / "billing", "invoices")
        if i.get("status") == "paid"
        and i.get("currency") == "usd"
        and isinstance(i.get("amount_paid"), int)
        and i["amount_paid"] > 500
        and i.get("customer") not in customers
        and i.get("id") in charges
        and isinstance(i.get("created"), int)
        and i["id"] not in named_later
        and charges[i["id"]]["id"] not in named_later
    ]
    # one-off purchases first, so that int_purchases_netted's rows change too
    created = {i["id"]: i["created"] for i in sorted(invoices, key=lambda i: i.get("subscription") is not None)}
    planted = dict(zip(("charged", "charge_late", "left", "joined", "bystander"), created, strict=False))
    assert len(planted) == 5, "five paid USD invoices no record of day two names"

    def refund(refund_id: str, charged: str, invoice: str | None) -> str:
        """A succeeded refund of `charged`'s charge, naming `invoice` in its metadata (none: no metadata)."""
        record = {"id": refund_id, "object": "refund", "charge": charges[charged]["id"], "amount": 500}
        record |= {"currency": "usd", "created": created[charged] + 86_400, "status": "succeeded"}
        return json.dumps(record | {"metadata": {"invoice": invoice} if invoice else {}}) + "\n"

    late_charge = charges[planted["charge_late"]]
    for day1_charges in (day1 / "billing").glob("charges*.jsonl"):
        lines = day1_charges.read_text(encoding="utf-8").splitlines()
        day1_charges.write_text("".join(f"{line}\n" for line in lines if late_charge["id"] not in line), "utf-8")
    (day1 / "billing" / "refunds__planted.jsonl").write_text(
        refund("re_charge_late", planted["charge_late"], None)
        + refund("re_edited", planted["bystander"], planted["left"]),
        encoding="utf-8",
    )
    (folder / "billing").mkdir(parents=True, exist_ok=True)
    (folder / "billing" / "charges__late_charge.jsonl").write_text(json.dumps(late_charge) + "\n", encoding="utf-8")
    (folder / "billing" / "refunds__later.jsonl").write_text(
        refund("re_charged", planted["charged"], None) + refund("re_edited", planted["bystander"], planted["joined"]),
        encoding="utf-8",
    )
    return planted


def _subscriptions_named(day: Path) -> set[str]:
    """The subscriptions a day's invoices and line items name, nested lines included."""
    invoices = _records(day / "billing", "invoices")
    lines = _records(day / "billing", "invoice_line_items")
    lines += [line for invoice in invoices if isinstance(invoice.get("lines"), list) for line in invoice["lines"]]
    return {record.get("subscription") for record in [*invoices, *lines] if isinstance(record, dict)}


def _late_subscription_change(url: str, named: set[str], folder: Path) -> tuple[str, date]:
    """A quantity change of a subscription active to the end, dated in the middle of the month three months before
    day one's last and delivered on day two alone (Stripe's customer.subscription.updated event: data.object after
    the change, data.previous_attributes before it). No other record of day two names the subscription (`named`),
    and the month is before those day two recomputes for every subscription (_month_end_rate_correction's on): only
    the event makes the run look at the subscription again. The subscription has no later event, so every month
    from the change on counts 7 more units. Returns the subscription and the month."""
    [(month,)] = query(url, "select (max(month) - interval '3 months')::date from intermediate.int_revenue_months")
    moment = datetime(month.year, month.month, 15, 12, tzinfo=UTC)
    [(subscription, customer, item, price, quantity), *_] = query(
        url,
        """
        select subscription_id, billing_customer_id, subscription_item_id, price_id, quantity
        from staging.stg_billing__subscriptions as subscriptions
        where subscription_status = 'active' and ended_at is null and canceled_at is null and started_at < %s
            and quantity > 0 and subscription_id <> all(%s)
            and not exists (
                select from staging.stg_billing__subscription_events as events
                where events.subscription_id = subscriptions.subscription_id and events.occurred_at >= %s
            )
            and exists (
                select from intermediate.int_subscription_mrr_monthly as months
                where months.subscription_id = subscriptions.subscription_id and months.month = %s and months.mrr > 0
            )
        order by subscription_id
        """,
        moment.replace(tzinfo=None) - timedelta(days=45),
        sorted(s for s in named if isinstance(s, str)),
        moment.replace(tzinfo=None),
        month,
    )
    after = {"id": item, "price": {"id": price}, "quantity": quantity + 7}
    event = {
        "id": "evt_late_quantity_change",
        "object": "event",
        "api_version": "2024-06-20",
        "type": "customer.subscription.updated",
        "created": int(moment.timestamp()),
        "data": {
            "object": {
                "id": subscription,
                "object": "subscription",
                "customer": customer,
                "status": "active",
                "quantity": quantity + 7,
                "items": {"data": [after]},
                "cancel_at_period_end": False,
                "cancel_at": None,
                "canceled_at": None,
                "ended_at": None,
            },
            "previous_attributes": {"quantity": quantity, "items": {"data": [{"id": item, "quantity": quantity}]}},
        },
    }
    (folder / "billing").mkdir(parents=True, exist_ok=True)
    (folder / "billing" / "subscription_events__resent.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    return subscription, month


def _month_end_rate_correction(url: str, folder: Path) -> date:
    """A corrected EUR rate for the last day of the month before day one's last, delivered on day two:
    the month's subscriptions in EUR convert at it (the latest rate on or before the month's last day), though that
    month is before those a daily run recomputes for every subscription. Returns the month."""
    [(month, last_day)] = query(
        url,
        "select month, month_last_day from intermediate.int_revenue_months"
        " where month = (select max(month) - interval '1 month' from intermediate.int_revenue_months)",
    )
    (folder / "billing").mkdir(parents=True, exist_ok=True)
    (folder / "billing" / "fx_rates__month_end.csv").write_text(
        f"rate_date,currency,rate_to_usd\n{last_day},EUR,1.500000\n"
    )
    return month


def _running_resolution_clocks(url: str) -> tuple[datetime, dict[int, Decimal]]:
    """The support as-of moment, and the calendar minutes of each resolution clock still running at it."""
    [(as_of,)] = query(url, "select as_of_at from intermediate.int_support_as_of")
    clocks = query(
        url,
        "select ticket_id, resolution_sla_calendar_minutes from intermediate.int_tickets_measured"
        " where resolution_sla_stopped_at is null and resolution_sla_calendar_minutes is not null",
    )
    return as_of, dict(clocks)


# the models whose row changes others read (macros/row_changes.sql): their keys and watched columns
ROW_CHANGES = {
    "int_customer_identity": (("source_system", "source_id"), ("customer_key",)),
    "int_customers_acquired": (("customer_key",), ("segment", "acquisition_channel")),
    "int_contact_emails": (("email",), ("company_id",)),
    "int_company_domains": (("domain",), ("company_id",)),
    "int_survey_respondents": (("respondent_email",), ("claimed_company_id",)),
}


def _row_changes_disagreeing(url: str, model: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> int:
    """How many keys of `model` its recorded row changes do not hold as the table does: a key without a record, a
    recorded value that is not the table's, a key gone whose record still has values."""
    on = " and ".join(f"recorded.{key} = built.{key}::text" for key in keys)
    values = ", ".join(f"'{column}', built.{column}" for column in columns)
    return query(
        url,
        f"""
        select count(*) from intermediate.{model} as built
        full join intermediate.{model}__changes as recorded on {on}
        where recorded.watched is distinct from (
            case when built.{keys[0]} is not null then jsonb_build_object({values}) end
        )
        """,
    )[0][0]


def _tables(url: str) -> list[tuple[str, str]]:
    return query(
        url,
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('staging', 'intermediate', 'marts_build')"
        " and table_name not in ('incremental_state', 'tested_through', 'tested_rows')"
        " and table_name !~ '__(changes|replaced|recomputed)$'"
        # bookkeeping: when each ran, what it read, when a row of a table last changed (compared below on its
        # own), which customers a run replaced
        " order by 1, 2",
    )


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _rows(url: str, schema: str, table: str) -> Counter:
    return Counter(tuple(map(_hashable, row)) for row in query(url, f'select * from "{schema}"."{table}"'))


def _recomputed(log: Path, model: str) -> int:
    """How many keys the model's last run recomputed, from dbt's debug log (macro incremental_keys)."""
    counts = re.findall(rf"{model}: recomputing (\d+) keys", log.read_text(encoding="utf-8"))
    assert counts, f"{model} did not run incrementally"
    return int(counts[-1])


def test_an_incremental_daily_run_equals_a_full_rebuild(server, tmp_path):
    from tealeaves.generate import generate

    exports = tmp_path / "exports"
    generate(exports, **WORLD)
    moved = split_next_day(exports, tmp_path / "day1", tmp_path / "day2", days_before_end=4)
    assert moved["tickets.jsonl"] > 0 and moved["ticket_comments.jsonl"] > 0 and moved["invoices.jsonl"] > 0, moved

    failed_ids = _failing_reexport(tmp_path / "day1", tmp_path / "day2", tmp_path / "failing")
    answers_kept = _scorecards_delivered_again(tmp_path / "day1", tmp_path / "later")
    company_later = _company_exported_later(tmp_path / "day1", tmp_path / "later")
    prospect_answer, prospect_channel, prospect_company = _prospect_answer_recounted_later(
        tmp_path / "day1", tmp_path / "waiting", tmp_path / "later"
    )
    named_answer = _answer_naming_company_later(tmp_path / "day1", tmp_path / "waiting", company_later)
    claiming = _respondent_claiming_company_later(tmp_path / "day1", tmp_path / "waiting", company_later)
    late_ticket = _late_priority_change(tmp_path / "day1", tmp_path / "day2", tmp_path / "late")
    corrected_invoice = _fx_rate_correction(tmp_path / "day1", tmp_path / "fx")
    quiet = _quiet_stripe_customers(tmp_path / "day1", (tmp_path / "day2", tmp_path / "failing"))
    billing_move = _billing_customer_moved(quiet, tmp_path / "day1", tmp_path / "waiting", tmp_path / "later")
    resourced_stripe, resourced, resourced_channel = _paying_company_resourced(
        quiet, tmp_path / "day1", tmp_path / "later"
    )
    refunded = _refunds_later(
        tmp_path / "day1",
        (tmp_path / "day2", tmp_path / "failing"),
        {*billing_move["stripe"], resourced_stripe},
        tmp_path / "later",
    )

    _waiting_ticket(tmp_path / "day1", tmp_path / "waiting")
    unorganized = _ticket_without_organization(tmp_path / "day1", tmp_path / "day2", {late_ticket, WAITING_TICKET})

    incremental = create_database(server, "t_incremental_daily")
    _load(incremental, tmp_path / "day1", tmp_path / "late", tmp_path / "waiting")
    # a re-export staged before the raw gate saw it (a build run by hand between a load and the DAG's gate)
    _load(incremental, tmp_path / "failing", gate=False)
    dbt_build(incremental, TABLES_ONLY, tmp_path / "dbt-day1")
    priced_sql = "select month, gross_margin_pct from intermediate.int_customer_revenue__margins order by 1"
    priced_day1 = query(incremental, priced_sql)
    late_targets_sql = (
        "select metric, target_minutes from intermediate.int_tickets_sla_targets where ticket_id = %s order by 1"
    )
    late_targets = query(incremental, late_targets_sql, late_ticket)
    refunds_sql = "select invoice_id, refunds from intermediate.int_invoices_netted where invoice_id = any(%s)"
    refunds_day1 = dict(query(incremental, refunds_sql, list(refunded.values())))
    purchases_sql = "select invoice_id, amount_usd from intermediate.int_purchases_netted where invoice_id = any(%s)"
    purchases_day1 = dict(query(incremental, purchases_sql, list(refunded.values())))
    assert purchases_day1.keys() == set(refunded.values()), "one-off purchases"
    running_day1 = _running_resolution_clocks(incremental)
    waiting_sql = (
        "select first_reply_target_minutes is not null, first_reply_sla_met from marts_build.fct_support_tickets"
        " where ticket_id = %s"
    )
    assert query(incremental, waiting_sql, WAITING_TICKET) == [(True, None)], "not yet due on day one"
    late_rated = _late_rating(incremental, tmp_path / "day1", tmp_path / "day2", tmp_path / "later")
    matched_later, customer_key, detached_user = _organization_linked_later(
        incremental, tmp_path / "day1", tmp_path / "day2", tmp_path / "later", {late_ticket, late_rated, WAITING_TICKET}
    )
    planted = {late_ticket, late_rated, WAITING_TICKET, matched_later}
    deleted_rating, deleted_ticket, deleted_rater = _rating_of_ticket_deleted_later(
        incremental, tmp_path / "day1", tmp_path / "day2", tmp_path / "later", planted | {unorganized}, {detached_user}
    )
    moved_rating, moved_ticket, moved_key = _requester_moved_later(
        incremental,
        tmp_path / "day1",
        tmp_path / "day2",
        tmp_path / "later",
        planted | {deleted_ticket},
        {detached_user, deleted_rater},
    )
    assert moved_ticket == unorganized, "the only ticket of no organization"
    input_sql = (
        "select source_id, customer_key from intermediate.int_customer_inputs_classified"
        " where input_source = %s and source_id = any(%s) order by 1"
    )
    blocker_notes = [
        str(note)
        for (note,) in query(
            incremental,
            "select note_id from staging.stg_crm__deal_notes where company_id = %s and is_deal_blocker",
            company_later,
        )
    ]
    assert blocker_notes and query(incremental, input_sql, "deal_blocker_note", blocker_notes) == [
        (note, None) for note in blocker_notes
    ], "the company is not staged on day one"
    answer_source, answer, answer_key = _respondent_matched_later(incremental, tmp_path / "day1", tmp_path / "later")
    assert query(incremental, input_sql, answer_source, [answer]) != [(answer, answer_key)]
    identity_sql = (
        "select match_method, customer_key from intermediate.int_customer_identity"
        " where source_system = %s and source_id = %s"
    )
    assert query(incremental, identity_sql, "survey_respondent", claiming) == [("unmatched", None)]
    renamed = _contact_renamed_later(incremental, tmp_path / "day1", tmp_path / "later")
    [(renamed_method, renamed_key)] = query(incremental, identity_sql, *renamed)
    assert renamed_method == "email"
    prospect_sql = (
        "select is_paying_customer, acquisition_channel from marts_build.fct_product_input"
        " where input_source = 'nps_comment' and source_id = %s"
    )
    [(paying, channel)] = query(incremental, prospect_sql, prospect_answer)
    assert not paying and channel != prospect_channel, "a prospect's answer, counted under its first source"
    responses_sql = (
        "select response_id, customer_key, segment from marts_build.fct_survey_responses"
        " where survey_type = 'nps' and response_id = any(%s) order by 1"
    )
    responses_day1 = query(incremental, responses_sql, [named_answer, prospect_answer])
    assert [(r, k) for r, k, _ in responses_day1] == [
        (named_answer, None),
        (prospect_answer, f"crm:{prospect_company}"),
    ]
    rating_inputs = query(incremental, input_sql, "support_rating_comment", [str(deleted_rating), str(moved_rating)])
    assert len(rating_inputs) == 2 and (str(moved_rating), moved_key) not in rating_inputs
    [(_, answer_key_before)] = query(incremental, input_sql, answer_source, [answer])
    refunded_customers = {
        i.get("customer")
        for i in _records(tmp_path / "day1" / "billing", "invoices")
        if i.get("id") in refunded.values()
    }
    taken = {billing_move["a"], billing_move["b"], resourced, answer_key, answer_key_before, moved_key, customer_key}
    taken |= {f"crm:{company_later}", f"crm:{prospect_company}"}
    signals_candidates = [
        (f"crm:{company}", stripe)
        for _, stripe, company in quiet[3:]
        if f"crm:{company}" not in taken and stripe not in refunded_customers
    ]
    signals_planted = _signals_changed_later(
        incremental,
        tmp_path / "day1",
        tmp_path / "day2",
        tmp_path / "later",
        signals_candidates,
        _named_on(tmp_path / "day2") | planted | {deleted_ticket, moved_ticket},
    )
    signals_customers = [
        *signals_planted["ticket"][1:3],
        *signals_planted["answer"][1:3],
        signals_planted["charge"][0],
        signals_planted["rescored"][1],
    ]
    signals_stripe = [stripe for key, stripe in signals_candidates if key in signals_customers]
    shared = _domain_shared_later(incremental, tmp_path / "day1", tmp_path / "later", taken | set(signals_customers))
    [(_, shared_key)] = query(incremental, identity_sql, "support_organization", shared)
    dropped = _domain_dropped_later(
        incremental, tmp_path / "day1", tmp_path / "later", taken | set(signals_customers) | {shared_key}
    )
    assert [method for method, _ in query(incremental, identity_sql, "support_organization", dropped)] == ["domain"]
    payer_left, payer_joined = _sole_payer_moved_later(
        incremental, quiet, tmp_path / "day1", tmp_path / "day2", tmp_path / "later", taken | set(signals_customers)
    )
    acquired_sql = "select customer_key from intermediate.int_customers_acquired where customer_key = any(%s)"
    readdressed = _nps_answer_readdressed_later(
        incremental,
        tmp_path / "day1",
        tmp_path / "later",
        taken | set(signals_customers) | {payer_left, payer_joined},
        {answer, prospect_answer, named_answer, "R_claimsLater001"},
    )
    assert [method for method, _ in query(incremental, identity_sql, "survey_respondent", readdressed)] != []
    assert query(incremental, acquired_sql, [payer_left, payer_joined]) == [(payer_left,)]
    assert [method for method, _ in query(incremental, identity_sql, "support_organization", shared)] == ["domain"]
    signals_sql = (
        "select customer_key, month, tickets_opened, latest_nps_score, latest_nps_at, failed_charges"
        " from intermediate.int_customer_signals_monthly where customer_key = any(%s) order by 1, 2"
    )
    signals_day1 = {(k, m): rest for k, m, *rest in query(incremental, signals_sql, signals_customers)}
    customer_months_sql = (
        "select customer_key, month, mrr, cohort_month, segment, acquisition_channel"
        " from intermediate.int_customer_mrr_monthly where customer_key = any(%s) order by 1, 2"
    )
    moved_customers = [billing_move["a"], billing_move["b"]]
    customer_months = query(incremental, customer_months_sql, moved_customers)
    [(mover_key,)] = query(
        incremental,
        "select customer_key from intermediate.int_customer_identity where source_id = %s",
        billing_move["mover"],
    )
    assert mover_key == billing_move["a"], "merged into company a on day one"
    named = _subscriptions_named(tmp_path / "day2") | _subscriptions_named(tmp_path / "failing")
    # the late subscription change is planted on none of these Stripe customers: the move or the company alone
    # changes them
    named |= {
        subscription
        for (subscription,) in query(
            incremental,
            "select subscription_id from staging.stg_billing__subscriptions where billing_customer_id = any(%s)",
            [*billing_move["stripe"], resourced_stripe, *signals_stripe],
        )
    }
    late_subscription, late_month = _late_subscription_change(incremental, named, tmp_path / "billing")
    corrected_month = _month_end_rate_correction(incremental, tmp_path / "billing")
    subscription_mrr_sql = (
        "select month, mrr from intermediate.int_subscription_mrr_monthly"
        " where subscription_id = %s and month >= %s order by month"
    )
    late_subscription_mrr = query(incremental, subscription_mrr_sql, late_subscription, late_month)
    eur_mrr_sql = (
        "select sum(months.mrr) from intermediate.int_subscription_mrr_monthly as months"
        " inner join staging.stg_billing__subscriptions using (subscription_id)"
        " where months.month = %s and stg_billing__subscriptions.currency_code = 'EUR'"
    )
    [(eur_mrr,)] = query(incremental, eur_mrr_sql, corrected_month)
    assert eur_mrr > 0, "subscriptions in EUR that month"
    answers_sql = (
        "select submission_id, question_ref from staging.stg_survey__scorecard_answers where submission_id = any(%s)"
    )
    answered_day1 = query(incremental, answers_sql, sorted(answers_kept))
    assert {token for token, _ in answered_day1} == set(answers_kept), "both submissions have answers on day one"
    # the gate now fails the staged re-export
    _load(incremental, tmp_path / "fx")
    # by hand, before the FX rates' staging table (rebuilt whole) holds the corrected rate: the invoice it converts
    # is left to the daily build (the rest of day two is loaded after it)
    dbt_build(incremental, PAST_STAGING, tmp_path / "dbt-past-staging")
    [(fx_batch,)] = query(incremental, "select max(batch_id) from raw.load_batches")
    assert query(incremental, STATE_SQL, "int_invoices_converted") == [(fx_batch - 1,)]
    _load(incremental, tmp_path / "day2", tmp_path / "later", tmp_path / "billing")
    # with every data test, on the incremental tables too; the debug log says which plan each model took
    dbt_build(incremental, DAILY_BUILD, tmp_path / "dbt-day2", debug_log=True)
    # day two moves a settled month's margin: int_customer_revenue prices that month's customers again
    moved = dict(priced_day1).items() ^ dict(query(incremental, priced_sql)).items()
    assert moved and {month for month, _ in moved} <= {month for month, _ in priced_day1}
    [(corrected_rate,)] = query(
        incremental,
        "select fx_rate_to_usd from intermediate.int_invoices_converted where invoice_id = %s",
        corrected_invoice,
    )
    assert corrected_rate == Decimal("1.1"), "the corrected rate converts the invoice of its day"
    # the submissions delivered again keep the newest copy's answers only
    answered_day2 = query(incremental, answers_sql, sorted(answers_kept))
    assert {token: {ref for t, ref in answered_day2 if t == token} for token in answers_kept} == answers_kept
    assert len(answered_day2) < len(answered_day1)
    # each refund planted reaches its invoice, and the edited one leaves the invoice it named before
    refunds_day2 = dict(query(incremental, refunds_sql, list(refunded.values())))
    assert {plant: refunds_day2[invoice] - refunds_day1[invoice] for plant, invoice in refunded.items()} == {
        "charged": 1,
        "charge_late": 1,
        "left": -1,
        "joined": 1,
        "bystander": 0,
    }
    purchases_day2 = dict(query(incremental, purchases_sql, list(refunded.values())))
    assert {plant: purchases_day2[invoice] - purchases_day1[invoice] for plant, invoice in refunded.items()} == {
        "charged": Decimal("-5.00"),
        "charge_late": Decimal("-5.00"),
        "left": Decimal("5.00"),
        "joined": Decimal("-5.00"),
        "bystander": 0,
    }
    # a late event and a month's corrected rate change subscription months before those recomputed for everyone
    after_change = dict(query(incremental, subscription_mrr_sql, late_subscription, late_month))
    assert len(late_subscription_mrr) >= 3 and after_change.keys() == dict(late_subscription_mrr).keys()
    assert all(after_change[month] > mrr for month, mrr in late_subscription_mrr)
    assert query(incremental, eur_mrr_sql, corrected_month) != [(eur_mrr,)]
    # a clock running on both days ran on by the time between the two as-of moments, recomputed or moved
    running_day2 = _running_resolution_clocks(incremental)
    still_running = running_day1[1].keys() & running_day2[1].keys()
    assert len(still_running) > 10, "tickets open on both days"
    elapsed = Decimal((running_day2[0] - running_day1[0]).total_seconds()) / 60
    assert {
        t: running_day2[1][t] - running_day1[1][t]
        for t in still_running
        if abs(running_day2[1][t] - running_day1[1][t] - elapsed) > Decimal("0.0002")
    } == {}, elapsed
    # the late priority change counts from day two on: an SLA target of the ticket changed, no record naming it
    assert query(incremental, late_targets_sql, late_ticket) != late_targets, late_targets
    # the ticket fact judged again, rated and matched though no record of the ticket came on day two
    assert query(incremental, waiting_sql, WAITING_TICKET) == [(True, False)], "breached on day two"
    ticket_fact_sql = "select csat_rating, customer_key from marts_build.fct_support_tickets where ticket_id = %s"
    assert query(incremental, ticket_fact_sql, late_rated)[0][0] == "good"
    assert query(incremental, ticket_fact_sql, matched_later)[0][1] == customer_key
    assert query(incremental, ticket_fact_sql, moved_ticket)[0][1] == moved_key
    # a contact's old email and a domain a second company claims match nothing any more, though no record of those
    # who matched them came
    assert query(incremental, identity_sql, *renamed) == [("domain", renamed_key)]
    assert query(incremental, identity_sql, "support_organization", shared) == [("unmatched", None)]
    assert query(incremental, identity_sql, "support_organization", dropped) == [("unmatched", None)]
    assert query(incremental, identity_sql, "survey_respondent", claiming) == [("explicit_id", f"crm:{company_later}")]
    # the respondent whose only answer came again with another email answered nothing any more
    assert query(incremental, identity_sql, "survey_respondent", readdressed) == []
    # the company a sole Stripe customer left is no customer any more, the one it joined is
    assert query(incremental, acquired_sql, [payer_left, payer_joined]) == [(payer_joined,)]
    # the product input of a company staged late, of a deleted ticket's rating, of a requester and a respondent
    # matched anew
    assert query(incremental, input_sql, answer_source, [answer]) == [(answer, answer_key)]
    assert query(incremental, prospect_sql, prospect_answer) == [(False, prospect_channel)]
    # the survey answer naming the company exported late is its; the prospect's answer takes its new segment
    responses_day2 = query(incremental, responses_sql, [named_answer, prospect_answer])
    assert [(r, k) for r, k, _ in responses_day2] == [
        (named_answer, f"crm:{company_later}"),
        (prospect_answer, f"crm:{prospect_company}"),
    ]
    assert responses_day2[1][2] != responses_day1[1][2], "the prospect's segment changed with its head count"
    assert query(incremental, input_sql, "deal_blocker_note", blocker_notes) == [
        (note, f"crm:{company_later}") for note in blocker_notes
    ]
    assert query(incremental, input_sql, "support_rating_comment", [str(deleted_rating), str(moved_rating)]) == [
        (str(moved_rating), moved_key)
    ]
    # the moved Stripe customer's MRR left company a's months and joined company b's, before the months day two
    # recomputed for everyone; both companies kept their cohort month, segment and channel
    [from_months] = re.findall(
        r"int_customer_mrr_monthly: every customer from '(\S+)'::date, the moved ones from '(\S+)'::date",
        (tmp_path / "dbt-day2" / "logs" / "dbt.log").read_text(encoding="utf-8"),
    )[-1:]
    recomputed_from = min((month for month in from_months if month != "infinity"), default="9999-12-31")
    after_move = query(incremental, customer_months_sql, moved_customers)
    facts = {(key, *rest) for key, _, _, *rest in customer_months}
    assert {(key, *rest) for key, _, _, *rest in after_move} == facts and len(facts) == 2
    months_before = {(key, month): mrr for key, month, mrr, *_ in customer_months}
    changed = {
        key
        for key, month, mrr, *_ in after_move
        if month < date.fromisoformat(recomputed_from) and months_before.get((key, month)) != mrr
    }
    assert changed == set(moved_customers), (changed, recomputed_from)
    channels_sql = (
        "select distinct acquisition_channel from intermediate.int_customer_mrr_monthly where customer_key = %s"
    )
    assert query(incremental, channels_sql, resourced) == [(resourced_channel,)]
    # the logs keep only what their reader has not read: signals read the marts' logs in this run
    for logged in ("fct_support_tickets", "fct_survey_responses"):
        [(kept,)] = query(incremental, f"select count(*) from intermediate.{logged}__recomputed")
        assert kept == 0, logged
    # in months before those day two recomputes for every customer: the ticket left a's month for b's, the answer
    # c's months for d's, and e's month counts the failed attempt
    signals_day2 = {(k, m): rest for k, m, *rest in query(incremental, signals_sql, signals_customers)}
    ticket_month = signals_planted["ticket"][3]
    answer_month, charge_month = signals_planted["answer"][3], signals_planted["charge"][1]
    assert max(ticket_month, answer_month, charge_month) < date.fromisoformat(recomputed_from) - timedelta(days=31)
    tickets_opened = {
        key: (signals_day1[key][0], signals_day2[key][0]) for key in signals_day1 if key[1] == ticket_month
    }
    _, a, b, _ = signals_planted["ticket"]
    assert tickets_opened[(a, ticket_month)][1] == tickets_opened[(a, ticket_month)][0] - 1
    assert tickets_opened[(b, ticket_month)][1] == tickets_opened[(b, ticket_month)][0] + 1
    _, c, d, _ = signals_planted["answer"]
    assert signals_day1[(d, answer_month)][1] is None and signals_day2[(d, answer_month)][1] is not None
    assert signals_day2[(c, answer_month)][2] != signals_day1[(c, answer_month)][2]
    e = signals_planted["charge"][0]
    assert signals_day2[(e, charge_month)][3] == signals_day1[(e, charge_month)][3] + 1
    _, f, rescored_month, was, score = signals_planted["rescored"]
    assert rescored_month < date.fromisoformat(recomputed_from) - timedelta(days=31)
    assert (signals_day1[(f, rescored_month)][1], signals_day2[(f, rescored_month)][1]) == (was, score)

    rebuilt = create_database(server, "t_incremental_rebuilt")
    # same order, same batch ids
    folders = ("day1", "late", "waiting", "failing", "fx", "day2", "later", "billing")
    _load(rebuilt, *(tmp_path / folder for folder in folders))
    dbt_build(rebuilt, TABLES_ONLY, tmp_path / "dbt-rebuilt")

    # the failed re-export left staging: its invoices are staged from day one's copies again
    [(failed,)] = query(incremental, "select count(*) from raw.load_batches where validation = 'failed'")
    assert failed == 1
    [(staged,)] = query(
        incremental,
        "select count(*) from staging.stg_billing__invoices where invoice_id = any(%s) and amount_paid >= 0",
        sorted(failed_ids),
    )
    assert staged == len(failed_ids)
    assert (
        query(incremental, "select * from staging.stg_billing__invoices where invoice_id = %s", NEW_IN_THE_FAILING_FILE)
        == []
    )

    # the second build took the incremental path, over fewer keys than the model holds
    log = tmp_path / "dbt-day2" / "logs" / "dbt.log"
    # the staging tables of invoices re-staged whole (a staged batch failed); every other one took the run's rows
    plans = {model: (incremental_plans(tmp_path / "dbt-day2", model) or [None])[-1] for model in RESTAGED_MODELS}
    restaged_whole = {m for m, tables in RESTAGED_MODELS.items() if "billing_invoices" in tables}
    assert {m: p for m, p in plans.items() if m in restaged_whole} == dict.fromkeys(
        restaged_whole, "a staged batch failed the raw gate"
    )
    assert {m: p for m, p in plans.items() if m not in restaged_whole} == dict.fromkeys(
        set(RESTAGED_MODELS) - restaged_whole, "incremental"
    )
    for model, key in INCREMENTAL_MODELS.items():
        schema = "marts_build" if model.startswith("fct_") else "intermediate"
        held = query(incremental, f"select count(distinct {key}) from {schema}.{model}")[0][0]
        assert 0 < _recomputed(log, model) < held, model

    tables = _tables(rebuilt)
    assert _tables(incremental) == tables
    assert ("marts_build", "fct_support_tickets") in tables
    differing = {}
    for schema, table in tables:
        a, b = _rows(incremental, schema, table), _rows(rebuilt, schema, table)
        if a != b:
            differing[f"{schema}.{table}"] = (sum((a - b).values()), sum((b - a).values()))
    assert differing == {}, f"rows only after the incremental run / only after the rebuild: {differing}"
    # what later runs read of the models kept by key: every key's values recorded, as the tables hold them
    disagreeing = {model: _row_changes_disagreeing(incremental, model, *spec) for model, spec in ROW_CHANGES.items()}
    assert disagreeing == dict.fromkeys(ROW_CHANGES, 0)
