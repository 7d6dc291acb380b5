#!/usr/bin/env python3
"""The stats dashboard (control/dashboard/) in headless Chromium against a fake /stats.json.

Usage: dashboard_test.py BUILD_DIR

A local HTTP server plays the daemon's stats server: it serves control/dashboard/ at /
and a /stats.json whose counters advance by a known amount on every request, with the
JSON's "time" advancing by a known step, so every rate the page shows is known exactly.
The same server is Chromium's HTTP proxy: the browser reaches loopback directly, so
anything that shows up as a proxied request (an absolute URL or a CONNECT) is a request
for something outside this machine, which the page must never make.

Runs: (1) the normal feed, DOM dumped; (2) a sparse first answer then HTTP 503s, DOM
dumped; (3) the normal feed again with a 1280x900 screenshot, kept as an artifact in
$SIGRELAY_ARTIFACTS or BUILD_DIR/artifacts/dashboard.png.

Prints one line per check; exits 1 if any check failed, 77 if Chromium is not installed.
"""
import html.parser
import http.server
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import zlib

HERE = os.path.dirname(os.path.realpath(__file__))
DASHBOARD = os.path.join(HERE, "..", "..", "control", "dashboard")
DASH = "\u2014"
T0 = 1790000000.0
T_STEP = 2.0
CHROMIUM_TIMEOUT_S = 35  # three runs must fit in the meson timeout (120 s)

failures = 0
checks = 0


def check(name, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print(f"ok   {name}")
    else:
        failures += 1
        print(f"FAIL {name} {detail}")


def find_chromium():
    override = os.environ.get("SIGRELAY_CHROMIUM")
    if override:
        return override if shutil.which(override) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


# ---- the fake daemon ------------------------------------------------------------------

def invites_at(n):
    # 1000 at n = 0, then +20+4k on request k: the call rate between requests k-1 and k
    # is (20 + 4k) / T_STEP = 10 + 2k INVITEs/s, different on every poll.
    return 1000 + 20 * n + 2 * n * (n + 1)


def snapshot(n):
    """The n-th /stats.json answer (n = 0, 1, ...)."""
    inv = invites_at(n)
    return {
        "version": "0.3.0",
        "mode": "relay",
        "uptime_s": 120.0 + T_STEP * n,
        "time": T0 + T_STEP * n,
        "counters": {
            "invites_in": inv,
            "acl_denied": 3 + 3 * n,
            "local_503_timeout": 2 + n,
            "local_503_no_upstream": n // 2,
            "malformed": 7,
        },
        "responses": {
            "to_switch": {"100": inv, "200": 10 + n, "302": 700 + 5 * n, "403": 1, "404": 0,
                          "487": 4 + n, "503": 400 + 7 * n, "603": 100 + 3 * n},
            "from_service": {"302": 700 + 5 * n, "403": 1, "503": 398 + 6 * n, "603": 100 + 3 * n},
        },
        "latency": {
            "service_rtt": {"count": inv - 2, "sum_us": 2400000, "p50_us": 1800 + 10 * n,
                            "p90_us": 2600, "p99_us": 4100 + 50 * n, "p999_us": 9000},
            "local": {"count": inv, "sum_us": 60000, "p50_us": 40, "p90_us": 70,
                      "p99_us": 120, "p999_us": 300},
        },
        "upstream": [
            {"target": "tls:sip.clearip.com:5061", "worker": 0, "conn": 0, "state": "up",
             "since_s": 120.5, "tls_version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"},
            # A session that is not up has no TLS parameters yet: the page shows a dash.
            {"target": "tls:sip2.clearip.com:5061", "worker": 1, "conn": 0, "state": "connecting",
             "since_s": 3.5},
        ],
        "alarms": [
            {"name": "service_rejects_relay", "active": False, "detail": "403/404 from the service"},
            {"name": "upstream_degraded", "active": True, "detail": "1 of 2 sessions down"},
        ],
    }


class Feed:
    """What /stats.json answers; every answer is kept, in order, for the checks."""

    def __init__(self, kind):
        self.kind = kind
        self.lock = threading.Lock()
        self.served = []

    def next(self):
        with self.lock:
            n = len(self.served)
            if self.kind == "normal":
                body = snapshot(n)
                status = 200
            elif n == 0:
                # Sparse: every other field missing.
                body, status = {"version": "0.3.0", "time": T0}, 200
            else:
                body, status = {"error": "busy"}, 503
            self.served.append(body)
            return status, json.dumps(body).encode()


CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake-sigrelay"

    def log_message(self, *args):
        pass

    def record(self, status):
        with self.server.log_lock:
            self.server.request_log.append((self.command, self.path, status))

    def reply(self, status, body, ctype):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # Chromium gave up on a refused proxy request: nothing to do.

    def do_GET(self):
        if self.server.feed is None or not self.path.startswith("/"):
            # A proxied request for another host: refused, and logged for the checks.
            self.reply(502, b"no internet here\n", "text/plain")
            return
        path = self.path.split("?", 1)[0]
        if path == "/stats.json":
            status, body = self.server.feed.next()
            self.reply(status, body, "application/json")
            return
        name = "index.html" if path == "/" else path[1:]
        if name not in os.listdir(DASHBOARD):
            self.reply(404, b"not found\n", "text/plain")
            return
        with open(os.path.join(DASHBOARD, name), "rb") as fh:
            body = fh.read()
        self.reply(200, body, CONTENT_TYPES.get(os.path.splitext(name)[1], "application/octet-stream"))

    do_HEAD = do_GET

    def do_CONNECT(self):
        self.reply(502, b"", "text/plain")

    def do_POST(self):
        self.reply(405, b"", "text/plain")


def start_server(kind):
    """kind "normal" or "broken": the stats server; None: "outside", Chromium's proxy,
    which refuses everything and only keeps the log."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.feed = Feed(kind) if kind else None
    server.request_log = []
    server.log_lock = threading.Lock()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


# ---- Chromium -------------------------------------------------------------------------

def page_requests(netlog, port):
    """URLs the page itself asked for, from Chromium's net log: a request belongs to the
    page when its network isolation key names the page's site as top frame, or the page
    initiated it. The browser's own traffic (updates, time, accounts) has neither.
    None when the log cannot be read."""
    try:
        with open(netlog, encoding="utf-8") as fh:
            log = json.load(fh)
        names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
        events = log["events"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    site = "http://127.0.0.1"
    urls = []
    for e in events:
        if names.get(e.get("type")) != "URL_REQUEST_START_JOB":
            continue
        params = e.get("params") or {}
        url = params.get("url")
        if not url:
            continue
        nik = str(params.get("network_isolation_key") or "").split()
        initiator = str(params.get("initiator") or "")
        if (nik and nik[0] == site) or initiator == f"{site}:{port}":
            urls.append(url)
    return urls


def run_chromium(chromium, server, outside, extra, budget_ms=3000):
    """Runs Chromium on the dashboard; returns (exit code, stdout, page's URLs) or None on
    a timeout, and Chromium's stderr."""
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/?interval=200"
    with tempfile.TemporaryDirectory(prefix="sigrelay-dash-") as profile:
        netlog = os.path.join(profile, "netlog.json")
        cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
               f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-extensions", "--disable-default-apps",
               # Loopback bypasses the proxy, so only requests for other hosts reach
               # "outside": the test never touches a real network.
               f"--proxy-server=http://127.0.0.1:{outside.server_address[1]}",
               f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
               f"--virtual-time-budget={budget_ms}", *extra, url]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=profile)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            timed_out = True
            # Its own session: this takes Chromium's helper processes down with it.
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=10)
        err = err.decode(errors="replace")
        if timed_out:
            return None, err
        return (proc.returncode, out.decode(errors="replace"), page_requests(netlog, port)), err


class DomIndex(html.parser.HTMLParser):
    """Text and attributes of every element that has an id, data-field, data-code,
    data-alarm or data-upstream attribute, from a dumped DOM."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}
    KEYS = ("id", "data-field", "data-code", "data-alarm", "data-upstream")

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.by = {k: {} for k in self.KEYS}
        self.tags = []
        self.stack = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rec = None
        if any(k in a for k in self.KEYS):
            rec = {"tag": tag, "attrs": a, "text": ""}
            for k in self.KEYS:
                if k in a:
                    self.by[k].setdefault(a[k], rec)
        self.tags.append((tag, a))
        if tag not in self.VOID:
            self.stack.append((tag, rec))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        for _, rec in self.stack:
            if rec is not None:
                rec["text"] += data

    def field(self, name):
        return self.by["data-field"].get(name)

    def text(self, name):
        rec = self.field(name)
        return None if rec is None else " ".join(rec["text"].split())

    def value(self, name):
        rec = self.field(name)
        if rec is None or "data-value" not in rec["attrs"]:
            return None
        try:
            return float(rec["attrs"]["data-value"])
        except ValueError:
            return None


def close(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


# The page's documented number formats (docs/dashboard.md): integers grouped with
# commas; rates and milliseconds with 2 decimals below 10, 1 below 100, none above.
def fmt_int(v):
    return f"{round(v):,}"


def fmt_decimal(v):
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return fmt_int(v)


def check_requests(label, server, outside, page_urls):
    log = list(server.request_log)
    nonlocal_paths = [(m, p) for m, p, _ in log if not p.startswith("/") or p.startswith("//")]
    check(f"{label}: every request to the stats server is for a local path", not nonlocal_paths, nonlocal_paths)
    missing = [(m, p, s) for m, p, s in log if s == 404]
    check(f"{label}: every requested file exists", not missing, missing)
    check(f"{label}: net log read", page_urls is not None)
    if page_urls is None:
        return
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    external = [u for u in page_urls if not u.startswith(base) and not u.startswith("data:")]
    check(f"{label}: the page requested nothing from another host", not external, external)
    paths = {"/" + u[len(base):].split("?", 1)[0] for u in page_urls if u.startswith(base)}
    want = {"/", "/dashboard.css", "/dashboard.js", "/stats.json"}
    check(f"{label}: page, style, script and stats were fetched", want <= paths, sorted(paths))
    served = {p.split("?", 1)[0] for _, p, _ in log}
    check(f"{label}: the net log and the server agree", paths == served, (sorted(paths), sorted(served)))
    own = sorted({p.split("?", 1)[0] for _, p, _ in outside.request_log})
    print(f"info {label}: requests for other hosts (Chromium's own), refused by the proxy: {own}")


def static_checks():
    # What the browser would fetch from elsewhere, read off the files themselves: the
    # run above only proves it for what this Chromium happened to request.
    texts = {}
    for name in sorted(os.listdir(DASHBOARD)):
        with open(os.path.join(DASHBOARD, name), encoding="utf-8") as fh:
            texts[name] = fh.read()
    check("dashboard has index.html, dashboard.js, dashboard.css",
          {"index.html", "dashboard.js", "dashboard.css"} <= set(texts), sorted(texts))
    urls = []
    for name, text in texts.items():
        for m in re.finditer(r"(?i)\b(?:https?|wss?|ftp):|(?:src|href|action)\s*=\s*[\"']\s*//", text):
            tail = text[m.start():m.start() + 40]
            if not tail.startswith("http://www.w3.org/2000/svg"):  # an XML namespace name
                urls.append((name, tail))
        for m in re.finditer(r"@import|url\(\s*[\"']?\s*(?!data:)", text):
            urls.append((name, text[m.start():m.start() + 40]))
    check("no external URL, @import or url() in the dashboard files", not urls, urls)


# ---- the runs -------------------------------------------------------------------------

def normal_run(chromium):
    server, outside = start_server("normal"), start_server(None)
    try:
        res, err = run_chromium(chromium, server, outside, ["--dump-dom"])
    finally:
        server.shutdown()
        outside.shutdown()
    check("normal: chromium finished in time", res is not None, err[-2000:])
    if res is None:
        return
    rc, dom_text, page_urls = res
    check("normal: chromium exit 0 with a DOM", rc == 0 and "<body" in dom_text, (rc, err[-2000:]))
    check_requests("normal", server, outside, page_urls)
    dom = DomIndex(dom_text)
    served = server.feed.served
    shown_t = dom.value("sample-time")
    idx = {s["time"]: i for i, s in enumerate(served)}
    n = idx.get(shown_t)
    check("normal: shows one of the served samples", n is not None, (shown_t, len(served)))
    check("normal: at least two samples shown (a rate needs two)", n is not None and n >= 1,
          (n, len(served)))
    if n is None or n < 1:
        return
    cur, before = served[n], served[n - 1]
    dt = cur["time"] - before["time"]

    check("header: mode", dom.text("mode") == "relay", dom.text("mode"))
    check("header: version", dom.text("version") == "0.3.0", dom.text("version"))
    check("header: uptime seconds", close(dom.value("uptime"), cur["uptime_s"]), dom.value("uptime"))
    stale = dom.field("stale")
    check("header: stale marker hidden while polls succeed",
          stale is not None and "hidden" in stale["attrs"] and stale["attrs"].get("data-value") == "false",
          stale)

    rate = (cur["counters"]["invites_in"] - before["counters"]["invites_in"]) / dt
    check("call rate value from the last two samples' time",
          close(dom.value("call-rate"), rate) and close(rate, 10 + 2 * n), (dom.value("call-rate"), rate))
    check("call rate text", dom.text("call-rate") == fmt_decimal(rate), (dom.text("call-rate"), rate))
    check("invites total", dom.text("invites-total") == fmt_int(cur["counters"]["invites_in"]),
          dom.text("invites-total"))
    chart = dom.by["id"].get("chart-call-rate")
    points = int(chart["attrs"].get("data-points", "0")) if chart else 0
    lines = [a for t, a in dom.tags if t == "polyline" and "rate" in a.get("class", "")]
    # Every sample from the second on adds a point; all are inside the 5-minute window.
    check("call rate chart has a point per rate sample and a line", points == n and len(lines) == 1,
          (points, n, len(lines)))

    to = cur["responses"]["to_switch"]
    finals = sum(v for k, v in to.items() if int(k) >= 200)
    row = dom.by["data-code"].get("503")
    check("responses: a row for 503", row is not None and row["tag"] == "tr", row)
    check("responses: 503 count", dom.text("resp-503-count") == fmt_int(to["503"])
          and close(dom.value("resp-503-count"), to["503"]), dom.text("resp-503-count"))
    share = to["503"] / finals * 100
    check("responses: 503 share of finals", close(dom.value("resp-503-share"), share)
          and dom.text("resp-503-share") == f"{share:.1f}%", (dom.text("resp-503-share"), share))
    check("responses: 503 rate", close(dom.value("resp-503-rate"), 7 / dt), dom.value("resp-503-rate"))
    check("responses: 503 from service",
          dom.text("resp-503-from-service") == fmt_int(cur["responses"]["from_service"]["503"]),
          dom.text("resp-503-from-service"))
    check("responses: 302 and 603 counts", dom.value("resp-302-count") == to["302"]
          and dom.value("resp-603-count") == to["603"], (dom.value("resp-302-count"), dom.value("resp-603-count")))
    check("responses: 100 Trying counted but not shared", dom.value("resp-100-count") == to["100"]
          and dom.text("resp-100-share") == DASH, (dom.text("resp-100-count"), dom.text("resp-100-share")))
    check("responses: 487 from the switch side only", dom.value("resp-487-count") == to["487"]
          and dom.text("resp-487-from-service") == DASH, dom.text("resp-487-from-service"))
    order = [a["data-code"] for t, a in dom.tags if t == "tr" and "data-code" in a]
    check("responses: rows in code order", order == sorted(to, key=int), order)

    p99_ms = cur["latency"]["service_rtt"]["p99_us"] / 1000
    check("latency: p99 ms", close(dom.value("rtt-p99"), p99_ms) and dom.text("rtt-p99") == fmt_decimal(p99_ms),
          (dom.text("rtt-p99"), p99_ms))
    check("latency: p50 ms", close(dom.value("rtt-p50"), cur["latency"]["service_rtt"]["p50_us"] / 1000),
          dom.value("rtt-p50"))
    lat = dom.by["id"].get("chart-latency")
    lat_lines = {a.get("class") for t, a in dom.tags if t == "polyline"}
    check("latency chart: p50 and p99 lines", lat is not None and int(lat["attrs"].get("data-points", 0)) == 2 * (n + 1)
          and "series p50" in lat_lines and "series p99" in lat_lines, (lat and lat["attrs"], lat_lines))

    up = cur["upstream"][0]
    check("upstream: row 0", dom.text("upstream-0-target") == up["target"]
          and dom.value("upstream-0-worker") == 0 and dom.value("upstream-0-conn") == 0
          and dom.text("upstream-0-state") == "up" and dom.value("upstream-0-since") == up["since_s"]
          and dom.text("upstream-0-tls") == "TLSv1.3" and dom.text("upstream-0-cipher") == up["cipher"],
          [dom.text(f"upstream-0-{k}") for k in ("target", "worker", "conn", "state", "since", "tls", "cipher")])
    check("upstream: row 1 without TLS fields shows dashes", dom.text("upstream-1-state") == "connecting"
          and dom.value("upstream-1-worker") == 1
          and dom.text("upstream-1-tls") == DASH and dom.text("upstream-1-cipher") == DASH,
          [dom.text(f"upstream-1-{k}") for k in ("state", "tls", "cipher")])
    check("upstream: two rows", sorted(dom.by["data-upstream"]) == ["0", "1"], sorted(dom.by["data-upstream"]))

    c, pc = cur["counters"], before["counters"]
    check("acl denials total", dom.text("acl-denied-total") == fmt_int(c["acl_denied"]), dom.text("acl-denied-total"))
    check("acl denials rate", close(dom.value("acl-denied-rate"), (c["acl_denied"] - pc["acl_denied"]) / dt)
          and dom.text("acl-denied-rate") == "1.50", dom.text("acl-denied-rate"))
    fo = c["local_503_timeout"] + c["local_503_no_upstream"]
    fo_before = pc["local_503_timeout"] + pc["local_503_no_upstream"]
    check("fail-open total = timeout + no-upstream", dom.text("fail-open-total") == fmt_int(fo)
          and dom.value("fail-open-total") == fo, dom.text("fail-open-total"))
    check("fail-open rate", close(dom.value("fail-open-rate"), (fo - fo_before) / dt), dom.value("fail-open-rate"))
    check("fail-open parts", dom.value("fail-open-timeout-total") == c["local_503_timeout"]
          and dom.value("fail-open-no-upstream-total") == c["local_503_no_upstream"],
          (dom.text("fail-open-timeout-total"), dom.text("fail-open-no-upstream-total")))

    on = dom.by["data-alarm"].get("upstream_degraded")
    off = dom.by["data-alarm"].get("service_rejects_relay")
    check("alarms: active one flagged and highlighted", on is not None and on["attrs"].get("data-active") == "true"
          and "active" in on["attrs"].get("class", "").split(), on)
    check("alarms: inactive one not highlighted", off is not None and off["attrs"].get("data-active") == "false"
          and "active" not in off["attrs"].get("class", "").split(), off)
    alarm_order = [a["data-alarm"] for t, a in dom.tags if "data-alarm" in a]
    check("alarms: active first", alarm_order == ["upstream_degraded", "service_rejects_relay"], alarm_order)
    check("alarms: header count", dom.value("alarms-active") == 1, dom.text("alarms-active"))


def broken_run(chromium):
    server, outside = start_server("broken"), start_server(None)
    try:
        res, err = run_chromium(chromium, server, outside, ["--dump-dom"], budget_ms=2000)
    finally:
        server.shutdown()
        outside.shutdown()
    check("broken: chromium finished in time", res is not None, err[-2000:])
    if res is None:
        return
    rc, dom_text, page_urls = res
    check("broken: chromium exit 0 with a DOM", rc == 0 and "<body" in dom_text, (rc, err[-2000:]))
    check_requests("broken", server, outside, page_urls)
    check("broken: polling went on after the failure", len(server.feed.served) >= 3, len(server.feed.served))
    dom = DomIndex(dom_text)
    check("broken: version from the sparse sample", dom.text("version") == "0.3.0", dom.text("version"))
    for name in ("mode", "uptime", "call-rate", "invites-total", "acl-denied-total", "acl-denied-rate",
                 "fail-open-total", "fail-open-rate", "rtt-p99", "alarms-active", "upstream-count"):
        check(f"broken: missing {name} shows a dash", dom.text(name) == DASH and dom.value(name) is None,
              (dom.text(name), dom.value(name)))
    check("broken: no upstream rows", not dom.by["data-upstream"], dom.by["data-upstream"])
    check("broken: no response rows", not dom.by["data-code"], dom.by["data-code"])
    stale = dom.field("stale")
    check("broken: stale marker shown after a failed poll",
          stale is not None and "hidden" not in stale["attrs"] and stale["attrs"].get("data-value") == "true"
          and "HTTP 503" in dom.text("stale"), stale)
    body = [a for t, a in dom.tags if t == "body"]
    check("broken: body marked stale", body and body[0].get("data-stale") == "true", body)


def png_pixels(data):
    """The decompressed image data (filter bytes included) of a PNG, or None."""
    pos, idat = 8, b""
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    try:
        return zlib.decompress(idat)
    except zlib.error:
        return None


def screenshot_run(chromium, artifacts):
    os.makedirs(artifacts, exist_ok=True)
    png = os.path.join(artifacts, "dashboard.png")
    if os.path.exists(png):
        os.unlink(png)
    server, outside = start_server("normal"), start_server(None)
    try:
        res, err = run_chromium(chromium, server, outside, [f"--screenshot={png}", "--window-size=1280,900"])
    finally:
        server.shutdown()
        outside.shutdown()
    check("screenshot: chromium finished in time", res is not None, err[-2000:])
    if res is None:
        return
    check("screenshot: chromium exit 0", res[0] == 0, err[-2000:])
    check_requests("screenshot", server, outside, res[2])
    data = b""
    if os.path.exists(png):
        with open(png, "rb") as fh:
            data = fh.read()
    # PNG signature, then the IHDR chunk with width and height (PNG spec, 11.2.2).
    ok = len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    check("screenshot: a non-empty PNG", ok, (png, len(data)))
    if ok:
        width, height = struct.unpack(">II", data[16:24])
        check("screenshot: 1280 wide", width == 1280 and height > 0, (width, height))
        pixels = png_pixels(data)
        # A blank page would compress to a handful of distinct byte values.
        check("screenshot: not blank", pixels is not None and len(set(pixels)) > 32,
              None if pixels is None else len(set(pixels)))
        print(f"screenshot: {png} ({len(data)} bytes, {width}x{height})")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    builddir = sys.argv[1]
    chromium = find_chromium()
    if chromium is None:
        print("SKIP chromium not found (apt-get install chromium)")
        return 77
    artifacts = os.environ.get("SIGRELAY_ARTIFACTS") or os.path.join(builddir, "artifacts")
    static_checks()
    normal_run(chromium)
    broken_run(chromium)
    screenshot_run(chromium, artifacts)
    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
