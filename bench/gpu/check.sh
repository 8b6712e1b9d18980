#!/usr/bin/env bash
# The GPU check, in two steps:
#   bench/gpu/check.sh pack   here (JDK 25, Maven, nvcc): builds bench/gpu/dist, everything the check
#                             needs on a machine with no JDK and no network: a jlink'd JRE, the jars,
#                             the fatbin (64 MiB at most in all)
#   bench/gpu/check.sh run    on the GPU machine: CUDA transfer vs host transfer byte for byte (every
#                             format, both modes, ordered with a stream of its own), store/retrieve
#                             bandwidth of a Mistral-7B chunk against pinned cuMemcpy and how long the
#                             caller's stream is held per chunk, then `replay --device cuda` in kernel
#                             and DMA modes; prints a table last; under 10 minutes.
#   bench/gpu/check.sh run --quick   the same with small replays; with
#                             LMCACHE4J_CUDA_DRIVER=native/build/cuda-emulator/libcuda.so.1 it runs on the
#                             CPU-run CUDA driver (./test.sh does): correctness only, no speed.
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
  (cd "$root" && lmc_mvn -B -q -ntp -DskipTests -pl engine,bench -am package)
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] \
    || { echo "check.sh pack needs nvcc to build the fatbin" >&2; exit 1; }
  make -C "$root/native" -s cuda
  rm -rf "$dist"
  mkdir -p "$dist/lib"
  cp "$root/engine/target/lmcache4j-engine.jar" "$dist/lib/"
  cp "$root"/bench/target/lmcache4j-bench-*.jar "$dist/lib/"
  # The engine's runtime class path (the replay opens a whole engine), but of JCuda's natives only
  # the driver binding: the NVRTC and PTX-compiler libraries are most of that jar and never load.
  find "$root/engine/target/lib" -name '*.jar' ! -name 'jcuda-natives-*' -exec cp {} "$dist/lib/" \;
  local natives; natives=$(ls "$root"/engine/target/lib/jcuda-natives-*.jar)
  local unpacked; unpacked=$(mktemp -d)
  (cd "$unpacked" && "$JAVA_HOME/bin/jar" xf "$natives" lib/ \
    && find lib -name '*.so' ! -name 'libJCudaDriver-*' -delete \
    && "$JAVA_HOME/bin/jar" cf "$dist/lib/$(basename "$natives")" lib)
  rm -rf "$unpacked"
  cp "$root/native/build/kv_transfer.fatbin" "$dist/"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,jdk.unsupported,jdk.httpserver \
    --strip-debug --no-man-pages \
    --no-header-files --compress=zip-9 --output "$dist/jre"
  local bytes; bytes=$(du -sb "$dist" | cut -f1)
  echo "bench/gpu/dist: $((bytes / 1024 / 1024)) MiB (limit 64)"
  [ "$bytes" -le "$limit" ] || { echo "bench/gpu/dist is over 64 MiB" >&2; exit 1; }
}

run() {
  [ -x "$dist/jre/bin/java" ] || { echo "no $dist: run 'bench/gpu/check.sh pack' first (where a JDK is)" >&2; exit 2; }
  exec timeout 560 "$dist/jre/bin/java" --enable-native-access=ALL-UNNAMED -Xmx4g -Djava.io.tmpdir="${TMPDIR:-/tmp}" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dlmcache4j.cuda.fatbin="$dist/kv_transfer.fatbin" \
    -cp "$dist/lib/*" org.lmcache4j.bench.gpu.GpuCheck "$@"
}

case "${1:-run}" in
  pack) pack ;;
  run) shift || true; run "$@" ;;
  *) echo "usage: bench/gpu/check.sh pack|run [--quick]" >&2; exit 2 ;;
esac
