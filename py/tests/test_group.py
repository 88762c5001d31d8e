"""MetricGroup: metrics declared together as a class, registered together
on a sub-registry with a prefix and constant labels, typed handles; a
second instance with the same registry, prefix and labels gets the same
series."""

from __future__ import annotations

import pytest

import nanometrics
from nanometrics import CollectorRegistry, Counter, Gauge, Histogram, MetricGroup, declare, generate_latest


class Engine(MetricGroup, prefix="engine"):
    requests = declare(Counter, "requests", "Requests finished.", ["model", "status"])
    ttft = declare(Histogram, "time_to_first_token_seconds", "TTFT.", buckets=(0.01, 0.1, 1.0))


class Worker(Engine):
    busy = declare(Gauge, "busy_workers", "Busy workers.")


def test_a_group_registers_its_metrics_with_prefix_and_labels() -> None:
    reg = CollectorRegistry()
    m = Engine(registry=reg, const_labels={"worker": "w1"})
    m.requests.labels("llama", "ok").inc(3)
    m.ttft.observe(0.05)
    text = generate_latest(reg).decode()
    assert 'engine_requests_total{worker="w1",model="llama",status="ok"} 3.0' in text
    assert 'engine_time_to_first_token_seconds_bucket{worker="w1",le="0.1"} 1\n' in text
    assert "# HELP engine_requests_total Requests finished." in text


def test_a_second_instance_shares_the_series_and_subclasses_inherit() -> None:
    reg = CollectorRegistry()
    a = Engine(registry=reg, const_labels={"worker": "w1"})
    b = Engine(registry=reg, const_labels={"worker": "w1"})
    a.requests.labels("m", "ok").inc()
    b.requests.labels("m", "ok").inc()
    assert 'engine_requests_total{worker="w1",model="m",status="ok"} 2.0' in generate_latest(reg).decode()
    # Another value of the constant label: other series, same family.
    c = Engine(registry=reg, const_labels={"worker": "w2"})
    c.requests.labels("m", "ok").inc()
    text = generate_latest(reg).decode()
    assert 'engine_requests_total{worker="w2",model="m",status="ok"} 1.0' in text
    assert text.count("# TYPE engine_requests_total counter") == 1
    # Another label name for the same family: refused, as in Rust.
    with pytest.raises(ValueError, match="conflicting"):
        Engine(registry=reg, const_labels={"zone": "b"})
    wreg = CollectorRegistry()
    w = Worker(registry=wreg)
    w.busy.set(2)
    w.requests.labels("m", "ok").inc()
    text = generate_latest(wreg).decode()
    assert "engine_busy_workers 2.0" in text, "the base's prefix is inherited"
    assert 'engine_requests_total{model="m",status="ok"} 1.0' in text


class Renamed(Engine):
    requests = declare(Counter, "finished", "Finished.", ["model"])
    ttft = None  # type: ignore[assignment]


def test_a_subclass_replaces_or_removes_an_inherited_declaration() -> None:
    reg = CollectorRegistry()
    r = Renamed(registry=reg)
    r.requests.labels("m").inc()
    text = generate_latest(reg).decode()
    assert "engine_finished_total" in text
    assert "engine_requests_total" not in text and "time_to_first_token" not in text


def test_a_group_that_fails_registers_nothing_and_can_be_unregistered() -> None:
    reg = CollectorRegistry()
    Histogram("engine_time_to_first_token_seconds", "Taken.", registry=reg)
    with pytest.raises(ValueError):
        Engine(registry=reg)
    # "requests" was registered first, then taken back: declaring it works.
    Counter("engine_requests", "Mine.", ["model", "status"], registry=reg)
    reg2 = CollectorRegistry()
    m = Engine(registry=reg2)
    reg2.sub_registry("engine").unregister(m.requests)
    assert "engine_requests_total" not in generate_latest(reg2).decode()
    with pytest.raises(TypeError, match="CollectorRegistry"):
        Engine(registry=None)  # type: ignore[arg-type]


def test_an_enum_and_collect_work_on_a_prefixed_sub_registry() -> None:
    reg = CollectorRegistry()
    child = reg.sub_registry("svc", {"zone": "a"})
    e = nanometrics.Enum("mode", "Mode.", states=["on", "off"], registry=child)
    e.state("off")
    c = Counter("jobs", "Jobs.", registry=child)
    c.inc()
    assert [m.name for m in c.collect()] == ["svc_jobs"]
    text = generate_latest(reg).decode()
    assert 'svc_mode{zone="a",svc_mode="off"} 1.0' in text, text
    # The same name under the tree: refused.
    with pytest.raises(ValueError, match="Duplicated"):
        Counter("svc_jobs", "Again.", registry=reg.sub_registry("", {"zone": "a"}))


def test_the_class_attribute_is_the_declaration_and_errors_are_clear() -> None:
    assert isinstance(Engine.requests, nanometrics.Declared)
    with pytest.raises(TypeError, match="registry"):
        declare(Counter, "x", "X.", registry=CollectorRegistry())
    # A constant label named like a metric's own label.
    with pytest.raises(ValueError):
        Engine(registry=CollectorRegistry(), const_labels={"model": "x"})
    # The same name declared directly on the registry the group uses.
    reg = CollectorRegistry()
    Counter("engine_requests", "Other.", registry=reg)
    with pytest.raises(ValueError):
        Engine(registry=reg)


def test_sub_registry_metrics_are_exposed_with_the_parent() -> None:
    reg = CollectorRegistry()
    child = reg.sub_registry("pool", {"pool": "a"})
    Gauge("free", "Free.", registry=child).set(4)
    assert 'pool_free{pool="a"} 4.0' in generate_latest(reg).decode()
    assert reg.sub_registry("pool", {"pool": "a"}) is child
    Gauge("used", "Used.", registry=reg.sub_registry("pool", {"pool": "a"})).set(1)
    assert 'pool_used{pool="a"} 1.0' in generate_latest(child).decode()
    with pytest.raises(ValueError):
        child.sub_registry("", {"pool": "b"})
