#!/usr/bin/env bash
# Runs every test of the project: the CPU-run CUDA driver's C tests, the Java modules (engine, bench;
# the engine's CUDA path on that driver), the native shim's C tests (plain and under
# AddressSanitizer/UBSan, on host and on device caches), the GPU check and replay on the CPU-run
# driver, and the Python package's pytest suite. Installs what it needs (Maven, redis-server) and
# starts a redis-server for the remote-tier tests, stopped at exit.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh
. scripts/redis.sh
lmc_find_jdk
lmc_find_maven
lmc_ensure_redis
# Everything the run leaves in a temporary directory (the JVMs' extracted native libraries, test
# servers' folders, sockets) goes into one folder of its own, removed at the end.
LMC_RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/l4j.XXXXXX") # short: Unix socket paths under it must fit 107 bytes
export TMPDIR="$LMC_RUN_TMP"
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djava.io.tmpdir=$LMC_RUN_TMP"
# The JVMs the C and Python tests start: the same folder, and the per-request lines off.
export LMCACHE4J_JVM_OPTS="${LMCACHE4J_JVM_OPTS:-} -Djava.io.tmpdir=$LMC_RUN_TMP -Dorg.slf4j.simpleLogger.log.org.lmcache4j.requests=warn"
trap 'lmc_stop_redis; rm -rf "$LMC_RUN_TMP"' EXIT
lmc_start_redis
command -v make >/dev/null && command -v "${CC:-cc}" >/dev/null \
  || { echo "The native stages need make and a C compiler (cc); install build-essential." >&2; exit 1; }

echo "== native: the CPU-run CUDA driver (a test instrument) and the CUDA kernels"
make -C native -s JAVA_HOME="$JAVA_HOME" cuda-emulator
export LMCACHE4J_CUDA_EMULATOR_LIB="$PWD/native/build/cuda-emulator/libcuda.so.1"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  make -C native -s JAVA_HOME="$JAVA_HOME" cuda kv-host
  echo "built native/build/kv_transfer.fatbin ($(stat -c %s native/build/kv_transfer.fatbin) bytes)"
  # From here on the CUDA path must run: a CUDA test that cannot find the driver or kernels fails.
  export LMCACHE4J_REQUIRE_CUDA_EMULATOR=1
  echo "== native: the CPU-run CUDA driver's own tests (plain, then AddressSanitizer/UBSan)"
  make -C native -s JAVA_HOME="$JAVA_HOME" emulator-test
else
  echo "NOTE: no nvcc on this machine: the CUDA kernels were NOT built, so every CUDA test is skipped" \
    "(each says so). Their index arithmetic is still tested on the CPU by KvIndexHostTest."
fi

echo "== java: $("$JAVA" -version 2>&1 | head -n1) at $JAVA_HOME (the CUDA tests on the CPU-run driver)"
lmc_mvn -B -ntp install

echo "== native: liblmcache4j.so and its C tests"
make -C native -s JAVA_HOME="$JAVA_HOME" test
echo "== native: the C tests under AddressSanitizer and UBSan"
make -C native -s JAVA_HOME="$JAVA_HOME" asan-test

if [ "${LMCACHE4J_REQUIRE_CUDA_EMULATOR:-}" = 1 ]; then
  echo "== native: the C ABI on device caches (the CPU-run CUDA driver), plain and under ASan/UBSan"
  make -C native -s JAVA_HOME="$JAVA_HOME" device-test
  echo "== gpu: bench/gpu/check.sh packs the GPU check (a JRE, the jars, the fatbin) and runs it"
  bench/gpu/check.sh pack
  gpu_status=0
  bench/gpu/check.sh run || gpu_status=$?
  # 3 = no GPU here, said by the check itself; 0 = a GPU, and every transfer exact.
  if [ "$gpu_status" -ne 0 ] && [ "$gpu_status" -ne 3 ]; then
    echo "the GPU check failed (exit $gpu_status)" >&2
    exit 1
  fi
  echo "== gpu: the same packed check on the CPU-run CUDA driver (correctness only, no speed)"
  LMCACHE4J_CUDA_DRIVER="$LMCACHE4J_CUDA_EMULATOR_LIB" bench/gpu/check.sh run --quick
  echo "== replay --device cuda on the CPU-run CUDA driver, its stream delay on"
  for mode in kernel dma; do
    LMCACHE4J_CUDA_DRIVER="$LMCACHE4J_CUDA_EMULATOR_LIB" LMCACHE4J_CUDA_EMULATOR_DELAY_US=20 \
      ./lmcache4j replay --device cuda --cuda-transfer "$mode" --json --users 4 --rounds 3 --layers 8 \
      --system-tokens 600 --cpu-gb 0.25 | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("replay --device cuda (%s): %s requests, %.1f%% hit, %d bytes verified, %d mismatched, leases left %d"
      % (r["transfer"], r["requests"], 100 * r["hit_rate"], r["verified_bytes"], r["mismatched_bytes"], r["leases_at_end"]))
sys.exit(0 if r["mismatched_bytes"] == 0 and r["verified_bytes"] > 0 and r["leases_at_end"] == 0 else 1)'
  done
fi

echo "== python: lmcache4j over the C ABI (with the CPU-run CUDA driver for the GPU cases)"
python3 -c 'import numpy, pytest' 2>/dev/null || {
  echo "The Python stage needs python3 with numpy and pytest (pip install numpy pytest); not skipping it." >&2
  exit 1
}
# The metrics tests need prometheus_client: Debian's python3-prometheus-client, made visible alone
# (python3 may be an interpreter that does not read /usr/lib/python3/dist-packages).
LMC_PY_EXTRA="$LMC_RUN_TMP/python-extra"
mkdir -p "$LMC_PY_EXTRA"
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  DEBIAN_PROM=/usr/lib/python3/dist-packages/prometheus_client
  if [ ! -d "$DEBIAN_PROM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-prometheus-client) >&2 || true
  fi
  [ -d "$DEBIAN_PROM" ] || {
    echo "The Python stage needs prometheus_client (apt-get install python3-prometheus-client); not skipping it." >&2
    exit 1
  }
  ln -s "$DEBIAN_PROM" "$LMC_PY_EXTRA/prometheus_client"
fi
status=0
LMCACHE4J_CUDA_DRIVER="$LMCACHE4J_CUDA_EMULATOR_LIB" LMCACHE4J_CUDA_FATBIN="$PWD/native/build/kv_transfer.fatbin" \
PYTHONPATH="src:$LMC_PY_EXTRA" LD_PRELOAD="$JAVA_HOME/lib/libjsig.so" \
  python3 -X faulthandler -m pytest -q -rs -p no:cacheprovider --basetemp="$LMC_RUN_TMP/py" tests/python || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here." >&2
  exit 1
fi
exit "$status"
