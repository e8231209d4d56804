"""tealeaves: a customer-analytics warehouse on Airflow, dbt and Great Expectations."""

import atexit
import gc

__version__ = "0.1.0"

# A process that imported tealeaves holds a large heap (Airflow, dbt, GX, a DAG's objects), and Python's last cyclic
# collections at exit walk all of it: `airflow dags test` spent 3 s after its run had ended. Frozen objects are not
# walked; the operating system frees the memory, and the other exit handlers (logging's flush among them) still run.
atexit.register(gc.freeze)
