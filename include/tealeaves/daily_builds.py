"""How the daily DAG runs dbt, in one place: the DAG (dags/tealeaves_daily.py through tealeaves_airflow.dbt_build),
`tealeaves run`, the benchmark (bench/scale.py) and the tests read these instead of keeping copies of them."""

from dataclasses import dataclass

PREDICTED_LTV = "predicted_ltv"  # dbt tag of the marts that read the LTV predictions, built after predict_ltv
PRODUCER = "dbt_producer_watcher"  # the task id Cosmos gives the task that runs each group's `dbt build`
# dbt selectors the daily builds leave out: the unit tests check SQL on fixed inputs, not the day's data, so they
# cannot fail on a delivery (dbt's docs advise leaving them out of production builds); `make test` runs them
NOT_IN_PRODUCTION = ("resource_type:unit_test",)
# dbt runs in a copy of the project Cosmos deletes afterwards, with its debug log file in it: writing that file
# cost a fifth of the wall time of a small build (45.8 s against 36.0, three runs each), for nothing: the task
# log keeps dbt's own lines.
NO_FILE_LOG = ("--log-level-file", "none")


@dataclass(frozen=True)
class Build:
    """One of the DAG's `dbt build`s: its task group, and the nodes it selects and leaves out (dbt's selectors)."""

    group_id: str
    select: tuple[str, ...] = ()  # none: the whole project
    exclude: tuple[str, ...] = ()

    def selection(self) -> list[str]:
        """The build's selection as dbt's command line spells it."""
        return [
            *(["--select", *self.select] if self.select else []),
            *(["--exclude", *self.exclude] if self.exclude else []),
        ]


# Two builds around the LTV fit: the models predict_ltv reads first, then the marts that read its predictions (tag
# predicted_ltv and everything downstream of them).
BUILD_MARTS = Build("build_marts", exclude=(f"tag:{PREDICTED_LTV}+", *NOT_IN_PRODUCTION))
BUILD_PREDICTED_MARTS = Build("build_predicted_marts", select=(f"tag:{PREDICTED_LTV}+",), exclude=NOT_IN_PRODUCTION)
BUILDS = (BUILD_MARTS, BUILD_PREDICTED_MARTS)
