#!/bin/sh
# bench_client_smoke: loadgen and conn against bench/mock_server (loopback,
# bounded: the mock exits by itself, each client has --timeout).
set -eu
mock=$1 loadgen=$2 conn=$3
dir=$(mktemp -d)
trap 'kill $mpid 2>/dev/null || true; rm -rf "$dir"' EXIT
i=1
while [ $i -le 300 ]; do
  printf 'bench-%05d tok%05d g%02d\n' $i $i $(( (i - 1) % 12 + 1 )) >>"$dir/creds"
  i=$((i + 1))
done
"$mock" --lifetime 40 >"$dir/mock.out" &
mpid=$!
n=0
while ! grep -q listening "$dir/mock.out" 2>/dev/null; do
  n=$((n + 1)); [ $n -lt 100 ] || { echo "mock server did not start"; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/mock.out")
"$loadgen" --port "$port" --creds "$dir/creds" --devices 24 --visits 130 --batch 20 \
  --inflight 3 --pull-limit 1000 --timeout 20 --server-pid $mpid >"$dir/lg.out"
cat "$dir/lg.out"
# 24 devices x 130 visits, all acked; each device pulls its grid: 2 devices
# per grid, so 260 records per device, 6240 in all, every device complete.
grep -qx 'ingest_records: 3120' "$dir/lg.out"
grep -qx 'acks: 168' "$dir/lg.out"
grep -qx 'pull_records: 6240' "$dir/lg.out"
grep -qx 'pull_complete_devices: 24 of 24 (short: 0)' "$dir/lg.out"
grep -q 'timed_out: no' "$dir/lg.out"
"$conn" --port "$port" --creds "$dir/creds" --count 300 --hold 1 --timeout 20 \
  --server-pid $mpid >"$dir/conn.out"
cat "$dir/conn.out"
grep -qx 'conn_welcomed: 300' "$dir/conn.out"
grep -qx 'conn_still_open_after_hold: 300' "$dir/conn.out"
echo "bench_client_smoke: ok"
