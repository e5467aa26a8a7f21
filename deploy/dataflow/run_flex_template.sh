#!/usr/bin/env bash
# Build the emotrace flex template spec and launch one job on GPU workers (NVIDIA L4, one per VM).
#
#   deploy/dataflow/run_flex_template.sh build          # once per image version: writes the spec to GCS
#   deploy/dataflow/run_flex_template.sh run 2026-11-24 # one day's manifest -> one output partition
#
# Required environment: PROJECT, REGION, BUCKET, IMAGE_TAG (e.g. 0.1.0). docs/deploy.md explains each
# worker setting. The template parameters are deploy/dataflow/metadata.json (generated from the options).
set -euo pipefail

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}" "${IMAGE_TAG:?set IMAGE_TAG}"
REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REGISTRY="${REGION}-docker.pkg.dev/${PROJECT}/emotrace"
WORKER_IMAGE="${REGISTRY}/worker:${IMAGE_TAG}"
LAUNCHER_IMAGE="${REGISTRY}/launcher:${IMAGE_TAG}"
SPEC="gs://${BUCKET}/templates/emotrace-analyze-${IMAGE_TAG}.json"

# GPU workers: one L4 per VM (g2-standard-8: 8 vCPU, 32 GB). The driver is installed by Dataflow.
MACHINE_TYPE="${MACHINE_TYPE:-g2-standard-8}"
ACCELERATOR="type:nvidia-l4;count:1;install-nvidia-driver"
MAX_WORKERS="${MAX_WORKERS:-20}"
# Threads per SDK process: decoding (ffmpeg subprocesses) and face detection release the GIL, so 8 threads
# keep an 8-vCPU VM busy while one process owns the GPU and one copy of the model.
HARNESS_THREADS="${HARNESS_THREADS:-8}"

case "${1:-}" in
  build)
    gcloud dataflow flex-template build "${SPEC}" \
      --image "${LAUNCHER_IMAGE}" \
      --sdk-language PYTHON \
      --metadata-file "${REPO_ROOT}/deploy/dataflow/metadata.json" \
      --project "${PROJECT}"
    ;;
  run)
    day="${2:?usage: $0 run YYYY-MM-DD}"
    # '^~^' switches gcloud's list separator to '~': the accelerator value itself contains ';' and ','.
    gcloud dataflow flex-template run "emotrace-analyze-${day}" \
      --template-file-gcs-location "${SPEC}" \
      --project "${PROJECT}" --region "${REGION}" \
      --worker-machine-type "${MACHINE_TYPE}" \
      --max-workers "${MAX_WORKERS}" \
      --temp-location "gs://${BUCKET}/tmp" \
      --staging-location "gs://${BUCKET}/staging" \
      --additional-experiments "no_use_multiple_sdk_containers" \
      --parameters "^~^input=gs://${BUCKET}/manifests/${day}.csv~output=gs://${BUCKET}/emotrace/dt=${day}~run_id=daily-${day}~model=/opt/emotrace/models/bundle.pt~device=cuda~batch_size=64~skip_existing=true~sdk_container_image=${WORKER_IMAGE}~dataflow_service_options=worker_accelerator=${ACCELERATOR}~number_of_worker_harness_threads=${HARNESS_THREADS}~resource_hints=min_ram=24GB"
    ;;
  *)
    echo "usage: $0 build | run YYYY-MM-DD" >&2
    exit 2
    ;;
esac
