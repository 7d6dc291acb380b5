#!/usr/bin/env python3
"""The sigrelay demo (scripts/demo.sh runs it): the whole flow on loopback.

Usage: demo.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

Makes throwaway certificates, starts sigrelay-sim (the service, over TLS, with
rules for 503 / 302 + STIR/SHAKEN / 603 / silence) and sigrelay in front of it,
then plays a switch with sipp: calls that the service lets through, routes with
a signed PASSporT, blocks; an emergency call that never leaves the box; OPTIONS
pings; a silent service and a stopped one (fail open). Prints what the switch
got for each, then the relay's counters, and stops everything it started.
It uses the integration tests' harness, so the demo and the tests drive the
relay the same way. Exit status 0 when every call got the answer it should.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TIMEOUT_MS = 1000
RULES = ["+1212 302 contacts=sip:gw1@192.0.2.10:5060;transport=tcp,sip:gw2@192.0.2.11",
         "+1900 603", "+1555 503 silent"]


def pretty_number(n):
    return n if not n.isdigit() or len(n) != 11 else f"+{n[0]} {n[1:4]} {n[4:7]} {n[7:]}"


class Table:
    def __init__(self):
        self.rows = []
        self.all_ok = True

    def add(self, what, path, number, want, result=None, status_text=None, ms=None, note=""):
        got = status_text
        if result is not None:
            final = result.first_final()
            got = final.start.split(" ", 1)[1] if final else "nothing"
            ms = result.final_ms()
            ok = result.ok() and final is not None and final.status == want
        else:
            ok = got is not None and got.startswith(str(want))
        self.all_ok &= ok
        self.rows.append((what, path, pretty_number(number), got or "nothing",
                          "-" if ms is None else f"{ms:.0f}", note, "ok" if ok else f"EXPECTED {want}"))
        r = self.rows[-1]
        print(f"  {r[0]:<34} {r[1]:<5} {r[2]:<16} {r[3]:<28} {r[4]:>6}  {r[6]:<4} {r[5]}", flush=True)

    @staticmethod
    def header():
        print(f"  {'what':<34} {'in':<5} {'called':<16} {'the switch got':<28} {'ms':>6}  {'':<4} notes")
        print("  " + "-" * 120)


def passport_note(result, pub):
    final = result.first_final(302)
    if final is None:
        return ""
    contacts = [c.split(">")[0].lstrip("<") for c in final.all("contact")]
    claims, err = h.verify_identity(final.get("identity") or "", pub)
    if err:
        return f"Contact {contacts[0] if contacts else '?'}; Identity: {err}"
    return (f"Contact {contacts[0]} (+{len(contacts) - 1}); PASSporT attest {claims.get('attest')}, "
            f"orig {claims.get('orig', {}).get('tn')}, signature verifies")


def body(env):
    ws, pki = env.ws, env.pki
    print("== starting sigrelay-sim (the service) and sigrelay on loopback")
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=RULES, tls=True)
    print(f"   sigrelay-sim: TLS on 127.0.0.1:{sim.ports['tls']}; rules: " + "; ".join(RULES))
    keys = {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls", "upstream.ca_file": pki.ca,
            "upstream.server_name": "sim.test", "upstream.timeout_ms": str(TIMEOUT_MS)}
    if env.stunnel:
        keys.update({"listen.tls": "127.0.0.1:0", "listen.tls_cert": pki.relay_cert,
                     "listen.tls_key": pki.relay_key})
    relay = h.Relay(ws, env.relay_bin, "relay", keys)
    print(f"   {relay.ready_line}")
    took = relay.wait_options(200)
    print(f"   upstream TLS connection verified and up after {took:.1f} s (the relay answers OPTIONS 200)")
    paths = {"UDP": ("u1", relay.ports["udp"]), "TCP": ("t1", relay.ports["tcp"])}
    if env.stunnel:
        tunnel = h.Stunnel(ws, env.stunnel, "stunnel", "client", relay.ports["tls"], ca=pki.ca)
        paths["TLS"] = ("t1", tunnel.accept_port)
        print(f"   sipp speaks TLS to the relay through stunnel4 on 127.0.0.1:{tunnel.accept_port}")

    print()
    print("== calls from sipp (the switch)")
    t = Table()
    t.header()

    def call(what, path, number, want, note="", **kw):
        flag, port = paths[path]
        r = env.sipp_call(f"{path}-{number}-{want}", h.invite_scenario(number, want, **kw), port, flag)
        t.add(what, path, number, want, r, note=passport_note(r, pki.shaken_pub) if want == 302 else note)
        return r

    for path in paths:
        call("no action needed: route-advance", path, "13125550100", 503)
        call("routing + STIR/SHAKEN signature", path, "12125550100", 302)
        call("blocked by the service", path, "19005550100", 603)
    before = sim.counters()["invites"]
    call("emergency call (kept local)", "UDP", "911", 503, note="local 503: the switch takes its emergency route")
    call("emergency call, +1 form", "UDP", "+1-933", 503, note="local 503")
    r = env.sipp_call("options", h.options_scenario(200), relay.ports["udp"], "u1")
    t.add("OPTIONS ping (service reachable)", "UDP", "-", 200, status_text=(r.received()[0].start.split(" ", 1)[1]
                                                                            if r.received() else None))
    call("silent service: fail open", "UDP", "15555550100", 503, final_timeout_ms=TIMEOUT_MS + 3000,
         note=f"local 503 after upstream.timeout_ms = {TIMEOUT_MS}")
    seen = sim.counters()["invites"] - before
    print(f"  (the service saw {seen} of the last 3 INVITEs: only the silent one, never the emergency calls)")

    print()
    print("== the service goes away")
    sim.stop()
    took = relay.wait_options(503)
    t.add("OPTIONS ping (service stopped)", "UDP", "-", 503, status_text=f"{relay.options()} (after {took:.1f} s)")
    call("service stopped: fail open at once", "UDP", "13125550100", 503, final_timeout_ms=TIMEOUT_MS,
         note="local 503: no upstream connection")
    sim.restart()
    took = relay.wait_options(200)
    t.add("OPTIONS ping (service restarted)", "UDP", "-", 200, status_text=f"{relay.options()} (after {took:.1f} s)")
    call("service back: routing again", "UDP", "12125550100", 302)

    # Operations: what an operator sees without a packet capture.
    print()
    print("== operations: the stats server and sigrelayctl")
    base = "http://" + relay.keys["stats.http"]
    import json
    import urllib.request
    with urllib.request.urlopen(base + "/stats.json", timeout=10) as resp:
        stats = json.loads(resp.read())
    rtt = stats.get("latency", {}).get("service_rtt", {})
    print(f"   {base}/ is the dashboard; {base}/metrics for Prometheus")
    print(f"   responses to the switches: {stats.get('responses', {}).get('to_switch')}")
    print(f"   service round trip: p50 {rtt.get('p50_us')} us, p99 {rtt.get('p99_us')} us over {rtt.get('count')} calls")
    ctl = os.path.join(os.path.dirname(os.path.abspath(env.relay_bin)), "sigrelayctl")
    out = subprocess.run([ctl, "--socket", relay.keys["control.socket"], "why", "911"], capture_output=True,
                         text=True, timeout=30).stdout
    print("   sigrelayctl why 911:")
    for line in out.splitlines()[:4]:
        print("     " + line)

    # In-line mode: sigrelay completes the call itself.
    print()
    print("== in-line mode: sigrelay follows the service's 302 itself")
    import inline_mode_test as im
    busy = im.carrier(env, "demo-carrier-a", im.fails_with("SIP/2.0 503 Service Unavailable"))
    good = im.carrier(env, "demo-carrier-b", im.answers())
    number = "12015550199"
    contacts = f"sip:+{number}@127.0.0.1:{busy.port},sip:+{number}@127.0.0.1:{good.port}"
    sim_in = h.Sim(ws, env.sim_bin, "sim-inline", pki, rules=[f"{number} 302 contacts={contacts}"], tls=True)
    inline = h.Relay(ws, env.relay_bin, "relay-inline", {
        "mode": "inline", "upstream.uri": f"sip:127.0.0.1:{sim_in.ports['tls']};transport=tls",
        "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test", "acl.allow": "127.0.0.2/32",
        "listen.tcp": ""})
    inline.source = "127.0.0.2"
    inline.wait_options(200)
    print(f"   the service answers 302 with two carriers: 127.0.0.1:{busy.port} (busy: 503) and "
          f"127.0.0.1:{good.port} (answers)")
    r = env.sipp_call("inline", im.switch_call(number), inline.ports["udp"], local_ip="127.0.0.2")
    got = [f"{m.start.split(' ', 1)[1]} ({m.cseq_method()})" for m in r.received() if m.is_response]
    ok = r.ok() and busy.wait().ok() and good.wait().ok()
    t.all_ok &= ok
    print(f"   the switch got: {', '.join(got)}; then its ACK and BYE went to the carrier through sigrelay"
          f" ({'ok' if ok else 'FAILED'})")
    inline.stop()
    c = inline.counters or {}
    print(f"   in-line counters: searches {c.get('inline_searches')}, INVITEs to carriers {c.get('inline_attempts')}, "
          f"failovers {c.get('inline_failovers')}, answered {c.get('inline_answered')}, "
          f"in-dialog requests routed {c.get('inline_routed_requests')}")
    sim_in.stop()

    print()
    print("== stopping sigrelay (SIGTERM): its counters")
    if env.stunnel:
        tunnel.stop()
    rc = relay.stop()
    counters = relay.counters or {}
    shown = {k: v for k, v in counters.items() if v and not (isinstance(v, dict) and not any(v.values()))}
    width = max((len(k) for k in shown), default=10)
    for k, v in shown.items():
        print(f"  {k:<{width}} {v}")
    if rc != 0 or relay.counters is None:
        print(f"  sigrelay exited with {rc} and no counters line: {relay.proc.stderr_tail(5)}")
        t.all_ok = False
    sim.stop()
    print()
    print("== result: " + ("every call got the answer it should" if t.all_ok else "SOME CALLS DID NOT (see above)"))
    if not t.all_ok:
        env.checks.failed.append("demo")


if __name__ == "__main__":
    h.install_sigterm_handler()
    if len(sys.argv) != 3:
        sys.exit("usage: demo.py PATH/TO/sigrelay PATH/TO/sigrelay-sim")
    relay_bin = h.require_binary(sys.argv[1], "sigrelay")
    sim_bin = h.require_binary(sys.argv[2], "sigrelay-sim")
    tools = h.require_tools(sipp=("sipp",), openssl=("openssl",))
    stunnel = h.find_tool("stunnel4", "stunnel")
    checks = h.Checks("demo")
    ws = h.Workspace(prefix="sigrelay-demo-")
    try:
        body(h.Env(relay_bin, sim_bin, tools["sipp"], stunnel, ws, checks))
    except (TimeoutError, RuntimeError, EOFError, OSError, ValueError) as e:
        print(f"demo failed: {type(e).__name__}: {e}")
        checks.failed.append("demo")
    finally:
        ws.close()
    sys.exit(1 if checks.failed else 0)
