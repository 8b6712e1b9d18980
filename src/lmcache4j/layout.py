"""KvLayout: the shape of the serving engine's paged KV cache, as the engine needs it."""

from __future__ import annotations

from dataclasses import dataclass

from .checked import INT32_MAX, integer
from .errors import InvalidArgumentError

#: Element size in bytes of each KV dtype the engine knows.
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float8_e4m3fn": 1, "float8_e5m2": 1}
_DTYPE_ALIASES = {"half": "float16", "fp16": "float16", "bf16": "bfloat16", "float": "float32", "fp32": "float32",
                  "fp8": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn", "float8_e4m3": "float8_e4m3fn",
                  "fp8_e5m2": "float8_e5m2"}

#: The paged formats, and the shape of one layer's cache in each.
KV_FORMATS = {
    "flash_attn": "[2, num_blocks, block_size, num_kv_heads, head_size]",
    "blocks_first": "[num_blocks, 2, block_size, num_kv_heads, head_size]",
    "mla": "[num_blocks, block_size, head_size]",
}


def dtype_name(dtype) -> str:
    """The engine's name for a dtype given as a string, torch dtype or numpy dtype name."""
    name = str(dtype).strip().lower()
    if name.startswith("torch."):
        name = name[len("torch."):]
    name = _DTYPE_ALIASES.get(name, name)
    if name not in DTYPE_BYTES:
        raise InvalidArgumentError(f"unsupported KV dtype {dtype!r} (supported: {', '.join(DTYPE_BYTES)})")
    return name


@dataclass(frozen=True)
class KvLayout:
    """One layer's paged KV cache, identical for every layer (see ``docs/architecture.md``).

    ``dtype`` is ``"float16"``, ``"bfloat16"``, ``"float32"`` (or an fp8 type); ``kv_format`` is
    ``"flash_attn"``, ``"blocks_first"`` or ``"mla"`` (then ``num_kv_heads`` is 1).
    """

    num_layers: int
    num_kv_heads: int
    head_size: int
    block_size: int
    num_blocks: int
    dtype: str = "bfloat16"
    kv_format: str = "flash_attn"

    def __post_init__(self):
        for name in ("num_layers", "num_kv_heads", "head_size", "block_size", "num_blocks"):
            integer(getattr(self, name), name, 1, INT32_MAX)  # int32_t in lmcache4j_layout
        object.__setattr__(self, "dtype", dtype_name(self.dtype))
        fmt = str(self.kv_format).strip().lower()
        if fmt not in KV_FORMATS:
            raise InvalidArgumentError(f"unsupported KV cache format {self.kv_format!r} "
                                       f"(supported: {', '.join(KV_FORMATS)})")
        object.__setattr__(self, "kv_format", fmt)
        if fmt == "mla" and self.num_kv_heads != 1:
            raise InvalidArgumentError(f"num_kv_heads must be 1 for the mla format, got {self.num_kv_heads}")
        if self.num_blocks * self.block_size > 2**31 - 1:
            raise InvalidArgumentError("num_blocks * block_size is more slots than the engine addresses")

    @property
    def element_size(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def planes(self) -> int:
        return 1 if self.kv_format == "mla" else 2

    @property
    def cache_shape(self) -> tuple[int, ...]:
        """The shape each layer's cache must have."""
        nb, bs, h, d = self.num_blocks, self.block_size, self.num_kv_heads, self.head_size
        if self.kv_format == "flash_attn":
            return (2, nb, bs, h, d)
        if self.kv_format == "blocks_first":
            return (nb, 2, bs, h, d)
        return (nb, bs, d)

    @property
    def token_bytes(self) -> int:
        """Bytes of one token's KV over all layers (Mistral-7B bfloat16: 128 KiB)."""
        return self.num_layers * self.planes * self.num_kv_heads * self.head_size * self.element_size

    @property
    def layer_bytes(self) -> int:
        return self.planes * self.num_blocks * self.block_size * self.num_kv_heads * self.head_size * self.element_size
