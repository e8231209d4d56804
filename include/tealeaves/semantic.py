"""The semantic layer: the metrics of dbt_project/models/marts/_semantic__models.yml, answered by MetricFlow.

dbt parses the semantic models into target/semantic_manifest.json. Their relations there name the schema dbt
builds into (`marts_build`, unaudited until the quality gate passes) and the database of whoever parsed; this
module points every one at the published `marts` of the warehouse it connects to, as a BI tool reads, so a
metric never shows numbers the gate has not passed. The semantic manifest depends on the project's files only,
not on the connection, so any fresh parse serves.

MetricFlow reaches PostgreSQL through psycopg in read-only transactions: the semantic layer reads, never writes.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from tealeaves.publish import BUILD, PUBLISHED

if TYPE_CHECKING:
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest

    from tealeaves.config import Settings

SEMANTIC_MANIFEST = "semantic_manifest.json"
GRAINS = ("day", "week", "month", "quarter", "year")  # MetricFlow refuses one finer than a dimension's own


class SemanticLayerError(RuntimeError):
    """A question the semantic layer cannot answer, said in one line the user can act on."""


class UnknownMetric(SemanticLayerError):
    def __init__(self, unknown: Sequence[str], known: Sequence[str], labels: dict[str, str] | None = None) -> None:
        self.unknown = list(unknown)
        parts = []
        for name in self.unknown:
            alike = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            close = list(dict.fromkeys(alike + _sharing_a_word(name, known, labels or {})))[:4]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            parts.append(f"{name!r}{hint}")
        super().__init__(f"unknown metric {'; '.join(parts)}; `tealeaves metrics list` shows them all")


def _sharing_a_word(name: str, known: Sequence[str], labels: dict[str, str]) -> list[str]:
    """Names or labels with a word of `name` in them: `cac` -> paid_cac, blended_cac; `nrr` -> the metric
    labelled "Net revenue retention (NRR)"."""
    words = {w for w in re.split(r"[^a-z0-9]+", name.lower()) if len(w) >= 3}

    by_name = [k for k in known if words & set(k.split("_"))]
    by_label = [k for k in known if words & set(re.split(r"[^a-z0-9]+", labels.get(k, "").lower()))]
    return list(dict.fromkeys(by_name + by_label))[:3]


# -- the semantic manifest -------------------------------------------------------------------------------
def semantic_manifest_path(settings: Settings) -> Path:
    """dbt's semantic manifest, parsed afresh when the project's files changed since (or never parsed)."""
    from tealeaves.orchestrate import build_manifest, manifest_is_stale

    path = settings.dbt_project_dir / "target" / SEMANTIC_MANIFEST
    if not path.exists() or manifest_is_stale(settings):
        build_manifest(settings)
    if not path.exists():
        raise SemanticLayerError(f"dbt parse wrote no {SEMANTIC_MANIFEST}: does the project define semantic models?")
    return path


def published_relations(raw: dict, build: str = BUILD, published: str = PUBLISHED) -> dict:
    """The semantic manifest with every relation (semantic models and time spines) read from `published`.

    The database is dropped from each relation, so the relations resolve in whichever database the client connects
    to. A semantic model over a table outside the marts (staging, intermediate) is refused: BI reads marts only.
    """
    raw = json.loads(json.dumps(raw))  # a copy: the caller's dict stays as dbt wrote it
    relations = [("semantic model", m["name"], m["node_relation"]) for m in raw.get("semantic_models", [])]
    config = raw.get("project_configuration") or {}
    relations += [
        ("time spine", t["node_relation"]["alias"], t["node_relation"]) for t in config.get("time_spines", [])
    ]
    for kind, name, relation in relations:
        if relation["schema_name"] not in (build, published):
            raise SemanticLayerError(
                f"{kind} {name} reads {relation['schema_name']}.{relation['alias']}: the semantic layer reads only the"
                f" published marts (schema {published}); point it at a mart"
            )
        relation.update(schema_name=published, database=None, relation_name=f'"{published}"."{relation["alias"]}"')
    return raw


def load_semantic_manifest(path: Path) -> PydanticSemanticManifest:
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest

    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SemanticLayerError(f"cannot read {path}: {exc}") from None
    return parse_manifest_from_dbt_generated_manifest(json.dumps(published_relations(raw)))


@dataclass(frozen=True)
class Issue:
    level: str  # ERROR, FUTURE_ERROR, WARNING
    text: str


def validate_semantics(manifest: PydanticSemanticManifest) -> list[Issue]:
    """MetricFlow's checks of the definitions alone (names, references, types): no warehouse needed."""
    from metricflow_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator

    result = SemanticManifestValidator().validate_semantic_manifest(manifest)
    return [Issue(i.level.name, _one_line(i.as_readable_str())) for i in result.all_issues]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- MetricFlow's connection ------------------------------------------------------------------------------
class ReadOnlyPostgres:
    """MetricFlow's SqlClient over psycopg: one connection, every statement in a read-only transaction.

    A statement that fails raises SemanticLayerError with PostgreSQL's own first line (a missing column, a mart
    not yet published), never a driver traceback.
    """

    def __init__(self, url: str, statement_timeout_ms: int = 120_000) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        self._url = url
        self._timeout = statement_timeout_ms
        self._conn: psycopg.Connection | None = None
        self._engine = SqlEngine.POSTGRES
        self._renderer = PostgresSQLSqlPlanRenderer()

    @property
    def sql_engine_type(self):
        return self._engine

    @property
    def sql_plan_renderer(self):
        return self._renderer

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._url, connect_timeout=10, application_name="tealeaves metrics")
            conn.read_only = True
            conn.autocommit = False
            self._conn = conn
        return self._conn

    def _run(self, stmt: str, fetch: bool):
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(f"set local statement_timeout = {int(self._timeout)}")
                cur.execute(stmt)
                if not fetch:
                    return None
                names = [c.name for c in cur.description or []]
                return names, cur.fetchall()
        except psycopg.OperationalError:
            raise
        except psycopg.errors.UndefinedTable as exc:
            raise SemanticLayerError(
                f"{exc.diag.message_primary}: the marts are not published yet; run `tealeaves run` (or `make demo`)"
            ) from None
        except psycopg.Error as exc:
            first = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
            raise SemanticLayerError(f"the warehouse refused MetricFlow's query: {first}") from None

    def query(self, stmt: str, sql_bind_parameter_set=None):
        from metricflow.data_table.mf_table import MetricFlowDataTable

        self._no_bind_parameters(sql_bind_parameter_set)
        names, rows = self._run(stmt, fetch=True)
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=[_cells(r) for r in rows])

    def execute(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._no_bind_parameters(sql_bind_parameter_set)
        self._run(stmt, fetch=False)

    def dry_run(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._no_bind_parameters(sql_bind_parameter_set)
        self._run(f"explain {stmt}", fetch=False)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"%({bind_parameter_key})s"

    @staticmethod
    def _no_bind_parameters(parameters) -> None:
        if parameters is not None and parameters.param_dict:
            raise SemanticLayerError("bind parameters are not supported by tealeaves' MetricFlow connection")


def _cells(row: tuple) -> tuple:
    """MetricFlow's table takes no time zone and no interval: timestamps in UTC naive, the rest as text."""
    out = []
    for cell in row:
        if isinstance(cell, datetime) and cell.tzinfo is not None:
            cell = cell.replace(tzinfo=None)
        elif cell is not None and not isinstance(cell, int | float | str | bool | Decimal | date | datetime):
            cell = str(cell)
        out.append(cell)
    return tuple(out)


# -- the layer ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    description: str
    type: str
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    columns: list[str]
    rows: list[tuple]
    sql: str


class SemanticLayer:
    """MetricFlow's engine over the published marts, built once (it plans every query from it)."""

    def __init__(self, manifest: PydanticSemanticManifest, url: str) -> None:
        self.manifest = manifest
        self.client = ReadOnlyPostgres(url)
        self._engine: MetricFlowEngine | None = None

    @property
    def engine(self) -> MetricFlowEngine:
        """Built on first use (a few seconds): checking names or the warehouse needs none."""
        if self._engine is None:
            from metricflow.engine.metricflow_engine import MetricFlowEngine
            from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

            self._engine = MetricFlowEngine(
                semantic_manifest_lookup=SemanticManifestLookup(self.manifest), sql_client=self.client
            )
        return self._engine

    @classmethod
    def for_settings(cls, settings: Settings) -> SemanticLayer:
        return cls(load_semantic_manifest(semantic_manifest_path(settings)), settings.url())

    def close(self) -> None:
        self.client.close()

    def metric_names(self) -> list[str]:
        return sorted(m.name for m in self.manifest.metrics)

    def metrics(self) -> list[MetricInfo]:
        return [
            MetricInfo(
                name=m.name,
                label=m.label or m.name,
                description=_one_line(m.description or ""),
                type=m.type.value,
                dimensions=tuple(sorted({d.dunder_name for d in m.dimensions})),
            )
            for m in self.engine.list_metrics()
        ]

    def group_bys(self, metrics: Sequence[str]) -> list[str]:
        """Every name a query of `metrics` may group by (dimensions, entities, metric_time at each grain)."""
        self.check_metrics(metrics)
        names = set()
        for item in self.engine.list_group_bys(metric_names=list(metrics)):
            name = getattr(item, "dunder_name", None) or item.name  # an entity has a name only
            names.add(name)
            if _is_time(item):
                base = re.sub(rf"__({'|'.join(GRAINS)})$", "", name)
                names.update([base, *(f"{base}__{grain}" for grain in GRAINS)])
        return sorted(names)

    def check_metrics(self, metrics: Sequence[str]) -> None:
        known = self.metric_names()
        unknown = [m for m in metrics if m.lower() not in known]
        if unknown:
            raise UnknownMetric(unknown, known, {m.name: m.label or "" for m in self.manifest.metrics})

    def resolve_group_by(self, metrics: Sequence[str], names: Sequence[str]) -> list[str]:
        """Group-by names as MetricFlow wants them: a dimension may be named without its entity (`channel` for
        `acquisition_month_channel__channel`) when one entity of these metrics has it, or one is nearer (fewer
        joins away) than the others: a ticket's `channel` is its own, not its customer's acquisition channel."""
        available = self.group_bys(metrics)
        resolved = []
        for name in names:
            key = name.strip().lower()
            if key in available:
                resolved.append(key)
                continue
            matches = [a for a in available if a.endswith(f"__{key}")]
            nearest = min((m.count("__") for m in matches), default=0)
            if len([m for m in matches if m.count("__") == nearest]) == 1:  # the fewest joins away wins
                matches = [m for m in matches if m.count("__") == nearest]
            if len(matches) == 1:
                resolved.append(matches[0])
            elif matches:
                raise SemanticLayerError(f"group-by {name!r} is ambiguous for these metrics: {', '.join(matches)}")
            else:
                short = {a.split("__")[-1] for a in available if not a.startswith("metric_time")}
                close = difflib.get_close_matches(key, sorted(short | set(available)), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise SemanticLayerError(
                    f"cannot group {', '.join(metrics)} by {name!r}{hint}; `tealeaves metrics list` shows each"
                    " metric's dimensions"
                )
        return resolved

    def query(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        start: date | None = None,
        end: date | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> Answer:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        metrics = [m.strip().lower() for m in metrics]
        self.check_metrics(metrics)
        group = self.resolve_group_by(metrics, group_by)
        request = MetricFlowQueryRequest.create(
            metric_names=metrics,
            group_by_names=group,
            where_constraints=list(where) or None,
            time_constraint_start=datetime.combine(start, datetime.min.time()) if start else None,
            time_constraint_end=datetime.combine(end, datetime.min.time()) if end else None,
            order_by_names=list(order_by) or group or None,
            limit=limit,
        )
        try:
            result = self.engine.query(request)
        except SemanticLayerError:
            raise
        except psycopg.OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - MetricFlow's own errors (a bad filter, a grain it cannot serve)
            raise SemanticLayerError(f"MetricFlow cannot answer: {metricflow_reason(str(exc))}") from None
        table = result.result_df
        return Answer(list(table.column_names), [tuple(r) for r in table.rows], result.sql)

    def validate_warehouse(self) -> list[Issue]:
        """MetricFlow's checks against the warehouse: every semantic model, dimension, entity, measure and metric
        is queried (as EXPLAIN), so a YAML naming a column the mart lacks fails here, not in a dashboard."""
        from metricflow.validation.data_warehouse_model_validator import DataWarehouseModelValidator

        validator = DataWarehouseModelValidator(sql_client=self.client)
        issues = []
        for check in (
            validator.validate_semantic_models,
            validator.validate_dimensions,
            validator.validate_entities,
            validator.validate_simple_metrics,
            validator.validate_metrics,
        ):
            result = check(self.manifest, None)
            issues += [Issue(i.level.name, _one_line(i.as_readable_str())) for i in result.all_issues]
        return issues


def _is_time(item) -> bool:
    from metricflow_semantic_interfaces.type_enums.dimension_type import DimensionType

    return getattr(item, "type", None) is DimensionType.TIME


def metricflow_reason(text: str) -> str:
    """MetricFlow's multi-paragraph query errors in one line: the first error's message, input and suggestions."""
    message = re.search(r"Message:\s*(.*?)\s*(?:Common issues|Suggestions:|Query Input:|$)", text, re.S)
    if not message:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        return lines[0] if lines else "no reason given"
    reason = _one_line(message.group(1)).rstrip(".")
    given = re.search(r"Query Input:\s*(.*?)\s*(?:Filter Path:|Issue Location:|Error #|$)", text, re.S)
    if given:
        reason += f"; asked: {_one_line(given.group(1))}"
    suggestions = re.search(r"Suggestions:\s*\[(.*?)\]", text, re.S)
    if suggestions:
        names = [n.strip().strip(",").strip("'\"") for n in suggestions.group(1).split(",\n")]
        reason += f"; available: {', '.join(n for n in names[:6] if n)}"
    return reason
