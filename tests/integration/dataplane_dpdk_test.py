#!/usr/bin/env python3
"""The dpdk backend end to end: sigrelay on a DPDK port (net_af_packet on a
veth), switches in a network namespace behind it (dpdk_lab.py).

Usage: dataplane_dpdk_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim {af_packet|af_xdp} WORKERS

The same checks run over net_af_packet and net_af_xdp (meson runs both):

Checked, each against what the wire must show:
- the relay comes up on the port and names it and the exception interface;
- IPv6: ping6 (neighbour discovery, ICMPv6 echo) and a call over UDP/IPv6;
- ARP: arping from the switch side gets the port's MAC (RFC 826), and the
  switch's neighbour table learns it; ping (ICMP echo) is answered, once;
- UDP SIP through the poll-mode workers: 503, 302 (Identity PASSporT still
  verifies, Contacts in order), 603, OPTIONS, an emergency number answered
  locally, CANCEL -> 200 + 487;
- a ~3 KB INVITE, which crosses the veth as IP fragments, is reassembled,
  relayed whole (the service sees every byte of its SDP) and answered;
- a 302 larger than the MTU comes back to the switch in fragments and
  arrives whole;
- TCP and TLS SIP from the switch side reach the kernel listeners through
  the exception tap and are relayed like UDP;
- exactly one final per INVITE; SIGTERM -> exit 0 with counters that agree.
Skipped (77) without root, iproute2, sipp or stunnel4.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import dpdk_lab  # noqa: E402

N503 = "13125550100"
N302 = "12125550100"
NBIG302 = "12135550100"   # a 302 with so many Contacts that it exceeds the MTU
N603 = "19005550100"
NSILENT = "15555550100"
CONTACTS = ["sip:gw1@192.0.2.10:5060;transport=tcp", "sip:gw2@192.0.2.11"]
BIG_CONTACTS = [f"sip:international-gateway-{i:02d}@gw{i:02d}.carrier.example.net:5060;transport=udp" for i in range(16)]
RULES = [f"+1212 302 contacts={','.join(CONTACTS)}", f"+1213 302 contacts={','.join(BIG_CONTACTS)}",
         "+1900 603", "+1555 503 silent trying"]


def body(env, lab, pmd, workers):
    ws, pki = env.ws, env.pki
    link = lab.link(queues=workers)
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=RULES, tls=True)
    tcp_port, tls_port = h.free_port(), h.free_port()
    keys = link.relay_keys(pmd, workers=workers, tcp_port=tcp_port, tls_port=tls_port, ipv6=True)
    keys.update({"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
                 "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                 "upstream.connections": "2", "tls.workers": "1",
                 "listen.tls_cert": pki.relay_cert, "listen.tls_key": pki.relay_key})
    relay = h.Relay(ws, env.relay_bin, "relay", keys, start=False)
    try:
        relay.start(timeout=60)
    except (TimeoutError, EOFError) as e:
        env.check("relay starts on the dpdk backend", False, f"{e}; stderr: {relay.proc.stderr_tail(15)}")
        return
    env.check("ready line names the DPDK port and the exception interface",
              f"dpdk=net_{pmd}0" in relay.ready_line and f"exception={link.tap}" in relay.ready_line,
              relay.ready_line)

    # L2/L3: ARP and ICMP answered by the dataplane.
    r = lab.ns_run("arping", "-c", "2", "-w", "10", "-I", link.switch_if, link.relay_ip, check=False)
    env.check("arping from the switch side is answered", r.returncode == 0, r.stdout[-300:])
    env.check("... with the DPDK port's MAC", link.mac.lower() in r.stdout.lower(), r.stdout[-300:])
    r = lab.ns_run("ping", "-c", "3", "-i", "0.2", "-W", "5", link.relay_ip, check=False)
    env.check("ping is answered, each request once", r.returncode == 0 and "3 received" in r.stdout
              and "DUP" not in r.stdout, r.stdout[-300:])
    neigh = lab.ns_run("ip", "neigh", "show", link.relay_ip, "dev", link.switch_if, check=False).stdout
    env.check("the switch's neighbour table holds the port's MAC", link.mac.lower() in neigh.lower(), neigh)

    r = lab.ns_run("ping", "-6", "-c", "3", "-i", "0.2", "-W", "5", link.relay_ip6, check=False)
    env.check("IPv6: ping answered (neighbour discovery, then ICMPv6 echo), each request once",
              r.returncode == 0 and "3 received" in r.stdout and "DUP" not in r.stdout, r.stdout[-300:])
    neigh = lab.ns_run("ip", "-6", "neigh", "show", link.relay_ip6, "dev", link.switch_if, check=False).stdout
    env.check("IPv6: the switch's neighbour table holds the port's MAC", link.mac.lower() in neigh.lower(), neigh)

    relay.attach(link, lab)
    try:
        relay.wait_options(200, timeout=30)
        env.check("OPTIONS over the dpdk port: 200 once an upstream is up", True)
    except TimeoutError as e:
        env.check("OPTIONS over the dpdk port: 200 once an upstream is up", False, str(e))

    def call(name, scenario, port=5060, transport="u1", host=None, **kw):
        return env.sipp_call(name, scenario, port, transport, local_ip=link.switch_ip,
                             target_host=host or link.relay_ip, wrap=lab.ns_argv, **kw)

    for number, code in ((N503, 503), (N302, 302), (N603, 603)):
        res = call(f"udp-{code}", h.invite_scenario(number, code))
        env.check(f"UDP via dpdk: {code} reaches the switch", res.ok(), res.describe())
        if code == 302 and res.ok():
            final = res.first_final(302)
            want = [f"<{c}>;q={q}" for c, q in zip(CONTACTS, ("1.0", "0.9"))]
            env.check("UDP via dpdk: 302 Contacts in the service's order", final.all("contact") == want,
                      str(final.all("contact")))
            claims, err = h.verify_identity(final.get("identity") or "", pki.shaken_pub)
            env.check("UDP via dpdk: 302 Identity verifies with the service's key", err is None, err or "")
    res = env.sipp_call("udp6-503", h.invite_scenario(N503, 503), 5060, "u1", local_ip=link.switch_ip6,
                        target_host=f"[{link.relay_ip6}]", wrap=lab.ns_argv)
    env.check("UDP over IPv6 via dpdk: 503 reaches the switch", res.ok(), res.describe())
    res = call("emergency", h.invite_scenario("911", 503))
    env.check("UDP via dpdk: 911 answered 503 locally", res.ok(), res.describe())
    res = call("cancel", h.invite_scenario(NSILENT, 487, cancel=True, linger_ms=300))
    env.check("UDP via dpdk: CANCEL -> 200, INVITE -> 487", res.ok(), res.describe())

    # IP fragments both ways.
    before = sim.counters()["invites"]
    res = call("big-invite", h.invite_scenario(N503, 503, body=h.sdp_body(3000)))
    env.check("a 3 KB INVITE (IP fragments on the wire) is relayed and answered", res.ok(), res.describe())
    last = sim.counters().get("last_invite", "")
    env.check("the service received the whole 3 KB INVITE (its last SDP line intact)",
              sim.counters()["invites"] == before + 1 and len(last) > 3000 and re.search(r"a=x-pad-\d{4}:p{60}\s*$", last),
              f"{len(last)} bytes")
    res = call("big-302", h.invite_scenario(NBIG302, 302))
    size = len(res.first_final(302).raw) if res.ok() else 0
    env.check(f"a 302 larger than the MTU ({size} bytes) reaches the switch whole", res.ok() and size > 1500
              and len(res.first_final(302).all("contact")) == len(BIG_CONTACTS), res.describe())

    # TCP and TLS from the switch side, through the exception tap to the kernel listeners.
    res = call("tcp-503", h.invite_scenario(N503, 503), port=tcp_port, transport="t1")
    env.check("TCP via the exception path: 503 reaches the switch", res.ok(), res.describe())
    try:
        tunnel, accept = env.stunnel_client("stunnel-ns", relay)  # in the namespace, certificate checked
        res = call("tls-302", h.invite_scenario(N302, 302), port=accept, transport="t1", host=link.switch_ip)
        env.check("TLS via the exception path (stunnel, certificate checked): 302 reaches the switch",
                  res.ok(), res.describe())
        tunnel.stop()
    except (TimeoutError, RuntimeError) as e:
        env.check("TLS via the exception path", False, str(e))

    env.check_one_final_each()
    rc = relay.stop(timeout=30)
    env.check("SIGTERM -> exit 0 with a counters line", rc == 0 and relay.counters is not None,
              f"exit {rc}: {relay.proc.stderr_tail(8)}")
    c = relay.counters or {}
    env.check("relay counters: the emergency call answered locally", c.get("local_503_emergency") == 1,
              str(c.get("local_503_emergency")))
    env.check("relay counters: nothing failed open", c.get("local_503_timeout") == 0
              and c.get("local_503_no_upstream") == 0, str(c))
    d = c.get("dataplane", {})
    env.check("dataplane counters: ARP and echo answered, the big 302 sent in fragments",
              d.get("arp_requests_answered", 0) >= 1 and d.get("icmp_echo_replied", 0) >= 3
              and d.get("tx_fragments", 0) >= 2, str(d))
    if pmd == "af_xdp":
        # af_packet's kernel side reassembles before DPDK sees the frames
        # (PACKET_FANOUT_FLAG_DEFRAG); af_xdp hands over the raw fragments.
        env.check("dataplane counters: the 3 KB INVITE's fragments reassembled by the relay (rte_ip_frag)",
                  d.get("frag_received", 0) >= 3 and d.get("frag_reassembled", 0) >= 1, str(d))
    env.check("dataplane counters: frames went to and came from the kernel (TCP/TLS)",
              d.get("to_kernel", 0) > 0 and d.get("from_kernel", 0) > 0, str(d))


def main():
    h.install_sigterm_handler()
    if len(sys.argv) != 5 or sys.argv[3] not in ("af_packet", "af_xdp"):
        print("usage: dataplane_dpdk_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim {af_packet|af_xdp} WORKERS",
              file=sys.stderr)
        sys.exit(2)
    pmd, workers = sys.argv[3], int(sys.argv[4])
    relay = h.require_binary(sys.argv[1], "sigrelay")
    sim = h.require_binary(sys.argv[2], "sigrelay-sim")
    tools = h.require_tools(sipp=("sipp",), openssl=("openssl",), stunnel=("stunnel4", "stunnel"),
                            arping=("arping",), ping=("ping",))
    lab = dpdk_lab.Lab.create()
    checks = h.Checks(f"dataplane_dpdk ({pmd}, {workers} worker(s))")
    ws = h.Workspace()
    try:
        body(h.Env(relay, sim, tools["sipp"], tools["stunnel"], ws, checks, lab=lab, pmd=pmd), lab, pmd, workers)
    except (TimeoutError, RuntimeError, EOFError, OSError, ValueError, subprocess.SubprocessError) as e:
        checks.check(f"harness ({type(e).__name__})", False, str(e))
    finally:
        ws.close()
        lab.close()
    sys.exit(checks.finish())


if __name__ == "__main__":
    main()
