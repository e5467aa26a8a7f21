# shellcheck shell=bash
# Sourced by deploy/cron/emotrace_daily.sh, deploy/dataflow/run_flex_template.sh and
# deploy/flink/run_on_flink.sh: one day -> one manifest, one output partition, one run id.
# The Airflow DAG (deploy/airflow/emotrace_daily.py) writes the same names from its data interval:
#   gs://BUCKET/manifests/<day>.csv, gs://BUCKET/emotrace/dt=<day>, run id daily-<day>, with <day> = YYYY-MM-DD,
# so a day started by one scheduler and re-run by another continues the same run (--skip-existing).

# emotrace_day [YYYY-MM-DD]: that day, checked; without one, yesterday in UTC ($TODAY stands in for today).
emotrace_day() {
  local day="${1:-}"
  if [[ -z "${day}" ]]; then
    day="$(date -u -d "${TODAY:-$(date -u +%F)} - 1 day" +%F)"
  fi
  if [[ ! "${day}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || [[ "$(date -u -d "${day}" +%F 2>/dev/null)" != "${day}" ]]; then
    echo "bad day: ${day} (want a real date as YYYY-MM-DD)" >&2
    return 2
  fi
  printf '%s\n' "${day}"
}

# emotrace_run_id DAY: the run id every scheduler uses for DAY (the charset run ids allow: [A-Za-z0-9._-]).
emotrace_run_id() {
  printf 'daily-%s\n' "$1"
}
