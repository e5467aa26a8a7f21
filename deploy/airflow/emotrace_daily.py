"""Airflow DAG: every day, analyze the previous UTC day's posts on Dataflow with the emotrace flex template.

Deployed to an Airflow 3 (Cloud Composer) environment with ``apache-airflow-providers-google`` (and the
``apache-beam`` provider its Dataflow hook imports). tests/deploy/test_airflow_dag.py imports it with Airflow
3.3 in a separate environment (``make airflow-test``) and renders its templates for scheduled and manual runs;
tests/deploy/test_templates.py reads the literal PARAMETERS below with ``ast``, without Airflow.

Which day: the schedule is an explicit ``CronDataIntervalTimetable`` at 00:00 UTC, so every run covers one
whole UTC day, [D-1 00:00, D 00:00), and starts just after it ends. A plain ``schedule="@daily"`` would not:
Airflow 3 defaults ``[scheduler] create_cron_data_intervals`` to False, which turns a cron string into a
``CronTriggerTimetable`` whose runs have no interval and whose ``ds`` is the run's own day (today). The
templates name the day by ``data_interval_start``, not ``ds``: a manual run's logical date is the moment it
was triggered, while its data interval is the last complete UTC day (the timetable's inferred interval); a run
without either fails at rendering (Airflow's StrictUndefined) instead of naming an empty day.

Names: the day's manifest, its partition ``dt=<day>`` and ``run_id=daily-<day>`` (YYYY-MM-DD), exactly as
deploy/cron/emotrace_daily.sh and deploy/dataflow/run_flex_template.sh write them (deploy/daily.sh), so a
manual re-run of a day Airflow already did continues the same run with ``skip_existing``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

try:  # Airflow 3: the DAG authoring API
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.x (not tested here)
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

PROJECT = "{{ var.value.emotrace_project }}"
REGION = "{{ var.value.emotrace_region }}"
BUCKET = "{{ var.value.emotrace_bucket }}"
IMAGE_TAG = "0.1.0"
REGISTRY = f"{REGION}-docker.pkg.dev/{PROJECT}/emotrace"
DAY = "{{ data_interval_start | ds }}"  # the UTC day this run covers, YYYY-MM-DD
# True when the worker image was built with --build-arg MODEL_BUNDLE=... (docs/deploy.md section 3): the
# jobs then read that bundle; False: `model` is not passed and the package's default bundle is used.
IMAGE_HAS_MODEL_BUNDLE = False
IMAGE_MODEL_BUNDLE = "/opt/emotrace/models/bundle.pt"

# Template parameters (deploy/dataflow/metadata.json) and Beam options; literal strings only, so the
# test can read them without Airflow. GPU model: the worker_accelerator service option on every worker
# and no resource hint (Dataflow's right fitting, which any resource hint turns on, must not be combined
# with worker_accelerator: docs/deploy.md section 4).
PARAMETERS: dict[str, str] = {
    "input": "gs://{{ var.value.emotrace_bucket }}/manifests/{{ data_interval_start | ds }}.csv",
    "output": "gs://{{ var.value.emotrace_bucket }}/emotrace/dt={{ data_interval_start | ds }}",
    "run_id": "daily-{{ data_interval_start | ds }}",
    "device": "cuda",
    "batch_size": "64",
    "skip_existing": "true",
    "dataflow_service_options": "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
    "number_of_worker_harness_threads": "8",
}
if IMAGE_HAS_MODEL_BUNDLE:
    PARAMETERS["model"] = IMAGE_MODEL_BUNDLE

ENVIRONMENT: dict[str, object] = {
    "machineType": "g2-standard-8",
    "maxWorkers": 20,
    "sdkContainerImage": f"{REGISTRY}/worker:{IMAGE_TAG}",
    "additionalExperiments": ["no_use_multiple_sdk_containers"],
    "tempLocation": f"gs://{BUCKET}/tmp",
    "stagingLocation": f"gs://{BUCKET}/staging",
}

with DAG(
    dag_id="emotrace_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,  # turn on for a backfill; each day is its own partition and run_id
    max_active_runs=1,  # GPU quota is shared: one day at a time
    default_args={"retries": 2, "retry_delay": timedelta(minutes=15)},
    tags=["emotrace"],
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="analyze_previous_day",
        project_id=PROJECT,
        location=REGION,
        body={
            "launchParameter": {
                "jobName": f"emotrace-analyze-{DAY}",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/emotrace-analyze-{IMAGE_TAG}.json",
                "parameters": PARAMETERS,
                "environment": ENVIRONMENT,
            }
        },
        wait_until_finished=True,  # the task's success means the job finished, not just that it started
    )
