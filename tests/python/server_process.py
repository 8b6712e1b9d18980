"""A real ``lmcache4j server`` for the Python tests: the repository's launcher, a socket in a private
folder, its output in a log, stopped with SIGTERM (which must exit 0 and remove the socket) or
killed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class ServerProcess:
    """``config``: the server's configuration file's text."""

    def __init__(self, config: str = "chunk_size: 256\nmax_local_cpu_size: 0.05\n"):
        self.directory = tempfile.mkdtemp(prefix="l4js.")   # short: a socket path has at most 107 bytes
        os.chmod(self.directory, 0o700)
        self.path = os.path.join(self.directory, "server.sock")
        self.url = f"unix://{self.path}"
        self.config = os.path.join(self.directory, "lmcache.yaml")
        with open(self.config, "w") as f:
            f.write(config)
        self._log = open(os.path.join(self.directory, "server.log"), "w+")
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120) -> ServerProcess:
        self._process = subprocess.Popen([os.path.join(ROOT, "lmcache4j"), "server", "--socket", self.path,
                                          "--config", self.config], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not _answers(self.path):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._process.kill()
                raise AssertionError(f"the server did not listen at {self.path}:\n{self.log()}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        """SIGTERM: the server must exit 0 and remove its socket."""
        self._process.send_signal(signal.SIGTERM)
        status = self._process.wait(timeout=60)
        assert status == 0, f"SIGTERM: the server exited {status}:\n{self.log()}"
        assert not os.path.exists(self.path), "the server left its socket behind"

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()

    def remove(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
