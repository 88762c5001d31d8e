"""The default collectors of prometheus_client, in REGISTRY from import:
the process's figures (read by Rust from /proc), python_info, and the
garbage collector's counters (equal to gc.get_stats()); each can be
unregistered, and made again in another registry."""

from __future__ import annotations

import gc
import platform
import sys
import time

import pytest

import nanometrics
from nanometrics import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    REGISTRY,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


@linux
def test_the_process_figures_are_in_the_default_registry() -> None:
    v = REGISTRY.get_sample_value
    assert (v("process_resident_memory_bytes") or 0) > 1e6
    assert (v("process_virtual_memory_bytes") or 0) >= (v("process_resident_memory_bytes") or 0)
    assert (v("process_open_fds") or 0) >= 3
    start = v("process_start_time_seconds") or 0
    assert time.time() - 86400 < start <= time.time()
    assert (v("process_cpu_seconds_total") or -1) >= 0
    text = generate_latest().decode()
    assert "# TYPE process_cpu_seconds_total counter" in text
    assert "# TYPE process_resident_memory_bytes gauge" in text


def test_python_info_and_the_gc_counters_are_prometheus_clients() -> None:
    major, minor, patch = platform.python_version_tuple()
    labels = {
        "implementation": platform.python_implementation(),
        "major": major,
        "minor": minor,
        "patchlevel": patch,
        "version": platform.python_version(),
    }
    assert REGISTRY.get_sample_value("python_info", labels) == 1.0
    gc.collect()
    stats = gc.get_stats()
    for gen, s in enumerate(stats):
        got = REGISTRY.get_sample_value("python_gc_collections_total", {"generation": str(gen)})
        assert got == float(s["collections"]), (gen, got, s)
        got = REGISTRY.get_sample_value("python_gc_objects_collected_total", {"generation": str(gen)})
        assert got == float(s["collected"]), (gen, got, s)


@linux
def test_each_can_be_unregistered_and_made_elsewhere() -> None:
    reg = CollectorRegistry()
    p = ProcessCollector(namespace="app", registry=reg)
    pl = PlatformCollector(registry=reg)
    g = GCCollector(registry=reg)
    text = generate_latest(reg).decode()
    assert "app_process_open_fds " in text and "python_info{" in text and "python_gc_collections_total{" in text
    for c in (p, pl, g):
        reg.unregister(c)
    text = generate_latest(reg).decode()
    assert "process_" not in text and "python_" not in text, text
    for c in (p, pl, g):
        with pytest.raises(KeyError):
            reg.unregister(c)
    # A name taken: the collector is refused, as prometheus_client's duplicate.
    reg = CollectorRegistry()
    nanometrics.Gauge("process_open_fds", "Mine.", registry=reg)
    with pytest.raises(ValueError):
        ProcessCollector(registry=reg)
    with pytest.raises(ValueError, match="/proc/self"):
        ProcessCollector(pid=lambda: 1, registry=CollectorRegistry())


def test_the_defaults_are_in_registry() -> None:
    assert isinstance(PROCESS_COLLECTOR, ProcessCollector)
    assert isinstance(PLATFORM_COLLECTOR, PlatformCollector)
    assert isinstance(GC_COLLECTOR, GCCollector)
    for c in (PLATFORM_COLLECTOR, GC_COLLECTOR) + ((PROCESS_COLLECTOR,) if sys.platform.startswith("linux") else ()):
        assert c in REGISTRY._collector_to_names, c
    # Unregistered from another registry: KeyError, and nothing moves.
    with pytest.raises(KeyError):
        CollectorRegistry().unregister(GC_COLLECTOR)
    assert REGISTRY.get_sample_value("python_gc_collections_total", {"generation": "0"}) is not None


def test_the_gc_counters_follow_automatic_collections() -> None:
    before = gc.get_stats()[0]["collections"]
    garbage = []
    for i in range(200_000):  # cycles: generation 0 collects on its own
        a: list = []
        a.append(a)
        garbage.append(i)
    del garbage
    stats = gc.get_stats()
    assert stats[0]["collections"] > before
    for gen, s in enumerate(stats):
        for key, name in (("collections", "python_gc_collections_total"),
                          ("collected", "python_gc_objects_collected_total"),
                          ("uncollectable", "python_gc_objects_uncollectable_total")):
            assert REGISTRY.get_sample_value(name, {"generation": str(gen)}) == float(s[key]), (gen, key)


@linux
def test_a_sub_registry_prefixes_the_default_collectors() -> None:
    reg = CollectorRegistry()
    child = reg.sub_registry("svc")
    ProcessCollector(registry=child)
    PlatformCollector(registry=child)
    GCCollector(registry=child)
    text = generate_latest(reg).decode()
    for name in ("svc_process_open_fds", "svc_python_info{", "svc_python_gc_collections_total{"):
        assert name in text, (name, text)


def test_a_native_collect_hook_runs_at_each_read_and_its_error_fails_that_read() -> None:
    reg = CollectorRegistry()
    fam = reg._native.collected("gauge", "hooked", "Set by a hook.", [])
    calls = []

    def hook() -> None:
        calls.append(1)
        fam.set([([], float(len(calls)))])

    reg._native.on_collect(1, hook)
    assert reg.get_sample_value("hooked") == 1.0
    assert reg.get_sample_value("hooked") == 2.0

    def broken() -> None:
        raise RuntimeError("collector down")

    reg._native.on_collect(2, broken)
    with pytest.raises(RuntimeError, match="collector down"):
        generate_latest(reg)
    reg._native.on_collect(2, None)
    assert b"hooked 4.0" in generate_latest(reg)
    with pytest.raises(ValueError):
        fam.set([(["extra"], 1.0)])
