"""One settings object, read from the environment, shared by the CLI, the loaders, dbt, GX and Airflow.

Everything that needs the warehouse asks `Settings.warehouse_url`; nothing else builds a URL, so pointing
tealeaves at another PostgreSQL is one variable (`TEALEAVES_DATABASE_URL`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_DB = "tealeaves"
# The profile and target of dbt_project/profiles.yml. Cosmos names both on every dbt command it runs, and dbt
# keeps a partial parse only for the same --profile and --target, so the manifest's `dbt parse` names them too.
DBT_PROFILE = "tealeaves"
DBT_TARGET = "warehouse"
AIRFLOW_DB = "airflow"
# The daily DAG's start_date, here so the DAG file imports it cheaply: Airflow runs no task for a logical date
# before it and still calls the run a success, so the run commands refuse such a date first.
DAILY_START = date(2025, 1, 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEALEAVES_", extra="ignore")

    home: Path = Field(PROJECT_ROOT / ".tealeaves", description="Where the embedded server and run state live.")
    pg_port: int = Field(54329, ge=1, le=65535, description="TCP port of the embedded PostgreSQL.")
    database_url: str | None = Field(None, description="An external PostgreSQL; when set, nothing is embedded.")
    project_root: Path = PROJECT_ROOT
    data: Path | None = Field(
        None, description="The exports the daily run loads, one folder per source; default: data/ in home."
    )
    earliest_date: date = Field(
        date(1900, 1, 1),
        description="The raw gate holds back a batch with times before this day (exports of real history reach"
        " back decades; Unix time zero is caught on its own).",
    )
    load_workers: int = Field(
        2,
        ge=1,
        description="Raw tables loaded at once, each on a PostgreSQL connection of its own (a load is the server's"
        " work: one busy backend per table).",
    )
    # Alerts (docs/alerts.md), all delivered through Apprise. A channel left unset is off; Airflow connections
    # fill what is unset.
    alert_urls: str | None = Field(
        None,
        description="Apprise URLs of alert destinations (mailtos://, slack://, workflows://, json://, ...),"
        " separated by spaces, newlines or commas.",
    )
    alert_smtp_url: str | None = Field(
        None, description="SMTP server for alert emails: smtp://user:pass@host:port, ?starttls=true; smtps:// for TLS."
    )
    alert_email_from: str | None = Field(None, description="Sender address of alert emails.")
    alert_email_to: str | None = Field(None, description="Comma-separated recipients of alert emails.")
    alert_slack_webhook_url: str | None = Field(None, description="Slack incoming-webhook URL for alerts.")
    alert_remind_hours: float = Field(
        24.0, ge=0, description="Re-send a still-failing alert after this many hours; 0 never reminds."
    )
    alert_deadline_hours: float = Field(
        0.0, ge=0, description="Alert when a daily run is not finished this long after it was queued; 0 is off."
    )
    alert_timeout_seconds: float = Field(10.0, gt=0, description="How long one channel may take to deliver.")
    docs_url: str | None = Field(
        None, description="Where people read the Data Docs / quality results; default: the docs folder in home."
    )
    # The reporting calendar (docs/metrics.md, "Days, months and the reporting time zone"). dbt reads the same
    # variables itself (dbt_project.yml), so Airflow's dbt runs follow them without being handed anything.
    timezone: str = Field(
        "UTC", description="IANA time zone whose days and months the marts report in, e.g. Australia/Sydney."
    )
    as_of: date | None = Field(
        None, description="Reporting date (YYYY-MM-DD): LTV calibration end, support as-of; default: the data's end."
    )
    # Airflow's UI/API and its task-log servers (docs/security.md, "Airflow").
    airflow_host: str = Field(
        "127.0.0.1",
        description="Address Airflow's API server and log servers listen on; 0.0.0.0 opens them to the network.",
    )
    airflow_port: int = Field(8080, ge=1, le=65535, description="Port of Airflow's UI and API.")
    # The BI tool `tealeaves bi up` starts (docs/bi.md): Superset, always on 127.0.0.1.
    bi_port: int = Field(8088, ge=1, le=65535, description="Port on 127.0.0.1 of Superset (`tealeaves bi up`).")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone name (such as UTC or Australia/Sydney)") from None
        return name

    @field_validator("as_of", mode="before")
    @classmethod
    def _empty_as_of_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # as dbt reads it (macros/reporting_calendar.sql): "" is "not set"

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pg_data(self) -> Path:
        return self.home / "pg"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def bi_venv(self) -> Path:
        """Superset's own virtualenv (`make bi-install`): its pins clash with Airflow's."""
        return self.project_root / ".venv-bi"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_root / "dbt_project"

    @property
    def dbt_manifest(self) -> Path:
        return self.dbt_project_dir / "target" / "manifest.json"

    @property
    def data_dir(self) -> Path:
        """Where the DAG's load tasks look for source exports (one folder per source): TEALEAVES_DATA."""
        return (self.data or self.home / "data").expanduser().resolve()

    @property
    def demo_data_dir(self) -> Path:
        """The sample world `tealeaves demo` generates: never the folder a user keeps exports in."""
        return self.home / "demo" / "data"

    @property
    def docs_dir(self) -> Path:
        """Static documentation sites `tealeaves docs` serves: `quality/` (GX Data Docs), `dbt/` (dbt docs)."""
        return self.home / "docs"

    @property
    def pg_password_file(self) -> Path:
        return self.home / "pg.password"

    @property
    def libpq_dir(self) -> Path:
        """libpq's service file and password files (`tealeaves db service`): psql connects with no password in argv."""
        return self.home / "libpq"

    @property
    def airflow_passwords_file(self) -> Path:
        """The Airflow UI's logins and their passwords (Airflow's simple auth manager reads it at each login)."""
        return self.home / "airflow-passwords.json"

    @property
    def warehouse(self) -> URL:
        if self.database_url:
            url = make_url(self.database_url)
            if not url.drivername.startswith("postgres"):
                raise ValueError(f"TEALEAVES_DATABASE_URL must be a postgresql:// URL, got scheme {url.drivername!r}")
            if not url.database:
                raise ValueError("TEALEAVES_DATABASE_URL must name a database, e.g. postgresql://u:p@host/db")
            return url.set(drivername="postgresql")
        from tealeaves.db.embedded import superuser_password

        password = superuser_password(self.pg_password_file)
        return URL.create(
            "postgresql",
            username="postgres",
            password=password,
            host="127.0.0.1",
            port=self.pg_port,
            database=WAREHOUSE_DB,
        )

    @property
    def airflow_metadata(self) -> URL:
        """Airflow's own tables live in a database of their own on the warehouse's server."""
        return self.warehouse.set(database=AIRFLOW_DB)

    def url(self, database: URL | None = None, driver: str = "postgresql") -> str:
        """A URL string with the password kept (libpq, psql and SQLAlchemy all accept it)."""
        return (database or self.warehouse).set(drivername=driver).render_as_string(hide_password=False)


def get_settings() -> Settings:
    return Settings()


def describe_settings_error(exc: ValidationError) -> str:
    """One line naming each bad variable and what was expected, e.g. for the CLI's error message."""
    problems = []
    for error in exc.errors():
        variable = "TEALEAVES_" + "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{variable}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
