"""Signal chaining for a JVM inside Python.

The JVM uses SIGSEGV, SIGBUS, SIGFPE and SIGILL on purpose (implicit null checks, safepoint polls).
A handler for one of them that Python installs *after* the JVM started (``faulthandler.enable()``,
which pytest calls again when it finishes) replaces the JVM's, and the next safepoint kills the
process. The JDK's ``libjsig.so`` fixes this when it is preloaded: it lets the JVM keep its
handlers and calls the host's for the signals that are not the JVM's. It must be in
``LD_PRELOAD`` when the process starts; loading it later does not interpose anything.

What lmcache4j does about it:

* the JVM runs with ``-Xrs``, so SIGINT (Ctrl-C, ``KeyboardInterrupt``), SIGTERM, SIGHUP and
  SIGQUIT stay Python's;
* handlers installed *before* the JVM starts (``python -X faulthandler``) are chained by the JVM
  itself;
* before the JVM starts, :func:`check` looks for libjsig in the process and, if it is missing,
  warns (``LMCACHE4J_JSIG=warn``, the default), raises (``require``) or stays quiet (``ignore``);
* :func:`preload_environment` and :func:`reexec_with_libjsig` set it up: the second restarts the
  current program with libjsig preloaded, for the top of a script or a ``conftest.py``.
"""

from __future__ import annotations

import os
import sys
import warnings

from .errors import JvmError

_REEXEC_MARK = "LMCACHE4J_JSIG_REEXEC"


def is_loaded() -> bool:
    """Whether a libjsig.so is mapped into this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any(line.rstrip().endswith("/libjsig.so") for line in maps)
    except OSError:
        return False


def _java_major(home: str) -> int:
    try:
        with open(os.path.join(home, "release"), encoding="utf-8") as release:
            for line in release:
                if line.startswith('JAVA_VERSION="'):
                    version = line.split('"')[1]
                    parts = version.split(".")
                    return int(parts[1]) if parts[0] == "1" else int(parts[0].split("-")[0].split("+")[0])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def java_home() -> str | None:
    """The JDK >= 25 the native library will choose: LMCACHE4J_JAVA_HOME, JAVA_HOME, /usr/lib/jvm."""
    explicit = os.environ.get("LMCACHE4J_JAVA_HOME")
    if explicit:
        return explicit
    candidates = [os.environ.get("JAVA_HOME", "")]
    try:
        candidates += sorted((os.path.join("/usr/lib/jvm", d) for d in os.listdir("/usr/lib/jvm")),
                             key=lambda home: -_java_major(home))
    except OSError:
        pass
    for home in candidates:
        if home and _java_major(home) >= 25 and os.path.exists(os.path.join(home, "lib/server/libjvm.so")):
            return home
    return None


def libjsig_path() -> str | None:
    """The libjsig.so of the JDK that will be used, or None."""
    home = java_home()
    path = os.path.join(home, "lib", "libjsig.so") if home else None
    return path if path and os.path.exists(path) else None


def preload_environment(env: dict | None = None) -> dict:
    """A copy of ``env`` (default: this process's) whose LD_PRELOAD starts with libjsig.so."""
    env = dict(os.environ if env is None else env)
    path = libjsig_path()
    if path is None:
        raise JvmError("cannot find libjsig.so: no JDK >= 25 found (set LMCACHE4J_JAVA_HOME)")
    preload = env.get("LD_PRELOAD", "")
    if path not in preload.split(":"):
        env["LD_PRELOAD"] = f"{path}:{preload}" if preload else path
    return env


def reexec_with_libjsig() -> None:
    """Restarts this program (same interpreter, arguments and environment) with libjsig preloaded.

    Does nothing when libjsig is already loaded or a restart was already tried. Call it first
    thing, before threads or files are opened: the process image is replaced.
    """
    if is_loaded() or os.environ.get(_REEXEC_MARK):
        return
    env = preload_environment()
    env[_REEXEC_MARK] = "1"
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def check() -> None:
    """Says, before the JVM starts, if libjsig is missing (see the module's documentation)."""
    policy = os.environ.get("LMCACHE4J_JSIG", "warn").strip().lower()
    if policy == "ignore" or is_loaded():
        return
    path = libjsig_path() or "$JAVA_HOME/lib/libjsig.so"
    message = (f"libjsig.so is not preloaded: a SIGSEGV/SIGBUS/SIGFPE/SIGILL handler installed after the JVM "
               f"starts (faulthandler.enable(), pytest) will crash this process. Start Python with "
               f"LD_PRELOAD={path} (set LMCACHE4J_JSIG=ignore to silence this).")
    if policy == "require":
        raise JvmError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
