"""dbt runs its unit tests in every `dbt build`, in production too: a fixture written in UTC days must not be
read in the installation's reporting time zone (TEALEAVES_TIMEZONE), or a Sydney install fails its own build."""

from __future__ import annotations

from pathlib import Path

import yaml

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"


def test_every_dbt_unit_test_pins_the_reporting_time_zone_and_as_of_day():
    unpinned = []
    for path in sorted(MODELS.rglob("*.yml")):
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            pinned = (unit_test.get("overrides") or {}).get("vars") or {}
            if "reporting_timezone" not in pinned or "as_of" not in pinned:
                unpinned.append(f"{path.relative_to(MODELS)}: {unit_test['name']}")
    assert unpinned == []
