"""LMCache4j's metrics on vLLM's /metrics: a worker-like process mirrors a real engine into
prometheus_client's multiprocess files, a second process collects them as vLLM's API server does,
and the result has LMCache's names, kinds, labels and buckets, equal to the Java endpoint's."""

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fake_vllm import Request
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from test_connector import LAYOUT, SETTINGS, context, vllm_instance  # noqa: F401 - fixtures

from lmcache4j import Engine, InvalidArgumentError, metrics
from lmcache4j.lookup_client import LookupClient

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
ODD_MODEL = 'org/"quoted"\nmodel\\v1'   # quotes, a newline and a backslash: escaped in both exports
SERVED = 'served "x"\\'
LABELS = {"model_name", "worker_id", "role", "served_model_name"}

# LMCache's PrometheusLogger (lmcache/observability.py, read December 2026): kinds and buckets.
LMCACHE_BUCKETS = {
    "lmcache:time_to_retrieve": [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                                 7.5, 10.0],
    "lmcache:time_to_store": [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                              10.0],
    "lmcache:time_to_lookup": [0.00001 * 2**i for i in range(20)],
    "lmcache:retrieve_speed": [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
    "lmcache:store_speed": [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
    "lmcache:request_cache_hit_rate": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "lmcache:remote_time_to_get": [1, 5, 10, 20, 40, 60, 80, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000],
    "lmcache:remote_time_to_put": [1, 5, 10, 20, 40, 60, 80, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000],
}
LMCACHE_COUNTERS = ["num_retrieve_requests", "num_store_requests", "num_lookup_requests", "num_requested_tokens",
                    "num_hit_tokens", "num_stored_tokens", "num_lookup_tokens", "num_lookup_hits",
                    "num_vllm_hit_tokens", "num_prompt_tokens", "num_remote_read_requests", "num_remote_read_bytes",
                    "num_remote_write_requests", "num_remote_write_bytes", "local_cpu_evict_count",
                    "local_cpu_evict_keys_count", "local_cpu_evict_failed_count", "forced_unpin_count",
                    "lookup_0_hit_requests"]
LMCACHE_GAUGES = ["retrieve_hit_rate", "lookup_hit_rate", "local_cache_usage", "remote_cache_usage",
                  "local_storage_usage", "active_memory_objs_count", "pinned_memory_objs_count", "lmcache_is_healthy"]

WORKER = textwrap.dedent("""
    import logging
    import sys
    import numpy as np
    from lmcache4j import Engine, KvLayout, metrics
    layout = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
    model, served, out = sys.argv[1], sys.argv[2], sys.argv[3]
    logging.basicConfig(level=logging.INFO)
    with Engine(config={"chunk_size": 256, "max_local_cpu_size": 0.05}, layout=layout, model=model) as e:
        caches = [np.random.default_rng(1).integers(0, 65535, layout.cache_shape, dtype=np.uint16) for _ in range(2)]
        e.register_kv_caches(caches)
        mirror = metrics.mirror_for(e, metrics.labels_for(model, 0, served_model_name=[served, "other"]))
        assert isinstance(mirror, metrics.MetricsMirror), mirror
        tokens, slots = np.arange(600), np.arange(600)
        assert e.lookup(tokens, prompt_tokens=600, vllm_hit_tokens=16) == 0
        e.store(tokens, slots)
        assert e.lookup(tokens) == 600
        assert e.retrieve(tokens, slots) == 600
        mirror.update(force=True)
        e.lookup(tokens)                      # counted by the last update, at close
        open(out, "w").write(e.metrics_text())
        mirror.close()
""")

COLLECTOR = ("import sys\nfrom prometheus_client import CollectorRegistry, generate_latest, multiprocess\n"
             "r = CollectorRegistry()\nmultiprocess.MultiProcessCollector(r)\nsys.stdout.write(generate_latest(r).decode())\n")


def shape(text: str) -> dict:
    """name -> (kind, label names, le values) of every lmcache: family, as a Prometheus parser reads it."""
    out = {}
    for f in text_string_to_metric_families(text):
        if f.name.startswith("lmcache:"):
            names = {k for s in f.samples for k in s.labels if k != "le"}
            les = sorted({float(s.labels["le"]) for s in f.samples if "le" in s.labels})
            out[f.name] = (f.type, names, les)
    return out


def samples(text: str) -> dict:
    return {(s.name, s.labels.get("le", s.labels.get("reason"))): (s.value, s.labels)
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_multiprocess_export_has_lmcaches_names_kinds_labels_and_buckets(tmp_path):
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(prom_dir),
               PYTHONPATH=os.pathsep.join([SRC] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    java_file = tmp_path / "java.txt"
    worker = subprocess.run([sys.executable, "-c", WORKER, ODD_MODEL, SERVED, str(java_file)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert "written to PROMETHEUS_MULTIPROC_DIR" in worker.stderr, worker.stderr
    assert list(prom_dir.glob("*.db")), "the worker wrote prometheus_client's multiprocess files"
    collected = subprocess.run([sys.executable, "-c", COLLECTOR], env=env, capture_output=True, text=True, timeout=60)
    assert collected.returncode == 0, collected.stderr
    python_text, java_text = collected.stdout, java_file.read_text()

    py = shape(python_text)
    for name in LMCACHE_COUNTERS:
        assert py["lmcache:" + name][:2] == ("counter", LABELS), name
    for name in LMCACHE_GAUGES:
        assert py["lmcache:" + name][:2] == ("gauge", LABELS), name
    for name, buckets in LMCACHE_BUCKETS.items():
        assert py[name] == ("histogram", LABELS, sorted(buckets) + [float("inf")]), name
    assert py["lmcache:remote_write_refusals"][1] == LABELS | {"reason"}
    assert not any(n.endswith("_seconds") for n in py), "no unit suffixes on LMCache's names"
    assert shape(java_text) == py, "the Java endpoint's names, kinds, labels and buckets equal the Python export's"

    values = samples(python_text)
    assert values[("lmcache:num_hit_tokens_total", None)][0] == 600
    assert values[("lmcache:num_requested_tokens_total", None)][0] == 600
    assert values[("lmcache:num_lookup_requests_total", None)][0] == 3, "the lookup after the update came at close"
    assert values[("lmcache:num_prompt_tokens_total", None)][0] == 600
    assert values[("lmcache:num_vllm_hit_tokens_total", None)][0] == 16
    assert values[("lmcache:lookup_0_hit_requests_total", None)][0] == 1
    assert values[("lmcache:local_cache_usage", None)][0] > 0
    assert values[("lmcache:remote_cache_usage", None)][0] == 0, "no remote tier"
    assert values[("lmcache:retrieve_speed_count", None)][0] == 1
    assert values[("lmcache:retrieve_speed_sum", None)][0] > 0
    assert values[("lmcache:time_to_store_bucket", "10.0")][0] == values[("lmcache:time_to_store_count", None)][0] == 1
    labels = values[("lmcache:num_hit_tokens_total", None)][1]
    assert labels == {"model_name": ODD_MODEL, "worker_id": "0", "role": "worker", "served_model_name": SERVED}
    java = samples(java_text)
    assert java[("lmcache:num_hit_tokens_total", None)][0] == 600
    assert java[("lmcache:num_hit_tokens_total", None)][1]["model_name"] == ODD_MODEL


def test_the_connectors_worker_exports_and_the_scheduler_tells_prompt_counts(vllm_instance):  # noqa: F811
    v = vllm_instance()
    labels = metrics.labels_for("m", 0)
    before = {n: REGISTRY.get_sample_value(n, labels) or 0.0 for n in
              ("lmcache:num_prompt_tokens_total", "lmcache:num_vllm_hit_tokens_total", "lmcache:num_hit_tokens_total")}
    assert isinstance(v.worker.metrics, metrics.MetricsMirror)
    v.run(Request("a", list(range(600))))
    v.run(Request("b", list(range(600)) + [7]), local_hit=256)
    v.worker.metrics.update(force=True)
    after = {n: REGISTRY.get_sample_value(n, labels) for n in before}
    assert after["lmcache:num_prompt_tokens_total"] - before["lmcache:num_prompt_tokens_total"] == 600 + 601
    assert after["lmcache:num_vllm_hit_tokens_total"] - before["lmcache:num_vllm_hit_tokens_total"] == 256
    assert after["lmcache:num_hit_tokens_total"] > before["lmcache:num_hit_tokens_total"]


def test_bad_prompt_counts_are_refused_and_count_nothing(tmp_path):
    with Engine(config=SETTINGS, layout=LAYOUT) as e:
        for prompt, hit in ((-1, 0), (10, 11), (2**31, 0), (True, 0)):
            with pytest.raises(InvalidArgumentError):
                e.count_prompt(prompt, hit)
        with pytest.raises(InvalidArgumentError):
            LookupClient(str(tmp_path / "none.sock")).lookup(np.arange(5), prompt_tokens=5, vllm_hit_tokens=-1)
        counted = {m["name"]: m for m in e.metrics()["metrics"]}
        assert counted["lmcache:num_prompt_tokens"]["samples"] == [["", 0.0]]
        assert counted["lmcache:num_lookup_requests"]["samples"] == [["", 0.0]]


def test_the_counts_of_a_lookup_that_fails_count_nothing():
    with Engine(config=SETTINGS, layout=LAYOUT) as e:
        with pytest.raises(TypeError):
            e.lookup(np.arange(5), cache_salt=5, prompt_tokens=5, vllm_hit_tokens=1)
        with pytest.raises(InvalidArgumentError):
            e.lookup(np.arange(5), pin_request_id="a\0b", prompt_tokens=5, vllm_hit_tokens=1)
        with pytest.raises(InvalidArgumentError, match="vLLM hit tokens 6"):
            e.lookup(np.arange(5), pin_request_id="r", prompt_tokens=5, vllm_hit_tokens=6)
        assert e.stats().pins == 0, "a refused count pins nothing"
        counted = {m["name"]: m for m in e.metrics()["metrics"]}
        assert counted["lmcache:num_prompt_tokens"]["samples"] == [["", 0.0]]
        assert counted["lmcache:num_vllm_hit_tokens"]["samples"] == [["", 0.0]]
        assert counted["lmcache:num_lookup_requests"]["samples"] == [["", 0.0]]


def test_without_prometheus_client_one_line_and_no_export(monkeypatch, caplog):
    monkeypatch.setattr(metrics, "prometheus_client", None)
    monkeypatch.setattr(metrics, "_said_missing", False)
    with Engine(config=SETTINGS, layout=LAYOUT) as e, caplog.at_level(logging.WARNING, "lmcache4j.metrics"):
        assert metrics.mirror_for(e, metrics.labels_for("m", 0)) is metrics.NO_MIRROR
        assert metrics.mirror_for(e, metrics.labels_for("m", 1)) is metrics.NO_MIRROR
    lines = [r for r in caplog.records if "prometheus_client is not installed" in r.getMessage()]
    assert len(lines) == 1


def test_a_failing_update_costs_no_request_and_is_said_once(caplog):
    e = Engine(config=SETTINGS, layout=LAYOUT)
    mirror = metrics.mirror_for(e, metrics.labels_for("closed-early", 0))
    e.close()
    with caplog.at_level(logging.WARNING, "lmcache4j.metrics"):
        mirror.update(force=True)   # the engine is closed: logged, not raised
        mirror.update(force=True)
        mirror.close()              # nothing to do for a closed engine
    assert len([r for r in caplog.records if "metrics update failed" in r.getMessage()]) == 1


def test_prompt_counts_cross_the_lookup_socket(tmp_path):
    from lmcache4j.connector.context import private_socket_dir

    path = os.path.join(private_socket_dir(str(tmp_path / "sockets")), "m.sock")
    with Engine(config=SETTINGS, layout=LAYOUT) as e:
        e.serve_lookups(path)
        client = LookupClient(path)
        try:
            assert client.lookup(np.arange(300), prompt_tokens=300, vllm_hit_tokens=32) == 0
            assert client.lookup(np.arange(300)) == 0   # no counts: none added
            with pytest.raises(InvalidArgumentError, match="vLLM hit tokens 301"):
                client.lookup(np.arange(300), prompt_tokens=300, vllm_hit_tokens=301)
        finally:
            client.close()
        counted = {m["name"]: m["samples"] for m in e.metrics()["metrics"] if m["type"] != "histogram"}
        assert counted["lmcache:num_prompt_tokens"] == [["", 300.0]]
        assert counted["lmcache:num_vllm_hit_tokens"] == [["", 32.0]]
        assert counted["lmcache:num_lookup_requests"] == [["", 2.0]], "the refused lookup looked nothing up"


def test_a_name_another_library_registered_costs_only_that_metric(tmp_path):
    script = textwrap.dedent("""
        import logging, sys
        from prometheus_client import REGISTRY, Counter
        from lmcache4j import Engine, KvLayout, metrics
        logging.basicConfig(level=logging.WARNING)
        Counter("lmcache:num_hit_tokens", "someone else's", ["model_name"])   # LMCache itself, say
        layout = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
        with Engine(config={"chunk_size": 256, "max_local_cpu_size": 0.05}, layout=layout) as e:
            e.lookup(list(range(300)))
            mirror = metrics.mirror_for(e, metrics.labels_for("m", 0))
            mirror.update(force=True)
            print(REGISTRY.get_sample_value("lmcache:num_lookup_requests_total", metrics.labels_for("m", 0)))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1.0", "the other metrics are exported"
    assert run.stderr.count("metrics update failed") == 1, run.stderr
    assert "lmcache:num_hit_tokens" in run.stderr
