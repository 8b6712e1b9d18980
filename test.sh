#!/usr/bin/env bash
# Runs every test of the project: the Java modules (engine, bench), the native shim's C tests
# (plain and under AddressSanitizer/UBSan), and the Python package's pytest suite. Installs what it
# needs (Maven, redis-server) and starts a redis-server for the remote-tier tests, stopped at exit.
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

echo "== native: liblmcache4j.so and its C tests"
command -v make >/dev/null && command -v "${CC:-cc}" >/dev/null \
  || { echo "The native stage needs make and a C compiler (cc); install build-essential." >&2; exit 1; }
make -C native -s JAVA_HOME="$JAVA_HOME" test
echo "== native: the C tests under AddressSanitizer and UBSan"
make -C native -s JAVA_HOME="$JAVA_HOME" asan-test

echo "== native: CUDA kernels (a fatbin; no GPU needed to build it)"
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  make -C native -s JAVA_HOME="$JAVA_HOME" cuda kv-host
  echo "built native/build/kv_transfer.fatbin ($(stat -c %s native/build/kv_transfer.fatbin) bytes)"
  echo "== gpu: bench/gpu/check.sh packs the GPU check (a JRE, the jars, the fatbin) and runs it"
  bench/gpu/check.sh pack
  gpu_status=0
  bench/gpu/check.sh run || gpu_status=$?
  # 3 = no GPU here, said by the check itself; 0 = a GPU, and every transfer exact.
  if [ "$gpu_status" -ne 0 ] && [ "$gpu_status" -ne 3 ]; then
    echo "the GPU check failed (exit $gpu_status)" >&2
    exit 1
  fi
else
  echo "NOTE: no nvcc on this machine: the CUDA kernels were NOT built (their index arithmetic is still" \
    "tested on the CPU by KvIndexHostTest)."
fi

echo "== python: lmcache4j over the C ABI"
python3 -c 'import numpy, pytest' 2>/dev/null || {
  echo "The Python stage needs python3 with numpy and pytest (pip install numpy pytest); not skipping it." >&2
  exit 1
}
status=0
PYTHONPATH=src LD_PRELOAD="$JAVA_HOME/lib/libjsig.so" \
  python3 -X faulthandler -m pytest -q -rs -p no:cacheprovider tests/python || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here." >&2
  exit 1
fi
exit "$status"
