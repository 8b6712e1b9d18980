"""A passing ./test.sh reads as passing and leaves nothing behind: checked on its pieces."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bash(script: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; cd {ROOT}; . scripts/env.sh; . scripts/redis.sh; {script}"],
                          capture_output=True, text=True, timeout=300, env=env)


def test_maven_prints_no_unsafe_warnings_and_no_stray_escapes():
    run = bash("lmc_find_jdk; lmc_find_maven; lmc_mvn -B -q -o -ntp validate")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert "sun.misc.Unsafe" not in out, out
    assert "\x1b[" not in out, repr(out)


def test_the_test_redis_server_leaves_no_folder_behind(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    run = bash("lmc_start_redis >/dev/null; lmc_stop_redis", env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert list(tmp_path.iterdir()) == [], "lmc_stop_redis left its folder"


def test_request_lines_are_off_in_the_java_tests():
    pom = (ROOT / "pom.xml").read_text()
    assert "-Dorg.slf4j.simpleLogger.log.org.lmcache4j.requests=warn" in pom
    assert "-Djava.io.tmpdir=${java.io.tmpdir}" in pom
