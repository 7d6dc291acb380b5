#!/usr/bin/env python3
"""SSLKEYLOGFILE: a wire capture of the relay's TLS leg decrypts in tshark.

Usage: keylog_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

dumpcap captures the loopback traffic to sigrelay-sim's TLS port while
sigrelay, started with SSLKEYLOGFILE set, relays one call; tshark, given
the key log, must then show the INVITE and the service's 603 in clear.
Needs root for the capture (skipped, exit 77, without it or without
dumpcap/tshark). Prints one line per check; exits 1 if any failed.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N603 = "16035550100"


def body(env):
    ws, pki = env.ws, env.pki
    dumpcap, tshark = h.find_tool("dumpcap"), h.find_tool("tshark")
    if os.geteuid() != 0 or not dumpcap or not tshark:
        h.skip("needs root, dumpcap and tshark for a wire capture")
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=[f"{N603} 603"], tls=True)
    port = sim.ports["tls"]
    cap = ws.path("wire.pcapng")
    keylog = ws.path("keys.log")
    capture = h.Proc(ws, "dumpcap", [dumpcap, "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", cap],
                     stdout_file=True)
    # dumpcap says "File: ..." on stderr once it captures.
    h.wait_for("dumpcap capturing", lambda: "File:" in capture.stderr_text() or not capture.running())
    env.check("dumpcap is capturing on lo", capture.running(), capture.stderr_tail())
    os.environ["SSLKEYLOGFILE"] = keylog
    try:
        relay = env.relay("relay", {"upstream.uri": f"sip:127.0.0.1:{port};transport=tls",
                                    "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                                    "upstream.connections": "1"})
    finally:
        del os.environ["SSLKEYLOGFILE"]
    relay.wait_options(200)
    r = env.sipp_call("call", h.invite_scenario(N603, 603), relay.ports["udp"])
    env.check("the call gets the service's 603", r.ok(), r.describe())
    relay.stop()
    capture.stop(sig=2)  # SIGINT: dumpcap writes out what it captured and exits
    lines = open(keylog).read().splitlines() if os.path.exists(keylog) else []
    env.check("the relay wrote TLS secrets to SSLKEYLOGFILE", any("TRAFFIC_SECRET" in x or "CLIENT_RANDOM" in x
                                                                    for x in lines), len(lines))
    # The TLS dissector on the service's port, and SIP inside the decrypted records.
    t = subprocess.run([tshark, "-r", cap, "-o", f"tls.keylog_file:{keylog}", "-d", f"tcp.port=={port},tls",
                        "-d", f"tls.port=={port},sip", "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code"],
                       capture_output=True, text=True, timeout=60)
    fields = [line.split("\t") for line in t.stdout.splitlines() if line.strip()]
    env.check("tshark decrypts the wire capture with the key log: INVITE and 603 in clear",
              any(f[0] == "INVITE" for f in fields) and any(len(f) > 1 and f[1] == "603" for f in fields),
              (t.stdout[:300], t.stderr[-300:]))
    sim.stop()


if __name__ == "__main__":
    h.run_test("SSLKEYLOGFILE and wire captures", body, sys.argv)
