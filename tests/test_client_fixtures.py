"""The captured client request fixtures in crates/weir-protocol/tests/fixtures
are well formed, and the capture tool still reproduces them with the pinned
kcat (no broker needed)."""

import re
import subprocess
import sys

import pytest

import weirtest
from weirtest import API_NAMES, Reader

NAME_RE = re.compile(r"^(?P<client>[a-z-]+)_(?P<api>[A-Za-z]+)_v(?P<version>\d+)(?:_(?P<variant>\w+))?\.bin$")
FIXTURES = sorted(weirtest.FIXTURES_DIR.glob("*.bin"))


def test_fixtures_exist_for_each_client():
    clients = {NAME_RE.match(p.name).group("client") for p in FIXTURES}
    assert {"kcat", "kafka-python", "confluent-kafka"} <= clients, clients


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_header_matches_its_name(path):
    m = NAME_RE.match(path.name)
    assert m, path.name
    r = Reader(path.read_bytes())
    api_key, version = r.i16(), r.i16()
    assert API_NAMES[api_key] == m.group("api")
    assert version == int(m.group("version"))
    r.i32()  # correlation id
    assert r.string() is not None  # client id
    if weirtest.flexible(api_key, version):
        r.flexible = True
        assert r.tags() == {}
    r.flexible = weirtest.flexible(api_key, version)
    if api_key == weirtest.API_VERSIONS and version >= 3:
        assert r.string() and r.string()  # client software name and version
        r.tags()
        r.expect_end(path.name)
    elif api_key == weirtest.PRODUCE:
        r.string(), r.i16(), r.i32()  # transactional id, acks, timeout
        (topic,) = r.array(lambda t: (t.string(), t.array(lambda p: (p.i32(), p.bytes_(), p.tags())), t.tags()))
        (_, batch, _), = topic[1]
        assert batch[16] == 2, "record batch magic 2"
        r.tags()
        r.expect_end(path.name)


def test_capture_tool_reproduces_kcat_fixtures(tmp_path):
    proc = subprocess.run([sys.executable, str(weirtest.ROOT / "tests" / "capture_client_bytes.py"),
                           "--client", "kcat", "--out", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fresh = sorted(p.name for p in tmp_path.glob("*.bin"))
    committed = sorted(p.name for p in FIXTURES if p.name.startswith("kcat_"))
    assert fresh == committed
    # The bootstrap request carries no timestamps: byte-identical.
    assert (tmp_path / "kcat_ApiVersions_v3.bin").read_bytes() == \
        (weirtest.FIXTURES_DIR / "kcat_ApiVersions_v3.bin").read_bytes()
