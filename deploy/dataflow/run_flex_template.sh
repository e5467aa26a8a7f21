#!/usr/bin/env bash
# Write the emotrace flex template spec, and launch one day's job on GPU workers (NVIDIA L4, one per VM).
#
#   deploy/dataflow/run_flex_template.sh build             # once per image tag: writes the spec to GCS
#   deploy/dataflow/run_flex_template.sh run [YYYY-MM-DD]  # one day (default: yesterday, UTC) -> dt=<day>
#
# Required environment: PROJECT, REGION, BUCKET, IMAGE_TAG (docs/deploy.md section 2 sets them). Optional:
# MODEL_BUNDLE, set when the worker image was built with --build-arg MODEL_BUNDLE=...: the job then reads
# that bundle at /opt/emotrace/models/bundle.pt; unset, `model` is not passed and the package's default
# bundle is used. docs/deploy.md explains each worker setting; the template parameters are
# deploy/dataflow/metadata.json (generated from the options).
#
# GPU model: Dataflow's worker_accelerator service option on every worker, and no resource hint. Any
# resource hint turns right fitting on, and right fitting must not be combined with worker_accelerator
# (cloud.google.com/dataflow/docs/guides/right-fitting); the launcher refuses the combination too.
set -euo pipefail
# shellcheck source=deploy/daily.sh
source "$(dirname "$0")/../daily.sh"

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}" "${IMAGE_TAG:?set IMAGE_TAG}"
REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REGISTRY="${REGION}-docker.pkg.dev/${PROJECT}/emotrace"
WORKER_IMAGE="${REGISTRY}/worker:${IMAGE_TAG}"
LAUNCHER_IMAGE="${REGISTRY}/launcher:${IMAGE_TAG}"
SPEC="gs://${BUCKET}/templates/emotrace-analyze-${IMAGE_TAG}.json"
IMAGE_MODEL_BUNDLE=/opt/emotrace/models/bundle.pt # where deploy/worker/Dockerfile puts MODEL_BUNDLE

# GPU workers: one L4 per VM (g2-standard-8: 8 vCPU, 32 GB). The driver is installed by Dataflow.
MACHINE_TYPE="${MACHINE_TYPE:-g2-standard-8}"
ACCELERATOR="type:nvidia-l4;count:1;install-nvidia-driver"
MAX_WORKERS="${MAX_WORKERS:-20}"
# Threads per SDK process: decoding (ffmpeg subprocesses) and face detection release the GIL, so 8 threads
# keep an 8-vCPU VM busy while one process owns the GPU and one copy of the model.
HARNESS_THREADS="${HARNESS_THREADS:-8}"

case "${1:-}" in
  build)
    # The spec only points at the launcher image: check it was pushed, or the first launch fails to pull it.
    if ! gcloud artifacts docker images describe "${LAUNCHER_IMAGE}" --project "${PROJECT}" >/dev/null; then
      echo "${LAUNCHER_IMAGE} is not in the registry: build and push it first (docs/deploy.md section 4)" >&2
      exit 1
    fi
    gcloud dataflow flex-template build "${SPEC}" \
      --image "${LAUNCHER_IMAGE}" \
      --sdk-language PYTHON \
      --metadata-file "${REPO_ROOT}/deploy/dataflow/metadata.json" \
      --project "${PROJECT}"
    ;;
  run)
    day="$(emotrace_day "${2:-}")" || exit 2
    params="input=gs://${BUCKET}/manifests/${day}.csv~output=gs://${BUCKET}/emotrace/dt=${day}"
    params+="~run_id=$(emotrace_run_id "${day}")~skip_existing=true~device=cuda~batch_size=64"
    params+="${MODEL_BUNDLE:+~model=${IMAGE_MODEL_BUNDLE}}"
    params+="~sdk_container_image=${WORKER_IMAGE}~number_of_worker_harness_threads=${HARNESS_THREADS}"
    params+="~dataflow_service_options=worker_accelerator=${ACCELERATOR}"
    # '^~^' switches gcloud's list separator to '~': the accelerator value itself contains ';' and ','.
    gcloud dataflow flex-template run "emotrace-analyze-${day}" \
      --template-file-gcs-location "${SPEC}" \
      --project "${PROJECT}" --region "${REGION}" \
      --worker-machine-type "${MACHINE_TYPE}" \
      --max-workers "${MAX_WORKERS}" \
      --temp-location "gs://${BUCKET}/tmp" \
      --staging-location "gs://${BUCKET}/staging" \
      --additional-experiments "no_use_multiple_sdk_containers" \
      --parameters "^~^${params}"
    ;;
  *)
    echo "usage: $0 build | run [YYYY-MM-DD]" >&2
    exit 2
    ;;
esac
