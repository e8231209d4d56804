"""The dashboards as code (bi/superset/) and the zip `tealeaves bi up` makes of them for Superset's importer.

No Superset here: what the importer is handed, and that the repository's YAML hangs together (a dashboard naming
a chart that is not there, or a chart on a dataset that is not there, imports as a broken dashboard).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import URL, make_url

from tealeaves.bi.bundle import PASSWORD_MASK, ROOT_FOLDER, BundleError, build_bundle

SOURCE = Path(__file__).resolve().parents[2] / "bi" / "superset"
WAREHOUSE = URL.create(
    "postgresql", username="postgres", password="superuser-secret", host="db.internal", port=6543, database="dw"
)


def _load(folder: str) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(SOURCE.glob(f"{folder}/**/*.yaml"))]


def _bundle(tmp_path: Path) -> tuple[dict[str, dict], list[str], Path]:
    target = tmp_path / "dashboards.zip"
    databases, _ = build_bundle(SOURCE, target, WAREHOUSE, "superset")
    with zipfile.ZipFile(target) as archive:
        contents = {name: archive.read(name).decode() for name in archive.namelist()}
    return {name: yaml.safe_load(text) for name, text in contents.items()}, databases, target


def test_the_bundle_points_superset_at_this_warehouse_as_the_reader_with_no_password(tmp_path):
    files, databases, target = _bundle(tmp_path)
    assert databases == ["databases/tealeaves_warehouse.yaml"]
    uri = make_url(files[f"{ROOT_FOLDER}/{databases[0]}"]["sqlalchemy_uri"])
    assert (uri.drivername, uri.username, uri.host, uri.port, uri.database) == (
        "postgresql+psycopg2",
        "superset",
        "db.internal",
        6543,
        "dw",
    )
    assert uri.password == PASSWORD_MASK
    assert "superuser-secret" not in target.read_bytes().decode("latin-1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_bundle_holds_every_file_of_the_repository_under_one_root_folder(tmp_path):
    files, _, _ = _bundle(tmp_path)
    repository = {path.relative_to(SOURCE).as_posix() for path in SOURCE.rglob("*.yaml")}
    assert {name.split("/", 1)[1] for name in files} == repository
    assert {name.split("/", 1)[0] for name in files} == {ROOT_FOLDER}


def test_a_folder_without_a_database_export_is_refused(tmp_path):
    (tmp_path / "charts").mkdir()
    (tmp_path / "metadata.yaml").write_text("version: 1.0.0\n")
    with pytest.raises(BundleError):
        build_bundle(tmp_path, tmp_path / "out.zip", WAREHOUSE, "superset")


def test_every_chart_reads_a_dataset_of_the_repository_and_every_dataset_a_database():
    databases = {database["uuid"] for database in _load("databases")}
    datasets = {dataset["uuid"]: dataset for dataset in _load("datasets")}
    charts = _load("charts")
    assert charts and datasets
    assert {dataset["database_uuid"] for dataset in datasets.values()} <= databases
    missing = [chart["slice_name"] for chart in charts if chart["dataset_uuid"] not in datasets]
    assert missing == []
    assert {dataset["schema"] for dataset in datasets.values()} == {"marts"}  # what the reader login may read


def test_every_dashboard_names_charts_of_the_repository_by_uuid_and_name():
    charts = {chart["uuid"]: chart["slice_name"] for chart in _load("charts")}
    dashboards = _load("dashboards")
    assert {dashboard["slug"] for dashboard in dashboards} >= {"finance"}
    for dashboard in dashboards:
        placed = [
            item["meta"]
            for item in dashboard["position"].values()
            if isinstance(item, dict) and item.get("type") == "CHART"
        ]
        assert placed, dashboard["slug"]
        assert [(meta["uuid"] in charts, meta["sliceName"]) for meta in placed] == [
            (True, charts.get(meta["uuid"])) for meta in placed
        ]


def test_every_dataset_column_is_a_column_of_its_mart():
    """A renamed mart column would leave a dataset column Superset cannot query: the dbt YAML is the reference."""
    models = {}
    for path in (SOURCE.parents[1] / "dbt_project" / "models" / "marts").glob("*/_*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            models[model["name"]] = {column["name"] for column in model.get("columns", [])}
    for dataset in _load("datasets"):
        physical = {column["column_name"] for column in dataset["columns"] if not column.get("expression")}
        assert physical <= models[dataset["table_name"]], dataset["table_name"]
