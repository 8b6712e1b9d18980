"""The JVM inside Python: signals, faulthandler, Ctrl-C, a missing JDK or jar, fork. Each case runs
in a fresh interpreter, since a process gets one JVM."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from lmcache4j import jsig

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

WORKLOAD = """
import gc, numpy as np, lmcache4j as l
lay = l.KvLayout(2, 2, 16, 16, 64, "bfloat16", "flash_attn")
e = l.Engine({"chunk_size": 32, "max_local_cpu_size": 0.01}, lay)
caches = [np.zeros(lay.cache_shape, np.uint16) for _ in range(2)]
e.register_kv_caches(caches)
def work(rounds):
    for i in range(rounds):
        t = np.arange(i, i + 200)
        e.store(t, np.arange(200)); e.lookup(t); e.retrieve(t, np.arange(200)); e.clear()
"""


def python(code, env_update=None, preload=True, args=()):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "LMCACHE4J_JSIG_REEXEC")}
    env["PYTHONPATH"] = SRC
    if preload:
        env = jsig.preload_environment(env)
    env.update(env_update or {})
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_this_suite_runs_with_libjsig_preloaded():
    assert jsig.is_loaded()


# Safepoints all the time, and lookups long enough to be in compiled Java code when one comes:
# the JVM's SIGSEGV-based safepoint polls fire, and must reach the JVM's handler.
SAFEPOINTS = {"LMCACHE4J_JVM_OPTS": "-Xmx64m -Xmn4m -XX:+UnlockDiagnosticVMOptions -XX:+SafepointALot "
                                    "-XX:GuaranteedSafepointInterval=1"}
REINSTALL = """
import faulthandler, warnings, numpy as np, lmcache4j as l
warnings.simplefilter("ignore")
e = l.Engine({"chunk_size": 256, "max_local_cpu_size": 0.01}, l.KvLayout(1, 1, 8, 16, 4))
t = np.arange(200_000, dtype=np.int32)
for i in range(20):
    e.lookup(t)
faulthandler.disable(); faulthandler.enable()   # what pytest does at its end, after the JVM started
for i in range(2000):
    e.lookup(t)
print("survived", faulthandler.is_enabled())
"""


def test_faulthandler_reinstalled_after_the_jvm_started_is_survived_with_libjsig():
    r = python(REINSTALL, SAFEPOINTS, args=["-X", "faulthandler"])
    assert r.returncode == 0 and "survived True" in r.stdout, r.stderr[-3000:]


def test_without_libjsig_the_same_program_dies():
    """The control: why libjsig is preloaded. Without it the reinstalled handler takes the JVM's
    SIGSEGVs and the process dies."""
    r = python(REINSTALL, {**SAFEPOINTS, "LMCACHE4J_JSIG": "ignore"}, preload=False, args=["-X", "faulthandler"])
    if r.returncode == 0:
        pytest.skip("the JVM took no SIGSEGV this time: the control showed nothing")
    assert "Segmentation fault" in r.stderr, r.stderr[-2000:]


def test_ctrl_c_is_still_a_keyboard_interrupt():
    r = python(WORKLOAD + """
import os, signal, time
work(5)
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    print("no interrupt")
except KeyboardInterrupt:
    print("interrupted")
work(5)
""")
    assert r.returncode == 0 and "interrupted" in r.stdout, r.stderr[-3000:]


def test_without_libjsig_a_warning_or_with_require_an_error():
    r = python("import warnings\nwarnings.simplefilter('error')\n" + WORKLOAD, preload=False)
    assert r.returncode != 0 and "libjsig.so is not preloaded" in r.stderr, r.stderr[-2000:]
    r = python("""
import lmcache4j as l
try:
    l.Engine(None, l.KvLayout(1, 1, 8, 16, 4))
except l.JvmError as e:
    print("JvmError:", e)
""", {"LMCACHE4J_JSIG": "require"}, preload=False)
    assert "JvmError: libjsig.so is not preloaded" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("variable,value,message", [
    ("LMCACHE4J_JAVA_HOME", "/nonexistent/jdk", "LMCache4j needs a JDK 25 or newer: LMCACHE4J_JAVA_HOME=/nonexistent"),
    ("LMCACHE4J_JAR", "/nonexistent/engine.jar", "LMCACHE4J_JAR=/nonexistent/engine.jar is not a readable file"),
    ("LMCACHE4J_LIB", "/nonexistent/liblmcache4j.so", "cannot find liblmcache4j.so; tried /nonexistent"),
])
def test_a_missing_jdk_jar_or_library_is_an_exception(variable, value, message):
    r = python("""
import lmcache4j as l
for attempt in range(2):
    try:
        l.Engine(None, l.KvLayout(1, 1, 8, 16, 4))
    except (l.JvmError, l.NativeLibraryError) as e:
        print(type(e).__name__, e)
""", {variable: value, "LMCACHE4J_JSIG": "ignore"})
    assert r.returncode == 0 and r.stdout.count(message) == 2, r.stdout + r.stderr


def test_a_forked_child_gets_an_error_not_a_hang():
    r = python(WORKLOAD + """
import os
work(2)
pid = os.fork()
if pid == 0:
    try:
        e.lookup([1, 2, 3])
        os._exit(1)
    except l.JvmError as err:
        os._exit(0 if "fork()" in str(err) else 2)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))
work(2)
""")
    assert "child exit 0" in r.stdout, r.stdout + r.stderr[-2000:]


def test_python_exits_cleanly_with_engines_open():
    r = python(WORKLOAD + "work(3)\nprint('bye')\n")
    assert r.returncode == 0 and r.stdout.strip().endswith("bye"), r.stderr[-2000:]
    assert signal.SIGSEGV not in (-r.returncode,)
