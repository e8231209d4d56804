"""The help desk's SLA policies over time, as Zendesk holds them: ordered policies, each with a filter and one
target per priority and metric, and a new version of every policy when the targets are revised.

Zendesk picks the first policy (by position) whose conditions the ticket meets when the ticket is created, and a
policy updated later is not re-applied to tickets already using it (help center, "Ordering SLA policies" and
"Troubleshooting common SLA issues"). The life simulator draws each ticket's replies against the target it got
here; the support renderer writes the versions and the applied policy (ticket metric events) from the same place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from tealeaves.generate.world import Priority, Truth

SLA_POLICY_ID_BASE = 366_000_000_000
POLICIES_CREATED = datetime(2024, 1, 8, 9, tzinfo=UTC)


@dataclass(frozen=True)
class SlaPolicy:
    """One version of one SLA policy: `targets` maps a priority name to that priority's targets."""

    id: int
    title: str
    description: str
    position: int
    filter: dict
    targets: dict[str, Priority]
    updated_at: datetime
    created_at: datetime = POLICIES_CREATED

    def matches(self, priority: str, tags: list[str]) -> bool:
        """Every `all` condition holds (the generator writes priority and tag conditions only)."""
        for condition in self.filter["all"]:
            if condition["field"] == "priority" and condition["value"] != priority:
                return False
            if condition["field"] == "current_tags" and condition["value"] not in tags:
                return False
        return True


@dataclass(frozen=True)
class SlaPolicies:
    """The original policies and, when a revision is planted, the revised ones from `revised_at` on."""

    original: tuple[SlaPolicy, ...]
    revised: tuple[SlaPolicy, ...]
    revised_at: datetime | None
    metric_events_from: datetime | None
    # (revised?, priority, tags) -> what applied() returns: asked once per ticket, from a hundred or so answers
    _applied: dict[tuple[bool, str, tuple[str, ...]], tuple[SlaPolicy, Priority]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def in_force(self, moment: datetime) -> tuple[SlaPolicy, ...]:
        if self.revised_at is not None and moment >= self.revised_at:
            return self.revised
        return self.original

    def applied(self, moment: datetime, priority: str, tags: list[str]) -> tuple[SlaPolicy, Priority]:
        """The policy Zendesk applies to a ticket created at `moment`: the first by position that matches."""
        revised = self.revised_at is not None and moment >= self.revised_at
        key = (revised, priority, tuple(tags))
        found = self._applied.get(key)
        if found is None:
            found = self._applied[key] = self._first_match(self.in_force(moment), priority, tags)
        return found

    @staticmethod
    def _first_match(policies: tuple[SlaPolicy, ...], priority: str, tags: list[str]) -> tuple[SlaPolicy, Priority]:
        for policy in sorted(policies, key=lambda p: p.position):
            if policy.matches(priority, tags) and priority in policy.targets:
                return policy, policy.targets[priority]
        raise ValueError(f"no SLA policy for priority {priority}")  # every priority has one by construction

    def versions(self) -> list[tuple[datetime, tuple[SlaPolicy, ...]]]:
        """Each export of GET /api/v2/slas/policies the help desk's history holds: (taken from, policies)."""
        out = [(POLICIES_CREATED, self.original)]
        if self.revised_at is not None:
            out.append((self.revised_at, self.revised))
        return out


def _midnight(day: str | None) -> datetime | None:
    return None if day is None else datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


def sla_policies(truth: Truth) -> SlaPolicies:
    priorities = truth.support.priorities
    original = tuple(
        SlaPolicy(
            id=SLA_POLICY_ID_BASE + position,
            title=f"{p.name.title()} tickets",
            description=f"Targets for tickets with priority {p.name}",
            position=position,
            filter={"all": [{"field": "priority", "operator": "is", "value": p.name}], "any": []},
            targets={p.name: p},
            updated_at=POLICIES_CREATED,
        )
        for position, p in enumerate(priorities, start=1)
    )
    revision = truth.support.sla_revision
    revised_at = _midnight(revision.effective_on) if revision is not None else None
    if revision is None or revised_at is None:
        return SlaPolicies(original, (), None, None)
    first_reply, resolution = dict(revision.first_reply_minutes), dict(revision.resolution_minutes)
    revised = [
        replace(
            policy,
            position=policy.position + 1,
            updated_at=revised_at,
            targets={
                name: replace(
                    p,
                    first_reply_minutes=first_reply.get(name, p.first_reply_minutes),
                    resolution_minutes=resolution.get(name, p.resolution_minutes),
                )
                for name, p in policy.targets.items()
            },
        )
        for policy in original
    ]
    enterprise = dict(revision.enterprise_first_reply_minutes)
    revised_targets = {name: p for policy in revised for name, p in policy.targets.items()}
    revised.insert(
        0,
        SlaPolicy(
            id=SLA_POLICY_ID_BASE + len(original) + 1,
            title="Enterprise tickets",
            description=f"Targets for tickets tagged {revision.enterprise_tag}, whatever their priority",
            position=1,
            filter={
                "all": [{"field": "current_tags", "operator": "includes", "value": revision.enterprise_tag}],
                "any": [],
            },
            targets={
                name: replace(p, first_reply_minutes=enterprise.get(name, p.first_reply_minutes))
                for name, p in revised_targets.items()
            },
            updated_at=revised_at,
            created_at=revised_at,
        ),
    )
    return SlaPolicies(original, tuple(revised), revised_at, _midnight(revision.metric_events_on))
