#!/bin/bash
# bench/run.sh — the visitsync benchmarks, start to finish, in a few minutes.
#
# Builds Release in its own build directory, then runs, each on a fresh
# database on the real disk (never tmpfs: fsync is part of what we measure):
#   1. limit   — the same records into SQLite from one process (WAL, FULL);
#   2. ingest  — `visitsync serve` + loadgen: D devices push V visits in
#                pushes of B with K in flight, then each pulls its grid;
#   2b. paced  — the same devices pushing once every 2 s each (ack latency
#                at half load, not behind a saturated queue);
#   2c. mixed  — the ingest's devices, batch and in-flight, but 30 % of the
#                changes edit subjects and visits already on the server (5 %
#                of the edits concurrent, so they conflict); then a pull that
#                checks no change was lost; and bench/decode, the stored-
#                record decoder against cJSON;
#   3. conn    — `visitsync serve` + 10,000 idle authenticated connections;
#   3b. conn50k — 50,000 from 127.0.0.2..5, then 20 pushes into one grid
#                whose tablets pull on each poke (the poke fan-out's time);
#                fewer when `ulimit -n` is lower (the lines say how many);
#   4. peer    — pouchdb-server + bench/peer/load.js with the same docs;
#   5. api     — the supervisors' API while a paced ingest runs: GET
#                /api/status over 10,000 enrolled devices, then GET
#                /api/report over the demo town (bench/api_latency.py);
#   6. blob    — `visitsync serve` + bench/upload: N photos of M MiB uploaded
#                over loopback, against the same bytes written to a plain file
#                and to SQLite alone in 256 KiB chunks with fsync each;
#   7. field   — the field app in headless Chromium (bench/field_bench.mjs):
#                a cadre's sign-in link to offline-ready on demo grid g01,
#                and an outbox of BENCH_FIELD_CHANGES visits made offline
#                and synced;
#   8. sweep   — ingest (closed loop, 50,000 visits in all) and the paced ack
#                latency at 20, 50, 100, 200 and 500 devices, into sweep.csv,
#                drawn by bench/plot.py into sweep.svg.
# Every server is started here on 127.0.0.1 and stopped here; every client
# has a timeout. The last lines are the summary, one figure each.
#
# Knobs (environment): BENCH_DEVICES (200), BENCH_VISITS (500), BENCH_BATCH
# (50), BENCH_INFLIGHT (4), BENCH_CONN (10000), BENCH_CONN_50K (50000),
# BENCH_PEER_VISITS (100), BENCH_API_DEVICES (10000), BENCH_API_REQUESTS
# (200), BENCH_API_PACE_MS (the paced phase's BENCH_PACE_MS, 2000),
# BENCH_UPLOAD_PHOTOS (8), BENCH_UPLOAD_MIB (4), BENCH_FIELD_CHANGES (1000),
# BENCH_SWEEP_DEVICES ("20 50 100 200 500"), BENCH_BUILD, BENCH_WORK; and
# BENCH_SKIP_X=1 skips phase X: MIXED, CONN, CONN50K, PEER, API, BLOB,
# FIELD, SWEEP.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$top/build-bench-release}
work=${BENCH_WORK:-$build/run}
D=${BENCH_DEVICES:-200}
V=${BENCH_VISITS:-500}
B=${BENCH_BATCH:-50}
K=${BENCH_INFLIGHT:-4}
NCONN=${BENCH_CONN:-10000}
NCONN50=${BENCH_CONN_50K:-50000}
PV=${BENCH_PEER_VISITS:-100}
NAPI=${BENCH_API_DEVICES:-10000}
NREQ=${BENCH_API_REQUESTS:-200}
# Optimised (-O2) with symbols, so perf can name functions. GCC 12 at -O2/-O3
# raises format-truncation and maybe-uninitialized warnings that the Debug
# builds do not see; they stay warnings here (not errors) so that a warning
# in someone's module cannot stop the measurement. The strict builds
# (Debug, ASan) still fail on them.
btype=${BENCH_BUILD_TYPE:-RelWithDebInfo}
bflags=${BENCH_CFLAGS:--Wno-error=format-truncation -Wno-error=maybe-uninitialized}
t_start=$(date +%s)

say() { echo "== $*" >&2; }
# Reads "name: value" from a log; prints not_measured when absent.
val() { local v; v=$(sed -n "s/^$2: \([^ ]*\).*/\1/p" "$1" 2>/dev/null | tail -1); echo "${v:-not_measured}"; }

# ---- build ------------------------------------------------------------------
say "building $btype in $build"
# The build logs go inside the build directory, never next to the sources.
mkdir -p "$build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE="$btype" \
  -DCMAKE_C_FLAGS="$bflags" >"$build/bench-cmake.log" 2>&1 ||
  { cat "$build/bench-cmake.log" >&2; echo "run.sh: cmake configure failed" >&2; exit 1; }
cmake --build "$build" -j2 --target visitsync bench_loadgen bench_conn bench_setup bench_limit bench_upload bench_decode \
  >"$build/bench-build.log" 2>&1 ||
  { tail -30 "$build/bench-build.log" >&2; echo "run.sh: build failed" >&2; exit 1; }
vs=$build/cli/visitsync
bin=$build/bench
rm -rf "$work" && mkdir -p "$work"

# 10,000 connections need more descriptors than the default, for this shell
# and so for the server it starts (root may raise the hard limit).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "open files limit: $(ulimit -n)"

# ---- the server ------------------------------------------------------------------
srv_pid=
start_server() { # db log -> sets srv_pid, srv_port
  # Every bench client comes from 127.0.0.1: no per-address connection cap.
  "$vs" serve --db "$1" --listen 127.0.0.1:0 --max-conn-per-ip 0 >"$2.out" 2>"$2.err" &
  srv_pid=$!
  local i=0
  while [ $i -lt 100 ]; do
    srv_port=$(sed -n 's/^visitsync listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$2.out")
    [ -n "$srv_port" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
  done
  echo "run.sh: visitsync serve did not start (see $2.err)" >&2
  tail -5 "$2.err" >&2
  stop_server
  return 1
}
stop_server() { # SIGTERM, then SIGKILL after 15 s
  [ -n "$srv_pid" ] || return 0
  kill -TERM "$srv_pid" 2>/dev/null
  local i=0
  while kill -0 "$srv_pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$srv_pid" 2>/dev/null; then
    echo "run.sh: visitsync serve ignored SIGTERM for 15 s; killed" >&2
    kill -KILL "$srv_pid" 2>/dev/null
  fi
  wait "$srv_pid" 2>/dev/null
  srv_rc=$?
  [ "$srv_rc" = 0 ] || echo "run.sh: visitsync serve exited with status $srv_rc" >&2
  srv_pid=
}
cleanup() {
  stop_server
  [ -n "${peer_pid:-}" ] && kill "$peer_pid" 2>/dev/null
  [ -n "${api_lg_pid:-}" ] && kill "$api_lg_pid" 2>/dev/null
}
trap cleanup EXIT

# ---- 1. the SQLite limit ------------------------------------------------------------
say "limit: $((D * V)) records into SQLite"
timeout 120 "$bin/limit" --db "$work/limit.db" --records $((D * V)) --batched 20000 --batch "$B" \
  | tee "$work/limit.log" >&2
timeout 60 "$bin/limit" --db "$work/limit1.db" --records $((D * V)) --batched 20000 --batch "$B" \
  --rows 1 >"$work/limit1.log" 2>&1
rm -f "$work"/limit*.db*

# ---- 2. ingest and pull -----------------------------------------------------------------
say "ingest: $D devices x $V visits, batch $B, $K in flight"
"$bin/setup" --db "$work/ingest.db" --devices "$D" --out "$work/creds" >&2 &&
  start_server "$work/ingest.db" "$work/serve-ingest" &&
  { timeout 150 "$bin/loadgen" --port "$srv_port" --creds "$work/creds" --devices "$D" \
      --visits "$V" --batch "$B" --inflight "$K" --timeout 120 --server-pid "$srv_pid" \
      --db "$work/ingest.db" | tee "$work/loadgen.log" >&2
    stop_server; }

# ---- 2b. ack latency at half load -------------------------------------------------------
# The closed loop above keeps D*K pushes queued, so its ack latency is the
# queue (Little's law), not the commit path. Here each device pushes once
# every PACE ms (200 devices, 2000 ms, 50 changes: 5,000 changes/s offered).
PACE=${BENCH_PACE_MS:-2000}
say "paced: $D devices, one push of $B every $PACE ms each"
"$bin/setup" --db "$work/paced.db" --devices "$D" --out "$work/creds-paced" >&2 &&
  start_server "$work/paced.db" "$work/serve-paced" &&
  { timeout 90 "$bin/loadgen" --port "$srv_port" --creds "$work/creds-paced" --devices "$D" \
      --visits $((B * 5)) --batch "$B" --inflight "$K" --pace-ms "$PACE" --no-pull --timeout 60 \
      --server-pid "$srv_pid" | tee "$work/paced.log" >&2
    stop_server; }

# ---- 2c. a realistic mix: new visits and edits ------------------------------------------
# loadgen creates the grids' subjects first (not counted), then each change
# is a new visit or (30 %) an edit of a record its device saw acked; 5 % of
# the edits go to two devices of a grid at once, so the server answers one
# of each pair `conflict`. The pull afterwards checks every record is there
# at least at the rev of its last ack (mixed_lost).
if [ "${BENCH_SKIP_MIXED:-0}" != 1 ]; then
  say "mixed: $D devices x $V changes, 30 % edits (5 % of them concurrent), batch $B, $K in flight"
  "$bin/setup" --db "$work/mixed.db" --devices "$D" --out "$work/creds-mixed" >&2 &&
    start_server "$work/mixed.db" "$work/serve-mixed" &&
    { timeout 150 "$bin/loadgen" --port "$srv_port" --creds "$work/creds-mixed" --devices "$D" \
        --visits "$V" --batch "$B" --inflight "$K" --updates 30 --conflicts 5 --timeout 120 \
        --server-pid "$srv_pid" | tee "$work/mixed.log" >&2
      stop_server; }
  rm -f "$work"/mixed.db*
  timeout 30 "$bin/decode" | tee "$work/decode.log" >&2
fi

# ---- 3. idle connections ----------------------------------------------------------------------
if [ "${BENCH_SKIP_CONN:-0}" != 1 ]; then
  say "conn: $NCONN idle authenticated connections"
  "$bin/setup" --db "$work/conn.db" --devices "$NCONN" --out "$work/creds-conn" >&2 &&
    start_server "$work/conn.db" "$work/serve-conn" &&
    { timeout 120 "$bin/conn" --port "$srv_port" --creds "$work/creds-conn" --count "$NCONN" \
        --hold 5 --timeout 90 --server-pid "$srv_pid" | tee "$work/conn.log" >&2
      stop_server; }
fi

# ---- 3b. 50,000 idle connections and the poke fan-out ------------------------------------------
# One source address has ~28,000 ephemeral ports towards the server, so conn
# spreads the connections over 127.0.0.2..5; server and conn each need a
# descriptor per connection (one process each, so NCONN50 + 100 of ulimit -n).
# Then the first tablet pushes one visit into its grid 20 times; every tablet
# pulls when poked, and the server's /metrics give the fan-out's time.
# A lower `ulimit -n` (a container without CAP_SYS_RESOURCE) caps the count:
# then idle_50k_rss_mib is not measured, and the lines name the count held.
if [ "${BENCH_SKIP_CONN50K:-0}" != 1 ]; then
  cap=$(( ($(ulimit -n) - 200) / 100 * 100 ))
  if [ "$cap" -lt "$NCONN50" ]; then
    echo "run.sh: ulimit -n is $(ulimit -n): conn50k holds $cap connections, not $NCONN50" >&2
    NCONN50=$cap
  fi
  say "conn50k: $NCONN50 idle authenticated connections, then 20 pushes into one grid"
  if [ "$NCONN50" -gt 0 ]; then
    "$bin/setup" --db "$work/conn50k.db" --devices "$NCONN50" --out "$work/creds-conn50k" >&2 &&
      start_server "$work/conn50k.db" "$work/serve-conn50k" &&
      { timeout 600 "$bin/conn" --port "$srv_port" --creds "$work/creds-conn50k" \
          --count "$NCONN50" --sources 4 --hold 5 --timeout 300 --pushes 20 \
          --server-pid "$srv_pid" | tee "$work/conn50k.log" >&2
        stop_server; }
  fi
  rm -f "$work"/conn50k.db*
fi

# ---- 4. the peer: pouchdb-server ------------------------------------------------------------------
if [ "${BENCH_SKIP_PEER:-0}" != 1 ]; then
  say "peer: pouchdb-server, $D clients x $PV docs"
  peer=$top/bench/peer
  if [ ! -x "$peer/node_modules/.bin/pouchdb-server" ]; then
    (cd "$peer" && timeout 300 npm install --no-audit --no-fund >"$work/npm.log" 2>&1) ||
      echo "run.sh: npm install of pouchdb-server failed (see $work/npm.log): peer not measured" >&2
  fi
  if [ -x "$peer/node_modules/.bin/pouchdb-server" ]; then
    "$bin/loadgen" --emit-docs "$work/peer-docs.jsonl" --devices "$D" --visits "$PV"
    pport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    mkdir -p "$work/peer"
    # Logging at info costs the peer CPU per request: keep only errors, to a known file.
    printf '{"log":{"file":"%s/peer/log.txt","level":"error"}}\n' "$work" >"$work/peer/config.json"
    (cd "$work/peer" && exec node "$peer/node_modules/pouchdb-server/bin/pouchdb-server" \
       --host 127.0.0.1 --port "$pport" --dir "$work/peer" --config "$work/peer/config.json" \
       --no-stdout-logs >"$work/peer.out" 2>&1) &
    peer_pid=$!
    i=0
    until curl -sf "http://127.0.0.1:$pport/" >/dev/null 2>&1 || [ $i -ge 100 ]; do
      sleep 0.1; i=$((i + 1))
    done
    pcpu0=$(awk '{print $14 + $15}' "/proc/$peer_pid/stat" 2>/dev/null || echo 0)
    timeout 150 node "$peer/load.js" --port "$pport" --docs "$work/peer-docs.jsonl" --devices "$D" \
      --visits "$PV" --batch "$B" --inflight "$K" --timeout 120 | tee "$work/peer.log" >&2
    pcpu1=$(awk '{print $14 + $15}' "/proc/$peer_pid/stat" 2>/dev/null || echo 0)
    echo "peer_server_cpu_s: $(awk -v a="$pcpu0" -v b="$pcpu1" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/t}')" \
      | tee -a "$work/peer.log" >&2
    echo "peer_server_peak_rss_mib: $(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$peer_pid/status" 2>/dev/null)" \
      | tee -a "$work/peer.log" >&2
    kill "$peer_pid" 2>/dev/null
    wait "$peer_pid" 2>/dev/null
    peer_pid=
    rm -rf "$work/peer"
  fi
fi

# ---- 5. the supervisors' API while ingest runs ----------------------------------------------------
# Two servers, one after the other: /api/status wants 10,000 devices (enrolled
# by setup, as for conn), /api/report wants the demo town's subjects and
# visits (`visitsync demo`; setup's bench grids would clash with the demo's).
# During each, loadgen pushes into the same server at the paced phase's rate
# (D devices, one push of B every APACE ms; BENCH_API_PACE_MS for another).
# api_latency.py waits for the record count to grow, samples NREQ requests
# 50 ms apart, measures the ingest rate over its window, and fails if loadgen
# ended first; it samples for 25 s at most (fewer samples from a slow
# server). loadgen has visits for 45 s and is stopped after the sampling.
APACE=${BENCH_API_PACE_MS:-$PACE}
api_phase() { # name db creds devices token path [api_latency args...]
  local name=$1 db=$2 creds=$3 ndev=$4 tok=$5 path=$6
  shift 6
  start_server "$db" "$work/serve-$name" || return 1
  timeout 70 "$bin/loadgen" --port "$srv_port" --creds "$creds" --devices "$ndev" \
    --visits $((B * (45000 / APACE + 1))) --batch "$B" --inflight "$K" --pace-ms "$APACE" --no-pull \
    --timeout 60 >"$work/$name-loadgen.log" 2>&1 &
  api_lg_pid=$!
  timeout 60 python3 "$top/bench/api_latency.py" --port "$srv_port" --token "$tok" --path "$path" \
    --name "$name" --count "$NREQ" --max-seconds 25 --while-pid "$api_lg_pid" "$@" \
    | tee "$work/$name.log" >&2
  kill -TERM "$api_lg_pid" 2>/dev/null
  wait "$api_lg_pid" 2>/dev/null
  api_lg_pid=
  stop_server
}
if [ "${BENCH_SKIP_API:-0}" != 1 ]; then
  say "api: /api/status over $NAPI devices, /api/report over the demo town; $D devices push meanwhile"
  "$bin/setup" --db "$work/api-status.db" --devices "$NAPI" --out "$work/creds-api" >&2 &&
    "$vs" --db "$work/api-status.db" user add --id bench-sup --name 督导 --role supervisor >&2 &&
    stok=$("$vs" --db "$work/api-status.db" token create --user bench-sup) &&
    api_phase status_10k "$work/api-status.db" "$work/creds-api" "$D" "$stok" /api/status \
      --expect-devices "$NAPI"
  # The demo's table: USER NAME ROLE GRID DEVICE TOKEN; loadgen reads "device token grid".
  "$vs" --db "$work/api-demo.db" init >&2 &&
    (umask 077; "$vs" --db "$work/api-demo.db" demo >"$work/api-demo-tokens.txt") &&
    awk '$3 == "cadre" {print $5, $6, $4}' "$work/api-demo-tokens.txt" >"$work/creds-demo" &&
    rtok=$(awk '$3 == "supervisor" {print $6; exit}' "$work/api-demo-tokens.txt") &&
    api_phase report "$work/api-demo.db" "$work/creds-demo" "$(wc -l <"$work/creds-demo")" \
      "$rtok" /api/report
  rm -f "$work"/api-*.db*
fi

# ---- 6. photo upload --------------------------------------------------------------------------------
# One tablet uploads its photos one after another (a sync does that); the
# file and SQLite figures are measured in the same run on the same disk.
if [ "${BENCH_SKIP_BLOB:-0}" != 1 ]; then
  NUP=${BENCH_UPLOAD_PHOTOS:-8}
  MUP=${BENCH_UPLOAD_MIB:-4}
  say "blob: $NUP photos of $MUP MiB over loopback, then a plain file and SQLite alone"
  "$bin/setup" --db "$work/blob.db" --devices 1 --out "$work/creds-blob" >&2 &&
    start_server "$work/blob.db" "$work/serve-blob" &&
    { timeout 120 "$bin/upload" --port "$srv_port" --creds "$work/creds-blob" --dir "$work" \
        --photos "$NUP" --mib "$MUP" | tee "$work/blob.log" >&2
      stop_server; }
  rm -f "$work"/blob.db*
fi

# ---- 7. the field app ----------------------------------------------------------------------------------
# Node, Debian's chromium and tests/web's playwright-core (.ci/deps installs
# them). The demo township's database goes under $work (TMPDIR), on disk.
NFC=${BENCH_FIELD_CHANGES:-1000}
if [ "${BENCH_SKIP_FIELD:-0}" != 1 ]; then
  say "field: sign-in link to offline-ready on grid g01, then $NFC visits queued offline and synced"
  mkdir -p "$work/field"
  TMPDIR="$work/field" VISITSYNC_BIN="$vs" timeout 900 node "$top/bench/field_bench.mjs" \
    --changes "$NFC" --timeout 300 | tee "$work/field.log" >&2
  rm -rf "$work/field"
fi

# ---- 8. ingest and paced ack latency against the number of devices ---------------------------------
# The same loadgen runs as phases 2 and 2b at each count, on fresh
# databases: closed loop with 50,000 visits in all (batch B, K in flight),
# then one push of B per device every PACE ms for five pushes. bench/plot.py
# draws sweep.csv (docs/performance.md shows the result).
if [ "${BENCH_SKIP_SWEEP:-0}" != 1 ]; then
  echo "devices,ingest_records_per_s,paced_ack_p50_ms,paced_ack_p99_ms" >"$work/sweep.csv"
  for n in ${BENCH_SWEEP_DEVICES:-20 50 100 200 500}; do
    say "sweep: $n devices"
    per=$(( 50000 / n / B * B )); [ "$per" -ge "$B" ] || per=$B
    for kind in ingest paced; do
      args=(--visits "$per" --inflight "$K")
      [ $kind = paced ] && args=(--visits $((B * 5)) --inflight "$K" --pace-ms "$PACE" --no-pull)
      "$bin/setup" --db "$work/sweep.db" --devices "$n" --out "$work/creds-sweep" >/dev/null &&
        start_server "$work/sweep.db" "$work/serve-sweep" &&
        { timeout 150 "$bin/loadgen" --port "$srv_port" --creds "$work/creds-sweep" --devices "$n" \
            --batch "$B" "${args[@]}" --timeout 120 --server-pid "$srv_pid" \
            >"$work/sweep-$kind-$n.log" 2>&1
          stop_server; }
      rm -f "$work"/sweep.db*
    done
    echo "$n,$(val "$work/sweep-ingest-$n.log" ingest_records_per_s),$(val "$work/sweep-paced-$n.log" ack_p50_ms),$(val "$work/sweep-paced-$n.log" ack_p99_ms)" >>"$work/sweep.csv"
  done
  cat "$work/sweep.csv" >&2
  python3 "$top/bench/plot.py" "$work/sweep.csv" "$work/sweep.svg" && say "sweep: drawn in $work/sweep.svg"
fi

# ---- summary ------------------------------------------------------------------------------------------
ingest=$(val "$work/loadgen.log" ingest_records_per_s)
limit=$(val "$work/limit.log" limit_single_txn_records_per_s)
peer_rate=$(val "$work/peer.log" peer_records_per_s)
ratio() { case "$1$2" in *not_measured*) echo not_measured ;; *) awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "not_measured" }' ;; esac; }
echo "paced_ack_p50_ms: $(val "$work/paced.log" ack_p50_ms) paced_ack_p99_ms: $(val "$work/paced.log" ack_p99_ms) (one push per device every $PACE ms)" >&2
for n in status_10k report; do
  echo "api $n: p50_ms $(val "$work/$n.log" ${n}_p50_ms) samples $(val "$work/$n.log" ${n}_samples) ingest_records_per_s $(val "$work/$n.log" ${n}_ingest_records_per_s) (pace $APACE ms)" >&2
done
echo "mixed: updates $(val "$work/mixed.log" mixed_updates) conflicts $(val "$work/mixed.log" mixed_conflicts) of $(val "$work/mixed.log" mixed_concurrent_pairs) concurrent pairs, lost $(val "$work/mixed.log" mixed_lost), ack_p50_ms $(val "$work/mixed.log" ack_p50_ms) ack_p99_ms $(val "$work/mixed.log" ack_p99_ms)" >&2
echo "decode: decode_ns_own $(val "$work/decode.log" decode_ns_own) decode_ns_cjson $(val "$work/decode.log" decode_ns_cjson) (cJSON reads the body only; ours body $(val "$work/decode.log" decode_ns_own_body))" >&2
echo "blob: upload_mb_per_s $(val "$work/blob.log" upload_mb_per_s) file_fsync_mb_per_s $(val "$work/blob.log" file_fsync_mb_per_s) upload_ratio_vs_file $(val "$work/blob.log" upload_ratio_vs_file) sqlite_chunk_mb_per_s $(val "$work/blob.log" sqlite_chunk_mb_per_s)" >&2
echo "field: first_sync_ms $(val "$work/field.log" field_first_sync_ms) outbox_${NFC}_ms $(val "$work/field.log" "field_outbox_${NFC}_ms") records_per_s $(val "$work/field.log" field_outbox_records_per_s)" >&2
say "done in $(( $(date +%s) - t_start )) s; logs in $work"
echo "ingest_records_per_s: $ingest"
echo "limit_single_txn_records_per_s: $limit"
echo "ratio_vs_limit: $(ratio "$ingest" "$limit")"
echo "peer_records_per_s: $peer_rate"
echo "ratio_vs_peer: $(ratio "$ingest" "$peer_rate")"
echo "ack_p99_ms: $(val "$work/loadgen.log" ack_p99_ms)"
echo "paced_ack_p99_ms: $(val "$work/paced.log" ack_p99_ms)"
mixed=$(val "$work/mixed.log" mixed_records_per_s)
echo "mixed_records_per_s: $mixed"
echo "mixed_ratio_vs_ingest: $(ratio "$mixed" "$ingest")"
echo "pull_records_per_s: $(val "$work/loadgen.log" pull_records_per_s)"
echo "idle_10k_rss_mib: $(val "$work/conn.log" idle_rss_mib)"
if [ "$NCONN50" = "${BENCH_CONN_50K:-50000}" ]; then
  echo "idle_50k_rss_mib: $(val "$work/conn50k.log" idle_rss_mib)"
else
  echo "idle_50k_rss_mib: not_measured (ulimit -n; $(val "$work/conn50k.log" idle_rss_mib) MiB at $NCONN50)"
fi
echo "poke_fanout_us: $(val "$work/conn50k.log" poke_fanout_us) ($NCONN50 connected)"
echo "status_10k_p99_ms: $(val "$work/status_10k.log" status_10k_p99_ms)"
echo "report_p99_ms: $(val "$work/report.log" report_p99_ms)"
