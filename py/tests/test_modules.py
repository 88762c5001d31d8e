"""The package's module layout: every name lives in one module and the
package re-exports that very object; the modules named as
prometheus_client's offer the same names; the modules import each other
without cycles."""

from __future__ import annotations

import ast
import graphlib
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

import nanometrics

PKG = Path(nanometrics.__file__).resolve().parent

# `nanometrics.__all__` (when the package was one module, and the real-time
# names since) and the module each name lives in now.
HOME = {
    "CollectorRegistry": "registry",
    "REGISTRY": "registry",
    "Metric": "metrics_core",
    "Sample": "samples",
    "Counter": "metrics",
    "Gauge": "metrics",
    "Summary": "metrics",
    "Histogram": "metrics",
    "Info": "metrics",
    "Enum": "metrics",
    "CONTENT_TYPE_LATEST": "exposition",
    "CONTENT_TYPE_PLAIN_0_0_4": "exposition",
    "generate_latest": "exposition",
    "choose_encoder": "exposition",
    "start_http_server": "exposition",
    "MetricsServer": "exposition",
    "make_wsgi_app": "exposition",
    "make_asgi_app": "exposition",
    "write_to_textfile": "exposition",
    "watch": "realtime",
    "Watch": "realtime",
    "Threshold": "realtime",
    "set_tick_interval": "realtime",
    "tick_interval": "realtime",
    "stream": "stream",
    "Stream": "stream",
    "StreamError": "stream",
    "MetricGroup": "group",
    "declare": "group",
    "Declared": "group",
    "ProcessCollector": "process_collector",
    "PROCESS_COLLECTOR": "process_collector",
    "PlatformCollector": "platform_collector",
    "PLATFORM_COLLECTOR": "platform_collector",
    "GCCollector": "gc_collector",
    "GC_COLLECTOR": "gc_collector",
    "disable_created_metrics": "metrics",
    "enable_created_metrics": "metrics",
}

# Names outside __all__ that the one-module package had (its own, not the
# standard library's it imported) and that the package still offers.
OUTSIDE_ALL = {
    "MetricWrapperBase": "metrics",
    "Timer": "context_managers",
    "ExceptionCounter": "context_managers",
    "InprogressTracker": "context_managers",
    "F": "context_managers",
    "default_timer": "context_managers",
    "INF": "utils",
    "_native": "_native",
    "_escape": "_names",
    "_build_full_name": "_names",
    "_validate_labelnames": "_names",
    "_decorate": "context_managers",
    "_float_to_go_string": "utils",
    "_metrics_from": "metrics_core",
    "_CounterMethods": "metrics",
    "_GaugeMethods": "metrics",
    "_ObserveMethods": "metrics",
    "_CounterChild": "metrics",
    "_GaugeChild": "metrics",
    "_HistogramChild": "metrics",
    "_SummaryChild": "metrics",
    "_InfoChild": "metrics",
    "_EnumChild": "metrics",
    "_RUNNING": "exposition",
    "_RUNNING_LOCK": "exposition",
}

# prometheus_client's modules whose names nanometrics' same-named modules offer.
PC_MODULES = ["core", "registry", "metrics", "exposition", "samples", "metrics_core"]


def test_all_is_unchanged() -> None:
    assert list(nanometrics.__all__) == list(HOME)


@pytest.mark.parametrize("name", list(HOME) + list(OUTSIDE_ALL))
def test_each_name_is_one_object_from_its_module_and_the_package(name: str) -> None:
    home = {**HOME, **OUTSIDE_ALL}[name]
    module = importlib.import_module(f"nanometrics.{home}")
    obj = module if name == "_native" else getattr(module, name)
    assert getattr(nanometrics, name) is obj
    ns: Dict[str, object] = {}
    exec(f"from nanometrics import {name}", ns)
    assert ns[name] is obj
    if isinstance(obj, type) or callable(obj) and hasattr(obj, "__code__"):
        # Defined in its home module, not only re-exported from there.
        assert obj.__module__ == module.__name__, f"{name} is defined in {obj.__module__}"


def test_one_registry_is_the_default_everywhere() -> None:
    from nanometrics import exposition, metrics, registry
    from nanometrics.openmetrics import exposition as om

    assert registry.REGISTRY is nanometrics.REGISTRY
    for f in (metrics.MetricWrapperBase.__init__, metrics.Gauge.__init__, metrics.Histogram.__init__,
              metrics.Info.__init__, metrics.Enum.__init__):
        assert registry.REGISTRY in (f.__defaults__ or ()), f
    for g in (exposition.generate_latest, exposition.write_to_textfile, exposition.start_http_server,
              exposition.make_wsgi_app, exposition.make_asgi_app):
        assert registry.REGISTRY in (g.__defaults__ or ()), g
    assert exposition.REGISTRY is nanometrics.REGISTRY
    gauge = nanometrics.Gauge("modules_default_registry_check", "Check.")
    try:
        assert b"modules_default_registry_check 0.0" in om.generate_latest()
    finally:
        nanometrics.REGISTRY.unregister(gauge)


def test_repr_of_a_metric_is_unchanged() -> None:
    c = nanometrics.Counter("repr_check", "Repr.", registry=None)
    assert repr(c) == "nanometrics.Counter(repr_check)"

    class Mine(nanometrics.Gauge):
        pass

    assert repr(Mine("repr_mine", "Repr.", registry=None)) == f"{__name__}.Mine(repr_mine)"


def shared_names(mod: str) -> List[str]:
    """The names of nanometrics.__all__ that prometheus_client.<mod> has."""
    pc = importlib.import_module(f"prometheus_client.{mod}")
    return sorted(set(vars(pc)) & set(nanometrics.__all__))


@pytest.mark.parametrize("mod", PC_MODULES)
def test_prometheus_client_module_names_are_in_the_same_named_module(mod: str) -> None:
    names = shared_names(mod)
    assert names, f"prometheus_client.{mod} has none of nanometrics' names: is it the right module?"
    ours = importlib.import_module(f"nanometrics.{mod}")
    missing = [n for n in names if not hasattr(ours, n)]
    assert not missing, f"nanometrics.{mod} lacks {missing}, which prometheus_client.{mod} has"
    for n in names:
        assert getattr(ours, n) is getattr(nanometrics, n), n
    # Exported explicitly, so that type checkers accept the import too.
    unlisted = [n for n in names if n not in getattr(ours, "__all__", ())]
    assert not unlisted, f"nanometrics.{mod}.__all__ lacks {unlisted}"


def test_openmetrics_exposition_has_prometheus_client_names() -> None:
    import prometheus_client.openmetrics.exposition as pc_om

    from nanometrics.openmetrics import exposition as om

    # Same names as the package's, other objects: OpenMetrics, not text 0.0.4.
    for n in ("CONTENT_TYPE_LATEST", "generate_latest"):
        assert hasattr(pc_om, n) and n in om.__all__
    assert om.CONTENT_TYPE_LATEST.startswith("application/openmetrics-text")


def test_the_four_prometheus_client_modules_are_covered() -> None:
    # What the modules must offer, computed above; spelled out here so that a
    # change on either side is noticed.
    assert shared_names("core") == sorted(
        ["CollectorRegistry", "Counter", "Enum", "Gauge", "Histogram", "Info", "Metric", "REGISTRY", "Sample", "Summary"]
    )
    assert set(shared_names("registry")) >= {"CollectorRegistry", "REGISTRY"}
    assert set(shared_names("metrics")) >= {"Counter", "Enum", "Gauge", "Histogram", "Info", "Summary"}
    assert set(shared_names("exposition")) >= {
        "CONTENT_TYPE_LATEST", "CONTENT_TYPE_PLAIN_0_0_4", "generate_latest", "choose_encoder",
        "start_http_server", "make_wsgi_app", "make_asgi_app", "write_to_textfile",
    }


def test_the_same_named_imports_type_check(tmp_path: Path) -> None:
    lines = [f"from nanometrics.{mod} import {', '.join(shared_names(mod))}" for mod in PC_MODULES]
    src = tmp_path / "uses_modules.py"
    src.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null", str(src)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr


# === the import graph ===


def module_name(path: Path) -> str:
    parts = ["nanometrics", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports (at any depth of its code:
    functions and ``if TYPE_CHECKING:`` blocks included)."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    modules = set(files) | {"nanometrics._native"}
    graph: Dict[str, Set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    if sub in modules:  # `from . import _native`: the submodule
                        graph[mod].add(sub)
                    elif target in modules:  # `from .registry import REGISTRY`
                        graph[mod].add(target)
    return graph


def test_import_graph_is_read() -> None:
    graph = import_graph()
    assert {"nanometrics", "nanometrics.registry", "nanometrics.metrics", "nanometrics.exposition",
            "nanometrics.core", "nanometrics.openmetrics.exposition"} <= set(graph)
    assert "nanometrics.registry" in graph["nanometrics.metrics"]
    assert "nanometrics._native" in graph["nanometrics.registry"]
    assert "nanometrics.registry" in graph["nanometrics.openmetrics.exposition"]
    assert "nanometrics.openmetrics.exposition" in graph["nanometrics.exposition"]


def test_modules_import_each_other_without_cycles() -> None:
    graph = import_graph()
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")
    # No module reaches back into the package's __init__ (which imports them all).
    assert not [m for m, deps in graph.items() if "nanometrics" in deps]

