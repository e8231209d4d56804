"""The container stack's Superset is wired to the code the tests run (docs/bi.md, "In the container stack").

No Docker daemon runs where the tests do, so the service itself is not started here. What can be checked is
checked from the files docker compose and docker build read: the image installs requirements-bi.lock, holds every
module the setup imports, writes its configuration with tealeaves.bi.config_file, and both services call code
that `tealeaves bi up` and `make test-bi` run; no secret has a default in the repository; ports on loopback.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tealeaves.bi import config_file, superset_setup
from tealeaves.bi.server import GUNICORN

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def _dockerfile(service: dict) -> Path:
    build = service["build"]
    return ROOT / build["context"] / build["dockerfile"]


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _image_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _workdir(instructions: list[tuple[str, str]]) -> Path:
    return Path([rest for word, rest in instructions if word == "WORKDIR"][-1])


def _image_tree(instructions: list[tuple[str, str]], into: Path) -> Path:
    """The files the Dockerfile's COPY lines put under WORKDIR, copied from the repository into `into`."""
    workdir = _workdir(instructions)
    for word, rest in instructions:
        if word != "COPY":
            continue
        *sources, target = [part for part in shlex.split(rest) if not part.startswith("--")]
        destination = into / (Path(target).relative_to(workdir) if target.startswith("/") else Path(target))
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True)
            elif target.endswith("/"):
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, destination / origin.name)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, destination)
    return into


def test_superset_is_a_service_built_from_the_bi_lock_on_an_official_python_image():
    services = _services()
    assert {"superset", "superset-init"} <= set(services)
    dockerfile = _dockerfile(services["superset"])
    assert _dockerfile(services["superset-init"]) == dockerfile
    instructions = _instructions(dockerfile)
    assert [rest for word, rest in instructions if word == "FROM"] == ["python:3.11-slim"]
    installs = [rest for word, rest in instructions if word == "RUN" and "pip install" in rest]
    assert installs and all("-r requirements-bi.lock" in rest for rest in installs)
    copies = [rest for word, rest in instructions if word == "COPY"]
    assert any(shlex.split(rest)[0] == "requirements-bi.lock" for rest in copies)
    assert not any("requirements.lock" in shlex.split(rest) for rest in copies), "Airflow's pins clash with Superset's"


def test_the_image_holds_every_module_the_setup_imports_and_writes_the_config_of_bi_up(tmp_path):
    """Import the setup with nothing on the path but what the Dockerfile copies: a module it forgot fails here."""
    instructions = _instructions(_dockerfile(_services()["superset"]))
    tree = _image_tree(instructions, tmp_path / "image")
    env = _image_env(instructions)
    include = Path(env["PYTHONPATH"]).relative_to(_workdir(instructions))
    command = _services()["superset-init"]["command"]
    assert command[:2] == ["python", "-m"] and command[3:] == ["--from-environment"]
    module = command[2]
    check = (
        f"import sys; sys.path[:0] = [{str(tree / include)!r}]; import importlib;"
        f" m = importlib.import_module({module!r}); assert m.__file__.startswith({str(tree)!r}), m.__file__;"
        " import tealeaves.bi.config_file as c; sys.stdout.write(c.container())"
    )
    # Superset's own interpreter where `make bi-install` made it (SQLAlchemy 1.4, as in the image), else this one.
    python = ROOT / ".venv-bi" / "bin" / "python"
    python = python if python.exists() else Path(sys.executable)
    result = subprocess.run([str(python), "-I", "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert module == superset_setup.__name__
    config = result.stdout
    compile(config, "superset_config.py", "exec")
    assert config == config_file.container()
    run_config = [rest for word, rest in instructions if word == "RUN" and "tealeaves.bi.config_file" in rest]
    assert run_config and '"${SUPERSET_CONFIG_PATH}"' in run_config[0]
    assert (
        tree / Path(superset_setup.DEFAULT_DASHBOARDS).relative_to(_workdir(instructions)) / "metadata.yaml"
    ).exists()


def test_the_container_config_reads_its_secrets_from_the_environment_compose_sets():
    services = _services()
    env = services["superset"]["environment"]
    for expression in (config_file.CONTAINER_METADATA, config_file.CONTAINER_SECRET_KEY):
        variable = re.search(r'os\.environ\["([A-Z_]+)"\]', expression).group(1)
        assert variable in env, variable
    assert env["TEALEAVES_BI_METADATA_URL"].endswith("@postgres:5432/superset")


def test_the_init_service_gives_the_setup_every_variable_it_reads_and_no_secret_has_a_default():
    services = _services()
    env = services["superset-init"]["environment"]
    for variable in superset_setup.ENVIRONMENT.values():
        assert variable in env, variable
    secrets = [
        env["TEALEAVES_BI_ADMIN_PASSWORD"],
        env["TEALEAVES_BI_READER_PASSWORD"],
        env["SUPERSET_SECRET_KEY"],
        services["postgres"]["environment"]["SUPERSET_DB_PASSWORD"],
    ]
    assert all(re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value) for value in secrets), secrets
    assert (
        env["TEALEAVES_BI_READER_PASSWORD"].split(":?")[0]
        == services["postgres"]["environment"]["SUPERSET_DB_PASSWORD"].split(":?")[0]
    ), "Superset must log in with the password the postgres service gives the reader"
    given = {name: f"value-of-{name}" if "${" in value else value for name, value in env.items()}
    plan = superset_setup.plan_from_environ(given)
    assert plan["admin_password"] == "value-of-TEALEAVES_BI_ADMIN_PASSWORD"
    assert plan["reader_login"] == "superset" and plan["migrate"] is True
    assert plan["warehouse"] == "postgresql://postgres:5432/tealeaves"
    assert "password" not in plan["warehouse"] and "@" not in plan["warehouse"]
    assert "previous_secret_key" not in superset_setup.plan_from_environ(
        {**given, "TEALEAVES_BI_PREVIOUS_SECRET_KEY": ""}
    )
    assert env["TEALEAVES_BI_PREVIOUS_SECRET_KEY"] == "${SUPERSET_PREVIOUS_SECRET_KEY:-}", "no key in the repository"
    assert plan["previous_secret_key"] == "value-of-TEALEAVES_BI_PREVIOUS_SECRET_KEY"


def test_a_missing_variable_is_named_and_no_value_is_shown():
    env = {name: "s3cret-value" for name in superset_setup.ENVIRONMENT.values()}
    del env["TEALEAVES_BI_ADMIN_PASSWORD"]
    with pytest.raises(KeyError) as raised:
        superset_setup.plan_from_environ(env)
    assert "TEALEAVES_BI_ADMIN_PASSWORD" in raised.value.args[0]
    assert "s3cret-value" not in raised.value.args[0]


def test_the_web_server_runs_as_bi_up_runs_it_and_is_published_on_loopback_only():
    service = _services()["superset"]
    command = service["command"]
    assert command[0] == "gunicorn" and command[-1] == "superset.app:create_app()"
    joined = " ".join(command)
    assert " ".join(GUNICORN) in joined
    assert service["ports"] == ["127.0.0.1:${SUPERSET_HOST_PORT:-8088}:8088"]
    assert service["depends_on"]["superset-init"] == {"condition": "service_completed_successfully"}


def test_the_postgres_init_script_makes_the_reader_and_metadata_database_the_services_use():
    script = (ROOT / "docker" / "postgres-init.sql").read_text()
    assert re.search(r"create role superset login .* in role bi_reader", script)
    assert "create database superset owner tealeaves" in script
    assert "revoke connect on database superset from public" in script
