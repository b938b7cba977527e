"""The built-in web console, driven in headless Chromium (Debian's
/usr/bin/chromium) through Playwright: the overview, the topic list, a
group's lag and a record browsed by offset are shown, a record whose value
is markup is shown as text (no script runs), and writes are refused unless
the console is made writable. Screenshots of the main pages go to
$WEIR_ARTIFACTS/console (default target/test-artifacts/console)."""

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

import weirtest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("WEIR_ARTIFACTS", Path(__file__).resolve().parent.parent
                                / "target" / "test-artifacts")) / "console"
# Flags for a closed network: no background connections, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = "<script>alert(1)</script>"


def request(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


@pytest.fixture
def chromium_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "Debian chromium is not installed (scripts/test.sh installs it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        try:
            yield page
        finally:
            browser.close()


def wait_rendered(page, hash_):
    """Wait until the console has rendered the view of `hash_` (the page's
    CSP forbids eval, so this waits on an attribute, not a JS predicate)."""
    page.wait_for_selector(f'#view[data-ready="{hash_}"]', state="attached", timeout=15000)


def open_view(page, url):
    """Go to a console view and wait until it has rendered its data."""
    page.goto(url)
    wait_rendered(page, "#" + url.split("#", 1)[1] if "#" in url else "")


def test_console_shows_topics_lag_and_records_as_text(broker_factory, topic, chromium_page):
    b = broker_factory.start(overrides={"admin.console.sample.interval.ms": 200})
    bs = b.bootstrap
    page = chromium_page
    weirtest.create_topic(bs, topic, partitions=2, config={"retention.ms": "604800000"})
    n = 40
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for i in range(n):
        value = XSS if i == 7 else json.dumps({"n": i, "name": f"order-{i}"})
        p.produce(topic, value.encode(), key=f"k{i}".encode(), partition=0,
                  headers=[("source", b"console-test")])
    assert p.flush(30) == 0

    # A live group member that consumed 10 records of partition 0 and
    # committed offset 10; it stays in the group while the pages are read.
    group = f"console-{topic}"
    c = Consumer(weirtest.consumer_config(bs, **{"group.id": group, "client.id": "console-member"}))
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 30
    while got < 10 and time.monotonic() < deadline:
        m = c.poll(1)
        if m is not None and not m.error():
            got += 1
    assert got == 10
    c.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
    base = b.admin_url()

    # Overview: the cluster id the Kafka API reports, one broker.
    open_view(page, base + "/")
    overview = request("GET", base + "/api/overview")[2]
    assert page.text_content("#cluster-id .v") == overview["cluster_id"]
    assert page.locator("#brokers tbody tr").count() == 1
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # Topics: ours with its partition count and record count.
    open_view(page, base + "/#/topics")
    row = page.locator("#topics tbody tr", has_text=topic)
    assert row.count() == 1
    cells = row.locator("td").all_text_contents()
    assert cells[1:4] == ["2", "1", str(n)], cells
    assert cells[6] == "604800000"
    page.screenshot(path=str(ARTIFACTS / "topics.png"), full_page=True)

    # Topic: partitions and the dynamic config with its source.
    open_view(page, base + f"/#/topics/{topic}")
    assert page.text_content("#topic-name") == topic
    assert page.locator("#partitions tbody tr").count() == 2
    configs = {cells[0]: cells[1:] for cells in
               (r.locator("td").all_text_contents() for r in page.locator("#configs tbody tr").all())}
    assert configs["retention.ms"] == ["604800000", "DYNAMIC_TOPIC_CONFIG"]
    assert configs["cleanup.policy"] == ["delete", "DEFAULT_CONFIG"]

    # Group: lag n - 10 on partition 0, as `weir groups describe` says.
    time.sleep(1)  # a few lag samples for the chart
    open_view(page, base + f"/#/groups/{group}")
    assert page.text_content("#group-lag .v") == str(n - 10)
    lag_row = page.locator("#offsets tbody tr").first.locator("td").all_text_contents()
    assert lag_row == [topic, "0", "10", str(n), str(n - 10)]
    assert page.text_content("#group-state .v") == "Stable"
    member = page.locator("#members tbody tr").all()
    assert len(member) == 1
    cells = member[0].locator("td").all_text_contents()
    assert cells[2] == "console-member" and cells[4] == f"{topic} [0, 1]", cells
    assert page.locator("#chart-lag polyline").count() == 1
    page.screenshot(path=str(ARTIFACTS / "group.png"), full_page=True)
    open_view(page, base + "/#/groups")
    assert page.locator("#groups tbody tr", has_text=group).locator("td.lag").text_content() == str(n - 10)

    # Records from offset 5: the markup value is text, JSON is pretty-printed.
    open_view(page, base + f"/#/topics/{topic}/records?partition=0&offset=5&limit=5")
    rows = page.locator("#records tbody tr")
    assert rows.count() == 5
    assert rows.nth(0).locator("td").first.text_content() == "5"
    xss_row = rows.nth(2).locator("td").all_text_contents()
    assert xss_row[0] == "7" and xss_row[2] == "k7"
    assert rows.nth(2).locator("td").nth(3).locator("pre").text_content() == XSS
    assert page.locator("#view script").count() == 0
    assert json.loads(rows.nth(0).locator("td").nth(3).locator("pre").text_content()) == {"n": 5, "name": "order-5"}
    assert "source" in xss_row[4] and "console-test" in xss_row[4]
    page.screenshot(path=str(ARTIFACTS / "records.png"), full_page=True)
    page.click("#next")
    wait_rendered(page, f"#/topics/{topic}/records?partition=0&limit=5&offset=10")
    assert page.locator("#records tbody tr").first.locator("td").first.text_content() == "10"
    c.close()
    assert page.dialogs == [], "a record's value ran as script"
    assert page.console_errors == [], page.console_errors


def test_console_is_read_only_unless_enabled(broker_factory, topic):
    ro = broker_factory.start()
    status, headers, body = request("POST", ro.admin_url() + "/api/topics", {"name": topic},
                                    {"x-weir-console": "1", "content-type": "application/json"})
    assert status == 403 and "read-only" in body["error"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert request("GET", ro.admin_url() + f"/api/topics/{topic}")[0] == 404

    rw = broker_factory.start(overrides={"admin.console.read.only": "false"})
    url = rw.admin_url() + "/api/topics"
    # A cross-site form cannot add the header: refused.
    assert request("POST", url, {"name": topic})[0] == 400
    status, _, body = request("POST", url, {"name": topic, "partitions": 3, "configs": {"cleanup.policy": "compact"}},
                              {"x-weir-console": "1"})
    assert status == 201, body
    md = AdminClient({"bootstrap.servers": rw.bootstrap}).list_topics(timeout=10)
    assert len(md.topics[topic].partitions) == 3
    detail = request("GET", url + "/" + topic)[2]
    assert len(detail["partitions"]) == 3
    assert {"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG"} in detail["configs"]
    status, _, body = request("POST", url, {"name": "bad name!"}, {"x-weir-console": "1"})
    assert status == 400 and body["error"]
    assert request("DELETE", url + "/" + topic, headers={"x-weir-console": "1"})[0] == 200
    assert request("GET", url + "/" + topic)[0] == 404


def test_console_can_be_disabled(broker_factory):
    b = broker_factory.start(overrides={"admin.console.enable": "false"})
    assert request("GET", b.admin_url() + "/api/overview")[0] == 404
    with urllib.request.urlopen(b.admin_url() + "/metrics", timeout=10) as r:
        assert r.status == 200


def test_record_browser_api_by_timestamp_and_bad_input(broker_factory, topic):
    b = broker_factory.start()
    weirtest.create_topic(b.bootstrap, topic)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for i in range(30):
        p.produce(topic, f"v{i}".encode(), timestamp=1_700_000_000_000 + i * 1000)
        p.flush(10)  # one batch per record: each has its own timestamp in the index
    p.produce(topic, bytes([0xff, 0x00, 0x7f]), key=None)
    assert p.flush(10) == 0
    url = b.admin_url() + f"/api/topics/{topic}/records"
    status, _, page = request("GET", url + "?partition=0&timestamp=1700000012500&limit=3")
    assert status == 200
    assert [r["offset"] for r in page["records"]] == [13, 14, 15]
    assert [r["value"]["text"] for r in page["records"]] == ["v13", "v14", "v15"]
    assert page["next_offset"] == 16
    last = request("GET", url + "?partition=0&offset=30")[2]["records"]
    assert last[0]["key"] is None
    assert last[0]["value"] == {"text": "ff007f", "encoding": "hex", "size": 3, "truncated": False}
    # Past the end: an empty page; limits are capped at 100.
    assert request("GET", url + "?partition=0&offset=1000")[2]["records"] == []
    assert len(request("GET", url + "?partition=0&offset=0&limit=100000")[2]["records"]) == 31
    assert request("GET", url + "?partition=0&offset=abc")[0] == 400
    assert request("GET", url + "?partition=9")[0] == 404
    assert request("GET", b.admin_url() + "/api/topics/nope/records")[0] == 404
    assert request("GET", b.admin_url() + "/api/groups/nope")[0] == 404
