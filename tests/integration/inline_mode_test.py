#!/usr/bin/env python3
"""In-line mode end to end: sigrelay follows the service's 302 itself.

Usage: inline_mode_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

    sipp UAC (switch, 127.0.0.2) --UDP--> sigrelay --TLS--> sigrelay-sim (service)
                                             |
                                             +--UDP--> sipp UAS instances (carriers, 127.0.0.1)

The carriers are not in acl.allow (only the switch's 127.0.0.2 is): what
they send comes in because it belongs to a call the relay carries (its Via
branch or its Record-Route token). Cases (docs/inline.md):
- first destination 503 -> second answers 200 -> the switch's ACK and BYE
  reach the destination through sigrelay (Record-Route, loose routing);
- the INVITE the destination got carries the service's Identity header,
  whose PASSporT verifies with python3-jwt against the certificate of the
  sim's key, `dest` = the called number;
- first destination silent -> inline.branch_timeout_ms -> second;
- every destination fails -> one final reaches the switch (§16.7: 503s
  become 500);
- CANCEL while the second destination rings -> CANCEL to it, its 487 to
  the switch;
- 603 from the service -> relayed, no destination contacted;
- terminating side: a signed INVITE goes to a verifying sim; its 302 carries
  the verdict, which the destination receives (P-Asserted-Identity verstat).
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SWITCH_IP = "127.0.0.2"
CARRIER_IP = "127.0.0.1"
CALLER = h.CALLER
N_FAILOVER = "12015550101"
N_SILENT = "12015550102"
N_ALLFAIL = "12015550103"
N_CANCEL = "12015550104"
N_DECLINE = "16035550100"
N_TCP = "12015550105"
N_TLS = "12015550106"
N_BIG = "12015550107"
N_HANGUP = "12015550108"
N_ICMP = "12015550109"
X5U = "https://cert.example.org/sim.pem"


def udp_bound(port):
    """Whether something has bound UDP `port` on loopback (/proc/net/udp)."""
    want = f"{port:04X}"
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(":" + want) for line in f.readlines()[1:])


def carrier(env, name, steps, calls=1, transport="u1"):
    """A sipp UAS on 127.0.0.1 (UDP, or TCP with "t1"): a carrier's gateway."""
    uas = h.SippServer(env.ws, env.sipp, name, h._xml(name, steps), calls=calls, transport=transport, timeout=60)
    if transport == "u1":
        h.wait_for(f"{name} bound", lambda: udp_bound(uas.port) or not uas.proc.running())
    return uas


def response(status, extra=(), sdp=False):
    lines = [status, "[last_Via:]", "[last_From:]", "[last_To:];tag=[pid]UAS[call_number]", "[last_Call-ID:]",
             "[last_CSeq:]", *extra]
    if sdp:
        return "\n".join(lines + ["Content-Type: application/sdp", "Content-Length: [len]", "",
                                  "v=0\no=carrier 1 1 IN IP4 [local_ip]\ns=-\nc=IN IP4 [local_ip]\nt=0 0\n"
                                  "m=audio 41000 RTP/AVP 0\na=rtpmap:0 PCMU/8000"])
    return "\n".join(lines + ["Content-Length: 0"])


def fails_with(status):
    return [' <recv request="INVITE"/>\n', h._send(response(status)), ' <recv request="ACK"/>\n']


def answers(contact_params=""):
    """Rings, answers, then takes the switch's ACK and BYE (both through the
    relay: Route = our Record-Route)."""
    contact = f"Contact: <sip:carrier@[local_ip]:[local_port]{contact_params}>"
    return [' <recv request="INVITE"/>\n',
            h._send(response("SIP/2.0 180 Ringing", ["[last_Record-Route:]", contact])),
            h._send(response("SIP/2.0 200 OK", ["[last_Record-Route:]", contact], sdp=True)),
            ' <recv request="ACK"/>\n',
            ' <recv request="BYE"/>\n',
            h._send(response("SIP/2.0 200 OK"))]


def answers_then_hangs_up():
    """The callee ends the call: BYE along the route set the INVITE's
    Record-Route gave it (through the relay), to the switch's Contact."""
    contact = "Contact: <sip:carrier@[local_ip]:[local_port]>"
    bye = "\n".join(["BYE [next_url] SIP/2.0", "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
                     "[routes]", "From: [$to_hdr]", "To: [$from_hdr]", "Call-ID: [$cid]", "CSeq: 1 BYE",
                     "Max-Forwards: 70", "Content-Length: 0"])
    return [' <recv request="INVITE" rrs="true">\n  <action>\n'
            '   <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from_hdr"/>\n'
            '   <ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="cid"/>\n'
            '  </action>\n </recv>\n',
            h._send(response("SIP/2.0 200 OK", ["[last_Record-Route:]", contact], sdp=True)),
            ' <recv request="ACK">\n  <action>\n'
            '   <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to_hdr"/>\n'
            '  </action>\n </recv>\n',
            ' <pause milliseconds="200"/>\n',
            h._send(bye, retrans=500),
            ' <recv response="200"/>\n']


def rings_until_cancel():
    return [' <recv request="INVITE"/>\n',
            h._send(response("SIP/2.0 180 Ringing", ["Contact: <sip:carrier@[local_ip]:[local_port]>"])),
            ' <recv request="CANCEL"/>\n',
            h._send(response("SIP/2.0 200 OK")),
            h._send("\n".join(["SIP/2.0 487 Request Terminated", "[last_Via:]", "[last_From:]",
                               "[last_To:];tag=[pid]UAS[call_number]", "[last_Call-ID:]",
                               "CSeq: [last_cseq_number] INVITE", "Content-Length: 0"])),
            ' <recv request="ACK"/>\n']


def silent():
    """Takes the INVITE (and its retransmissions) and never answers."""
    return [' <recv request="INVITE"/>\n', ' <pause milliseconds="4000"/>\n']


def switch_call(number, identity=None):
    """The switch's side of an answered call: INVITE (optionally signed),
    200, ACK and later BYE along the route set the 200 taught it."""
    ruri = h.number_uri(number)
    invite = h._request("INVITE", ruri, body="v=0\no=switch 1 1 IN IP4 [local_ip]\ns=-\nc=IN IP4 [local_ip]\n"
                                              "t=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000")
    if identity:
        invite = invite.replace("\nMax-Forwards:", f"\nIdentity: {identity}\nMax-Forwards:", 1)
    in_dialog = lambda method, cseq: "\n".join([  # noqa: E731
        f"{method} [next_url] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        "[routes]",
        f'From: "switch" <sip:{CALLER}@[local_ip]>;tag=[pid]SR[call_number]',
        "[last_To:]",
        "[last_Call-ID:]",
        f"CSeq: {cseq} {method}",
        "Max-Forwards: 70",
        "Content-Length: 0"])
    return h._xml("switch-call", [
        h._send(invite, retrans=500),
        ' <recv response="100" optional="true"/>\n',
        ' <recv response="180" optional="true"/>\n',
        ' <recv response="200" rrs="true"/>\n',
        h._send(in_dialog("ACK", 1)),
        ' <pause milliseconds="300"/>\n',
        h._send(in_dialog("BYE", 2), retrans=500),
        ' <recv response="200"/>\n'])


def switch_call_callee_hangs_up(number):
    ruri = h.number_uri(number)
    invite = h._request("INVITE", ruri, body="v=0\no=switch 1 1 IN IP4 [local_ip]\ns=-\nc=IN IP4 [local_ip]\n"
                                              "t=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000")
    ack = "\n".join(["ACK [next_url] SIP/2.0", "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
                     "[routes]", f'From: "switch" <sip:{CALLER}@[local_ip]>;tag=[pid]SR[call_number]',
                     "[last_To:]", "[last_Call-ID:]", "CSeq: 1 ACK", "Max-Forwards: 70", "Content-Length: 0"])
    return h._xml("switch-callee-bye", [
        h._send(invite, retrans=500),
        ' <recv response="100" optional="true"/>\n',
        ' <recv response="200" rrs="true"/>\n',
        h._send(ack),
        ' <recv request="BYE"/>\n',
        h._send(response("SIP/2.0 200 OK"))])


def cancel_after_ringing(number):
    ruri = h.number_uri(number)
    return h._xml("switch-cancel", [
        h._send(h._request("INVITE", ruri), retrans=500),
        ' <recv response="100" optional="true"/>\n',
        ' <recv response="180"/>\n',
        h._send(h._request("CANCEL", ruri), retrans=500),
        ' <recv response="200"/>\n',
        ' <recv response="487"/>\n',
        h._send(h._ack(ruri))])


def received(result, method):
    return [m for m in result.received() if m.method == method]


def shaken_certificate(env):
    """A self-signed certificate for the sim's SHAKEN key: what a verifier
    would fetch from x5u."""
    crt = env.ws.path("shaken.crt")
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", env.pki.shaken_key, "-subj", "/CN=SHAKEN sim",
                    "-days", "2", "-out", crt], check=True, capture_output=True)
    return crt


def verify_with_jwt(identity, crt):
    """python3-jwt (not our code) checks the PASSporT against the certificate."""
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(crt, "rb") as f:
        pub = x509.load_pem_x509_certificate(f.read()).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token, _, params = identity.partition(";")
    try:
        claims = jwt.decode(token, pub, algorithms=["ES256"], options={"verify_aud": False, "verify_iat": False})
    except jwt.PyJWTError as e:
        return None, f"{type(e).__name__}: {e}", params
    return claims, None, params


def relay_keys(sim, extra=None):
    keys = {"mode": "inline", "acl.allow": f"{SWITCH_IP}/32", "listen.tcp": "",
            "upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
            "upstream.ca_file": sim.pki.ca, "upstream.server_name": "sim.test", "upstream.connections": "1",
            "inline.branch_timeout_ms": "1000"}
    keys.update(extra or {})
    return keys


def body(env):
    ws, pki = env.ws, env.pki
    crt = shaken_certificate(env)

    # Carriers: each case has its own gateways, so a message log tells its story.
    a_503 = carrier(env, "a-503", fails_with("SIP/2.0 503 Service Unavailable"))
    b_ok = carrier(env, "b-ok", answers())
    a_silent = carrier(env, "a-silent", silent())
    b_busy = carrier(env, "b-busy", fails_with("SIP/2.0 486 Busy Here"))
    f1 = carrier(env, "f1-503", fails_with("SIP/2.0 503 Service Unavailable"))
    f2 = carrier(env, "f2-503", fails_with("SIP/2.0 503 Service Unavailable"))
    c1 = carrier(env, "c1-500", fails_with("SIP/2.0 500 Server Internal Error"))
    c2 = carrier(env, "c2-ring", rings_until_cancel())
    d_tcp = carrier(env, "d-tcp", answers(";transport=tcp"), transport="t1")
    d_tls = carrier(env, "d-tls", fails_with("SIP/2.0 486 Busy Here"), transport="t1")
    tls_front = h.Stunnel(ws, env.stunnel, "stunnel-carrier", "server", d_tls.port, cert=pki.sim_cert, key=pki.sim_key)
    d_big = carrier(env, "d-big", fails_with("SIP/2.0 486 Busy Here"), transport="t1")
    d_hangup = carrier(env, "d-hangup", answers_then_hangs_up())
    d_after_icmp = carrier(env, "d-after-icmp", fails_with("SIP/2.0 486 Busy Here"))
    closed = h.free_port("udp")  # nothing listens there: the kernel answers ICMP port unreachable

    def to(c, n):
        return f"sip:+{n}@{CARRIER_IP}:{c.port}"
    rules = [f"{N_FAILOVER} 302 contacts={to(a_503, N_FAILOVER)},{to(b_ok, N_FAILOVER)}",
             f"{N_SILENT} 302 contacts={to(a_silent, N_SILENT)},{to(b_busy, N_SILENT)}",
             f"{N_ALLFAIL} 302 contacts={to(f1, N_ALLFAIL)},{to(f2, N_ALLFAIL)}",
             f"{N_CANCEL} 302 contacts={to(c1, N_CANCEL)},{to(c2, N_CANCEL)}",
             f"{N_DECLINE} 603",
             f"{N_TCP} 302 contacts={to(d_tcp, N_TCP)};transport=tcp",
             f"{N_TLS} 302 contacts=sip:+{N_TLS}@{CARRIER_IP}:{tls_front.accept_port};transport=tls",
             # No transport parameter: UDP, unless the INVITE is too big for it.
             f"{N_BIG} 302 contacts={to(d_big, N_BIG)}",
             f"{N_HANGUP} 302 contacts={to(d_hangup, N_HANGUP)}",
             f"{N_ICMP} 302 contacts=sip:+{N_ICMP}@{CARRIER_IP}:{closed},{to(d_after_icmp, N_ICMP)}"]
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=rules, tls=True)
    relay = env.relay("relay", relay_keys(sim))
    relay.source = SWITCH_IP
    took = relay.wait_options(200)
    env.check(f"in-line relay up with its TLS session to the sim: OPTIONS 200 ({took:.1f} s)", True)
    port = relay.ports["udp"]

    # 1. First destination 503, second answers; ACK and BYE go through us.
    r = env.sipp_call("failover", switch_call(N_FAILOVER), port, local_ip=SWITCH_IP)
    env.check("503 from the first destination, 200 from the second: the switch's call completes", r.ok(),
              r.describe())
    env.check("the switch saw 100/180/200 only (no 302, no 503)",
              [s for s in r.statuses() if s >= 200 and s != 200] == [], r.statuses())
    ra, rb = a_503.wait(), b_ok.wait()
    env.check("first destination got the INVITE and our ACK for its 503", ra.ok(), ra.describe())
    env.check("second destination got INVITE, ACK and BYE (loose routing) and answered", rb.ok(), rb.describe())
    invites = received(rb, "INVITE")
    identity = None
    if env.check("second destination received one INVITE", len(invites) == 1, len(invites)):
        inv = invites[0]
        env.check("its Request-URI is the Contact", inv.start.split()[1] == to(b_ok, N_FAILOVER), inv.start)
        identity = inv.get("Identity")
        env.check("its top Via is ours (UDP, the relay's address)",
                  inv.vias()[0].startswith(f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-sr1-"), inv.vias()[:1])
        rr = inv.get("Record-Route") or ""
        env.check("it carries our Record-Route (lr, token)", rr.startswith(f"<sip:127.0.0.1:{port};lr;srr="), rr)
        env.check("Max-Forwards went down by one", inv.get("Max-Forwards") == "69", inv.get("Max-Forwards"))
    claims, err, params = verify_with_jwt(identity or "", crt)
    env.check("the destination's Identity verifies with python3-jwt against the sim's certificate",
              claims is not None, err)
    if claims:
        env.check("PASSporT dest is the called number, orig the caller",
                  claims.get("dest", {}).get("tn") == [N_FAILOVER] and claims.get("orig", {}).get("tn") == CALLER,
                  claims)
        env.check("Identity parameters as the service wrote them",
                  params == f"info=<{X5U}>;alg=ES256;ppt=shaken", params)
    acks = received(rb, "ACK")
    env.check("the ACK for the 200 reached the destination without our Route",
              len(acks) == 1 and acks[0].get("Route") is None and len(acks[0].vias()) == 2,
              acks[0].start if acks else "none")

    # 2. First destination silent: abandoned after branch_timeout, second tried.
    r = env.sipp_call("silent", h.invite_scenario(N_SILENT, 486), port, local_ip=SWITCH_IP)
    env.check("silent first destination: the second's 486 reaches the switch", r.ok(), r.describe())
    rs, rbz = a_silent.wait(), b_busy.wait()
    got = received(rs, "INVITE")
    env.check("the silent destination got the INVITE (retransmitted over UDP)", len(got) >= 1, len(got))
    env.check("the next destination got it after the branch timeout and our ACK", rbz.ok(), rbz.describe())

    # 3. Every destination fails.
    r = env.sipp_call("allfail", h.invite_scenario(N_ALLFAIL, 500), port, local_ip=SWITCH_IP)
    env.check("every destination 503: one 500 reaches the switch (RFC 3261 §16.7 step 6)", r.ok(), r.describe())
    env.check("both destinations tried and ACKed", f1.wait().ok() and f2.wait().ok())

    # 4. CANCEL while the second destination rings.
    r = env.sipp_call("cancel", cancel_after_ringing(N_CANCEL), port, local_ip=SWITCH_IP)
    env.check("CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE", r.ok(), r.describe())
    env.check("the ringing destination got our CANCEL and ACK for its 487", c2.wait().ok() and c1.wait().ok())

    # 5. The service blocks: nobody else hears of the call.
    r = env.sipp_call("decline", h.invite_scenario(N_DECLINE, 603), port, local_ip=SWITCH_IP)
    env.check("603 from the service reaches the switch", r.ok(), r.describe())

    # 6. Destinations over TCP and TLS (stunnel, a TLS server we did not write).
    r = env.sipp_call("tcp", switch_call(N_TCP), port, local_ip=SWITCH_IP)
    env.check("TCP destination: call answered, ACK and BYE routed to it over TCP", r.ok(), r.describe())
    rt = d_tcp.wait()
    env.check("the TCP destination saw INVITE, ACK, BYE", rt.ok(), rt.describe())
    inv = received(rt, "INVITE")
    env.check("its INVITE has a TCP Via and a double Record-Route (switch on UDP)",
              inv and inv[0].vias()[0].startswith("SIP/2.0/TCP ") and len(inv[0].all("record-route")) == 2,
              (inv[0].vias()[:1], inv[0].all("record-route")) if inv else None)
    r = env.sipp_call("tls", h.invite_scenario(N_TLS, 486), port, local_ip=SWITCH_IP)
    env.check("TLS destination behind stunnel (certificate verified): its 486 reaches the switch", r.ok(),
              r.describe())
    rl = d_tls.wait()
    env.check("the destination behind stunnel got INVITE and our ACK", rl.ok(), rl.describe())
    tls_front.stop()

    # 7. A large INVITE to a Contact without transport= goes over TCP (§18.1.1).
    r = env.sipp_call("big", h.invite_scenario(N_BIG, 486, body=h.sdp_body(1400)), port, local_ip=SWITCH_IP)
    env.check("1.5 KB INVITE: sent over TCP to a destination that only listens on TCP", r.ok(), r.describe())
    rg = d_big.wait()
    big = received(rg, "INVITE")
    env.check("it arrived over TCP, Identity and all", rg.ok() and big and big[0].vias()[0].startswith("SIP/2.0/TCP ")
              and big[0].get("Identity") is not None, rg.describe())

    # 8. The callee hangs up: its BYE comes from outside acl.allow and is let
    # in by our Record-Route token.
    r = env.sipp_call("hangup", switch_call_callee_hangs_up(N_HANGUP), port, local_ip=SWITCH_IP)
    env.check("callee's BYE reaches the switch through the relay, its 200 goes back", r.ok(), r.describe())
    rh = d_hangup.wait()
    env.check("the callee got the 200 for its BYE", rh.ok(), rh.describe())

    # 9. ICMP port unreachable from the first destination: the next at once.
    r = env.sipp_call("icmp", h.invite_scenario(N_ICMP, 486), port, local_ip=SWITCH_IP)
    env.check("unreachable first destination (ICMP): the second's 486 reaches the switch", r.ok(), r.describe())
    env.check("the second destination got the INVITE", d_after_icmp.wait().ok())

    env.check_one_final_each()
    env.check("relay stops cleanly", relay.stop() == 0, relay.stderr_text()[-300:])
    c = relay.counters or {}
    env.check("counted: 9 searches, 14 destination INVITEs, 3 answered, 1 exhausted, 1 branch timeout",
              (c.get("inline_searches"), c.get("inline_attempts"), c.get("inline_answered"),
               c.get("inline_exhausted"), c.get("inline_branch_timeouts")) == (9, 14, 3, 1, 1),
              {k: v for k, v in c.items() if k.startswith("inline_") and v})
    env.check("in-dialog requests routed (3 ACK, 3 BYE), the BYEs' 200s routed back",
              c.get("inline_routed_requests") == 6 and c.get("inline_routed_responses") == 3,
              (c.get("inline_routed_requests"), c.get("inline_routed_responses")))
    env.check("nothing from the carriers was refused as an unlisted source", c.get("acl_denied") == 0,
              c.get("acl_denied"))
    env.check("the ICMP error was taken as the first destination's failure (no branch timeout)",
              c.get("inline_transport_errors", 0) >= 1, c.get("inline_transport_errors"))
    env.check("one INVITE upgraded to TCP; TCP and TLS connections opened to destinations",
              c.get("inline_tcp_upgrades") == 1 and c.get("tls_destination_connects", 0) >= 3,
              (c.get("inline_tcp_upgrades"), c.get("tls_destination_connects")))
    env.check("sizes of the INVITEs sent are counted",
              sum((c.get("inline_invite_size") or {}).values()) == c.get("inline_attempts"),
              c.get("inline_invite_size"))
    sim.stop()

    # 6. Terminating side: a signed INVITE arrives; a verifying service's 302
    # carries the verdict, and the destination receives it.
    if identity is None:
        env.check("terminating side (needs the Identity of case 1)", False)
        return
    term_dest = carrier(env, "term", answers())
    vsim = h.Sim(ws, env.sim_bin, "vsim", pki, tls=True,
                 rules=[f"{N_FAILOVER} 302 contacts={to(term_dest, N_FAILOVER)} verify"])
    vrelay = env.relay("vrelay", relay_keys(vsim))
    vrelay.source = SWITCH_IP
    vrelay.wait_options(200)
    r = env.sipp_call("terminating", switch_call(N_FAILOVER, identity=identity), vrelay.ports["udp"],
                      local_ip=SWITCH_IP)
    env.check("terminating call with a signed INVITE completes", r.ok(), r.describe())
    rt = term_dest.wait()
    env.check("the destination answered and got ACK and BYE", rt.ok(), rt.describe())
    inv = received(rt, "INVITE")
    pai = inv[0].get("P-Asserted-Identity") if inv else None
    env.check("the destination's INVITE carries the verdict: verstat=TN-Validation-Passed",
              pai is not None and "verstat=TN-Validation-Passed" in pai, pai)
    env.check("and the attestation level of the PASSporT", inv and inv[0].get("P-Attestation-Indicator") == "A",
              inv[0].get("P-Attestation-Indicator") if inv else None)
    env.check("the originating Identity still travels with it", inv and inv[0].get("Identity") == identity)
    vrelay.stop()
    vsim.stop()


if __name__ == "__main__":
    h.run_test("in-line mode", body, sys.argv)
