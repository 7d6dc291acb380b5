#!/usr/bin/env python3
"""sigrelay in relay mode, end to end: what the service answers reaches the switch.

Usage: relay_basic_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

sipp is the switch, sigrelay-sim the service (TLS, signing PASSporTs), stunnel4
in client mode turns sipp's TCP into TLS for the relay's TLS listener. Checked
against DESIGN.md §1 and RFC 3261:
- 503, 302 (Identity + Contacts), 603 and 403 (a service whose sim.allow leaves
  the relay out) relayed over UDP, TCP and TLS ingress, with the relay's Via
  removed (§16.7 step 3) and 100 Trying first (§16.2);
- the INVITE the service sees: the relay's Via on top, the switch's below,
  Max-Forwards decremented (§16.6 steps 3 and 8);
- the 302's PASSporT verifies with the service's key after the trip (not a
  byte changed), its Contacts are the service's in order;
- OPTIONS over each transport; Max-Forwards 0 -> 483 (§16.3); emergency numbers
  in several spellings -> 503 and never seen by the service;
- an INVITE sent twice (same branch) gets one final and reaches the service
  once (§17.2.1); CANCEL -> 200, then 487 for the INVITE (§9.2), the CANCEL
  followed upstream;
- an upstream over plain TCP (transport=tcp);
- every INVITE got exactly one final; the relay's exit counters agree.
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N503 = "13125550100"       # no rule: the service's default 503
N302 = "12125550100"       # 302 with Identity and two Contacts
N603 = "19005550100"       # block
NSILENT = "15555550100"    # 100 Trying, then nothing (CANCEL; RFC 3261 §9.1 wants a provisional first)
NSLOW = "15565550100"      # answered after 800 ms (the retransmission test)
CONTACTS = ["sip:gw1@192.0.2.10:5060;transport=tcp", "sip:gw2@192.0.2.11"]
RULES = [f"+1212 302 contacts={','.join(CONTACTS)}", "+1900 603", "+1555 503 silent trying",
         "+1556 503 delay_ms=800"]
EMERGENCY = ["911", "+1911", "1-911", "+1-933", "112", "+1112"]


def relay_keys(env, upstream_uri, tls_listener=True):
    keys = {"upstream.uri": upstream_uri, "upstream.ca_file": env.pki.ca, "upstream.server_name": "sim.test",
            "upstream.connections": "2", "dataplane.workers": "2", "tls.workers": "2"}
    if tls_listener:
        keys.update({"listen.tls": "127.0.0.1:0", "listen.tls_cert": env.pki.relay_cert,
                     "listen.tls_key": env.pki.relay_key})
    return keys


def check_relayed(env, label, r, code, number):
    """One call's outcome at the switch: the final, our Via gone, 100 first."""
    if not env.check(f"{label}: {code} reaches the switch", r.ok(), r.describe()):
        return None
    final = r.first_final(code)
    vias = final.vias()
    env.check(f"{label}: {code} carries only the switch's Via",
              len(vias) == 1 and "z9hG4bK-sr-" in vias[0], f"Via: {vias}")
    statuses = r.statuses()
    env.check(f"{label}: 100 Trying before the {code}",
              100 in statuses and statuses.index(100) < statuses.index(code), f"received {statuses}")
    env.check(f"{label}: {code} has a To tag", bool(final.to_tag()), final.get("to"))
    if code == 302:
        contacts = final.all("contact")
        want = [f"<{c}>;q={q}" for c, q in zip(CONTACTS, ("1.0", "0.9"))]
        env.check(f"{label}: 302 Contacts are the service's, in order", contacts == want,
                  f"got {contacts}, want {want}")
        identity = final.get("identity")
        claims, err = h.verify_identity(identity, env.pki.shaken_pub) if identity else (None, "no Identity")
        env.check(f"{label}: 302 Identity PASSporT verifies with the service's key (byte-identical)",
                  claims is not None and err is None, err or "")
        if claims:
            env.check(f"{label}: PASSporT dest.tn is the called number",
                      claims.get("dest", {}).get("tn") == [number], str(claims.get("dest")))
        env.check(f"{label}: Identity keeps info/alg/ppt",
                  identity is not None and identity.endswith(
                      ";info=<https://cert.example.org/sim.pem>;alg=ES256;ppt=shaken"), identity or "")
    return final


def check_forwarded(env, label, sim, via_transport):
    """The INVITE the service received last: our Via on top, the switch's
    next, Max-Forwards 70 - 1."""
    inv = h.SipMessage(sim.counters().get("last_invite", "") or "x")
    vias = inv.vias()
    env.check(f"{label}: service sees the relay's Via (SIP/2.0/{via_transport}) above the switch's",
              len(vias) == 2 and vias[0].startswith(f"SIP/2.0/{via_transport} ") and "z9hG4bK-sr-" in vias[1],
              f"Via: {vias}")
    env.check(f"{label}: Max-Forwards decremented to 69", inv.get("max-forwards") == "69",
              f"Max-Forwards: {inv.get('max-forwards')}")


def body(env):
    ws, pki = env.ws, env.pki
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=RULES, tls=True, tcp=True)
    sim403 = h.Sim(ws, env.sim_bin, "sim403", pki, tls=True, extra=["sim.allow = 192.0.2.0/24"])
    relay = env.relay("relay", relay_keys(env, f"sip:127.0.0.1:{sim.ports['tls']};transport=tls"))
    relay403 = env.relay("relay403", relay_keys(env, f"sip:127.0.0.1:{sim403.ports['tls']};transport=tls"))
    relaytcp = env.relay("relaytcp", {
        "listen.tcp": "", "upstream.uri": f"sip:127.0.0.1:{sim.ports['tcp']};transport=tcp",
        "upstream.connections": "1"})
    tunnel, tls_port = env.stunnel_client("stunnel-relay", relay)
    tunnel403, tls403_port = env.stunnel_client("stunnel-relay403", relay403)

    for r in (relay, relay403, relaytcp):
        took = r.wait_options(200)
        env.check(f"{r.name}: ready line, then OPTIONS 200 once an upstream connection is up ({took:.1f} s)", True)

    ingress = {"udp": ("u1", relay.ports["udp"]), "tcp": ("t1", relay.ports["tcp"]),
               "tls": ("t1", tls_port)}
    ingress403 = {"udp": ("u1", relay403.ports["udp"]), "tcp": ("t1", relay403.ports["tcp"]),
                  "tls": ("t1", tls403_port)}

    # Each answer class over each ingress transport.
    counts = {"invites": 0}
    for tr, (flag, port) in ingress.items():
        for number, code in ((N503, 503), (N302, 302), (N603, 603)):
            r = env.sipp_call(f"{tr}-{code}", h.invite_scenario(number, code), port, flag)
            counts["invites"] += 1
            check_relayed(env, f"{tr} ingress", r, code, number)
            if code == 302:
                check_forwarded(env, f"{tr} ingress", sim, "TLS")
        r = env.sipp_call(f"{tr}-options", h.options_scenario(200), port, flag)
        env.check(f"{tr} ingress: OPTIONS answered 200 by the relay", r.ok(), r.describe())
    sim_invites_before_403 = sim403.counters()["invites"]
    for tr, (flag, port) in ingress403.items():
        r = env.sipp_call(f"{tr}-403", h.invite_scenario(N503, 403), port, flag)
        check_relayed(env, f"{tr} ingress, relay not whitelisted at the service", r, 403, N503)
    env.check("the service answered 403 to each INVITE from the unlisted relay",
              sim403.counters()["forbidden"] - sim_invites_before_403 == 3, str(sim403.counters()["forbidden"]))

    # Local decisions: nothing reaches the service.
    before = sim.counters()["invites"]
    r = env.sipp_call("emergency", h.invite_scenario("[field0]", 503), relay.ports["udp"], "u1",
                      calls=len(EMERGENCY), inf_lines=EMERGENCY)
    env.check(f"emergency numbers {', '.join(EMERGENCY)} over UDP: local 503 each",
              r.ok(len(EMERGENCY)), r.describe())
    r2 = env.sipp_call("emergency-tel", h.invite_scenario("tel:+1-911", 503), relay.ports["udp"], "u1")
    env.check("emergency number as tel:+1-911: local 503", r2.ok(), r2.describe())
    r3 = env.sipp_call("emergency-tcp", h.invite_scenario("911", 503), relay.ports["tcp"], "t1")
    env.check("emergency number over TCP: local 503", r3.ok(), r3.describe())
    r4 = env.sipp_call("mf0", h.invite_scenario(N503, 483, max_forwards=0), relay.ports["udp"], "u1")
    env.check("Max-Forwards 0: 483 Too Many Hops", r4.ok(), r4.describe())
    # A later INVITE that does reach the service proves the earlier ones were
    # not merely still in flight when the counters were read.
    r5 = env.sipp_call("after-local", h.invite_scenario(N503, 503), relay.ports["udp"], "u1")
    env.check("a normal call after the local answers still reaches the service", r5.ok(), r5.describe())
    after = sim.counters()["invites"]
    env.check("the service never saw the emergency or Max-Forwards 0 INVITEs",
              after - before == 1, f"service INVITE count went from {before} to {after} (expected +1)")
    n_emergency = len(EMERGENCY) + 2

    # The same INVITE twice before the answer: one final, one INVITE upstream.
    before = sim.counters()
    r = env.sipp_call("retransmission", h.invite_scenario(NSLOW, 503, duplicate=True, linger_ms=500),
                      relay.ports["udp"], "u1", extra=["-nr"])
    env.check("the switch sent the same INVITE twice, the copy after the 100",
              len([m for m in r.sent() if m.method == "INVITE"]) == 2, r.describe())
    env.check("INVITE sent twice (same branch) over UDP: the 503 comes, once", r.ok(), r.describe())
    after = sim.counters()
    env.check("the retransmitted INVITE reached the service once",
              after["invites"] - before["invites"] == 1
              and after["invite_retransmissions"] == before["invite_retransmissions"],
              f"service invites +{after['invites'] - before['invites']}, "
              f"retransmissions +{after['invite_retransmissions'] - before['invite_retransmissions']}")

    # CANCEL while the service is silent.
    for tr in ("udp", "tcp"):
        flag, port = ingress[tr]
        before = sim.counters()
        r = env.sipp_call(f"cancel-{tr}", h.invite_scenario(NSILENT, 487, cancel=True, linger_ms=500), port, flag)
        env.check(f"{tr} ingress: CANCEL gets 200, the INVITE 487, nothing more", r.ok(), r.describe())
        try:
            h.wait_for("the service receiving the CANCEL",
                       lambda: sim.counters()["cancels"] > before["cancels"], timeout=10)
            env.check(f"{tr} ingress: the CANCEL was followed upstream", True)
        except TimeoutError as e:
            env.check(f"{tr} ingress: the CANCEL was followed upstream", False, str(e))

    # Plain TCP toward the service.
    for number, code in ((N302, 302), (N503, 503)):
        r = env.sipp_call(f"tcp-upstream-{code}", h.invite_scenario(number, code), relaytcp.ports["udp"], "u1")
        check_relayed(env, "transport=tcp upstream", r, code, number)
        if code == 302:
            check_forwarded(env, "transport=tcp upstream", sim, "TCP")

    env.check_one_final_each()

    # Exit: status 0 and counters that agree with what was sent.
    tunnel.stop()
    tunnel403.stop()
    for rl in (relay, relay403, relaytcp):
        rc = rl.stop()
        env.check(f"{rl.name}: SIGTERM -> exit 0 with a counters line", rc == 0 and rl.counters is not None,
                  f"exit {rc}, stderr: {rl.proc.stderr_tail(5)}")
    c = relay.counters or {}
    # INVITEs that had to reach the service: the answer classes, the call
    # after the local answers, the retransmitted one once, the two CANCELled.
    n_upstream = counts["invites"] + 1 + 1 + 2
    expect = {
        "invites_upstream": n_upstream,
        "local_503_emergency": n_emergency,
        "local_483": 1,
        "cancels_in": 2,
        "service_finals_3xx": 3,
        "service_finals_6xx": 3,
        "acl_denied": 0,
        "local_503_timeout": 0,
        "local_503_no_upstream": 0,
    }
    for k, v in expect.items():
        env.check(f"relay counter {k} = {v}", c.get(k) == v, f"got {c.get(k)}")
    env.check("relay counter invite_retransmissions >= 1", c.get("invite_retransmissions", 0) >= 1,
              f"got {c.get('invite_retransmissions')}")
    env.check("relay counter options_in >= 3 (sipp) + probes", c.get("options_in", 0) >= 3,
              f"got {c.get('options_in')}")
    c403 = relay403.counters or {}
    env.check("relay403 counter service_403_404 = 3", c403.get("service_403_404") == 3,
              f"got {c403.get('service_403_404')}")
    env.check("relay403 names the 403 on stderr (DESIGN.md §1: count and log loudly)",
              "403" in relay403.stderr_text(), relay403.proc.stderr_tail(5))
    ct = relaytcp.counters or {}
    env.check("relaytcp counter finals_relayed = 2", ct.get("finals_relayed") == 2, f"got {ct.get('finals_relayed')}")


if __name__ == "__main__":
    h.run_test("relay_basic", body, sys.argv)
