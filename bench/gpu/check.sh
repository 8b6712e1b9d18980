#!/usr/bin/env bash
# The GPU check, in two steps:
#   bench/gpu/check.sh pack   here (JDK 25, Maven, nvcc): builds bench/gpu/dist, everything the check
#                             needs on a machine with no JDK and no network: a jlink'd JRE, the jars,
#                             the fatbin (64 MiB at most in all)
#   bench/gpu/check.sh run    on the GPU machine: CUDA transfer vs host transfer byte for byte (every
#                             format, both modes), then store/retrieve bandwidth of a Mistral-7B chunk
#                             against pinned cuMemcpy; prints a table last; under 10 minutes.
# Exit status of run: 0 all exact, 1 a mismatch, 3 no GPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dist="$here/dist"
limit=$((64 * 1024 * 1024))

pack() {
  . "$root/scripts/env.sh"
  lmc_find_jdk
  lmc_find_maven
  (cd "$root" && "$MVN" -B -q -ntp -DskipTests -pl engine,bench -am package)
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] \
    || { echo "check.sh pack needs nvcc to build the fatbin" >&2; exit 1; }
  make -C "$root/native" -s cuda
  rm -rf "$dist"
  mkdir -p "$dist/lib"
  cp "$root/engine/target/lmcache4j-engine.jar" "$dist/lib/"
  cp "$root"/bench/target/lmcache4j-bench-*.jar "$dist/lib/"
  # Only what the check loads: JCuda and the logging API (the tiers' libraries stay behind).
  cp "$root"/engine/target/lib/jcuda-*.jar "$root"/engine/target/lib/slf4j-*.jar "$dist/lib/"
  cp "$root/native/build/kv_transfer.fatbin" "$dist/"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported --strip-debug --no-man-pages \
    --no-header-files --compress=zip-9 --output "$dist/jre"
  local bytes; bytes=$(du -sb "$dist" | cut -f1)
  echo "bench/gpu/dist: $((bytes / 1024 / 1024)) MiB (limit 64)"
  [ "$bytes" -le "$limit" ] || { echo "bench/gpu/dist is over 64 MiB" >&2; exit 1; }
}

run() {
  [ -x "$dist/jre/bin/java" ] || { echo "no $dist: run 'bench/gpu/check.sh pack' first (where a JDK is)" >&2; exit 2; }
  exec timeout 560 "$dist/jre/bin/java" --enable-native-access=ALL-UNNAMED -Xmx4g \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dlmcache4j.cuda.fatbin="$dist/kv_transfer.fatbin" \
    -cp "$dist/lib/*" org.lmcache4j.bench.gpu.GpuCheck
}

case "${1:-run}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bench/gpu/check.sh pack|run" >&2; exit 2 ;;
esac
