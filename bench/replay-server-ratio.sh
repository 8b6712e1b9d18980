#!/usr/bin/env bash
# The replay's store and retrieve bandwidth against lmcache4j server, divided by the embedded
# engine's on the same workload, caches and settings, run back to back (docs/benchmarks.md):
#   bench/replay-server-ratio.sh [PAIRS] [replay options]      e.g. bench/replay-server-ratio.sh 3 --users 4 --rounds 4
# Each pair runs `replay` embedded, then `replay --server` against a server started for it (both
# on one settings file: 256-token chunks, a pool of POOL_GB (3) GB, no disk), and prints both
# runs' GB/s and the ratios; then the median ratios. Alternating spreads a noisy machine's load
# over both sides. WARM=1 first runs the replay once against each new server with another seed
# (--seed 1000: other prompts), outside the figures, so that the measured run finds the server's
# pool grown, as a node's long-running server has it; the embedded engine opens a fresh pool each run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pairs="${1:-3}"
[ $# -gt 0 ] && shift
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$work/run"
printf 'chunk_size: 256\nmax_local_cpu_size: %s\n' "${POOL_GB:-3}" > "$work/lmcache.yaml"
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
printf '%-5s %14s %14s %14s %14s %8s %8s\n' pair store_embedded store_server retr_embedded retr_server store retrieve
for p in $(seq 1 "$pairs"); do
  "$root/lmcache4j" replay --json --config "$work/lmcache.yaml" "$@" > "$work/embedded.json"
  rm -f "$work/server.log" # the last server's log says it listened too
  "$root/lmcache4j" server --socket "$work/run/s.sock" --config "$work/lmcache.yaml" 2> "$work/server.log" &
  server_pid=$!
  until grep -qs "LMCache4j server listening" "$work/server.log"; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  if [ -n "${WARM:-}" ]; then
    "$root/lmcache4j" replay --json --server "$work/run/s.sock" "$@" --seed 1000 > /dev/null
  fi
  "$root/lmcache4j" replay --json --server "$work/run/s.sock" "$@" > "$work/server.json"
  kill "$server_pid"; wait "$server_pid" || true; server_pid=""
  python3 - "$work" "$p" <<'EOF' | tee -a "$work/ratios"
import json, sys
e = json.load(open(sys.argv[1] + "/embedded.json")); s = json.load(open(sys.argv[1] + "/server.json"))
assert e["mismatched_bytes"] == 0 and s["mismatched_bytes"] == 0, "wrong bytes"
if e["hit_tokens"] != s["hit_tokens"]:  # evictions can differ (a warm server's pool is full): GB/s stay comparable
    print("pair %s: hit tokens embedded %d, server %d" % (sys.argv[2], e["hit_tokens"], s["hit_tokens"]), file=sys.stderr)
print("%-5s %14.2f %14.2f %14.2f %14.2f %8.2f %8.2f" % (sys.argv[2], e["store_gbps"], s["store_gbps"],
      e["retrieve_gbps"], s["retrieve_gbps"], s["store_gbps"] / e["store_gbps"], s["retrieve_gbps"] / e["retrieve_gbps"]))
EOF
done
python3 - "$work/ratios" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print("median server / embedded: store %.2f, retrieve %.2f (GB/s: 10^9 bytes a second)" % (
    statistics.median(float(r[5]) for r in rows), statistics.median(float(r[6]) for r in rows)))
EOF
