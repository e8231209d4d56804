"""How the daily DAG runs dbt, in one place: the DAG (dags/tealeaves_daily.py through tealeaves_airflow.dbt_build),
`tealeaves run`, the benchmark (bench/scale.py) and the tests read these instead of keeping copies of them."""

PREDICTED_LTV = "predicted_ltv"  # dbt tag of the marts that read the LTV predictions, built after predict_ltv
PRODUCER = "dbt_producer_watcher"  # the task id Cosmos gives the task that runs each group's `dbt build`
# dbt selectors the daily builds leave out: the unit tests check SQL on fixed inputs, not the day's data, so they
# cannot fail on a delivery (dbt's docs advise leaving them out of production builds); `make test` runs them
NOT_IN_PRODUCTION = ("resource_type:unit_test",)
# dbt runs in a copy of the project Cosmos deletes afterwards, with its debug log file in it: writing that file
# cost a fifth of the wall time of a small build (45.8 s against 36.0, three runs each), for nothing: the task
# log keeps dbt's own lines.
NO_FILE_LOG = ("--log-level-file", "none")
