"""superset_config.py, the one text for both places Superset runs: `tealeaves bi up` and the container stack.

Only the three values that differ are parameters, as Python expressions: where the metadata database is, where the
secret key comes from, where Superset keeps its files. Everything else (no sign-up, no public role, rate-limited
logins, a content security policy that loads nothing from outside) is the same text in both, so the container
cannot drift from what the tests run. Standard library only: the container's image runs this module in
Superset's interpreter to write its configuration (`python -m tealeaves.bi.config_file`, docker/superset/).
"""

from __future__ import annotations

import sys

# The container's values: read when Superset loads the file, from the service's environment (docker-compose.yml).
CONTAINER_METADATA = 'os.environ["TEALEAVES_BI_METADATA_URL"]'
CONTAINER_SECRET_KEY = 'os.environ["SUPERSET_SECRET_KEY"]'
CONTAINER_DATA_DIR = 'os.environ.get("SUPERSET_HOME", "/var/lib/superset")'


def render(metadata: str, secret_key: str, data_dir: str, origin: str) -> str:
    """The file's text; `metadata`, `secret_key` and `data_dir` are Python expressions, `origin` says who wrote it."""
    return f"""# {origin}
import os
from pathlib import Path

SQLALCHEMY_DATABASE_URI = {metadata}
SECRET_KEY = {secret_key}
DATA_DIR = {data_dir}

# No example data, no sign-up, no public role: one admin login (tealeaves makes it) and the logins it adds.
SQLALCHEMY_EXAMPLES_URI = None
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None
FEATURE_FLAGS = {{}}
PREVENT_UNSAFE_DB_CONNECTIONS = True
WTF_CSRF_ENABLED = True

# Logins are rate-limited per address, in this process's memory (one gunicorn worker).
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
RATELIMIT_STORAGE_URI = "memory://"

# Served over plain HTTP (127.0.0.1, or a container's port published on the host's 127.0.0.1): no HTTPS
# redirect, cookies not marked Secure; everything a page loads comes from Superset itself (no map tiles, web
# fonts or analytics pixels from outside).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = False
SESSION_COOKIE_SAMESITE = "Lax"
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {{
    "content_security_policy": {{
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    }},
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}}


# A logged-out request that is refused (a redirect to the login page) leaves the session cookie as it was.
# Flask-AppBuilder flashes "Access is Denied" into the session, so the refusal carried a logged-out session cookie.
# The login page posts its event log while the login form is sent; when that refusal arrived after the login's
# answer, its cookie replaced the new session, and the person who had just logged in was back at the login page.
def FLASK_APP_MUTATOR(app):
    from urllib.parse import urlsplit

    from flask import session
    from flask_login import current_user

    @app.after_request
    def refusals_keep_the_session(response):
        refused = response.status_code in (301, 302, 303, 307, 308) and urlsplit(
            response.location or ""
        ).path.startswith("/login")
        if refused and not current_user.is_authenticated:
            session.modified = False
        return response
"""


def container() -> str:
    """The container's file: every secret read from the environment when Superset starts, none in the image."""
    return render(
        CONTAINER_METADATA,
        CONTAINER_SECRET_KEY,
        CONTAINER_DATA_DIR,
        "Written into the image by `python -m tealeaves.bi.config_file` (docker/superset/Dockerfile).",
    )


if __name__ == "__main__":
    sys.stdout.write(container())
