"""Source contracts: one YAML file per export file type, read by the loader and documented in docs/."""

from __future__ import annotations

from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

HERE = Path(__file__).parent
TYPES = {"text", "bigint", "integer", "numeric", "boolean", "date", "timestamptz", "jsonb"}


class Column(BaseModel):
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    type: str
    required: bool = False
    path: list[str] | None = None  # JSON path for jsonl sources; defaults to [name]
    description: str = ""
    # An instant the daily build looks rows up by (a support event dated after the last as-of moment): the raw table
    # keeps a block-range index on it (tealeaves.load.ddl).
    event_time: bool = False

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TYPES:
            raise ValueError(f"unknown column type {value!r}; use one of {sorted(TYPES)}")
        return value

    @model_validator(mode="after")
    def _event_time_is_an_instant(self) -> Column:
        if self.event_time and self.type != "timestamptz":
            raise ValueError(f"{self.name}: event_time marks an instant, a timestamptz column, not {self.type}")
        return self

    @property
    def json_path(self) -> list[str]:
        return self.path or [self.name]


class Contract(BaseModel):
    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    file: str  # file-name pattern: an export and its later deliveries (e.g. invoices__late.jsonl)
    format: Literal["csv", "jsonl", "json"]
    # json: one document; its records are the array under this top-level key (Zendesk's {"sla_policies": [...]}).
    records: str | None = None
    # csv: physical lines after the header that are not records (Qualtrics writes question texts and import ids).
    skip_lines_after_header: int = Field(0, ge=0)
    key: list[str]
    columns: list[Column]

    @model_validator(mode="after")
    def _records_key_for_json(self) -> Contract:
        if (self.format == "json") != (self.records is not None):
            raise ValueError("`records` names the array of a json document, and is only for format: json")
        if self.skip_lines_after_header and self.format != "csv":
            raise ValueError("`skip_lines_after_header` is only for format: csv")
        return self

    @property
    def is_json(self) -> bool:
        """Records arrive as JSON objects (one per line, or in one document) and are judged by PostgreSQL."""
        return self.format in ("jsonl", "json")

    @property
    def table(self) -> str:
        """Raw table name in the `raw` schema."""
        return f"{self.source}_{self.entity}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def event_time_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.event_time]


@cache
def contracts() -> dict[tuple[str, str], Contract]:
    found = {}
    for path in sorted(HERE.glob("*/*.yml")):
        contract = Contract.model_validate(yaml.safe_load(path.read_text()))
        found[(contract.source, contract.entity)] = contract
    return found


def sources() -> list[str]:
    return sorted({source for source, _ in contracts()})


def for_source(source: str) -> list[Contract]:
    if source not in sources():
        raise KeyError(f"unknown source {source!r}; known sources: {', '.join(sources())}")
    return [c for (s, _), c in contracts().items() if s == source]


def for_file(path: Path, source: str | None = None) -> Contract:
    """The contract whose file name matches `path` (within `source` when given)."""
    candidates = for_source(source) if source else list(contracts().values())
    for contract in candidates:
        if fnmatch(path.name, contract.file):
            return contract
    known = ", ".join(sorted(f"{c.source}/{c.file}" for c in candidates))
    raise KeyError(f"{path}: no source contract for a file named {path.name!r}; expected one of: {known}")
