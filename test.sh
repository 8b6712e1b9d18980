#!/usr/bin/env bash
# Runs every test of the project: the Java modules (engine, bench). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh
lmc_find_jdk
lmc_find_maven
echo "== java: $("$JAVA" -version 2>&1 | head -n1) at $JAVA_HOME"
"$MVN" -B -ntp install
