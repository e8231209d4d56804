"""The BI tool tealeaves starts itself: Apache Superset, in a virtualenv of its own (.venv-bi), with the dashboards
kept as code in bi/superset/ (docs/bi.md)."""
