"""What the connector knows about its deployment (ConnectorContext, from vLLM's configuration),
and the engine settings its decisions follow (ConnectorSettings, from the engine's configuration)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgumentError

KV_ROLES = ("kv_both", "kv_producer", "kv_consumer")
_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the NUL


@dataclass(frozen=True)
class ConnectorSettings:
    """The LMCache keys the decisions depend on, as the workers' engines have them."""

    chunk_size: int = 256
    save_decode_cache: bool = False
    save_unfull_chunk: bool = True
    min_retrieve_tokens: int = 0
    lookup_timeout_ms: int = 3000
    enable_async_loading: bool = False   # LMCache's key: hits load in the background (vLLM's load_kv_async)
    lower_tier: bool = False             # the engines have a disk or remote tier (hits may be slow to read)

    @property
    def loads_in_background(self) -> bool:
        """Whether hits not all in the CPU pool load asynchronously: asked for, and possible only
        where a hit may lie below the pool."""
        return self.enable_async_loading and self.lower_tier

    @classmethod
    def from_config(cls, config: dict) -> ConnectorSettings:
        """From an engine's effective configuration (``Engine.config``, or the lookup socket's)."""
        return cls(chunk_size=int(config["chunk_size"]), save_decode_cache=bool(config["save_decode_cache"]),
                   save_unfull_chunk=bool(config["save_unfull_chunk"]),
                   min_retrieve_tokens=int(config["min_retrieve_tokens"]),
                   lookup_timeout_ms=int(config["lookup_timeout_ms"]),
                   enable_async_loading=bool(config.get("enable_async_loading", False)),
                   lower_tier=bool(config.get("remote_url"))
                   or (bool(config.get("local_disk")) and float(config.get("max_local_disk_size") or 0) > 0))


@dataclass(frozen=True)
class ConnectorContext:
    """One vLLM instance's view: its role, block size, model, ranks and where the sockets live."""

    kv_role: str = "kv_both"
    block_size: int = 16
    model: str = "default"
    instance_id: str = "lmcache4j"
    world_size: int = 1                # ranks holding an engine: tensor x pipeline parallel
    socket_dir: str | None = None
    settings: dict = field(default_factory=dict)   # lmcache.* of kv_connector_extra_config, unprefixed
    discard_partial_chunks: bool = False
    skip_last_n_tokens: int = 0
    kv_cache_dtype: str | None = None  # vLLM's cache_dtype when it is not the model's ("fp8"...)
    startup_timeout_s: float = 120.0   # how long the scheduler waits for the workers' sockets
    kv_events: bool = False            # vLLM publishes KV cache events (--kv-events-config enable_kv_cache_events)
    int_block_hashes: bool = False     # VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES: 64-bit integer block hashes (else bytes)

    def __post_init__(self):
        if self.kv_role not in KV_ROLES:
            raise InvalidArgumentError(f"kv_role {self.kv_role!r} is not one of {', '.join(KV_ROLES)}")
        if self.block_size <= 0 or self.world_size <= 0:
            raise InvalidArgumentError("block_size and world_size must be positive")

    @property
    def can_load(self) -> bool:
        return self.kv_role != "kv_producer"

    @property
    def can_save(self) -> bool:
        return self.kv_role != "kv_consumer"

    def socket_path(self, rank: int) -> str:
        """The lookup socket of the engine of ``rank``, in the private socket directory."""
        directory = private_socket_dir(self.socket_dir)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.instance_id)
        path = os.path.join(directory, f"{name}.r{rank}.sock")
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha256(self.instance_id.encode()).hexdigest()[:16]
            path = os.path.join(directory, f"{digest}.r{rank}.sock")
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            raise InvalidArgumentError(f"the socket directory {directory} is too long a path for a Unix socket")
        return path

    def socket_paths(self) -> list[str]:
        return [self.socket_path(r) for r in range(self.world_size)]

    @classmethod
    def from_vllm_config(cls, vllm_config) -> ConnectorContext:
        """From vLLM's VllmConfig (read by attribute, so any object of that shape will do)."""
        kv = vllm_config.kv_transfer_config
        extra = dict(getattr(kv, "kv_connector_extra_config", None) or {})
        parallel = vllm_config.parallel_config
        world = int(getattr(parallel, "tensor_parallel_size", 1)) * int(getattr(parallel, "pipeline_parallel_size", 1))
        instance = str(getattr(kv, "engine_id", None) or "lmcache4j")
        dp_rank = getattr(parallel, "data_parallel_rank", 0) or 0
        cache_dtype = str(getattr(vllm_config.cache_config, "cache_dtype", "auto"))
        return cls(
            kv_role=str(getattr(kv, "kv_role", None) or "kv_both"),
            block_size=int(vllm_config.cache_config.block_size),
            model=str(getattr(vllm_config.model_config, "model", "default")),
            instance_id=f"{instance}-dp{dp_rank}",
            world_size=world,
            socket_dir=extra.get("lmcache4j.socket_dir"),
            settings=_engine_settings(extra),
            discard_partial_chunks=_switch(extra, "discard_partial_chunks"),
            skip_last_n_tokens=_count(extra, "skip_last_n_tokens"),
            kv_cache_dtype=None if cache_dtype == "auto" else cache_dtype,
            kv_events=bool(getattr(getattr(vllm_config, "kv_events_config", None), "enable_kv_cache_events", False)),
            # vLLM's own default is 1 (integers), as it reads the variable.
            int_block_hashes=os.environ.get("VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES", "1").strip() not in ("0", ""),
        )


_ON, _OFF = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def _engine_settings(extra: dict) -> dict:
    """The engine's settings overlay: the lmcache.* keys unprefixed, and lmcache4j.server (the
    node's ``lmcache4j server``, which makes the engine a client of it) as it is."""
    settings = {k[len("lmcache."):]: v for k, v in extra.items() if k.startswith("lmcache.")}
    if "lmcache4j.server" in extra:
        settings["lmcache4j.server"] = extra["lmcache4j.server"]
    return settings


def _switch(extra: dict, key: str) -> bool:
    """An on/off option of kv_connector_extra_config, spelled as LMCache4j's configuration spells
    booleans: anything else is an error (the word "false" is not truthy)."""
    value = extra.get(key, False)
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word in _ON or word in _OFF:
        return word in _ON
    raise InvalidArgumentError(f"kv_connector_extra_config {key}: {value!r} is not true or false")


def _count(extra: dict, key: str) -> int:
    """A count option of kv_connector_extra_config: a whole number >= 0 (or its digits as text)."""
    value = extra.get(key, 0)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"kv_connector_extra_config {key}: {value!r} is not a whole number >= 0")
    return value


def private_socket_dir(override: str | None = None) -> str:
    """A directory only this user can enter (0700), created if missing: LMCACHE4J_SOCKET_DIR, else
    $XDG_RUNTIME_DIR/lmcache4j, else /tmp/lmcache4j-<uid>. An existing one that others can enter,
    or that belongs to someone else, is refused."""
    chosen = override or os.environ.get("LMCACHE4J_SOCKET_DIR")
    if not chosen:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        chosen = os.path.join(runtime, "lmcache4j") if runtime else f"/tmp/lmcache4j-{os.getuid()}"
    path = Path(chosen)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if st.st_uid != os.getuid():
        raise InvalidArgumentError(f"socket directory {path} belongs to uid {st.st_uid}, not to this user")
    if st.st_mode & 0o077:
        raise InvalidArgumentError(f"socket directory {path} must be private to its owner (mode 0700), "
                                   f"it is {st.st_mode & 0o7777:04o}")
    return str(path)
