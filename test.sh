#!/usr/bin/env bash
# Runs every test of the project: the Java modules (engine, bench). Installs what it needs
# (Maven, redis-server) and starts a redis-server for the remote-tier tests, stopped at exit.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh
. scripts/redis.sh
lmc_find_jdk
lmc_find_maven
lmc_ensure_redis
trap lmc_stop_redis EXIT
lmc_start_redis
echo "== java: $("$JAVA" -version 2>&1 | head -n1) at $JAVA_HOME"
"$MVN" -B -ntp install
