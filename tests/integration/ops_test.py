#!/usr/bin/env python3
"""Operations end to end: the stats server and sigrelayctl on a running relay.

Usage: ops_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

    sipp UAC --UDP--> sigrelay --TLS--> sigrelay-sim
                        |  http://127.0.0.1:PORT/{metrics,stats.json,health,}
                        +- control.socket <-- sigrelayctl

Checks, after a 503, a 603 and an emergency call:
- /metrics passes `promtool check metrics` (Prometheus' own checker) and its
  numbers match what the calls did;
- /stats.json agrees (counters, response mix, service latency count);
- /health is 200 while the service is up and 503 once it is gone;
- the dashboard page is served;
- `sigrelayctl why` tells what happened to each call, by Call-ID and by
  number; `acl test`, `version`, `reload`, `stats --json` work; a missing
  socket is exit status 3 with a clear message.
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N503 = "13125550100"
N603 = "16035550100"


def get(url):
    """(status, content type, body text) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def metric(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head != name and not head.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def body(env):
    ws, pki = env.ws, env.pki
    promtool = h.find_tool("promtool")
    ctl_bin = os.path.join(os.path.dirname(os.path.abspath(env.relay_bin)), "sigrelayctl")
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=[f"{N503} 503", f"{N603} 603"], tls=True)
    relay = env.relay("relay", {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
                                "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                                "upstream.connections": "1", "dataplane.workers": "2"})
    relay.wait_options(200)
    base = "http://" + relay.keys["stats.http"]
    port = relay.ports["udp"]

    def ctl(*args):
        r = subprocess.run([ctl_bin, "--socket", relay.keys["control.socket"], *args], capture_output=True,
                           text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    calls = {}
    for number, code in ((N503, 503), (N603, 603), ("911", 503)):
        r = env.sipp_call(f"call-{number}", h.invite_scenario(number, code), port)
        env.check(f"call to {number} gets {code}", r.ok(), r.describe())
        sent = [m for m in r.sent() if m.method == "INVITE"]
        calls[number] = sent[0].call_id() if sent else None

    # /metrics through Prometheus' checker, and its numbers.
    status, ctype, text = get(base + "/metrics")
    env.check("/metrics: 200, Prometheus text format", status == 200 and ctype.startswith("text/plain; version=0.0.4"),
              (status, ctype))
    with open(ws.path("metrics.txt"), "w") as f:
        f.write(text)
    if promtool:
        with open(ws.path("metrics.txt")) as f:
            pr = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True, text=True, timeout=30)
        env.check("promtool check metrics accepts /metrics", pr.returncode == 0 and not (pr.stdout + pr.stderr).strip(),
                  (pr.stdout + pr.stderr)[:300])
    else:
        env.check("promtool is installed (scripts/setup-deps.sh)", False)
    env.check("metrics: 3 INVITEs in", metric(text, "sigrelay_invites_in_total") == 3,
              metric(text, "sigrelay_invites_in_total"))
    env.check("metrics: one 603 and two 503 to the switches",
              metric(text, "sigrelay_switch_responses_total", code="603") == 1 and
              metric(text, "sigrelay_switch_responses_total", code="503") == 2)
    env.check("metrics: the emergency call counted", metric(text, "sigrelay_local_503_emergency_total") == 1)
    env.check("metrics: two service round trips measured",
              metric(text, "sigrelay_service_rtt_seconds_count") == 2,
              metric(text, "sigrelay_service_rtt_seconds_count"))
    env.check("metrics: the upstream connection is up", metric(text, "sigrelay_upstream_connections_up") == 1,
              metric(text, "sigrelay_upstream_connections_up"))

    # /stats.json says the same.
    status, ctype, text = get(base + "/stats.json")
    j = json.loads(text) if status == 200 else {}
    env.check("/stats.json: 200, JSON", status == 200 and ctype.startswith("application/json"), (status, ctype))
    c = j.get("counters", {})
    env.check("stats.json: invites_in 3, one emergency", (c.get("invites_in"), c.get("local_503_emergency")) == (3, 1),
              (c.get("invites_in"), c.get("local_503_emergency")))
    env.check("stats.json: response mix to the switches",
              j.get("responses", {}).get("to_switch", {}).get("603") == 1 and
              j.get("responses", {}).get("to_switch", {}).get("503") == 2, j.get("responses"))
    rtt = j.get("latency", {}).get("service_rtt", {})
    env.check("stats.json: service latency has 2 samples and percentiles",
              rtt.get("count") == 2 and (rtt.get("p50_us") or 0) > 0, rtt)
    env.check("stats.json: mode and version", j.get("mode") == "relay" and bool(j.get("version")))

    # The dashboard page.
    status, ctype, text = get(base + "/")
    env.check("the dashboard page is served", status == 200 and ctype.startswith("text/html") and "sigrelay" in text,
              (status, ctype))

    # The dashboard in headless Chromium against this daemon: the page shows
    # the live JSON's numbers.
    chromium = h.find_tool("chromium", "chromium-browser")
    if chromium:
        import re
        import tempfile
        with tempfile.TemporaryDirectory(prefix="sigrelay-ops-chromium-") as profile:
            cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--no-first-run", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--disable-extensions", "--proxy-server=http://127.0.0.1:9",
                   "--virtual-time-budget=3000", "--dump-dom", base + "/?interval=200"]
            try:
                dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=profile).stdout
            except subprocess.TimeoutExpired:
                dom = ""
        live = json.loads(get(base + "/stats.json")[2])

        def shown(field):
            m = re.search(r'data-field="' + field + r'"[^>]*data-value="([^"]*)"', dom) or \
                re.search(r'data-value="([^"]*)"[^>]*data-field="' + field + r'"', dom)
            return m.group(1) if m else None
        env.check("dashboard in Chromium on the live daemon: INVITEs total as in /stats.json",
                  shown("invites-total") is not None and
                  float(shown("invites-total")) == live["counters"]["invites_in"],
                  (shown("invites-total"), live["counters"]["invites_in"], dom[:200]))
        env.check("dashboard shows the 603 count as in /stats.json",
                  'data-code="603"' in dom and shown("resp-603-count") is not None and
                  float(shown("resp-603-count")) == live["responses"]["to_switch"]["603"],
                  shown("resp-603-count"))
    else:
        env.check("chromium is installed (scripts/setup-deps.sh)", False)

    # sigrelayctl.
    rc, out, err = ctl("why", calls[N603] or "-")
    env.check("sigrelayctl why CALL-ID: the 603 call was blocked by the service",
              rc == 0 and "blocked" in out and "603" in out, out + err)
    rc, out, err = ctl("--json", "why", "911")
    found = json.loads(out).get("calls", []) if rc == 0 else []
    env.check("sigrelayctl why 911: answered locally as an emergency call",
              len(found) == 1 and found[0]["decision"] == "local_emergency" and found[0]["final"] == 503, out + err)
    rc, out, err = ctl("--json", "why", "+1 (312) 555-0100")
    found = json.loads(out).get("calls", []) if rc == 0 else []
    env.check("sigrelayctl why NUMBER finds the call however the number is written",
              len(found) == 1 and found[0]["decision"] == "relayed" and found[0]["service_code"] == 503, out + err)
    rc, out, _ = ctl("acl", "test", "127.0.0.1")
    rc2, out2, _ = ctl("--json", "acl", "test", "192.0.2.1")
    env.check("sigrelayctl acl test: 127.0.0.1 allowed, 192.0.2.1 not",
              rc == 0 and "true" in out and rc2 == 0 and json.loads(out2).get("allowed") is False, (out, out2))
    rc, out, _ = ctl("version")
    ver = subprocess.run([env.relay_bin, "--version"], capture_output=True, text=True).stdout.strip()
    env.check("sigrelayctl version is the daemon's", rc == 0 and out.strip() == ver, (out, ver))
    rc, out, _ = ctl("reload")
    env.check("sigrelayctl reload with an unchanged file: no change", rc == 0 and "no change" in out, out)
    rc, out, _ = ctl("--json", "stats")
    env.check("sigrelayctl stats --json is the stats JSON",
              rc == 0 and json.loads(out).get("counters", {}).get("invites_in") == 3, out[:200])
    r = subprocess.run([ctl_bin, "--socket", ws.path("nobody.sock"), "stats"], capture_output=True, text=True,
                       timeout=30)
    env.check("sigrelayctl with no daemon: exit 3 and says so",
              r.returncode == 3 and "nobody.sock" in r.stderr, (r.returncode, r.stderr))

    # Traces: every leg of a call in a pcap that tshark decodes as SIP.
    tshark = h.find_tool("tshark")
    prefix = ws.path("trace")
    rc, out, err = ctl("trace", "start", prefix)
    env.check("sigrelayctl trace start PATH", rc == 0 and "tracing to" in out, out + err)
    r = env.sipp_call("traced", h.invite_scenario(N603, 603), port)
    env.check("a call while tracing", r.ok(), r.describe())
    rc, out, err = ctl("trace", "stop")
    env.check("sigrelayctl trace stop says how much was written", rc == 0 and "message(s) written" in out, out + err)
    files = sorted(f for f in os.listdir(ws.dir) if f.startswith("trace.") and f.endswith(".pcap"))
    traced_id = next((m.call_id() for m in r.sent() if m.method == "INVITE"), None)
    if tshark and files:
        t = subprocess.run([tshark, "-r", os.path.join(ws.dir, files[0]), "-d", "tcp.port==5061,sip", "-Y",
                            f'sip.Call-ID == "{traced_id}"', "-T", "fields", "-e", "udp.srcport", "-e", "tcp.srcport",
                            "-e", "sip.Method", "-e", "sip.Status-Code"], capture_output=True, text=True, timeout=60)
        lines = [line.split("\t") for line in t.stdout.splitlines() if line.strip()]
        udp_invite = any(f[0] and f[2] == "INVITE" for f in lines)
        tls_invite = any(f[1] and f[2] == "INVITE" for f in lines)
        tls_603 = any(f[1] and f[3] == "603" for f in lines)
        udp_603 = any(f[0] and f[3] == "603" for f in lines)
        env.check("tshark reads the trace as SIP: the INVITE on the switch's UDP leg and on the TLS leg (decrypted), "
                  "the 603 on both", udp_invite and tls_invite and tls_603 and udp_603, t.stdout[:400] + t.stderr[:200])
    else:
        env.check("a trace file was written and tshark is installed", False, (files, tshark))

    # The test PKI's certificates live 2 days: the expiry alarm must be up,
    # naming the service's certificate, in /stats.json, /metrics and the log.
    def cert_alarm():
        j = json.loads(get(base + "/stats.json")[2])
        return next((a for a in j.get("alarms", []) if a["name"] == "certificate_expiry" and a["active"]), None)
    h.wait_for("the certificate expiry alarm", cert_alarm, timeout=40, interval=0.5)
    a = cert_alarm()
    env.check("certificate expiry alarm: the service's certificate expires within 30 days",
              a is not None and "the service" in a["detail"] and "expires in" in a["detail"], a)
    env.check("and it is a metric", metric(get(base + "/metrics")[2], "sigrelay_alarm_active",
                                           alarm="certificate_expiry") == 1)
    env.check("and a log line", "ALARM: certificate expiry" in relay.stderr_text())

    # /health follows the service.
    status, _, text = get(base + "/health")
    env.check("/health 200 while the service is reachable", status == 200, (status, text))
    sim.stop()
    h.wait_for("/health 503 once the service is gone", lambda: get(base + "/health")[0] == 503, timeout=30)
    status, _, text = get(base + "/health")
    env.check("/health 503 with the upstream count in its detail",
              status == 503 and json.loads(text).get("upstream_connections_up") == 0, text)

    env.check_one_final_each()
    env.check("relay stops cleanly", relay.stop() == 0, relay.stderr_text()[-300:])


if __name__ == "__main__":
    h.run_test("operations: stats server and sigrelayctl", body, sys.argv)
