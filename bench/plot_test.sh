#!/bin/bash
# plot_test.sh — bench/plot.py draws a sweep: one point per device count on
# each of its three lines, a log latency axis, and clear refusals of a CSV
# it cannot draw.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
printf 'devices,ingest_records_per_s,paced_ack_p50_ms,paced_ack_p99_ms\n' >"$t/s.csv"
printf '20,12980,10.07,51.52\n50,14540,9.95,35.59\n100,16034,13.00,78.03\n' >>"$t/s.csv"
printf '200,15106,16.35,150.51\n500,13039,734.45,2060.47\n' >>"$t/s.csv"
python3 "$here/plot.py" "$t/s.csv" "$t/s.svg"
grep -q '^<svg ' "$t/s.svg"
# ingest, the target, p99 and p50: five points each.
[ "$(grep -c '<circle ' "$t/s.svg")" = 20 ] || { echo "expected 20 points" >&2; exit 1; }
grep -q 'p99: 2060.47 at 500' "$t/s.svg"
grep -q 'ms (log scale)' "$t/s.svg"
printf 'devices,ingest_records_per_s\n20,1\n' >"$t/bad.csv"
if python3 "$here/plot.py" "$t/bad.csv" "$t/bad.svg" 2>"$t/err"; then
  echo "a CSV without latency columns was drawn" >&2; exit 1
fi
grep -q 'missing or unreadable column' "$t/err"
echo "plot.py: ok"
