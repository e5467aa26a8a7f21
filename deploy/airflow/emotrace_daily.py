"""Airflow DAG: every day, analyze yesterday's posts on Dataflow with the emotrace flex template.

Deployed to an Airflow (Cloud Composer) environment with ``apache-airflow-providers-google``; not imported
by this project's tests (Airflow is not a dependency): tests/deploy/test_templates.py reads the literal
PARAMETERS below with ``ast`` and checks them against the template's metadata.json.

``{{ ds }}`` is the run's logical date, the *start* of its data interval: the @daily run that starts
just after midnight on day D has ``ds`` = D - 1, i.e. yesterday's posts. Re-running a day (a backfill or
a retry) reuses ``run_id=daily-<day>`` with ``skip_existing``: inputs already ``ok`` are not redone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

PROJECT = "{{ var.value.emotrace_project }}"
REGION = "{{ var.value.emotrace_region }}"
BUCKET = "{{ var.value.emotrace_bucket }}"
IMAGE_TAG = "0.1.0"
REGISTRY = f"{REGION}-docker.pkg.dev/{PROJECT}/emotrace"

# Template parameters (deploy/dataflow/metadata.json) and Beam options; literal strings only, so the
# test can read them without Airflow.
PARAMETERS: dict[str, str] = {
    "input": "gs://{{ var.value.emotrace_bucket }}/manifests/{{ ds }}.csv",
    "output": "gs://{{ var.value.emotrace_bucket }}/emotrace/dt={{ ds }}",
    "run_id": "daily-{{ ds_nodash }}",
    "model": "/opt/emotrace/models/bundle.pt",
    "device": "cuda",
    "batch_size": "64",
    "skip_existing": "true",
    "dataflow_service_options": "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
    "number_of_worker_harness_threads": "8",
    "resource_hints": "min_ram=24GB",
}

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
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,  # turn on for a backfill; each day is its own partition and run_id
    max_active_runs=1,  # GPU quota is shared: one day at a time
    default_args={"retries": 2, "retry_delay": timedelta(minutes=15)},
    tags=["emotrace"],
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="analyze_yesterday",
        project_id=PROJECT,
        location=REGION,
        body={
            "launchParameter": {
                "jobName": "emotrace-analyze-{{ ds_nodash }}",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/emotrace-analyze-{IMAGE_TAG}.json",
                "parameters": PARAMETERS,
                "environment": ENVIRONMENT,
            }
        },
        wait_until_finished=True,  # the task's success means the job finished, not just that it started
    )
