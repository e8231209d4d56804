"""Airflow wrappers around the tealeaves package: operators and notifiers, nothing more."""
