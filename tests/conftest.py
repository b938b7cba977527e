"""pytest fixtures for the integration tests (helpers live in weirtest.py).

  broker          one shared `weir broker` per test module (default config)
  broker_factory  brokers with special config or restarts, per test
  topic           a topic name unique to the test

When a test fails, the stderr of every broker it used is attached to the
failure report.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

import weirtest


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = weirtest.Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.close()


@pytest.fixture
def broker_factory(tmp_path):
    factory = weirtest.BrokerFactory(tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture
def topic(request):
    return weirtest.unique_topic(request.node.name)


def _brokers_used_by(item):
    seen = {}
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, weirtest.Broker):
            seen[id(value)] = value
        elif isinstance(value, weirtest.BrokerFactory):
            for b in value.brokers:
                seen[id(b)] = b
    return list(seen.values())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for b in _brokers_used_by(item):
            for title, text in b.report_sections():
                report.sections.append((title, text))


def pytest_report_header(config):
    lines = [f"weir binary: {weirtest.WEIR_BIN}" + ("" if weirtest.WEIR_BIN.is_file() else " (MISSING)")]
    if shutil.which("kcat"):
        out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10).stdout
        lines.append("kcat: " + " ".join(l.strip() for l in out.splitlines() if "Version" in l))
    else:
        lines.append("kcat: MISSING")
    try:
        import confluent_kafka
        import kafka
        lines.append(f"confluent-kafka {confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]}),"
                     f" kafka-python {kafka.__version__}")
    except ImportError as exc:  # pragma: no cover
        lines.append(f"client import failed: {exc}")
    return lines
