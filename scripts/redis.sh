# Sourced by ./test.sh: makes sure redis-server and redis-cli are installed (Debian's package), and
# starts one redis-server on loopback, on a free port, with persistence off, for the tests that
# share one; the tests that kill or reconfigure Redis start their own from the same binary.
# Sets and exports LMCACHE4J_TEST_REDIS_PORT; lmc_stop_redis stops the server by its pid.

lmc_ensure_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing: installing Debian's redis-server package." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 && return 0
  fi
  echo "The remote-tier tests need redis-server and redis-cli (Debian package redis-server)." >&2
  return 1
}

lmc_start_redis() {
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dir=$(mktemp -d "${TMPDIR:-/tmp}/lmcache4j-test-redis.XXXXXX")
  LMC_REDIS_DIR=$dir
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --protected-mode no >"$dir/log" 2>&1 &
  LMC_REDIS_PID=$!
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      export LMCACHE4J_TEST_REDIS_PORT=$port
      echo "== redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$port (pid $LMC_REDIS_PID)"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start; its log:" >&2
  cat "$dir/log" >&2
  return 1
}

lmc_stop_redis() {
  if [ -n "${LMC_REDIS_PID:-}" ]; then
    kill "$LMC_REDIS_PID" 2>/dev/null || true
    wait "$LMC_REDIS_PID" 2>/dev/null || true
    LMC_REDIS_PID=
  fi
  if [ -n "${LMC_REDIS_DIR:-}" ]; then
    rm -rf "$LMC_REDIS_DIR"
    LMC_REDIS_DIR=
  fi
}
