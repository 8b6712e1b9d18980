#!/usr/bin/env bash
# The quick benchmark pass with ratios (see org.lmcache4j.bench.Ratios), about three minutes:
#   bench/run-quick.sh                      defaults: -f 1 -wi 2 -w 1s -i 3 -r 1s, every benchmark
#   bench/run-quick.sh -p numBlocks=4096    any JMH option overrides the defaults
# Builds bench/target/benchmarks.jar first if it is missing. Needs about 6 GiB of free memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
lmc_find_jdk
if [ ! -f bench/target/benchmarks.jar ]; then
  lmc_find_maven
  lmc_mvn -B -q -ntp -DskipTests install
fi
exec "$JAVA" --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.lmcache4j.bench.Ratios "$@"
