"""tealeaves: a customer-analytics warehouse on Airflow, dbt and Great Expectations."""

__version__ = "0.1.0"
