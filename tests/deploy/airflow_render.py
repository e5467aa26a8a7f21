"""Imports an Airflow DAG file with Airflow itself and renders its one task's templates for given runs.

Run by tests/deploy/test_airflow_dag.py with the separate Airflow environment's Python (``.venv-airflow``,
``make airflow-env``): ``python airflow_render.py DAG_FILE RUN...`` where RUN is ``scheduled@<ISO run_after>``
(the scheduled run the timetable fires at that moment) or ``manual@<ISO logical date>`` (a run triggered
by hand with that logical date). Prints one JSON object: the timetable's class and, per run, the rendered
``body``/``project_id``/``location`` of the task.

The context is built the way Airflow 3.3's task runner builds it (``RuntimeTaskInstance.
get_template_context``: ``ds`` from the logical date, ``data_interval_*`` from the run); Airflow variables
are given here, as the Variable API needs a running Airflow.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import timedelta
from typing import Any

import pendulum
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import DataInterval, TimeRestriction

VARIABLES = {"emotrace_project": "proj", "emotrace_region": "us-central1", "emotrace_bucket": "bkt"}


def load_dag(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("dag_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def scheduled(timetable: Any, run_after: pendulum.DateTime) -> tuple[Any, DataInterval]:
    """The scheduled run that fires at ``run_after``: its logical date and data interval."""
    restriction = TimeRestriction(earliest=run_after - timedelta(days=3), latest=None, catchup=True)
    last = None
    for _ in range(10):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info.run_after == run_after:
            return info.logical_date, info.data_interval
        last = info.data_interval
    raise AssertionError(f"the timetable fires no run at {run_after}")


def context(logical_date: Any, interval: DataInterval | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"var": {"value": VARIABLES}}
    if logical_date is not None:  # as the task runner: logical date and data interval come together
        ds = logical_date.strftime("%Y-%m-%d")
        ctx.update(logical_date=logical_date, ds=ds, ds_nodash=ds.replace("-", ""))
        ctx.update(data_interval_start=interval.start, data_interval_end=interval.end)
    return ctx


def render(dag: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    (task,) = dag.tasks
    task = task.prepare_for_execution() if hasattr(task, "prepare_for_execution") else task
    try:
        task.render_template_fields(ctx, jinja_env=dag.get_template_env())
    except Exception as err:  # the failure itself is the answer for a run without a date
        return {"error": f"{type(err).__name__}: {err}"}
    return {field: getattr(task, field) for field in ("body", "project_id", "location")}


def main(path: str, runs: list[str]) -> dict[str, Any]:
    dag = load_dag(path)
    timetable = coerce_to_core_timetable(dag.timetable)
    out: dict[str, Any] = {"timetable": type(timetable).__name__, "runs": {}}
    for run in runs:
        kind, _, when = run.partition("@")
        moment = pendulum.parse(when) if when else None
        if kind == "scheduled":
            logical_date, interval = scheduled(timetable, moment)
        elif moment is not None:  # manual, with a logical date: the API infers the data interval from it
            logical_date, interval = moment, timetable.infer_manual_data_interval(run_after=moment)
        else:  # manual without a logical date (Airflow 3 allows it): neither is set
            logical_date, interval = None, None
        out["runs"][run] = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "data_interval": [interval.start.isoformat(), interval.end.isoformat()] if interval else None,
            **render(dag, context(logical_date, interval)),
        }
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:]), default=str))
