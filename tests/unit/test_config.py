"""The reporting calendar's settings are checked where they enter: the environment."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from tealeaves.config import Settings, describe_settings_error


def test_the_reporting_calendar_defaults_to_utc_and_the_data_s_own_end(monkeypatch):
    monkeypatch.delenv("TEALEAVES_TIMEZONE", raising=False)
    monkeypatch.delenv("TEALEAVES_AS_OF", raising=False)
    assert (Settings().timezone, Settings().as_of) == ("UTC", None)


def test_a_zone_and_a_reporting_date_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEALEAVES_TIMEZONE", "Australia/Sydney")
    monkeypatch.setenv("TEALEAVES_AS_OF", "2025-06-30")
    assert (Settings().timezone, Settings().as_of) == ("Australia/Sydney", date(2025, 6, 30))
    monkeypatch.setenv("TEALEAVES_AS_OF", "")  # set but empty: not set, as dbt_project.yml reads it
    assert Settings().as_of is None


@pytest.mark.parametrize(("variable", "value"), [("TEALEAVES_TIMEZONE", "Mars/Base"), ("TEALEAVES_AS_OF", "June")])
def test_an_unknown_zone_or_a_malformed_date_is_one_line_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert [error["loc"] for error in raised.value.errors()] == [(variable.removeprefix("TEALEAVES_").lower(),)]
    line = describe_settings_error(raised.value)
    assert "\n" not in line and line.startswith(f"{variable}: ")
