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
# The run id is daily-<date> with --skip-existing, so a rerun of a day only redoes inputs not yet ok, and
# a lock keeps two runs (a slow day and the next cron tick) from overlapping.
set -euo pipefail

if [[ $# -ge 1 ]]; then
  day="$1"
else
  day="$(date -u -d "${TODAY:-$(date -u +%F)} - 1 day" +%F)"
fi
[[ "${day}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || { echo "bad date: ${day}" >&2; exit 2; }

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
  --run-id "daily-${day}" --skip-existing ${EMOTRACE_ARGS:-}
