"""`tealeaves bi up` starts a real Apache Superset on the published marts, with the dashboards of bi/superset/.

A person's view: Chromium logs in through Superset's own form, opens each dashboard of the repository, waits for
every chart, and reads a number off a chart to compare with a plain SQL read of the mart. And a stranger's: the
server listens on loopback only, a dashboard asks for a login, and no secret reaches a log or a command line.

Superset lives in its own virtualenv (.venv-bi, about 800 MB): `make test` installs it and runs this file with
the others (CI); `make test-bi` runs it alone; a bare `pytest` leaves it out (marker `bi`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg
import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

from tests.cli import tealeaves
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.bi

DASHBOARDS = ROOT / "bi" / "superset" / "dashboards"
START_SECONDS = 600  # a first start migrates Superset's metadata database: about a minute on 2 cores
CHART_SECONDS = 120


@pytest.fixture(scope="module")
def superset(marts_world, tmp_path_factory):
    """`tealeaves bi up` on the session's published marts, first start in a fresh home; `bi down` afterwards.

    Yields (base URL, the environment, the admin password the first start printed, the home, the warehouse URL).
    """
    url, _, _ = marts_world
    if not (ROOT / ".venv-bi" / "bin" / "gunicorn").exists():
        pytest.fail("Superset is not installed: run `make bi-install` (make test-bi does)", pytrace=False)
    home = tmp_path_factory.mktemp("bi-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    port = free_port()
    env.update(TEALEAVES_HOME=str(home), TEALEAVES_DATABASE_URL=url, TEALEAVES_BI_PORT=str(port))
    try:
        up = tealeaves(env, "bi", "up", timeout=START_SECONDS)
        assert up.returncode == 0, f"tealeaves bi up failed:\n{up.stdout}\n{up.stderr}"
        password = re.search(r"Superset login: admin / (\S+)", up.stdout)
        assert password, f"the first start shows the admin's password once:\n{up.stdout}"
        yield f"http://127.0.0.1:{port}", env, password.group(1), home, url
    finally:
        tealeaves(env, "bi", "down", timeout=120)


def _dashboards() -> list[tuple[str, list[str]]]:
    """(slug, chart names) of every dashboard kept in the repository, from its own YAML."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.yaml")):
        dashboard = yaml.safe_load(path.read_text())
        charts = [item["meta"]["sliceName"] for item in dashboard["position"].values() if _is_chart(item)]
        found.append((dashboard["slug"], charts))
    return found


def _is_chart(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") == "CHART"


def _log_in(page, base: str, password: str) -> None:
    """Superset's own login form, once its script has taken the form over (a first visit loads it cold)."""
    page.goto(f"{base}/login/", wait_until="networkidle", timeout=CHART_SECONDS * 1000)
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.click('[data-test="login-button"]')
    try:
        page.wait_for_url(lambda address: "/login" not in address, wait_until="commit", timeout=CHART_SECONDS * 1000)
    except PlaywrightTimeoutError:
        text = page.locator("body").inner_text(timeout=5000)[:500]
        pytest.fail(f"the login form did not log in: still at {page.url}, showing: {text!r}", pytrace=False)


def _open_dashboard(page, base: str, slug: str, expected: int) -> dict[str, object]:
    """Open a dashboard, wait until `expected` charts stopped loading; return each chart's holder by its title."""
    # Playwright's own 30 s would be the limit of the page's load and of its charts' queries, which one Superset
    # worker answers a few at a time on a loaded machine; every wait here has the charts' limit instead
    page.goto(f"{base}/superset/dashboard/{slug}/", timeout=CHART_SECONDS * 1000)
    holders = page.locator('[data-test="dashboard-component-chart-holder"]')
    holders.nth(expected - 1).wait_for(timeout=CHART_SECONDS * 1000)
    page.wait_for_load_state("networkidle", timeout=CHART_SECONDS * 1000)
    page.wait_for_function(
        """() => document.querySelectorAll('[data-test="dashboard-component-chart-holder"]').length > 0
            && document.querySelectorAll(
                '[data-test="dashboard-component-chart-holder"] [data-test="loading-indicator"]').length === 0""",
        timeout=CHART_SECONDS * 1000,
    )
    return {holder.locator('[data-test="editable-title"]').inner_text().strip(): holder for holder in holders.all()}


def _failed_charts(charts: dict[str, object]) -> dict[str, str]:
    """Charts that show Superset's error box instead of data (a query that failed, a missing column), each with the
    box's text, so a failure says what Superset said."""
    alerts = {title: holder.locator('[role="alert"]') for title, holder in charts.items()}
    return {title: " | ".join(alert.all_inner_texts()).strip() for title, alert in alerts.items() if alert.count()}


def test_every_dashboard_of_the_repository_loads_every_chart_without_an_error(superset, local_page):
    base, _, password, _, _ = superset
    page, log = local_page
    dashboards = _dashboards()
    assert dashboards, f"no dashboard YAML in {DASHBOARDS}"
    _log_in(page, base, password)
    for slug, names in dashboards:
        charts = _open_dashboard(page, base, slug, len(names))
        assert sorted(charts) == sorted(names), f"dashboard {slug} shows other charts than its YAML names"
        assert _failed_charts(charts) == {}, f"dashboard {slug}: charts showing an error (title: Superset's message)"
        if os.environ.get("TEALEAVES_SCREENSHOTS"):
            page.screenshot(path=str(ROOT / "docs" / "images" / f"superset-{slug}.png"), full_page=True)
    assert log.outside_requests == []
    assert log.page_errors == []


def test_blended_cac_of_the_latest_month_on_the_finance_dashboard_is_the_marts(superset, local_page):
    base, _, password, _, url = superset
    with psycopg.connect(url) as conn:
        month, cac = conn.execute(
            "select month, cac from marts.fct_acquisition_vs_retention_cost"
            " where segment = 'all' order by month desc limit 1"
        ).fetchone()
    assert isinstance(cac, Decimal), f"the world's latest month {month} has no blended CAC to show"
    page, _ = local_page
    _log_in(page, base, password)
    charts = _open_dashboard(page, base, "finance", len(dict(_dashboards())["finance"]))
    # The big number is drawn after its query returns and the loading indicator has gone: wait for the figure
    # itself (a failure shows what was drawn instead).
    header = charts["Blended CAC, latest month"].locator(".header-line")
    expect(header).to_have_text(f"{cac:,.2f}", timeout=CHART_SECONDS * 1000)


def test_a_chart_whose_table_the_reader_cannot_read_shows_an_error(superset, local_page):
    """The check above can fail: take the reader's SELECT on one mart away and exactly its charts break."""
    base, _, password, _, url = superset
    page, _ = local_page
    _log_in(page, base, password)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("revoke select on marts.fct_ltv_cac from bi_reader")
        try:
            charts = _open_dashboard(page, base, "finance", len(dict(_dashboards())["finance"]))
            failed = _failed_charts(charts)
        finally:
            conn.execute("grant select on marts.fct_ltv_cac to bi_reader")
    ltv_charts = _charts_on_dataset("fct_ltv_cac")
    assert ltv_charts, "the Finance dashboard reads fct_ltv_cac"
    assert sorted(failed) == sorted(ltv_charts), failed


def _charts_on_dataset(table: str) -> list[str]:
    """Names of the repository's charts built on `table`, from the chart and dataset YAML."""
    root = ROOT / "bi" / "superset"
    datasets = [yaml.safe_load(p.read_text()) for p in root.glob("datasets/*/*.yaml")]
    tables = {dataset["uuid"]: dataset["table_name"] for dataset in datasets}
    charts = [yaml.safe_load(p.read_text()) for p in root.glob("charts/*.yaml")]
    return [chart["slice_name"] for chart in charts if tables.get(chart["dataset_uuid"]) == table]


def test_an_anonymous_visitor_of_a_dashboard_is_sent_to_the_login_page(superset):
    base, *_ = superset
    parts = urlsplit(base)
    for slug, _ in _dashboards():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", f"/superset/dashboard/{slug}/")
        response = conn.getresponse()
        assert response.status in (301, 302, 303, 307, 308)
        assert urlsplit(response.getheader("Location", "")).path.startswith("/login")
        conn.close()
    api = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    api.request("GET", "/api/v1/dashboard/")
    assert api.getresponse().status == 401


def test_a_refused_request_sets_no_cookie_that_could_undo_a_login(superset):
    """A page's background requests go on while its login form is sent: the login page posts its event log, and
    that post, still logged out, is refused with a redirect to the login page. Had the refusal set a session cookie
    (Flask-Login's "Please log in" message lives in the session), one arriving after the login's answer would replace
    the new session with a logged-out one, and send the person who had just logged in back to the login page: this
    file's browser logins failed so about once in twenty runs."""
    base, *_ = superset
    parts = urlsplit(base)
    for method, path in [("POST", "/superset/log/?explode=events"), ("GET", "/superset/welcome/")]:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request(method, path, body="events=[]" if method == "POST" else None)
        response = conn.getresponse()
        assert response.status in (301, 302, 303, 307, 308), (path, response.status)
        assert urlsplit(response.getheader("Location", "")).path.startswith("/login"), path
        cookies = response.headers.get_all("Set-Cookie") or []
        assert [cookie for cookie in cookies if cookie.startswith("session=")] == [], (path, cookies)
        conn.close()


def test_superset_listens_on_loopback_only(superset):
    _, env, _, home, _ = superset
    pid = int((home / "superset" / "superset.pid").read_text())
    root = psutil.Process(pid)
    listening = set()
    for process in [root, *root.children(recursive=True)]:
        listening |= {c.laddr.ip for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}
    status = tealeaves(env, "bi", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    again = tealeaves(env, "bi", "up", timeout=120)
    assert again.returncode == 0 and "already running" in again.stdout
    assert "Superset login" not in again.stdout  # the password is shown on the first start only


def test_secrets_are_private_files_and_reach_no_log_or_command_line(superset):
    _, _, password, home, url = superset
    folder = home / "superset"
    reader_password = (folder / "reader.password").read_text().strip()
    for name in ("admin.password", "reader.password", "secret-key", "superset_config.py"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    secrets = [password, reader_password, (folder / "secret-key").read_text().strip()]
    logs = [path for path in (home / "logs").iterdir() if path.is_file()]
    assert {path.name for path in logs} >= {"superset.log", "superset-setup.log"}
    for path in logs:
        text = path.read_text(errors="replace")
        assert not [secret for secret in secrets if secret in text], f"a secret in {path}"
    pid = int((folder / "superset.pid").read_text())
    root = psutil.Process(pid)
    superuser = make_url(url).password
    for process in [root, *root.children(recursive=True)]:
        command = " ".join(process.cmdline())
        assert not [secret for secret in secrets if secret in command]
        environment = "\n".join(f"{k}={v}" for k, v in process.environ().items())
        assert not [secret for secret in [*secrets, superuser] if secret in environment]
    assert not list(folder.glob("*.zip")), "the bundle holding the import is removed after the import"


def test_the_reader_login_reads_the_marts_and_not_raw(superset):
    """Superset connects as `superset` in bi_reader: marts yes, raw no (docs/security.md)."""
    _, _, _, home, url = superset
    reader = (home / "superset" / "reader.password").read_text().strip()
    as_reader = make_url(url).set(username="superset", password=reader).render_as_string(hide_password=False)
    with psycopg.connect(as_reader) as conn:
        assert conn.execute("select count(*) from marts.fct_acquisition_cost").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select 1 from raw.rejected_rows limit 1")


def test_a_taken_port_is_one_line_not_a_traceback(superset, tmp_path):
    _, env, *_ = superset
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = {**env, "TEALEAVES_HOME": str(tmp_path / "home"), "TEALEAVES_BI_PORT": str(port)}
        result = tealeaves(other, "bi", "up", timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("error:")
    ]
    assert str(port) in result.stderr


def _api_login(base: str, password: str) -> int:
    """Status of Superset's API login for `admin` with `password` (200 when it lets them in)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = json.dumps({"username": "admin", "password": password, "provider": "db"})
    conn.request("POST", "/api/v1/security/login", body=body, headers={"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def test_bi_password_gives_a_new_password_and_the_old_one_stops(superset):
    base, env, old, home, _ = superset
    assert _api_login(base, old) == 200
    rotated = tealeaves(env, "bi", "password", timeout=180)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    new = re.search(r"Superset login: admin / (\S+)", rotated.stdout).group(1)
    assert new != old
    assert (home / "superset" / "admin.password").read_text().strip() == new
    assert _api_login(base, new) == 200
    assert _api_login(base, old) == 401


@contextmanager
def _api(base: str, password: str) -> Iterator[httpx.Client]:
    """Superset's REST API as the admin: a bearer token, and the session cookie and CSRF token writes need."""
    with httpx.Client(base_url=base, timeout=60) as client:
        body = {"username": "admin", "password": password, "provider": "db", "refresh": False}
        token = client.post("/api/v1/security/login", json=body).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        client.headers["X-CSRFToken"] = client.get("/api/v1/security/csrf_token/").json()["result"]
        client.headers["Referer"] = base
        yield client


def _chart_names(client: httpx.Client) -> set[str]:
    charts = client.get("/api/v1/chart/", params={"q": "(columns:!(slice_name),page_size:100)"}).json()["result"]
    return {chart["slice_name"] for chart in charts}


def _stored_passwords(url: str) -> list[bytes]:
    """The database passwords Superset keeps in its metadata database, as stored (encrypted with its key)."""
    metadata = make_url(url).set(database="superset").render_as_string(hide_password=False)
    with psycopg.connect(metadata) as conn:
        return [bytes(row[0]) for row in conn.execute("select password from dbs order by id") if row[0]]


def test_bi_rotate_secret_gives_a_new_key_and_superset_still_reads_the_warehouse(superset):
    """The reader's password Superset stores is re-encrypted with the new key: without that, Superset restarted on
    the new key could not log in to the warehouse and listing its schemas would fail."""
    base, env, _, home, url = superset
    folder = home / "superset"
    old_key = (folder / "secret-key").read_text().strip()
    before = _stored_passwords(url)
    assert before, "Superset stores the reader's password"
    rotated = tealeaves(env, "bi", "rotate-secret", timeout=START_SECONDS)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    new_key = (folder / "secret-key").read_text().strip()
    assert new_key != old_key and len(new_key) >= 40
    assert stat.S_IMODE((folder / "secret-key").stat().st_mode) == 0o600
    after = _stored_passwords(url)
    assert len(after) == len(before) and not set(after) & set(before)
    assert tealeaves(env, "bi", "status").returncode == 0, "a running Superset is started again"
    password = (folder / "admin.password").read_text().strip()
    with _api(base, password) as client:
        database = client.get("/api/v1/database/").json()["result"][0]["id"]
        schemas = client.get(f"/api/v1/database/{database}/schemas/", params={"q": "(force:!t)"})
        assert schemas.status_code == 200, schemas.text
        assert "marts" in schemas.json()["result"]
    for path in (home / "logs").iterdir():
        text = path.read_text(errors="replace")
        assert old_key not in text and new_key not in text, f"a secret key in {path}"
    assert old_key not in rotated.stdout + rotated.stderr and new_key not in rotated.stdout + rotated.stderr


def test_bi_down_stops_it_and_a_second_start_puts_the_repository_dashboards_back(superset):
    """Last but one in the module. The second start skips the migration, imports while gunicorn loads, shows no
    password, and undoes what someone changed in the UI: the repository's YAML is the truth."""
    base, env, _, home, _ = superset
    password = (home / "superset" / "admin.password").read_text().strip()  # rotated by the test above
    charts = (ROOT / "bi" / "superset" / "charts").glob("*.yaml")
    repository = {yaml.safe_load(path.read_text())["slice_name"] for path in charts}
    with _api(base, password) as client:
        assert _chart_names(client) == repository
        chart = client.get("/api/v1/chart/", params={"q": "(page_size:1)"}).json()["result"][0]
        renamed = client.put(f"/api/v1/chart/{chart['id']}", json={"slice_name": "renamed in the UI"})
        assert renamed.status_code == 200, renamed.text
        assert "renamed in the UI" in _chart_names(client)

    down = tealeaves(env, "bi", "down", timeout=120)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert tealeaves(env, "bi", "status").returncode == 3
    parts = urlsplit(base)
    with pytest.raises(OSError):
        http.client.HTTPConnection(parts.hostname, parts.port, timeout=5).request("GET", "/health")
    again = tealeaves(env, "bi", "up", timeout=START_SECONDS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Superset login" not in again.stdout
    assert tealeaves(env, "bi", "status").returncode == 0
    with _api(base, password) as client:
        assert _chart_names(client) == repository


def _drop_chart(folder, name: str) -> str:
    """Delete chart `name` from a copy of bi/superset/ as a person would: its YAML, and its place on its dashboard."""
    for path in (folder / "charts").glob("*.yaml"):
        chart = yaml.safe_load(path.read_text())
        if chart["slice_name"] == name:
            path.unlink()
            break
    else:
        raise AssertionError(f"no chart {name!r} in {folder}")
    for path in (folder / "dashboards").glob("*.yaml"):
        dashboard = yaml.safe_load(path.read_text())
        position = dashboard["position"]
        gone = [key for key, item in position.items() if _is_chart(item) and item["meta"]["uuid"] == chart["uuid"]]
        for key in gone:
            del position[key]
        for item in position.values():
            if isinstance(item, dict) and "children" in item:
                item["children"] = [child for child in item["children"] if child not in gone]
        path.write_text(yaml.safe_dump(dashboard, sort_keys=False))
    return chart["uuid"]


def _container_setup(home, url: str, dashboards, tmp_path) -> subprocess.CompletedProcess:
    """The container's superset-init, run here: `python -m tealeaves.bi.superset_setup --from-environment` with
    the configuration the image writes (`python -m tealeaves.bi.config_file`) and the variables docker-compose.yml
    sets, pointed at this test's warehouse and Superset's metadata database."""
    venv = ROOT / ".venv-bi" / "bin" / "python"
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT / "include")}
    config = tmp_path / "superset_config.py"
    written = subprocess.run([str(venv), "-m", "tealeaves.bi.config_file"], env=base, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    config.write_text(written.stdout)
    folder = home / "superset"
    warehouse = make_url(url)
    env = {
        **base,
        "SUPERSET_CONFIG_PATH": str(config),
        "SUPERSET_HOME": str(tmp_path),
        "TEALEAVES_BI_METADATA_URL": warehouse.set(
            drivername="postgresql+psycopg2", database="superset"
        ).render_as_string(hide_password=False),
        "SUPERSET_SECRET_KEY": (folder / "secret-key").read_text().strip(),
        "TEALEAVES_BI_ADMIN_PASSWORD": (folder / "admin.password").read_text().strip(),
        "TEALEAVES_BI_READER_PASSWORD": (folder / "reader.password").read_text().strip(),
        "TEALEAVES_BI_WAREHOUSE_URL": warehouse.set(username=None, password=None).render_as_string(),
        "TEALEAVES_BI_DASHBOARDS": str(dashboards),
    }
    command = [str(venv), "-m", "tealeaves.bi.superset_setup", "--from-environment"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=START_SECONDS, cwd=tmp_path)


def _drop_dashboard(folder, title: str) -> tuple[set[str], set[str]]:
    """Delete dashboard `title` from a copy of bi/superset/ as a person would: its YAML, its charts' YAML and the
    datasets no chart left in the folder reads. Returns (the charts' names, the datasets' table names) removed."""
    [path] = [
        p for p in (folder / "dashboards").glob("*.yaml") if yaml.safe_load(p.read_text())["dashboard_title"] == title
    ]
    placed = {item["meta"]["uuid"] for item in yaml.safe_load(path.read_text())["position"].values() if _is_chart(item)}
    path.unlink()
    charts, read = set(), set()
    for chart_path in (folder / "charts").glob("*.yaml"):
        chart = yaml.safe_load(chart_path.read_text())
        if chart["uuid"] in placed:
            charts.add(chart["slice_name"])
            chart_path.unlink()
        else:
            read.add(chart["dataset_uuid"])
    datasets = set()
    for dataset_path in (folder / "datasets").rglob("*.yaml"):
        dataset = yaml.safe_load(dataset_path.read_text())
        if dataset["uuid"] not in read:
            datasets.add(dataset["table_name"])
            dataset_path.unlink()
    assert charts and datasets, f"dashboard {title!r} has charts and datasets of its own"
    return charts, datasets


def _dataset_names(client: httpx.Client) -> dict[str, int]:
    datasets = client.get("/api/v1/dataset/", params={"q": "(columns:!(id,table_name),page_size:100)"}).json()
    return {d["table_name"]: d["id"] for d in datasets["result"]}


def _dashboard_titles(client: httpx.Client) -> set[str]:
    dashboards = client.get("/api/v1/dashboard/", params={"q": "(columns:!(dashboard_title),page_size:100)"}).json()
    return {d["dashboard_title"] for d in dashboards["result"]}


def test_what_the_repository_no_longer_holds_leaves_superset_and_what_was_made_in_the_ui_stays(superset, tmp_path):
    """A chart taken off its dashboard, and a whole dashboard with its charts and its own datasets, go at the next
    import; a chart made in the UI stays, and so does the dropped dataset it reads, until it is deleted: the import
    after that removes the dataset too. Last in the module, imported through the container's entry point (the same
    setup code, its plan read from the environment, as docker-compose.yml's superset-init runs it) while Superset
    serves."""
    base, _, _, home, url = superset
    password = (home / "superset" / "admin.password").read_text().strip()
    copy = tmp_path / "superset"
    shutil.copytree(ROOT / "bi" / "superset", copy)
    dropped = "Customers valued by the LTV fit"
    dropped_uuid = _drop_chart(copy, dropped)
    board = "Service and voice"
    board_charts, board_datasets = _drop_dashboard(copy, board)
    with _api(base, password) as client:
        before, datasets = _chart_names(client), _dataset_names(client)
        assert board in _dashboard_titles(client) and board_charts | {dropped} <= before
        assert board_datasets <= set(datasets)
        kept = sorted(board_datasets)[0]  # the UI chart reads one of the dropped dashboard's datasets
        made = client.post(
            "/api/v1/chart/",
            json={
                "slice_name": "made in the UI",
                "viz_type": "table",
                "datasource_id": datasets[kept],
                "datasource_type": "table",
                "params": json.dumps({"viz_type": "table", "query_mode": "raw", "all_columns": []}),
            },
        )
        assert made.status_code == 201, made.text
        try:
            result = _container_setup(home, url, copy, tmp_path)
            assert result.returncode == 0, result.stderr[-3000:]
            assert _chart_names(client) == before - board_charts - {dropped} | {"made in the UI"}
            uuids = {
                c["uuid"]
                for c in client.get("/api/v1/chart/", params={"q": "(columns:!(uuid),page_size:100)"}).json()["result"]
            }
            assert dropped_uuid not in uuids
            customers = client.get("/api/v1/dashboard/customers/charts").json()["result"]
            assert dropped not in {chart["slice_name"] for chart in customers} and customers
            assert board not in _dashboard_titles(client) and len(_dashboard_titles(client)) == 3
            assert set(_dataset_names(client)) == set(datasets) - board_datasets | {kept}
        finally:
            client.delete(f"/api/v1/chart/{made.json()['id']}")
        result = _container_setup(home, url, copy, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert set(_dataset_names(client)) == set(datasets) - board_datasets
