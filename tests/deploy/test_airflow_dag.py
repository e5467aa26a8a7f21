"""The Airflow DAG, imported by Airflow 3.3 itself, runs on the previous UTC day (issue 19, defect 3).

Airflow's pins cannot live beside Beam's, so Airflow is in its own venv (``.venv-airflow``, built by
``make airflow-env`` from deploy/airflow/requirements.txt and constraints.txt; ``make test`` builds it).
airflow_render.py runs there: it imports the DAG file, asks the DAG's own timetable (as the scheduler
sees it) for the run that fires at a given moment, or infers a manual run's interval as Airflow's trigger
API does, and renders the task's templates. Both settings of ``[scheduler] create_cron_data_intervals``
are tried: Airflow 3 defaults it to False, which is what made ``schedule="@daily"`` with ``{{ ds }}`` run
on today's manifest.

Without the venv the tests skip (a user's clone), and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG = REPO / "deploy" / "airflow" / "emotrace_daily.py"
PYTHON = REPO / ".venv-airflow" / "bin" / "python"
RENDER = Path(__file__).resolve().parent / "airflow_render.py"
# (run, the UTC day it must process): midnight runs across a month and a year end, a manual run
SCHEDULED = [
    ("scheduled@2026-11-25T00:00:00Z", "2026-11-24"),
    ("scheduled@2026-03-01T00:00:00Z", "2026-02-28"),
    ("scheduled@2027-01-01T00:00:00Z", "2026-12-31"),
]
MANUAL = [("manual@2026-11-25T09:30:00Z", "2026-11-24")]


def render(dag: Path, runs: list[str], tmp_path: Path, cron_data_intervals: bool) -> dict[str, Any]:
    if not PYTHON.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PYTHON} is missing in CI: `make test` builds it (make airflow-env)")
        pytest.skip("no .venv-airflow: run `make airflow-env` (make test does); CI runs this test")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS": str(cron_data_intervals),
    }
    got = subprocess.run(
        [str(PYTHON), str(RENDER), str(dag), *runs], env=env, capture_output=True, text=True, timeout=300
    )
    assert got.returncode == 0, got.stderr[-3000:]
    return json.loads(got.stdout.strip().splitlines()[-1])  # Airflow logs to stdout before it


def names(rendered: dict[str, Any]) -> dict[str, str]:
    launch = rendered["body"]["launchParameter"]
    params = launch["parameters"]
    return {
        "input": params["input"],
        "output": params["output"],
        "run_id": params["run_id"],
        "job": launch["jobName"],
    }


@pytest.mark.parametrize("cron_data_intervals", [False, True], ids=["airflow3-default", "legacy-intervals"])
def test_dag_runs_on_the_previous_utc_day(tmp_path: Path, cron_data_intervals: bool):
    runs = SCHEDULED + MANUAL
    got = render(DAG, [r for r, _ in runs], tmp_path, cron_data_intervals)
    assert got["timetable"] == "CronDataIntervalTimetable"  # explicit: the setting cannot change it
    for run, day in runs:
        assert names(got["runs"][run]) == {
            "input": f"gs://bkt/manifests/{day}.csv",
            "output": f"gs://bkt/emotrace/dt={day}",
            "run_id": f"daily-{day}",  # the format of deploy/daily.sh (cron, run_flex_template.sh)
            "job": f"emotrace-analyze-{day}",
        }, run
        assert got["runs"][run]["data_interval"][0].startswith(f"{day}T00:00:00")
    assert got["runs"][SCHEDULED[0][0]]["project_id"] == "proj"


def test_a_manual_run_without_a_logical_date_fails_instead_of_naming_no_day(tmp_path: Path):
    got = render(DAG, ["manual@"], tmp_path, cron_data_intervals=False)
    assert "data_interval_start" in got["runs"]["manual@"]["error"]


def test_a_daily_schedule_with_ds_would_process_today_on_airflow_3(tmp_path: Path):
    """The check is not vacuous: the DAG as it was (``schedule="@daily"``, ``{{ ds }}``) names the run's
    own day under Airflow 3's default, and yesterday only with the legacy setting."""
    source = DAG.read_text(encoding="utf-8")
    old = source.replace('CronDataIntervalTimetable("0 0 * * *", timezone="UTC")', '"@daily"')
    old = old.replace("{{ data_interval_start | ds }}", "{{ ds }}")
    assert old.count("{{ ds }}") >= 4 and 'schedule="@daily"' in old
    dag = tmp_path / "old_dag.py"
    dag.write_text(old, encoding="utf-8")
    run = SCHEDULED[0][0]
    today = render(dag, [run], tmp_path, cron_data_intervals=False)
    assert today["timetable"] == "CronTriggerTimetable"
    assert names(today["runs"][run])["input"] == "gs://bkt/manifests/2026-11-25.csv"  # the run's own day
    legacy = render(dag, [run], tmp_path, cron_data_intervals=True)
    assert names(legacy["runs"][run])["input"] == "gs://bkt/manifests/2026-11-24.csv"
