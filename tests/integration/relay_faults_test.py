#!/usr/bin/env python3
"""sigrelay under faults: fail open, reconnect, whitelist, TLS verification, shutdown.

Usage: relay_faults_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

sipp is the switch, sigrelay-sim the service over TLS. Checked against
DESIGN.md §1 (fail open, OPTIONS health, source whitelist) and RFC 3261:
- a silent service: local 503 once upstream.timeout_ms has passed (and
  within a margin), counted as a timeout;
- the service stopped: OPTIONS turns 503, INVITEs get 503 at once (no
  upstream connection), counted as such;
- the service started again on the same port: the relay reconnects, OPTIONS
  turns 200 again, calls are answered by the service again;
- a source outside acl.allow (127.0.0.2 against 127.0.0.1/32): sipp over UDP
  gets no answer at all, a python OPTIONS neither, TCP and TLS connections are
  closed without a byte; the relay counts them; the service sees nothing;
- a relay that trusts another CA, and one that expects another server name:
  OPTIONS stays 503, INVITEs fail open with 503, the service counts failed
  handshakes and no INVITE, and the relay's stderr names the reason;
- SIGTERM with an INVITE still waiting for the service: the switch gets 503
  and the relay exits 0 with its counters.
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N503 = "13125550100"
N302 = "12125550100"
NSILENT = "15555550100"
RULES = ["+1212 302 contacts=sip:gw1@192.0.2.10", "+1555 503 silent"]
TIMEOUT_MS = 1500  # the relay's upstream.timeout_ms
MARGIN_MS = 3000   # how much later than that the 503 may come on a busy machine


def relay_keys(env, sim, **extra):
    keys = {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls", "upstream.ca_file": env.pki.ca,
            "upstream.server_name": "sim.test", "upstream.connections": "2",
            "upstream.timeout_ms": str(TIMEOUT_MS)}
    keys.update(extra)
    return keys


def check_tls_rejected(env, relay, sim, label, reason_words, deadline):
    """A relay that must not trust the service: no connection ever comes up."""
    def named():
        return any(w in relay.stderr_text() for w in reason_words)
    try:
        h.wait_for(f"{relay.name} stderr naming the failure", named, timeout=max(0.1, deadline - time.monotonic()))
        env.check(f"{label}: the relay's stderr names the reason ({' / '.join(reason_words)})", True)
    except TimeoutError:
        env.check(f"{label}: the relay's stderr names the reason ({' / '.join(reason_words)})", False,
                  f"stderr: {relay.proc.stderr_tail(8)}")
    answer = relay.options(timeout=2.0)
    env.check(f"{label}: OPTIONS 503 (no upstream connection up)", answer == 503, f"got {answer}")
    before = sim.counters()["invites"]
    r = env.sipp_call(f"{relay.name}-invite", h.invite_scenario(N503, 503, final_timeout_ms=TIMEOUT_MS + MARGIN_MS),
                      relay.ports["udp"], "u1")
    env.check(f"{label}: an INVITE fails open with 503", r.ok(), r.describe())
    env.check(f"{label}: the service got no INVITE", sim.counters()["invites"] == before,
              f"{before} -> {sim.counters()['invites']}")


def body(env):
    ws, pki = env.ws, env.pki
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=RULES, tls=True)
    relay = h.Relay(ws, env.relay_bin, "relay", relay_keys(env, sim, **{
        "listen.tls": "127.0.0.1:0", "listen.tls_cert": pki.relay_cert, "listen.tls_key": pki.relay_key}))
    badca = h.Relay(ws, env.relay_bin, "relay-badca", relay_keys(env, sim, **{
        "listen.tcp": "", "upstream.ca_file": pki.other_ca}))
    badname = h.Relay(ws, env.relay_bin, "relay-badname", relay_keys(env, sim, **{
        "listen.tcp": "", "upstream.server_name": "wrong.example.org"}))

    took = relay.wait_options(200)
    env.check(f"OPTIONS 200 once the relay's upstream connection is up ({took:.1f} s)", True)

    # TLS verification failures: the relay must not talk to a service it
    # cannot verify. Once the service has seen several failed handshakes the
    # two relays have each failed (and retried) already, so a log line about
    # it is due; it gets a few more seconds, not the full wait.
    h.wait_for("failed TLS handshakes at the service", lambda: sim.counters()["tls_handshake_failures"] >= 6)
    deadline = time.monotonic() + 5
    check_tls_rejected(env, badca, sim, "service certificate from another CA", ["certificate verify failed"],
                       deadline)
    check_tls_rejected(env, badname, sim, "service certificate for another name",
                       ["certificate verify failed", "hostname mismatch"], deadline)
    env.check("the service counted the failed TLS handshakes", sim.counters()["tls_handshake_failures"] >= 2,
              f"tls_handshake_failures = {sim.counters()['tls_handshake_failures']}")

    # Fail open on a silent service.
    start = time.monotonic()
    r = env.sipp_call("silent", h.invite_scenario(NSILENT, 503, final_timeout_ms=TIMEOUT_MS + MARGIN_MS),
                      relay.ports["udp"], "u1")
    took = time.monotonic() - start
    env.check(f"silent service: local 503 within timeout_ms + {MARGIN_MS} ms ({took:.1f} s)", r.ok(), r.describe())
    env.check(f"silent service: the 503 did not come before timeout_ms ({took:.1f} s >= {TIMEOUT_MS / 1000} s)",
              took >= TIMEOUT_MS / 1000)

    # Sources outside acl.allow.
    before = sim.counters()["invites"]
    r = env.sipp_call("acl-udp", h.no_answer_scenario(N503, 1500), relay.ports["udp"], "u1", local_ip="127.0.0.2",
                      track=False)
    env.check("source 127.0.0.2 (not in acl.allow) over UDP: sipp's INVITE gets no answer", r.ok(), r.describe())
    answer = h.options_probe(relay.ports["udp"], timeout=1.0, source="127.0.0.2")
    env.check("source 127.0.0.2 over UDP: OPTIONS gets no answer", answer is None, f"got {answer}")
    outcome = h.stream_closed_without_answer(relay.ports["tcp"], "127.0.0.2",
                                             h.options_bytes(relay.ports["tcp"], "127.0.0.2"))
    env.check("source 127.0.0.2 over TCP: connection closed without an answer", outcome in ("closed", "refused"),
              outcome)
    outcome = h.stream_closed_without_answer(relay.ports["tls"], "127.0.0.2")
    env.check("source 127.0.0.2 to the TLS listener: connection closed before any handshake",
              outcome in ("closed", "refused"), outcome)
    env.check("an allowed source is still answered (OPTIONS 200 from 127.0.0.1)", relay.options(timeout=2.0) == 200)
    env.check("the service never saw the denied INVITE", sim.counters()["invites"] == before,
              f"{before} -> {sim.counters()['invites']}")

    # The service goes away: OPTIONS 503, INVITEs 503 at once.
    sim_port = sim.ports["tls"]
    sim.stop()
    took = relay.wait_options(503)
    env.check(f"service stopped: OPTIONS turns 503 ({took:.1f} s)", True)
    r = env.sipp_call("no-upstream", h.invite_scenario(N503, 503, final_timeout_ms=TIMEOUT_MS - 500),
                      relay.ports["udp"], "u1")
    env.check(f"service stopped: INVITE gets 503 at once (before timeout_ms {TIMEOUT_MS} ms)", r.ok(), r.describe())

    # ...and comes back on the same port.
    sim.restart()
    env.check("service restarted on the same port", sim.ports["tls"] == sim_port, str(sim.ports))
    took = relay.wait_options(200)
    env.check(f"service back: the relay reconnects, OPTIONS 200 again ({took:.1f} s)", True)
    for number, code in ((N302, 302), (N503, 503)):
        r = env.sipp_call(f"after-restart-{code}", h.invite_scenario(number, code), relay.ports["udp"], "u1")
        env.check(f"service back: the service's {code} reaches the switch again", r.ok(), r.describe())
    env.check("service back: the restarted service answered those INVITEs",
              sim.counters()["invites"] == 2, f"invites = {sim.counters()['invites']}")

    # SIGTERM while an INVITE waits for the (silent) service.
    pending = {}

    def call():
        pending["r"] = env.sipp_call("shutdown", h.invite_scenario(NSILENT, 503, final_timeout_ms=15000),
                                     relay.ports["udp"], "u1", timeout=30)
    before_silent = sim.counters()["silent_invites"]
    t = threading.Thread(target=call)
    t.start()
    try:
        h.wait_for("the INVITE reaching the silent service",
                   lambda: sim.counters()["silent_invites"] > before_silent or not t.is_alive())
    finally:
        rc = relay.stop()
        t.join(timeout=40)
    r = pending.get("r")
    env.check("SIGTERM with an INVITE pending: the switch gets 503", r is not None and r.ok(),
              r.describe() if r else "sipp did not finish")
    env.check("SIGTERM: exit status 0 and a counters line", rc == 0 and relay.counters is not None,
              f"exit {rc}, stderr: {relay.proc.stderr_tail(5)}")
    env.check_one_final_each()

    c = relay.counters or {}
    for k, want in (("local_503_timeout", 1), ("local_503_shutdown", 1)):
        env.check(f"relay counter {k} = {want}", c.get(k) == want, f"got {c.get(k)}")
    for k, low in (("local_503_no_upstream", 1), ("acl_denied", 2), ("tls_inbound_refused_acl", 2)):
        env.check(f"relay counter {k} >= {low}", c.get(k, 0) >= low, f"got {c.get(k)}")
    for rl in (badca, badname):
        rc = rl.stop()
        cc = rl.counters or {}
        env.check(f"{rl.name}: exit 0, the INVITE counted as local_503_no_upstream",
                  rc == 0 and cc.get("local_503_no_upstream") == 1 and cc.get("invites_upstream") == 0,
                  f"exit {rc}, local_503_no_upstream={cc.get('local_503_no_upstream')}, "
                  f"invites_upstream={cc.get('invites_upstream')}")
        env.check(f"{rl.name}: failed handshakes counted (tls_upstream_handshake_failures >= 1)",
                  cc.get("tls_upstream_handshake_failures", 0) >= 1,
                  f"got {cc.get('tls_upstream_handshake_failures')}")


if __name__ == "__main__":
    h.run_test("relay_faults", body, sys.argv, stunnel=False)
