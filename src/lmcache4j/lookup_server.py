"""The lookup socket of an engine that is a client of ``lmcache4j server``, served from this process.

An embedded engine serves its lookups in its JVM (``lmcache4j_serve_lookups``). A client engine
has no JVM, and its pins belong to its own connection to the server, so the scheduler's lookups
must go through that connection: this module serves the same frames (``lookup_client.py``,
``org.lmcache4j.bridge.LookupProtocol``) on a Unix socket, one thread per connection, answering
with the engine's own calls. The socket's directory must be this user's and private (0700); the
socket is made 0600; a stale socket is replaced, as the engine's own server does.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import threading

from .errors import InvalidArgumentError, LMCache4jError
from .lookup_client import (FLAG_POOL_TOKENS, FLAG_PROMPT_COUNTS, MAGIC, OP_CONFIG, OP_LOOKUP, OP_LOOKUP_AND_PIN,
                            OP_UNPIN, _PROMPT_COUNTS, _REQUEST, _RESPONSE)

_MAX_TEXT, _MAX_TOKENS = 64 * 1024, 1 << 24
_STATUS_INVALID, _STATUS_INTERNAL = 1, 7


def _private_directory(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        st = os.lstat(directory)
    except OSError:
        st = None
    if st is None or not stat.S_ISDIR(st.st_mode):
        raise InvalidArgumentError(f"the socket's directory {directory} does not exist (create it with mode 0700)")
    if st.st_uid != os.getuid():
        raise InvalidArgumentError(f"the socket's directory {directory} belongs to uid {st.st_uid}, not to this "
                                   f"process's uid {os.getuid()}")
    if st.st_mode & 0o077:
        raise InvalidArgumentError(f"the socket's directory {directory} must be private to its owner (mode 0700), "
                                   f"it is {st.st_mode & 0o7777:04o}")


def _read(conn: socket.socket, n: int, start: bool = False) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            if start and not data:
                return None
            raise EOFError("lookup request cut short")
        data += part
    return bytes(data)


class LookupServer:
    """Serves ``engine``'s lookups at ``path`` until :meth:`close` (the engine closes it)."""

    def __init__(self, engine, path: str | os.PathLike):
        self.path = os.fsdecode(path)
        _private_directory(self.path)
        if os.path.lexists(self.path):
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise InvalidArgumentError(f"cannot serve lookups at {self.path}: a file that is not a socket is there")
            os.unlink(self.path)   # stale: left by a process that died
        self._engine = engine
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self._sock.listen(64)
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="lmcache4j-lookups", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients = list(self._clients)
        for s in [self._sock, *clients]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return   # closed
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._clients.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="lmcache4j-lookup-client", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                try:
                    request = self._read_request(conn)
                except ValueError as e:
                    conn.sendall(_RESPONSE.pack(_STATUS_INVALID, len(str(e).encode()), 0) + str(e).encode())
                    return   # the stream is out of step: drop the connection
                if request is None:
                    return
                conn.sendall(self._answer(*request))
        except (OSError, EOFError):
            pass
        finally:
            with self._lock:
                self._clients.discard(conn)
            conn.close()

    @staticmethod
    def _read_request(conn: socket.socket):
        header = _read(conn, _REQUEST.size, start=True)
        if header is None:
            return None
        magic, op, flags, s, a, r, n = _REQUEST.unpack(header)
        if magic != MAGIC:
            raise ValueError("not an LMCache4j lookup request (bad magic)")
        if op not in (OP_LOOKUP, OP_LOOKUP_AND_PIN, OP_UNPIN, OP_CONFIG):
            raise ValueError(f"unknown lookup-socket op {op}")
        if flags & ~(FLAG_PROMPT_COUNTS | FLAG_POOL_TOKENS) or (flags and op not in (OP_LOOKUP, OP_LOOKUP_AND_PIN)):
            raise ValueError(f"unknown lookup-socket flags 0x{flags:x} for op {op}")
        for value, limit, what in ((s, _MAX_TEXT, "cache_salt"), (a, _MAX_TEXT, "adapter"),
                                   (r, _MAX_TEXT, "request id"), (n, _MAX_TOKENS, "token count")):
            if value > limit:
                raise ValueError(f"{what} {value} is over the limit {limit}")
        counts = _PROMPT_COUNTS.unpack(_read(conn, _PROMPT_COUNTS.size)) if flags & FLAG_PROMPT_COUNTS else None
        body = _read(conn, s + a + r + 4 * n)
        try:
            salt, adapter, request_id = (body[:s].decode(), body[s:s + a].decode(), body[s + a:s + a + r].decode())
        except UnicodeDecodeError:
            raise ValueError("a cache_salt, adapter or request id is not valid UTF-8") from None
        tokens = list(struct.unpack_from(f"<{n}i", body, s + a + r))
        return op, flags, salt or None, adapter or None, request_id or None, tokens, counts

    def _answer(self, op, flags, salt, adapter, request_id, tokens, counts) -> bytes:
        text = b""
        try:
            e = self._engine
            counted = {} if counts is None else {"prompt_tokens": counts[0], "vllm_hit_tokens": counts[1]}
            pin = request_id if op == OP_LOOKUP_AND_PIN else None
            if op == OP_LOOKUP_AND_PIN and not request_id:
                raise InvalidArgumentError("request id must not be empty")
            if flags & FLAG_POOL_TOKENS:
                hit, pool = e.lookup_tiers(tokens, cache_salt=salt, adapter=adapter, pin_request_id=pin, **counted)
                value = hit | pool << 32
            elif op in (OP_LOOKUP, OP_LOOKUP_AND_PIN):
                value = e.lookup(tokens, cache_salt=salt, adapter=adapter, pin_request_id=pin, **counted)
            elif op == OP_UNPIN:
                value = e.unpin(request_id or "")
            else:
                value, text = 0, json.dumps(e.config, separators=(",", ":")).encode()
        except LMCache4jError as err:
            message = str(err).encode()
            return _RESPONSE.pack(getattr(err, "status", _STATUS_INTERNAL), len(message), 0) + message
        return _RESPONSE.pack(0, len(text), value) + text
