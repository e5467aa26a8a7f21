#!/usr/bin/env bash
# Submit one day of `emotrace analyze` to the Flink cluster through Beam's Flink job server (portable runner).
#
#   deploy/flink/run_on_flink.sh [YYYY-MM-DD] [extra analyze or Beam options]   # default day: yesterday, UTC
#
# The day's manifest, partition and run id come from deploy/cron/emotrace_daily.sh (deploy/daily.sh), the
# same names the Dataflow scripts and the Airflow DAG use: gs://$BUCKET/manifests/<day>.csv ->
# gs://$BUCKET/emotrace/dt=<day>, run id daily-<day>, --skip-existing. Needs BUCKET (or EMOTRACE_MANIFEST and
# EMOTRACE_OUTPUT, as the cron script reads them).
#
# Run it where the job server's ports are reachable (in the cluster, or through `kubectl port-forward` and
# JOB_SERVER=localhost, docs/deploy.md section 5) with the same emotrace version as the worker image
# installed: the submitter builds and submits the graph; decoding and inference run in the TaskManagers'
# sidecars. It also opens the model bundle to stamp its version: with MODEL_BUNDLE set (the image was built
# with one), /opt/emotrace/models/bundle.pt must exist here too, i.e. submit from the worker image, or pass a
# gs:// bundle with --model instead. Same code path as CI's portable-runner test
# (tests/deploy/test_portability.py), which uses Beam's Python job service with LOOPBACK instead.
set -euo pipefail

day=""
if [[ $# -ge 1 && "$1" != -* ]]; then
  day="$1"
  shift
fi
JOB_SERVER="${JOB_SERVER:-emotrace-beam-job-server.emotrace.svc.cluster.local}"
PARALLELISM="${PARALLELISM:-4}" # = TaskManager replicas x slots: one GPU each
IMAGE_MODEL_BUNDLE=/opt/emotrace/models/bundle.pt # where deploy/worker/Dockerfile puts MODEL_BUNDLE
if [[ -n "${MODEL_BUNDLE:-}" && ! -r "${IMAGE_MODEL_BUNDLE}" ]]; then
  echo "MODEL_BUNDLE is set but ${IMAGE_MODEL_BUNDLE} is not here: submit from the worker image," \
    "or unset MODEL_BUNDLE and pass --model gs://..." >&2
  exit 2
fi

portable="--device cuda --batch-size 64 ${MODEL_BUNDLE:+--model ${IMAGE_MODEL_BUNDLE}}"
portable+=" --runner PortableRunner --job_endpoint ${JOB_SERVER}:8099 --artifact_endpoint ${JOB_SERVER}:8098"
portable+=" --environment_type EXTERNAL --environment_config localhost:50000 --parallelism ${PARALLELISM}"
EMOTRACE_ARGS="${portable} ${EMOTRACE_ARGS:-} $*" exec "$(dirname "$0")/../cron/emotrace_daily.sh" ${day:+"${day}"}
