#!/usr/bin/env python3
"""End-to-end UDP throughput of sigrelay's two packet backends in one run,
with dpdk-testpmd as the I/O ceiling of the same setup.

Usage (root): bench/dataplane_e2e.py [--build DIR] [--seconds S] [--out FILE]

The setup is the test lab (tests/integration/dpdk_lab.py): a namespace
holding the switch side, one veth pair into it, addresses from 198.18.0.0/15.
sigrelay-blast runs in the namespace as the switch and offers INVITEs at a
fixed rate; sigrelay-sim on loopback answers each one 503 over TLS.

  ceiling   dpdk-testpmd (rxonly) on the veth through net_af_packet: how many
            of the offered frames a DPDK poll loop on that veth receives;
  dpdk      sigrelay with dataplane.backend = dpdk on the same veth and PMD;
  socket    sigrelay with the socket backend, the veth end given the address.

For each, the offered rate climbs (doubling, then bisecting) and the figure
is the highest rate at which every call got its final (testpmd: every frame
received). Each step runs S seconds (default 3). Every load is bounded.
Writes a JSON summary (default build/bench-dataplane-e2e.json) and prints a
table. CPU seconds per side come from /proc accounting.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402
import dpdk_lab  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU seconds of a process and all its threads."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return 0.0


class Blast:
    def __init__(self, lab, binary, link, port):
        self.lab, self.binary, self.link, self.port = lab, binary, link, port

    def run(self, rate, seconds):
        argv = self.lab.ns_argv([self.binary, "--target", f"{self.link.relay_ip}:{self.port}",
                                 "--local", self.link.switch_ip, "--rate", str(rate),
                                 "--duration", str(seconds), "--threads", "1"])
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=seconds + 30)
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise RuntimeError(f"sigrelay-blast: exit {r.returncode}: {r.stderr[-400:]}")


def lossless(report):
    return report.get("sent", 0) > 0 and report.get("lost", 1) == 0 and report.get("answered") == report.get("sent")


def search(step, start=5000, limit=2_000_000, bisect_steps=4):
    """Highest rate for which step(rate) is true: doubling, then bisecting."""
    good, bad, rate = 0, None, start
    while rate <= limit:
        if step(rate):
            good, rate = rate, rate * 2
        else:
            bad = rate
            break
    if bad is None:
        return good
    for _ in range(bisect_steps):
        mid = (good + bad) // 2
        if mid <= good:
            break
        if step(mid):
            good = mid
        else:
            bad = mid
    return good


def run_testpmd(lab, link, blast, seconds, log):
    """testpmd in rxonly mode on the veth: frames received vs offered."""
    argv = ["dpdk-testpmd", f"--lcores=0@{min(os.sched_getaffinity(0))},1@{max(os.sched_getaffinity(0))}",
            "--no-huge", "-m", "256", "--file-prefix", f"{link.file_prefix}tp", "--no-pci",
            f"--vdev=net_af_packet0,iface={link.host_if},framesz=4096,blocksz=4096", "--",
            "-i", "--forward-mode=rxonly", "--total-num-mbufs=16384"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        proc.stdin.write("start\n")
        proc.stdin.flush()
        time.sleep(2)  # testpmd has no ready line in interactive mode; it is up long before this
        # testpmd does not answer: "lossless" means its RX counter saw every frame.
        best = 0
        rate = 20000
        while rate <= 4_000_000:
            proc.stdin.write("clear port stats all\n")
            proc.stdin.flush()
            time.sleep(0.2)
            rep = blast.run(rate, seconds)
            proc.stdin.write("show port stats 0\n")
            proc.stdin.flush()
            time.sleep(0.5)
            received = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                out.append(line)
                m = re.search(r"RX-packets:\s+(\d+)", line)
                if m:
                    received = int(m.group(1))
                    break
            sent = rep.get("sent", 0)
            achieved = rep.get("achieved_rate", 0)
            print(f"  testpmd: offered {rate}/s (sent at {achieved:.0f}/s) -> received {received} of {sent}",
                  file=log, flush=True)
            if received is None or sent == 0 or received < sent * 0.999:
                break
            best = max(best, int(min(rate, achieved)))
            rate *= 2
        return best
    finally:
        try:
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    relay_bin = os.path.join(args.build, "control", "sigrelay")
    sim_bin = os.path.join(args.build, "sim", "sigrelay-sim")
    blast_bin = os.path.join(args.build, "bench", "blast", "sigrelay-blast")
    for b in (relay_bin, sim_bin, blast_bin):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: build first (ninja -C {args.build})")
    lab = dpdk_lab.Lab.create()
    ws = h.Workspace(prefix="sigrelay-bench-")
    log = sys.stderr
    summary = {"seconds_per_step": args.seconds, "load_before": os.getloadavg()}
    try:
        pki = h.Pki(ws)
        sim = h.Sim(ws, sim_bin, "sim", pki, tls=True, counters=False)
        link = lab.link()
        blast = Blast(lab, blast_bin, link, 5060)

        print("ceiling: dpdk-testpmd rxonly on net_af_packet", file=log, flush=True)
        summary["testpmd_rx_rate"] = run_testpmd(lab, link, blast, args.seconds, log)

        def relay_step(relay, label, per_rate):
            def step(rate):
                c0, s0 = cpu_seconds(relay.proc.proc.pid), cpu_seconds(sim.proc.proc.pid)
                rep = blast.run(rate, args.seconds)
                c1, s1 = cpu_seconds(relay.proc.proc.pid), cpu_seconds(sim.proc.proc.pid)
                ok = lossless(rep)
                per_rate[rate] = {"report": rep, "relay_cpu_s": c1 - c0, "sim_cpu_s": s1 - s0}
                print(f"  {label}: offered {rate}/s -> answered {rep.get('answered')} of {rep.get('sent')}, "
                      f"lost {rep.get('lost')}, p99 {rep.get('latency_us', {}).get('p99')} us, "
                      f"relay CPU {c1 - c0:.2f} s, sim CPU {s1 - s0:.2f} s", file=log, flush=True)
                return ok
            return step

        upstream = {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
                    "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                    "upstream.connections": "2", "log.level": "warn"}

        print("dpdk backend (net_af_packet, 1 sip worker, busy poll)", file=log, flush=True)
        keys = link.relay_keys("af_packet", workers=1)
        keys.update(upstream)
        keys["dataplane.idle_sleep_us"] = "0"
        relay = h.Relay(ws, relay_bin, "relay-dpdk", keys, start=False)
        relay.start(timeout=60)
        relay.host, relay.source, relay.probe_socket = link.relay_ip, link.switch_ip, lab.socket
        relay.wait_options(200, timeout=30)
        steps = {}
        summary["dpdk_rate"] = search(relay_step(relay, "dpdk", steps))
        summary["dpdk_steps"] = steps
        relay.stop()

        print("socket backend (kernel UDP on the same veth, 1 sip worker)", file=log, flush=True)
        subprocess.run(["ip", "addr", "add", f"{link.relay_ip}/24", "dev", link.host_if], check=True)
        subprocess.run(["ip", "link", "set", link.host_if, "arp", "on"], check=True)
        with open(f"/proc/sys/net/ipv4/conf/{link.host_if}/rp_filter", "w") as f:
            f.write("0")
        keys = {"listen.udp": f"{link.relay_ip}:5060", "listen.tcp": "", "acl.allow": link.prefix,
                "dataplane.workers": "1"}
        keys.update(upstream)
        relay = h.Relay(ws, relay_bin, "relay-socket", keys)
        relay.host, relay.source, relay.probe_socket = link.relay_ip, link.switch_ip, lab.socket
        relay.wait_options(200, timeout=30)
        steps = {}
        summary["socket_rate"] = search(relay_step(relay, "socket", steps))
        summary["socket_steps"] = steps
        relay.stop()
    finally:
        ws.close()
        lab.close()
    summary["load_after"] = os.getloadavg()
    t, d, s = summary.get("testpmd_rx_rate", 0), summary.get("dpdk_rate", 0), summary.get("socket_rate", 0)
    summary["dpdk_vs_testpmd"] = d / t if t else None
    summary["dpdk_vs_socket"] = d / s if s else None
    out = args.out or os.path.join(args.build, "bench-dataplane-e2e.json")
    with open(out, "w") as f:
        json.dump(summary, f, indent=1, default=str)
    print(f"\n| setup | highest lossless rate (INVITE/s) |\n|---|---|\n"
          f"| dpdk-testpmd rxonly (ceiling) | {t} |\n| sigrelay dpdk | {d} |\n| sigrelay socket | {s} |")
    if t and s:
        print(f"\ndpdk / testpmd = {d / t:.2f}, dpdk / socket = {d / s:.2f}  (summary: {out})")


if __name__ == "__main__":
    main()
