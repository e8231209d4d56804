"""Validate freshly built tables with every suite in `expectations/`, before anyone reads them.

dbt's tests prove the models do what their SQL says; the gate asks whether the data they produced is fit to
publish, and keeps the answer in `quality` so a bad morning can be explained afterwards. The CLI and the
Airflow task both call `run_gate`, the one way to run it.

Each run builds an ephemeral GX context from the suite modules: the code in `expectations/` is the only
definition of a suite, with no GX project directory on disk to drift from it.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

# Before GX is imported: the warehouse runs without internet, and usage statistics are not ours to send.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import psycopg  # noqa: E402
from great_expectations.core.expectation_validation_result import ExpectationValidationResult  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.datasource.fluent.interfaces import TestConnectionError  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402
from great_expectations.util import convert_to_json_serializable  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tealeaves.config import get_settings  # noqa: E402
from tealeaves.db.migrate import ensure_current  # noqa: E402
from tealeaves.quality.checks import Check  # noqa: E402
from tealeaves.quality.data_docs import make_offline  # noqa: E402
from tealeaves.quality.results import ExpectationOutcome, GateResult, SuiteResult  # noqa: E402
from tealeaves.quality.store import save_run  # noqa: E402
from tealeaves.state import private_folder  # noqa: E402

__all__ = ["GateResult", "Suite", "SuiteDefinitionError", "Validator", "load_suites", "run_gate", "validate_suites"]

# Unexpected values kept per expectation: enough to recognise the problem, small enough to store.
SAMPLE_SIZE = 5
_GX_SEVERITY = {"blocking": FailureSeverity.CRITICAL, "warning": FailureSeverity.WARNING}
_DATASOURCE = "warehouse"
_ROW_COUNTS = ("element_count", "unexpected_percent", "missing_count")
_NOT_EXPECTED = ("batch_id", "result_format")  # how GX ran, not what it expected
# A suite on a query (the raw gate's "these batches of a table") is validated through a view made for the run:
# GX reads a query asset's column names by running the whole query once and buffering every row, which was
# 1.8 GB and 3 s for one batch of 1.6M invoices; a view's columns come from the catalogue.
QUERY_VIEWS = "quality_scratch"
_view_numbers = itertools.count()


class SuiteDefinitionError(Exception):
    """A suite module cannot be used as written; the message names the file and what to change. `path` and `item`
    (the position in its expectations()) say where, when one item is the cause."""

    def __init__(self, message: str, path: Path | None = None, item: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.item = item


@dataclass(frozen=True)
class Suite:
    """A suite module, loaded: what it protects and what it checks.

    `grain` (optional `GRAIN` in the module) names the columns that identify a row; failing rows are then
    sampled with them, so "spend -25.00" comes with the month and channel to look at.
    """

    name: str
    path: Path
    table: str
    checks: tuple[Check, ...]
    grain: tuple[str, ...] = ()
    query: str | None = None  # validate this query's rows (one batch of a raw table) instead of the whole table


def run_gate(
    url: str, schema: str, run_id: str, suites_dir: Path | None = None, docs_dir: Path | None = None
) -> GateResult:
    """Validate `schema`.<TABLE> for every suite module and store the results under `run_id`.

    `url` is a postgresql:// URL (SQLAlchemy or libpq form). Data problems, including a missing table, come
    back as a failed `GateResult`; problems with the suites themselves or the server raise. With `docs_dir`,
    GX Data Docs for this run (each suite and its validation) are written there as static HTML.
    """
    if not run_id or not run_id.strip():
        raise ValueError("run_gate needs a run_id: results are stored and replaced under it")
    directory = suites_dir if suites_dir is not None else get_settings().project_root / "expectations" / "marts"
    suites = load_suites(directory)
    if not suites:
        raise SuiteDefinitionError(f"No suite modules in {directory}: add one file per table it protects")
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        missing = _missing_tables(conn, schema, [s.table for s in suites])
        absent = absent_required_inputs(conn, schema)
        suites = [_follow_inputs(suite, absent.get(suite.table, ())) for suite in suites]
        results = tuple(validate_suites(url, schema, suites, missing, run_id, docs_dir))
        save_run(conn, run_id, results)
    return GateResult(run_id=run_id, suites=results)


COVERAGE = "mart_source_coverage"


def absent_required_inputs(conn: psycopg.Connection, schema: str) -> dict[str, tuple[str, ...]]:
    """Mart → the required exports it was built without (`source.table`), from the build's coverage mart."""
    if conn.execute("select to_regclass(%s)", [f'"{schema}"."{COVERAGE}"']).fetchone()[0] is None:
        return {}
    rows = conn.execute(
        f'select mart_name, source_name || \'.\' || source_table from "{schema}"."{COVERAGE}"'
        " where is_required and not is_present order by 1, 2"
    ).fetchall()
    absent: dict[str, tuple[str, ...]] = {}
    for mart, export in rows:
        absent[mart] = (*absent.get(mart, ()), export)
    return absent


def _follow_inputs(suite: Suite, absent: tuple[str, ...]) -> Suite:
    """The suite as it applies to this build: checks that need absent inputs become warnings that say so."""
    if not absent:
        return suite
    reason = f"not demanded: {', '.join(absent)} absent"
    checks = tuple(
        Check(
            check.expectation.copy(
                update={
                    "description": f"{check.expectation.description or type(check.expectation).__name__} ({reason})"
                }
            ),
            "warning",
        )
        if check.needs_inputs
        else check
        for check in suite.checks
    )
    return replace(suite, checks=checks)


def load_suites(directory: Path) -> list[Suite]:
    """Every `*.py` in `directory` not starting with `_`, imported by path, in file-name order."""
    if not directory.is_dir():
        raise SuiteDefinitionError(f"Suite directory {directory} does not exist")
    return [_load_suite(path) for path in sorted(directory.glob("*.py")) if not path.name.startswith("_")]


def _load_suite(path: Path) -> Suite:
    module = _import_file(path)
    table = getattr(module, "TABLE", None)
    if not isinstance(table, str) or not table:
        raise SuiteDefinitionError(f"{path}: set TABLE to the name of the table this suite protects")
    factory = getattr(module, "expectations", None)
    if not callable(factory):
        raise SuiteDefinitionError(f"{path}: define expectations() -> list[Check]")
    checks = tuple(factory())
    if not checks:
        raise SuiteDefinitionError(f"{path}: expectations() returned no checks")
    for index, check in enumerate(checks):
        if not isinstance(check, Check) or not isinstance(check.expectation, gx.expectations.Expectation):
            raise SuiteDefinitionError(
                f"{path}: item {index} of expectations() is {check!r}; wrap each GX expectation in"
                " Check(gx.expectations.ExpectSomething(...), severity='blocking' or 'warning')"
            )
    grain = tuple(getattr(module, "GRAIN", ()))
    return Suite(name=path.stem, path=path, table=table, checks=checks, grain=grain)


def _import_file(path: Path) -> ModuleType:
    """Import a suite by path: `expectations/` is a folder of files, not a package on sys.path."""
    name = f"tealeaves_expectations.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SuiteDefinitionError(f"{path}: not importable as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise SuiteDefinitionError(f"{path}: importing the suite failed: {exc!r}") from exc
    return module


def _libpq_url(url: str) -> str:
    """psycopg wants libpq's postgresql://; drop a SQLAlchemy driver suffix such as +psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _missing_tables(conn: psycopg.Connection, schema: str, tables: Iterable[str]) -> dict[str, str]:
    """Why each absent table is absent, asked of PostgreSQL up front so the message can say what to do."""
    (schema_exists,) = conn.execute(
        "select exists (select from pg_namespace where nspname = %s)", [schema]
    ).fetchone() or (False,)
    missing: dict[str, str] = {}
    for table in tables:
        (found,) = conn.execute(
            "select to_regclass(format('%%I.%%I', %s::text, %s::text))", [schema, table]
        ).fetchone() or (None,)
        if found is None:
            missing[table] = (
                f"table {schema}.{table} does not exist"
                + ("" if schema_exists else f" (schema {schema} does not exist either)")
                + "; build it first (dbt build) or check the schema name given to the gate"
            )
    return missing


def validate_suites(
    url: str, schema: str, suites: list[Suite], missing: dict[str, str], run_id: str, docs_dir: Path | None
) -> list[SuiteResult]:
    with Validator(url) as validator:
        results = validator.validate(schema, suites, missing, run_id)
        if docs_dir is not None:
            validator.build_docs(docs_dir)
        return results


class Validator:
    """One ephemeral GX context on the warehouse: suites validated in as many rounds as the caller needs (the raw
    gate looks closer at what its first round found), then one Data Docs site for them all."""

    def __init__(self, url: str, session_options: str = "") -> None:
        """`session_options`: settings of the validations' database sessions, as libpq's `options` spells them."""
        self.url = url
        self.context = gx.get_context(mode="ephemeral")
        # tqdm bars are noise in Airflow logs and CI output, and cost time on every metric.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        engine_arguments = {"connect_args": {"options": session_options}} if session_options else {}
        self.datasource = self.context.data_sources.add_postgres(
            _DATASOURCE, connection_string=url, kwargs=engine_arguments
        )
        self.views: list[str] = []  # made for suites on a query; dropped on exit

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        # GX never disposes PostgreSQL engines: without this, pooled connections outlive the run (and block
        # DROP DATABASE in tests).
        self.datasource.get_engine().dispose()
        self.datasource.get_execution_engine().close()
        if self.views:
            with psycopg.connect(_libpq_url(self.url), autocommit=True) as conn:
                for name in self.views:
                    conn.execute(
                        sql.SQL("drop view if exists {}.{}").format(sql.Identifier(QUERY_VIEWS), sql.Identifier(name))
                    )

    def view_of(self, query: str) -> str:
        """A view in QUERY_VIEWS over `query`, named for this process, for as long as this validator lives."""
        name = f"gate_{os.getpid()}_{next(_view_numbers)}"
        with psycopg.connect(_libpq_url(self.url), autocommit=True) as conn:
            ensure_current(conn)  # QUERY_VIEWS is made by the warehouse's baseline revision
            conn.execute(
                sql.SQL("create or replace view {}.{} as {}").format(
                    sql.Identifier(QUERY_VIEWS), sql.Identifier(name), sql.SQL(query)
                )
            )
        self.views.append(name)
        return name

    def validate(self, schema: str, suites: list[Suite], missing: dict[str, str], run_id: str) -> list[SuiteResult]:
        """Each suite's result, in order; suite names must be new to this validator (GX keys its assets by them)."""
        results = []
        for suite in suites:
            started = datetime.now(UTC)
            if suite.table in missing:
                results.append(_not_validated(suite, schema, started, missing[suite.table]))
            else:
                relation = (
                    (QUERY_VIEWS, self.view_of(suite.query)) if suite.query is not None else (schema, suite.table)
                )
                results.append(_validate_suite(self.context, self.datasource, schema, suite, run_id, started, relation))
        return results

    def build_docs(self, docs_dir: Path) -> None:
        _build_data_docs(self.context, docs_dir)


DOCS_SITE = "tealeaves"


def _build_data_docs(context: Any, docs_dir: Path) -> None:
    """Render this run's suites and validation results (held in the ephemeral context's stores) as HTML."""
    private_folder(docs_dir)
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context.add_data_docs_site(DOCS_SITE, site)
    context.build_data_docs(site_names=[DOCS_SITE])
    make_offline(docs_dir)  # GX's pages load their styles and scripts from CDNs; these come with the site


def _validate_suite(
    context: Any, datasource: Any, schema: str, suite: Suite, run_id: str, started: datetime, relation: tuple[str, str]
) -> SuiteResult:
    """`relation` (schema, name) is what GX reads: `schema`.`suite.table` itself, or a view of the suite's query."""
    try:
        with warnings.catch_warnings():
            # GX deprecates `schema_name` in favour of "the schema in the connection configuration", but its
            # PostgreSQL datasource has no such setting (only a search_path smuggled into the URL). A
            # schema-qualified table is the unambiguous choice; the warning would only repeat on every run.
            warnings.filterwarnings("ignore", message="`schema_name` is deprecated", category=DeprecationWarning)
            asset = datasource.add_table_asset(suite.name, table_name=relation[1], schema_name=relation[0])
    except TestConnectionError as exc:  # exists, but GX cannot read it (permissions, a broken view)
        return _not_validated(suite, schema, started, str(exc).splitlines()[0])
    batch_definition = asset.add_batch_definition_whole_table("whole_table")
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name))
    check_of: dict[str, tuple[int, Check]] = {}
    for position, check in enumerate(suite.checks):
        added = gx_suite.add_expectation(_gx_expectation(check, schema))
        # GX keeps one of two equal expectations: it hands back the repeat without an id, and adds nothing
        if added.id is None or added.id in check_of:
            raise SuiteDefinitionError(
                f"{suite.path}: item {position} of expectations() repeats another", path=suite.path, item=position
            )
        check_of[added.id] = (position, check)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite)
    )
    run = RunIdentifier(run_name=run_id)
    validated = validation.run(result_format=_result_format(suite, samples=0), run_id=run)
    unexpected = [r.expectation_config.id for r in validated.results if (r.result or {}).get("unexpected_count")]
    if unexpected:
        _add_samples(context, batch_definition, suite, schema, validated, {i: check_of[i][1] for i in unexpected})
    # GX returns results in its own order; report them in the order the suite file lists them.
    ordered = sorted(validated.results, key=lambda r: check_of[r.expectation_config.id][0])
    outcomes = tuple(_outcome(suite, schema, r, check_of[r.expectation_config.id][1]) for r in ordered)
    return SuiteResult(
        suite=suite.name,
        schema=schema,
        table=suite.table,
        started_at=started,
        finished_at=datetime.now(UTC),
        outcomes=outcomes,
    )


class CountedUnexpectedRows(gx.expectations.UnexpectedRowsExpectation):
    """GX's UnexpectedRowsExpectation without reading the rows: GX runs its query twice, once for the rows and once
    for their count, and reports the rows only in the COMPLETE result format, which the gate never asks for. Each
    run of the query reads what it checks (the invoice reconciliation: 0.8 s at 100,000 customers), so the gate
    runs it once, for the count. Outcomes keep the suite's type, unexpected_rows_expectation; GX's own results and
    Data Docs name this class's, counted_unexpected_rows."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None) -> Any:
        validated = super()._validate(
            {**metrics, "unexpected_rows_query.table": []}, runtime_configuration, execution_engine
        )
        if isinstance(validated, dict):  # asked for COMPLETE, say no rows rather than that there are none
            validated.get("result", {}).pop("details", None)
        return validated


def _gx_expectation(check: Check, schema: str) -> Any:
    """The check's expectation for a GX suite: a copy (GX stamps an id on what it is given, and the suite module's
    objects should stay as written), with its severity, and `{schema}` naming the schema validated; an
    UnexpectedRowsExpectation becomes a CountedUnexpectedRows."""
    update: dict[str, Any] = {"id": None, "severity": _GX_SEVERITY[check.severity]}
    query = getattr(check.expectation, "unexpected_rows_query", None)
    if query and "{schema}" in query:
        # a reconciliation reads the other tables of the same build: `{schema}` names it, as `{batch}` the table
        update["unexpected_rows_query"] = query.replace("{schema}", f'"{schema}"')
    expectation = check.expectation.copy(update=update, deep=True)
    if type(expectation) is gx.expectations.UnexpectedRowsExpectation:
        return CountedUnexpectedRows(**expectation.dict())
    return expectation


def _add_samples(
    context: Any, batch_definition: Any, suite: Suite, schema: str, validated: Any, checks: dict[str, Check]
) -> None:
    """Put samples of the unexpected rows into `validated` (and GX's stored copy of it) for the expectations, by
    id, in `checks`. GX asks for samples whatever the counts, and a query for unexpected values that finds none
    reads the whole table, so the first round asks for none; only the expectations with unexpected rows are
    validated again, in a suite of their own, whose result is merged into the first and then dropped."""
    name = _unused_suite_name(context, f"{suite.name} (samples)")
    sample_suite = context.suites.add(gx.ExpectationSuite(name=name))
    original_id = {sample_suite.add_expectation(_gx_expectation(c, schema)).id: i for i, c in checks.items()}
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=sample_suite)
    )
    sampled = validation.run(result_format=_result_format(suite, samples=SAMPLE_SIZE), run_id=validated.meta["run_id"])
    by_id = {}
    for result in sampled.results:
        result.expectation_config.id = original_id[result.expectation_config.id]
        if _exception_message(result.exception_info) is None:  # a sample that failed to come keeps the counts
            by_id[result.expectation_config.id] = result
    validated.results = [by_id.get(r.expectation_config.id, r) for r in validated.results]
    # Data Docs show the suite once, with its samples: its stored result is the merged one, the samples' is gone.
    store = context.validation_results_store
    for key in store.list_keys():
        if key.expectation_suite_identifier.name == suite.name:
            store.set(key, validated)
        elif key.expectation_suite_identifier.name == name:
            store.remove_key(key)
    context.validation_definitions.delete(name)
    context.suites.delete(name)


def _unused_suite_name(context: Any, name: str) -> str:
    """`name`, or `name` with a number, whichever no suite or validation definition of this run has: a suite file
    may itself be called "<suite> (samples)", and GX refuses a second suite of one name."""
    taken = {s.name for s in context.suites.all()} | {v.name for v in context.validation_definitions.all()}
    unused, number = name, 1
    while unused in taken:
        number += 1
        unused = f"{name} {number}"
    return unused


def _result_format(suite: Suite, samples: int) -> dict[str, Any]:
    """Every count GX has for each expectation, and up to `samples` unexpected values (by the suite's grain)."""
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": samples}
    if suite.grain:
        result_format["unexpected_index_column_names"] = list(suite.grain)
    return result_format


def _not_validated(suite: Suite, schema: str, started: datetime, reason: str) -> SuiteResult:
    """Every check failed with the reason: the stored run still shows which expectations went unchecked."""
    outcomes = tuple(
        ExpectationOutcome(
            suite=suite.name,
            table=f"{schema}.{suite.table}",
            expectation_type=check.expectation.expectation_type,
            column=_column_of(check.expectation.configuration.kwargs),
            kwargs=_kwargs(check.expectation.configuration.kwargs),
            severity=check.severity,
            success=False,
            observed_value=None,
            unexpected_count=None,
            unexpected_sample=[],
            description=check.expectation.description,
            error=reason,
        )
        for check in suite.checks
    )
    return SuiteResult(
        suite=suite.name,
        schema=schema,
        table=suite.table,
        started_at=started,
        finished_at=datetime.now(UTC),
        outcomes=outcomes,
        error=reason,
    )


def _outcome(suite: Suite, schema: str, result: ExpectationValidationResult, check: Check) -> ExpectationOutcome:
    config = result.expectation_config
    details: dict[str, Any] = result.result or {}
    unexpected_count = details.get("unexpected_count")
    if "observed_value" in details:
        observed = details["observed_value"]
        if check.expectation.expectation_type == "unexpected_rows_expectation":
            unexpected_count = observed  # what that expectation observes is the number of offending rows
    elif "element_count" in details:
        observed = {k: details[k] for k in _ROW_COUNTS if k in details}
    else:
        observed = None
    sample = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return ExpectationOutcome(
        suite=suite.name,
        table=f"{schema}.{suite.table}",
        expectation_type=check.expectation.expectation_type,  # the suite's, not the gate's CountedUnexpectedRows
        column=_column_of(config.kwargs),
        kwargs=_kwargs(config.kwargs),
        severity=check.severity,
        success=bool(result.success),
        observed_value=convert_to_json_serializable(observed),
        unexpected_count=unexpected_count,
        unexpected_sample=convert_to_json_serializable(list(sample[:SAMPLE_SIZE])),
        description=config.description,
        error=_exception_message(result.exception_info),
    )


def _column_of(kwargs: dict[str, Any]) -> str | None:
    if kwargs.get("column"):
        return str(kwargs["column"])
    columns = kwargs.get("column_list") or [kwargs[k] for k in ("column_A", "column_B") if kwargs.get(k)]
    return ", ".join(map(str, columns)) or None


def _kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return convert_to_json_serializable({k: v for k, v in kwargs.items() if k not in _NOT_EXPECTED})


def _exception_message(exception_info: dict[str, Any] | None) -> str | None:
    """GX reports an exception either flat or keyed by the metric that raised it; find the message in both."""
    if not exception_info:
        return None
    candidates = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in candidates:
        if info.get("raised_exception"):
            return str(info.get("exception_message") or "GX raised an exception without a message")
    return None
