#!/usr/bin/env python3
"""End-to-end UDP throughput of sigrelay's two packet backends in one run,
with dpdk-testpmd as the I/O ceiling of the same setup.

Usage (root): bench/dataplane_e2e.py [--build DIR] [--seconds S] [--out FILE]

The setup is the test lab (tests/integration/dpdk_lab.py): a namespace
holding the switch side, one veth pair into it, addresses from 198.18.0.0/15.
sigrelay-blast runs in the namespace as the switch and offers INVITEs at a
fixed rate; sigrelay-sim on loopback answers each one 503 over TLS.

  ceiling   dpdk-testpmd (macswap: every frame sent back, as the relay
            answers every INVITE) on the veth through net_af_packet: how
            many of the offered frames a DPDK poll loop there takes;
  dpdk      sigrelay with dataplane.backend = dpdk on the same veth and PMD;
  socket    sigrelay with the socket backend, the veth end given the address.

Two workloads: "local" calls 911, which the relay answers 503 itself (the
whole INVITE transaction path of a sip worker, no upstream: the packet path
is what is measured); "service" calls a number the sim answers 503 over TLS.
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


# Workloads: the called number decides what the relay does with each INVITE.
# 911 is answered 503 locally (emergency guard): the whole INVITE transaction
# path of a sip worker, no upstream, so the packet path is what is measured.
# The other goes to sigrelay-sim over TLS and back.
WORKLOADS = (("local", "911"), ("service", "13125550100"))


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

    def run(self, rate, seconds, drain_ms=2000, number="13125550100"):
        argv = self.lab.ns_argv([self.binary, "--target", f"{self.link.relay_ip}:{self.port}", "--number", number,
                                 "--local", self.link.switch_ip, "--rate", str(rate),
                                 "--duration", str(seconds), "--threads", "1", "--drain-ms", str(drain_ms),
                                 "--quiet"])
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=seconds + 30)
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise RuntimeError(f"sigrelay-blast: exit {r.returncode}: {r.stderr[-400:]}")


def lossless(report):
    sent = report.get("calls_sent", 0)
    return sent > 0 and report.get("lost", 1) == 0 and report.get("answered") == sent and not report.get("fell_behind")


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
    """testpmd in macswap mode on the veth (each frame received is sent back,
    as the relay answers each INVITE): frames received vs offered. Its
    console is read by a thread so that no wait can block on it."""
    import threading
    cpus = sorted(os.sched_getaffinity(0))
    # stdbuf: testpmd writes its console through stdio, block-buffered into a pipe.
    argv = ["stdbuf", "-oL", "dpdk-testpmd", f"--lcores=0@{cpus[0]},1@{cpus[-1]}", "--no-huge", "-m", "256", "--no-shconf",
            "--file-prefix", f"{link.file_prefix}tp", "--no-pci",
            f"--vdev=net_af_packet0,iface={link.host_if},framesz=4096,blocksz=4096", "--",
            "-i", "--forward-mode=macswap", "--total-num-mbufs=16384", "--mbuf-size=4224"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout], daemon=True)
    reader.start()

    def command(text):
        proc.stdin.write(text + "\n")
        proc.stdin.flush()

    def rx_packets():
        mark = len(lines)
        command("show port stats 0")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in lines[mark:]:
                m = re.search(r"RX-packets:\s+(\d+)", line)
                if m:
                    return int(m.group(1))
            time.sleep(0.05)
        return None
    try:
        h.wait_for("testpmd's prompt", lambda: any("Checking link statuses" in x for x in lines)
                   or proc.poll() is not None, timeout=30)
        if proc.poll() is not None:
            raise RuntimeError("testpmd exited: " + "".join(lines[-10:]))
        command("start")
        best, rate = 0, 20000
        while rate <= 4_000_000:
            command("clear port stats all")
            time.sleep(0.2)
            before = rx_packets() or 0
            rep = blast.run(rate, seconds, drain_ms=300)
            time.sleep(0.3)
            after = rx_packets()
            sent = rep.get("calls_sent", 0)
            achieved = rep.get("achieved_send_rate", 0)
            received = None if after is None else after - before
            print(f"  testpmd: offered {rate}/s (sent at {achieved:.0f}/s) -> received {received} of {sent}",
                  file=log, flush=True)
            if received is None or sent == 0 or received < sent * 0.999 or rep.get("fell_behind"):
                break
            best = max(best, int(min(rate, achieved)))
            rate *= 2
        return best
    finally:
        try:
            command("quit")
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
        # testpmd answers no ARP: the switch side gets the port's MAC statically
        # (the same MAC the relay answers ARP with later).
        lab.ns_run("ip", "neigh", "replace", link.relay_ip, "lladdr", link.mac, "dev", link.switch_if, "nud",
                   "permanent")
        blast = Blast(lab, blast_bin, link, 5060)

        print("ceiling: dpdk-testpmd macswap on net_af_packet", file=log, flush=True)
        summary["testpmd_rx_rate"] = run_testpmd(lab, link, blast, args.seconds, log)

        def relay_step(relay, label, per_rate, number):
            def step(rate):
                time.sleep(1.0)  # the previous step's transactions time out (Timer I)
                c0, s0 = cpu_seconds(relay.proc.proc.pid), cpu_seconds(sim.proc.proc.pid)
                rep = blast.run(rate, args.seconds, number=number)
                c1, s1 = cpu_seconds(relay.proc.proc.pid), cpu_seconds(sim.proc.proc.pid)
                ok = lossless(rep)
                per_rate[rate] = {"report": rep, "relay_cpu_s": c1 - c0, "sim_cpu_s": s1 - s0}
                print(f"  {label}: offered {rate}/s -> answered {rep.get('answered')} of {rep.get('calls_sent')}, "
                      f"lost {rep.get('lost')}, p99 {rep.get('latency_us', {}).get('p99')} us, "
                      f"relay CPU {c1 - c0:.2f} s, sim CPU {s1 - s0:.2f} s", file=log, flush=True)
                return ok
            return step

        upstream = {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
                    "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                    "upstream.connections": "2", "log.level": "warn",
                    # An INVITE transaction stays (Confirmed) for Timer I = T4 after its
                    # ACK, 5 s by default: slots must cover rate x T4, or new INVITEs
                    # get the overload 503 (counted; the run checks there was none).
                    # 262144 slots with T4 = 500 ms covers 500k/s per worker.
                    "limits.max_transactions": "262144", "sip.t4_ms": "500"}

        # Busy poll is what the backend is for; with 2 cores it leaves one core
        # to everything else (tls worker, sim, blast), so a napping variant
        # (dataplane.idle_sleep_us) is measured too.
        for label, nap in (("dpdk", "0"), ("dpdk_nap20", "20")):
            print(f"{label}: dpdk backend (net_af_packet, 1 sip worker, idle_sleep_us {nap})", file=log, flush=True)
            keys = link.relay_keys("af_packet", workers=1)
            keys.update(upstream)
            keys["dataplane.idle_sleep_us"] = nap
            relay = h.Relay(ws, relay_bin, f"relay-{label}", keys, start=False)
            relay.start(timeout=60)
            relay.attach(link, lab)
            relay.wait_options(200, timeout=30)
            for workload, number in WORKLOADS:
                steps = {}
                summary[f"{label}_{workload}_rate"] = search(relay_step(relay, f"{label} {workload}", steps, number))
                summary[f"{label}_{workload}_steps"] = steps
            relay.stop()
            summary[f"{label}_exit_counters"] = relay.counters

        print("socket backend (kernel UDP on the same veth, 1 sip worker)", file=log, flush=True)
        subprocess.run(["ip", "addr", "add", f"{link.relay_ip}/24", "dev", link.host_if], check=True)
        subprocess.run(["ip", "link", "set", link.host_if, "arp", "on"], check=True)
        with open(f"/proc/sys/net/ipv4/conf/{link.host_if}/rp_filter", "w") as f:
            f.write("0")
        keys = {"listen.udp": f"{link.relay_ip}:5060", "listen.tcp": "", "acl.allow": link.prefix,
                "dataplane.workers": "1"}
        keys.update(upstream)
        relay = h.Relay(ws, relay_bin, "relay-socket", keys)
        relay.attach(link, lab)
        relay.wait_options(200, timeout=30)
        for workload, number in WORKLOADS:
            steps = {}
            summary[f"socket_{workload}_rate"] = search(relay_step(relay, f"socket {workload}", steps, number))
            summary[f"socket_{workload}_steps"] = steps
        relay.stop()
        summary["socket_exit_counters"] = relay.counters
    finally:
        ws.close()
        lab.close()
    summary["load_after"] = os.getloadavg()
    t = summary.get("testpmd_rx_rate", 0)
    rows = [f"| dpdk-testpmd macswap on the same veth (I/O ceiling) | {t} | {t} |"]
    for label, text in (("dpdk", "sigrelay dpdk, busy poll"), ("dpdk_nap20", "sigrelay dpdk, idle_sleep_us 20"),
                        ("socket", "sigrelay socket")):
        rows.append(f"| {text} | {summary.get(label + '_local_rate')} | {summary.get(label + '_service_rate')} |")
    for workload in ("local", "service"):
        d = max(summary.get(f"dpdk_{workload}_rate", 0), summary.get(f"dpdk_nap20_{workload}_rate", 0))
        s_ = summary.get(f"socket_{workload}_rate", 0)
        summary[f"{workload}_dpdk_vs_testpmd"] = d / t if t else None
        summary[f"{workload}_dpdk_vs_socket"] = d / s_ if s_ else None
    out = args.out or os.path.join(args.build, "bench-dataplane-e2e.json")
    with open(out, "w") as f:
        json.dump(summary, f, indent=1, default=str)
    print("| setup | local answers (911 -> 503), INVITE/s | via the service (TLS, sim), INVITE/s |\n|---|---|---|")
    print("\n".join(rows))
    for workload in ("local", "service"):
        a_, b_ = summary[f"{workload}_dpdk_vs_testpmd"], summary[f"{workload}_dpdk_vs_socket"]
        print(f"{workload}: best dpdk / testpmd = {a_ and round(a_, 2)}, best dpdk / socket = {b_ and round(b_, 2)}")
    print(f"(load average before {summary['load_before']}, after {summary['load_after']}; summary: {out})")


if __name__ == "__main__":
    main()
