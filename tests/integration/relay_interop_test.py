#!/usr/bin/env python3
"""sigrelay against a service side we did not write: stunnel4 (TLS server) in front of sipp (UAS).

Usage: relay_interop_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

    sipp UAC --UDP--> sigrelay --TLS--> stunnel4 (server) --TCP--> sipp UAS

The relay's TLS client must complete a handshake with stunnel's OpenSSL server
and verify its certificate (throwaway CA, name sim.test); sipp answers each
INVITE by its number with 503, 302 (two Contacts and an Identity header) or
603, and expects the relay's ACK for it (RFC 3261 §17.1.1.3: the relay, a
stateful proxy, ACKs a non-2xx final hop by hop). Checks:
- each answer reaches the switch with every header as the service wrote it,
  byte for byte, except the relay's Via, which is removed (§16.7 step 3);
- the Identity header (the PASSporT) is byte-identical;
- the INVITE sipp received carries the relay's Via on top of the switch's and
  Max-Forwards 69;
- sipp's UAS got its ACKs (its own exit status), the relay counted them.
sigrelay-sim is not used here (the argument keeps the test interface uniform).
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import base64
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N503 = "13125550100"
N302 = "13025550100"
N603 = "16035550100"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# A PASSporT-shaped Identity value (RFC 8224 §4.1). Its signature is not
# valid for any key: what is checked is that the relay passes it on untouched.
IDENTITY = ".".join([
    b64url(json.dumps({"alg": "ES256", "ppt": "shaken", "typ": "passport",
                       "x5u": "https://cert.example.org/interop.pem"}, separators=(",", ":")).encode()),
    b64url(json.dumps({"attest": "B", "dest": {"tn": [N302]}, "iat": 1716800000,
                       "orig": {"tn": "13035550100"}, "origid": "8f3c1a52-5b9e-4c1e-9d0a-2f64a1c0b7e4"},
                      separators=(",", ":")).encode()),
    b64url(bytes(range(64)))]) + ";info=<https://cert.example.org/interop.pem>;alg=ES256;ppt=shaken"
CONTACTS = ["Contact: <sip:gw1@192.0.2.10:5060;transport=tcp>;q=1.0", "Contact: <sip:gw2@192.0.2.11>;q=0.5"]


def body(env):
    ws, pki = env.ws, env.pki
    calls = [(N503, 503), (N302, 302), (N603, 603)]
    uas = h.SippServer(ws, env.sipp, "uas", h.uas_scenario(
        [("1302", "SIP/2.0 302 Moved Temporarily", CONTACTS + [f"Identity: {IDENTITY}"]),
         ("1603", "SIP/2.0 603 Decline", [])],
        ("SIP/2.0 503 Service Unavailable", [])), calls=len(calls), timeout=60)
    tunnel = h.Stunnel(ws, env.stunnel, "stunnel-service", "server", uas.port, cert=pki.sim_cert, key=pki.sim_key)
    relay = h.Relay(ws, env.relay_bin, "relay", {
        "listen.tcp": "", "upstream.uri": f"sip:127.0.0.1:{tunnel.accept_port};transport=tls",
        "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test", "upstream.connections": "1",
        # sipp would take a CRLF keepalive for a broken message
        "upstream.keepalive_s": "0"})
    took = relay.wait_options(200)
    env.check(f"relay's TLS connection to stunnel verified and up: OPTIONS 200 ({took:.1f} s)", True)

    switch_finals = {}
    for number, code in calls:
        r = env.sipp_call(f"uac-{code}", h.invite_scenario(number, code), relay.ports["udp"], "u1")
        env.check(f"stunnel+sipp service: {code} reaches the switch over UDP", r.ok(), r.describe())
        switch_finals[code] = r.first_final(code)
    res = uas.wait(timeout=h.WAIT)
    env.check("sipp UAS: every INVITE arrived and the relay ACKed every final", res.ok(len(calls)), res.describe())
    tunnel.stop()

    service_sent = {m.status: m for m in res.sent() if m.is_response}
    service_got = [m for m in res.received() if m.method == "INVITE"]
    for inv in service_got[:1]:
        vias = inv.vias()
        env.check("the service sees the relay's Via (SIP/2.0/TLS) above the switch's",
                  len(vias) == 2 and vias[0].startswith("SIP/2.0/TLS ") and "z9hG4bK-sr-" in vias[1],
                  f"Via: {vias}")
        env.check("the service sees Max-Forwards 69", inv.get("max-forwards") == "69", inv.get("max-forwards"))
    acks = [m for m in res.received() if m.method == "ACK"]
    env.check("the relay's ACKs reuse its INVITE branch (RFC 3261 §17.1.1.3)",
              len(acks) == len(calls) and all(a.vias()[:1] and any(a.vias()[0] == i.vias()[0] for i in service_got)
                                              for a in acks),
              f"{len(acks)} ACKs")

    for code, got in switch_finals.items():
        sent = service_sent.get(code)
        if got is None or sent is None:
            env.check(f"{code}: relayed as the service wrote it", False, "missing on one side")
            continue
        # sipp writes the Vias it received as one comma-separated line, so
        # compare the Via values and the other headers apart.
        others_sent = [hv for hv in sent.headers if hv[0] != "via"]
        others_got = [hv for hv in got.headers if hv[0] != "via"]
        env.check(f"{code}: every other header reaches the switch as the service wrote it, byte for byte",
                  got.start == sent.start and others_got == others_sent,
                  f"switch got {got.start} {others_got}; service sent {sent.start} {others_sent}")
        env.check(f"{code}: the relay removed its own Via and kept the switch's",
                  got.vias() == sent.vias()[1:], f"service sent Via {sent.vias()}, switch got {got.vias()}")
        if code == 302:
            env.check("302: the Identity header is byte-identical", got.get("identity") == IDENTITY,
                      got.get("identity") or "missing")

    rc = relay.stop()
    c = relay.counters or {}
    env.check("relay: exit 0 with counters", rc == 0 and relay.counters is not None, f"exit {rc}")
    for k, want in (("finals_relayed", 3), ("acks_upstream", 3), ("invites_upstream", 3)):
        env.check(f"relay counter {k} = {want}", c.get(k) == want, f"got {c.get(k)}")
    env.check_one_final_each()


if __name__ == "__main__":
    h.run_test("relay_interop", body, sys.argv)
