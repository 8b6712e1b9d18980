"""LMCache configurations for features LMCache4j lacks, through the Python binding and the C ABI:
an open that is refused with a message naming the key and the feature, and the ones accepted
(LMCache 0.1's local_device, features written out at their off values) with their effective values."""

import pytest
from conftest import SMALL_POOL

from lmcache4j import Engine, InvalidArgumentError, KvLayout

LAYOUT = KvLayout(num_layers=2, num_kv_heads=1, head_size=16, block_size=16, num_blocks=32)


def test_a_p2p_setting_is_refused_at_open_naming_key_and_feature():
    with pytest.raises(InvalidArgumentError) as refused:
        Engine({**SMALL_POOL, "enable_p2p": True, "p2p_host": "localhost"}, LAYOUT)
    message = str(refused.value)
    assert "enable_p2p" in message and "peer-to-peer" in message, message
    assert "remote_url: redis://" in message, "it says what to use instead: " + message


def test_lmcaches_cache_server_example_file_is_refused_naming_remote_url(tmp_path):
    # examples/kv_cache_reuse/share_across_instances/centralized_sharing/example.yaml, as LMCache ships it
    config = tmp_path / "example.yaml"
    config.write_text('chunk_size: 256\nlocal_device: "cpu"\nremote_url: "lm://localhost:65432"\n'
                      'remote_serde: "cachegen"\n\n# Whether retrieve() is pipelined or not\npipelined_backend: False\n')
    with pytest.raises(InvalidArgumentError, match=r"remote_url: 'lm://localhost:65432' \(from .*example\.yaml\)"
                       r".*LMCache's own cache server"):
        Engine(str(config), LAYOUT)


def test_legacy_local_device_file_url_opens_the_disk_tier(tmp_path, open_engine):
    # examples/storage_backends/disk_local.yaml, with a size small enough for a test
    disk = tmp_path / "local_disk"
    config = tmp_path / "disk_local.yaml"
    config.write_text(f'chunk_size: 256\nlocal_device: "file://{disk}/"\nmax_local_cache_size: 0.01\n'
                      'max_local_cpu_size: 0.05\n')
    engine = open_engine(LAYOUT, str(config))
    effective = engine.config
    assert effective["local_disk"] == f"{disk}/"
    assert effective["max_local_disk_size"] == pytest.approx(0.01)


def test_legacy_local_device_in_the_callers_settings_is_read_as_in_a_file(tmp_path, open_engine):
    # the same keys as settings over the environment (Engine(config={...}), vLLM's lmcache.* extra config)
    disk = tmp_path / "local_disk"
    engine = open_engine(LAYOUT, {"chunk_size": 256, "local_device": f"file://{disk}/", "max_local_cache_size": 0.01,
                                  "max_local_cpu_size": 0.05})
    assert (engine.config["local_disk"], engine.config["max_local_disk_size"]) == (f"{disk}/", pytest.approx(0.01))
    engine = open_engine(LAYOUT, {"chunk_size": 256, "local_device": "cpu", "max_local_cache_size": 0.04})
    assert engine.config["max_local_cpu_size"] == pytest.approx(0.04)
    engine = open_engine(LAYOUT, {"chunk_size": 256, "local_device": f"file://{disk}/", "max_local_disk_size": 0.02,
                                  "max_local_cpu_size": 0.05})
    assert engine.config["max_local_disk_size"] == pytest.approx(0.02), "today's key wins"
    with pytest.raises(InvalidArgumentError, match="both name the disk tier's directory"):
        Engine({**SMALL_POOL, "local_device": f"file://{disk}/", "local_disk": str(tmp_path / "other")}, LAYOUT)


def test_features_left_off_as_lmcaches_examples_write_them_open_fine(open_engine):
    engine = open_engine(LAYOUT, {**SMALL_POOL, "enable_controller": False, "enable_pd": "False",
                                  "use_layerwise": False, "controller_pull_url": "router:9000"})
    assert engine.config["max_local_cpu_size"] == pytest.approx(0.05)
