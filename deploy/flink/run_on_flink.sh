#!/usr/bin/env bash
# Submit `emotrace analyze` to the Flink cluster through Beam's Flink job server (portable runner).
#
#   deploy/flink/run_on_flink.sh gs://BUCKET/manifests/2026-11-24.csv gs://BUCKET/emotrace/dt=2026-11-24
#
# Run from a machine (or pod) that reaches the job-server Service and has the emotrace package installed
# (the launcher only builds and submits the graph; decoding and inference run in the TaskManagers' sidecar).
# The launcher opens --model too (to stamp its version): run it in the worker image (kubectl run ... --image
# the worker image, entrypoint emotrace) or point MODEL at gs://.
# Same command, same code path as CI's portable-runner test (tests/deploy/test_portability.py), which uses
# Beam's Python job service with --environment_type=LOOPBACK instead of Flink and the sidecar.
set -euo pipefail

input="${1:?usage: $0 INPUT OUTPUT [extra options]}"
output="${2:?usage: $0 INPUT OUTPUT [extra options]}"
shift 2
JOB_SERVER="${JOB_SERVER:-emotrace-beam-job-server.emotrace.svc.cluster.local}"
PARALLELISM="${PARALLELISM:-4}" # = TaskManager replicas x slots: one GPU each

exec "${EMOTRACE:-emotrace}" analyze --input "${input}" --output "${output}" \
  --model "${MODEL:-/opt/emotrace/models/bundle.pt}" --device cuda --batch-size 64 \
  --runner PortableRunner \
  --job_endpoint "${JOB_SERVER}:8099" \
  --artifact_endpoint "${JOB_SERVER}:8098" \
  --environment_type EXTERNAL \
  --environment_config localhost:50000 \
  --parallelism "${PARALLELISM}" \
  --experiments no_use_multiple_sdk_containers \
  "$@"
