#!/usr/bin/env bash
# Cron variant of deploy/airflow/emotrace_daily.py: analyze one day's posts (default: yesterday, UTC).
#
#   crontab: 30 0 * * *  /opt/emotrace/deploy/cron/emotrace_daily.sh >> /var/log/emotrace-daily.log 2>&1
#   by hand: deploy/cron/emotrace_daily.sh 2026-11-24        # one day, e.g. a backfill
#
# Environment:
#   EMOTRACE_MANIFEST  manifest path with {date} for the day (default gs://$BUCKET/manifests/{date}.csv)
#   EMOTRACE_OUTPUT    output root; the day's partition is <root>/dt=<date> (default gs://$BUCKET/emotrace)
#   EMOTRACE_ARGS      extra options: the runner and its settings, e.g. the Dataflow GPU flags of docs/deploy.md
#   EMOTRACE           the emotrace command (default: emotrace on PATH)
#   TODAY              the date "today" is taken to be (YYYY-MM-DD; for tests and reruns)
# The run id is daily-<date> (deploy/daily.sh, as the Airflow DAG and run_flex_template.sh write it) with
# --skip-existing, so a rerun of a day only redoes inputs not yet ok, and a lock keeps two runs (a slow day
# and the next cron tick) from overlapping.
set -euo pipefail
# shellcheck source=deploy/daily.sh
source "$(dirname "$0")/../daily.sh"

day="$(emotrace_day "${1:-}")" || exit 2
run_id="$(emotrace_run_id "${day}")"

manifest_template="${EMOTRACE_MANIFEST:-gs://${BUCKET:?set BUCKET or EMOTRACE_MANIFEST}/manifests/{date\}.csv}"
output_root="${EMOTRACE_OUTPUT:-gs://${BUCKET:?set BUCKET or EMOTRACE_OUTPUT}/emotrace}"
manifest="${manifest_template//\{date\}/${day}}"
output="${output_root%/}/dt=${day}"

lock="${EMOTRACE_LOCK:-${TMPDIR:-/tmp}/emotrace-daily.lock}"
exec 9>"${lock}"
if ! flock -n 9; then
  echo "emotrace daily: another run holds ${lock}; not starting ${day}" >&2
  exit 75 # EX_TEMPFAIL: cron mails it; the next tick or a manual run picks the day up
fi

# shellcheck disable=SC2086 # EMOTRACE_ARGS is a list of options on purpose
exec ${EMOTRACE:-emotrace} analyze --input "${manifest}" --output "${output}" \
  --run-id "${run_id}" --skip-existing ${EMOTRACE_ARGS:-}
