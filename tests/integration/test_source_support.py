"""The help-desk source end to end: generated Zendesk-shaped exports → raw → dbt staging, checked against truth.json.

One small generation is loaded and built once for the module (dbt is the slow part); each test states one
fact about it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from psycopg import sql

from tealeaves.generate import default_truth, generate
from tealeaves.generate.calendar import business_minutes_between
from tealeaves.load import load_paths
from tests.conftest import create_database, dbt_build
from tests.warehouse import query

# Export file -> (raw table, staging model, staging key): the staging key counts one row per planted record.
FILES = {
    "tickets.jsonl": ("support_tickets", "stg_support__tickets", "ticket_id"),
    "users.jsonl": ("support_users", "stg_support__users", "user_id"),
    "organizations.jsonl": ("support_organizations", "stg_support__organizations", "organization_id"),
    "ticket_comments.jsonl": ("support_ticket_comments", "stg_support__ticket_comments", "comment_id"),
    "ticket_field_history.jsonl": (
        "support_ticket_field_history",
        "stg_support__ticket_field_history",
        "field_change_id",
    ),
    "satisfaction_ratings.jsonl": (
        "support_satisfaction_ratings",
        "stg_support__satisfaction_ratings",
        "satisfaction_rating_id",
    ),
    "sla_policies.json": ("support_sla_policies", "stg_support__sla_policies", "sla_policy_id"),
    "ticket_metric_events.jsonl": (
        "support_ticket_metric_events",
        "stg_support__ticket_metric_events",
        "metric_event_id",
    ),
}
# earlier exports of the SLA policies, one per version the policies had before the current one
POLICY_SNAPSHOTS = "sla_policies_until_*.json"


@pytest.fixture(scope="module")
def support(server, tmp_path_factory) -> dict:
    """A database holding one small generation's support exports, loaded and built through staging."""
    folder = tmp_path_factory.mktemp("support")
    truth = generate(folder / "exports", customers=150, months=4, seed=11)
    url = create_database(server, "t_source_support")
    results = load_paths(url, [folder / "exports" / "support"], source="support")
    dbt_build(url, "staging.support", folder)
    return {"url": url, "truth": truth, "results": results, "folder": folder / "exports"}


def test_every_support_row_is_loaded_or_rejected_and_only_planted_defects_are_rejected(support):
    per_file: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for result in support["results"]:
        name = result.file.name.replace("__late", "")
        counts = per_file[name]
        counts[0] += result.rows_in
        counts[1] += result.rows_loaded
        counts[2] += result.rows_rejected
    snapshots = {path.name for path in (support["folder"] / "support").glob(POLICY_SNAPSHOTS)}
    assert snapshots, "the generator writes the policies' earlier version"
    assert set(per_file) == set(FILES) | snapshots, "every support file has a contract and was loaded"
    for name, (rows_in, loaded, rejected) in per_file.items():
        planted = support["truth"]["files"][f"support/{name}"]
        lines = sum(
            planted.get(k, 0) for k in ("records", "exact_duplicate", "near_duplicate", "malformed", "missing_id")
        )
        assert rows_in == loaded + rejected == lines, name
        assert rejected == planted.get("malformed", 0) + planted.get("missing_id", 0), name


def test_staging_keeps_exactly_one_row_per_planted_record(support):
    for name, (_, model, key) in FILES.items():
        [(count,)] = query(
            support["url"],
            sql.SQL("select count(distinct {}) from staging.{}").format(sql.Identifier(key), sql.Identifier(model)),
        )
        assert count == support["truth"]["files"][f"support/{name}"]["records"], model
    [(staged, distinct)] = query(
        support["url"], "select count(*), count(distinct ticket_id) from staging.stg_support__tickets"
    )
    planted = support["truth"]["planted"]["support"]
    assert staged == distinct == planted["tickets"] + planted["deleted_tickets"], "staging keeps deleted tickets"


def _exported_policy_targets(path) -> dict[tuple, tuple]:
    """(policy id, updated_at, priority, metric) -> (target, business hours), read from one exported document."""
    targets = {}
    for policy in json.loads(path.read_text())["sla_policies"]:
        updated = datetime.fromisoformat(policy["updated_at"]).astimezone(UTC).replace(tzinfo=None)
        for metric in policy["policy_metrics"]:
            key = (policy["id"], updated, metric["priority"], metric["metric"])
            targets[key] = (metric["target"], metric["business_hours"])
    return targets


def test_every_exported_policy_version_is_in_staging_and_the_latest_is_current(support):
    """Zendesk's API lists only the current SLA policies: their history is the exports kept. Staging holds every
    version of every policy exported (several policies may target one priority), and the current policies are
    each policy's latest version, whichever file was loaded last."""
    folder = support["folder"] / "support"
    current = _exported_policy_targets(folder / "sla_policies.json")
    every = dict(current)
    for path in folder.glob(POLICY_SNAPSHOTS):
        every.update(_exported_policy_targets(path))
    versions = {
        (policy_id, updated, priority, metric): (target, business)
        for policy_id, updated, priority, metric, target, business in query(
            support["url"],
            """
            select sla_policy_id, policy_updated_at, priority, metric, target_minutes, is_business_hours
            from staging.stg_support__sla_policy_versions
            """,
        )
    }
    staged_current = {
        (policy_id, priority, metric): (target, business)
        for policy_id, priority, metric, target, business in query(
            support["url"],
            """
            select sla_policy_id, priority, metric, target_minutes, is_business_hours
            from staging.stg_support__sla_policies
            """,
        )
    }
    assert versions == every
    assert len({updated for _, updated, _, _ in every}) == 2, "two versions: before and after the revision"
    assert staged_current == {(i, p, m): value for (i, _, p, m), value in current.items()}
    per_priority = defaultdict(set)
    for policy_id, priority, metric in staged_current:
        per_priority[(priority, metric)].add(policy_id)
    assert max(len(ids) for ids in per_priority.values()) > 1, "several current policies target one priority"


def test_apply_sla_events_name_the_policy_and_targets_the_generator_applied(support):
    """Every ticket created since the ticket metric events export started has apply_sla events for its first reply
    (reply_time, instance 1) and resolution (resolution_time) naming the policy and the targets it got."""
    truth = support["truth"]["realised"]["support"]["sla"]
    events = query(
        support["url"],
        """
        select ticket_id, metric, sla_policy_id, sla_target_minutes, sla_is_business_hours
        from staging.stg_support__ticket_metric_events
        where event_type = 'apply_sla' and instance_id = 1
        order by event_at, metric_event_id
        """,
    )
    # Zendesk writes another apply_sla event when it re-applies (the priority_raised case): the last one holds
    found = {(ticket_id, metric): (policy, target, business) for ticket_id, metric, policy, target, business in events}
    reapplied = len(events) - len(found)
    expected = {}
    for ticket_id, t in truth.items():
        if t["applied_event_exported"]:
            expected[(int(ticket_id), "reply_time")] = (
                t["policy_id"],
                t["first_reply_target_minutes"],
                t["business_hours"],
            )
            expected[(int(ticket_id), "resolution_time")] = (
                t["policy_id"],
                t["resolution_target_minutes"],
                t["business_hours"],
            )
    assert len(found) == len(expected) > 0
    assert found == expected
    raised = support["truth"]["planted"]["support"]["priority_raised_tickets"]
    assert 0 < reapplied <= 2 * raised, "one more apply_sla per metric for each raised ticket in the export's span"


FIRST_REPLIES = """
    with comments as (
        select comments.ticket_id, comments.created_at, comments.is_public, authors.is_agent,
            row_number() over (partition by comments.ticket_id order by comments.created_at, comments.comment_id)
                as position
        from staging.stg_support__ticket_comments as comments
        inner join staging.stg_support__users as authors on comments.author_id = authors.user_id
    ),

    opened_by_agent as (
        -- Zendesk: an agent who opens a ticket with a public comment first replies with their next public one
        select tickets.ticket_id
        from staging.stg_support__tickets as tickets
        inner join staging.stg_support__users as submitters on tickets.submitter_id = submitters.user_id
        inner join comments on comments.ticket_id = tickets.ticket_id and comments.position = 1
        where submitters.is_agent and comments.is_public and comments.is_agent
    ),

    agent_replies as (
        select comments.ticket_id, min(comments.created_at) as first_reply_at
        from comments
        where comments.is_public and comments.is_agent
            and not (comments.position = 1 and comments.ticket_id in (select ticket_id from opened_by_agent))
        group by comments.ticket_id
    )
    select tickets.ticket_id, tickets.created_at, agent_replies.first_reply_at
    from staging.stg_support__tickets as tickets
    left join agent_replies on agent_replies.ticket_id = tickets.ticket_id
    where tickets.ticket_status <> 'deleted'
"""


def test_first_reply_breaches_recomputed_from_comments_match_the_planted_breaches(support):
    """A ticket still unanswered at the export counts as breached once its target's moment has passed at the
    export's latest event (the moment the marts measure at), as Zendesk counts it; a reply is late only past it.
    Each ticket's target is the one the generator applied (policies change mid-period; truth.json records it)."""
    tickets = query(support["url"], FIRST_REPLIES)
    as_of = datetime.fromisoformat(support["truth"]["planted"]["support"]["as_of"]).astimezone(UTC)
    applied = support["truth"]["realised"]["support"]["sla"]
    breached = unanswered = 0
    for ticket_id, created, replied in tickets:
        target = applied[str(ticket_id)]["first_reply_target_minutes"]
        business_hours = applied[str(ticket_id)]["business_hours"]
        unanswered += replied is None
        until = replied or as_of.replace(tzinfo=created.tzinfo)  # staging keeps UTC as naive timestamps
        minutes = business_minutes_between(created, until) if business_hours else (until - created).total_seconds() / 60
        breached += minutes > target if replied else minutes >= target
    planted = support["truth"]["planted"]["support"]
    assert len(tickets) == planted["tickets"]
    assert breached == planted["first_reply_breached"]
    assert 0.03 < breached / len(tickets) < 0.25, "about the planted breach rates (5-15% per priority)"
    assert unanswered < 0.05 * len(tickets), "only tickets from the export's last days can be unanswered"


def test_solved_tickets_and_ratings_are_recovered_from_status_changes(support):
    [(solved, unsolved_but_rated)] = query(
        support["url"],
        """
        with first_solved as (
            select ticket_id, min(changed_at) as solved_at
            from staging.stg_support__ticket_field_history
            where field_name = 'status' and new_value = 'solved'
            group by ticket_id
        )
        select count(first_solved.ticket_id),
               count(*) filter (where ratings.ticket_id is not null and first_solved.ticket_id is null)
        from staging.stg_support__tickets as tickets
        left join first_solved on first_solved.ticket_id = tickets.ticket_id
        left join staging.stg_support__satisfaction_ratings as ratings on ratings.ticket_id = tickets.ticket_id
        """,
    )
    planted = support["truth"]["planted"]["support"]
    assert solved == planted["solved_tickets"]
    assert unsolved_but_rated == 0, "only solved tickets are rated"
    [(statuses,)] = query(
        support["url"],
        "select array_agg(distinct ticket_status order by ticket_status) from staging.stg_support__tickets",
    )
    assert set(statuses) <= {"new", "open", "pending", "hold", "solved", "closed", "deleted"} and "closed" in statuses


def test_the_planted_zendesk_cases_are_in_staging(support):
    """Deleted and on-hold tickets keep their status, agent-opened tickets their agent submitter, the tickets
    solved without status history have none, and the tickets raised from low to urgent show the change in their
    priority history, as many as planted."""
    [(deleted, flagged_deleted, hold, agent_opened, solved_without_history, unknown, raised)] = query(
        support["url"],
        """
        select
            count(*) filter (where tickets.ticket_status = 'deleted'),
            count(*) filter (where tickets.is_deleted),
            count(*) filter (where tickets.ticket_status = 'hold'),
            count(*) filter (where submitters.is_agent),
            count(*) filter (
                where tickets.ticket_status in ('solved', 'closed') and not exists (
                    select from staging.stg_support__ticket_field_history as history
                    where history.ticket_id = tickets.ticket_id and history.field_name = 'status'
                )
            ),
            count(*) filter (where not tickets.is_known_status),
            count(*) filter (
                where tickets.priority = 'urgent' and exists (
                    select from staging.stg_support__ticket_field_history as history
                    where history.ticket_id = tickets.ticket_id and history.field_name = 'priority'
                        and history.previous_value = 'low' and history.new_value = 'urgent'
                )
            )
        from staging.stg_support__tickets as tickets
        left join staging.stg_support__users as submitters on tickets.submitter_id = submitters.user_id
        """,
    )
    planted = support["truth"]["planted"]["support"]
    assert (deleted, flagged_deleted, hold, agent_opened, solved_without_history, unknown, raised) == (
        planted["deleted_tickets"],
        planted["deleted_tickets"],
        planted["hold_tickets"],
        planted["agent_created_tickets"],
        planted["solved_without_history_tickets"],
        0,
        planted["priority_raised_tickets"],
    )


def test_organizations_link_to_crm_companies_except_the_planted_unlinked_ones(support):
    crm_ids = set()
    for path in (support["folder"] / "crm").glob("companies*.csv"):  # with the late deliveries
        with open(path, newline="") as handle:
            crm_ids |= {row["hs_object_id"] for row in csv.DictReader(handle) if row["hs_object_id"]}
    organizations = query(support["url"], "select crm_company_id, domain_names from staging.stg_support__organizations")
    unlinked = [domains for crm_id, domains in organizations if crm_id is None]
    assert len(unlinked) == support["truth"]["planted"]["support"]["organizations_without_external_id"]
    assert {str(crm_id) for crm_id, _ in organizations if crm_id is not None} <= crm_ids
    assert all(domains and all(d == d.lower() for d in domains) for _, domains in organizations)


def test_user_emails_are_normalised_and_end_users_belong_to_organizations(support):
    [(users, not_normalised, end_users_without_org, ticket_kinds)] = query(
        support["url"],
        """
        select count(*),
               count(*) filter (where email <> lower(trim(email))),
               count(*) filter (where role = 'end-user' and organization_id is null),
               (select count(distinct ticket_kind) from staging.stg_support__tickets where ticket_kind is not null)
        from staging.stg_support__users
        """,
    )
    assert users > 0 and not_normalised == 0 and end_users_without_org == 0
    assert ticket_kinds == len(default_truth().support.kinds), "every ticket kind is recovered from the tags"


def test_sla_policies_document_rows_are_numbered_by_position_in_the_array(support):
    policies = json.loads((support["folder"] / "support" / "sla_policies.json").read_text())["sla_policies"]
    loaded = query(
        support["url"],
        """
        select policies._source_line, policies.id
        from raw.support_sla_policies as policies
        inner join raw.load_batches as batches on policies._batch_id = batches.batch_id
        where batches.file_name = 'sla_policies.json'
        order by policies._source_line
        """,
    )
    assert loaded == [(n, p["id"]) for n, p in enumerate(policies, start=1)]


@pytest.fixture(scope="module")
def support_without_metric_events(server, support, tmp_path_factory) -> str:
    """The same exports without ticket_metric_events.jsonl (an optional file), built up to the SLA targets."""
    folder = tmp_path_factory.mktemp("support-without-metric-events")
    exports = folder / "support"
    exports.mkdir()
    for path in (support["folder"] / "support").iterdir():
        if not path.name.startswith("ticket_metric_events"):
            shutil.copy(path, exports / path.name)
    url = create_database(server, "t_source_support_no_events")
    load_paths(url, [exports], source="support")
    dbt_build(url, "+int_tickets_sla_targets", folder)
    return url


def test_without_metric_events_the_policy_version_in_force_gives_each_ticket_its_applied_targets(
    support, support_without_metric_events
):
    """Without Zendesk's apply_sla events, every ticket's policy and targets are still the ones the generator
    applied, under either policy version: the first matching policy (by position) of the version in force at its
    creation (or of the priority change that re-applied it), with the priority from the ticket's priority history
    where it is exported (the priority_raised case), else its current priority, and the evidence says which."""
    applied = support["truth"]["realised"]["support"]["sla"]
    rows = query(
        support_without_metric_events,
        """
        select ticket_id, metric, sla_policy_id, target_minutes, is_business_hours, sla_evidence
        from intermediate.int_tickets_sla_targets
        """,
    )
    found = {(ticket_id, metric): values for ticket_id, metric, *values in rows}
    expected = {}
    for ticket_id, t in applied.items():
        for metric, target in (
            ("first_reply_time", t["first_reply_target_minutes"]),
            ("total_resolution_time", t["resolution_target_minutes"]),
        ):
            evidence = "policy_in_force" if t["priority_history_exported"] else "current_priority"
            expected[(int(ticket_id), metric)] = [t["policy_id"], target, t["business_hours"], evidence]
    assert found == expected
    assert len({t["policy_version"] for t in applied.values()}) == 2
