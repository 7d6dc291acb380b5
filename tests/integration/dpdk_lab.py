"""A lab for the dpdk backend: a network namespace that plays the switch
site, one veth pair per relay, addresses from the benchmarking range
198.18.0.0/15 (RFC 2544), never 10/8, 172.16/12 or 192.168/16.

  root namespace                              namespace srsw<tag> (the switches)
  sigrelay --dpdk--> net_af_packet on srd<tag><k> === srs<tag><k> 198.18.x.2/24
           \\-- exception tap srk<tag><k> 198.18.x.1/24 (kernel TCP/TLS listeners)

The relay owns 198.18.x.1 on the wire (its DPDK port answers ARP and ping
and takes UDP SIP); the kernel holds the same address on the tap for TCP
and TLS. The veth end DPDK reads from gets no address, no ARP, no IPv6 and a
strict reverse-path filter, so the kernel never answers on it as well (the
af_packet socket sees each frame before the kernel drops it).

Needs root and iproute2; Lab.create() exits 77 (skipped) when either is
missing. Everything it makes goes away in close(): deleting the namespace
deletes the veth pairs, and each tap disappears with its relay process.
"""
import ctypes
import os
import socket
import subprocess

import harness as h

CLONE_NEWNET = 0x40000000


def _run(*argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stdout.strip()}")
    return r.stdout


def _sysctl(path, value):
    with open(os.path.join("/proc/sys", path), "w") as f:
        f.write(value)


class Link:
    """One relay's wire: the veth pair, its /24 and the names the relay needs."""

    def __init__(self, lab, k, queues=1):
        self.lab, self.k = lab, k
        idx = (lab.pid * 4 + k) % 512  # a /24 inside 198.18.0.0/15, distinct per process and relay
        net = f"198.{18 + idx // 256}.{idx % 256}"
        self.relay_ip, self.switch_ip, self.prefix = f"{net}.1", f"{net}.2", f"{net}.0/24"
        # IPv6 from the benchmarking range 2001:2::/48 (RFC 5180).
        net6 = f"2001:2:0:{idx:x}"
        self.relay_ip6, self.switch_ip6, self.prefix6 = f"{net6}::1", f"{net6}::2", f"{net6}::/64"
        self.host_if = f"srd{lab.tag}{k}"   # DPDK's end (root namespace)
        self.switch_if = f"srs{lab.tag}{k}"  # the switches' end (in the namespace)
        self.tap = f"srk{lab.tag}{k}"
        self.file_prefix = f"srt{lab.tag}{k}"
        _run("ip", "link", "add", self.host_if, "numrxqueues", str(queues), "numtxqueues", str(queues), "type", "veth",
             "peer", "name", self.switch_if, "numrxqueues", str(queues), "numtxqueues", str(queues))
        _run("ip", "link", "set", self.switch_if, "netns", lab.ns)
        _run("ip", "link", "set", self.host_if, "arp", "off", "up")
        _sysctl(f"net/ipv4/conf/{self.host_if}/rp_filter", "1")
        _sysctl(f"net/ipv6/conf/{self.host_if}/disable_ipv6", "1")
        lab.ns_run("ip", "addr", "add", f"{self.switch_ip}/24", "dev", self.switch_if)
        lab.ns_run("ip", "-6", "addr", "add", f"{self.switch_ip6}/64", "dev", self.switch_if, "nodad")
        lab.ns_run("ip", "link", "set", self.switch_if, "up")
        # A veth hands frames over with the checksums still to be filled in
        # (checksum offload); af_packet gives DPDK no hint of that. A wire
        # carries finished checksums: make the switch side compute them.
        lab.ns_run("ethtool", "-K", self.switch_if, "tx", "off")
        with open(f"/sys/class/net/{self.host_if}/address") as f:
            self.mac = f.read().strip()

    def eal(self, workers, pmd):
        """EAL arguments: main lcore on the first CPU, every worker lcore on
        the last (lcores may share a CPU; the tests nap when idle).
        af_packet: the PMD asks the kernel to reassemble IPv4 fragments
        (PACKET_FANOUT_FLAG_DEFRAG), so its frames must hold a whole 3 KB
        datagram (framesz=4096, mbuf_size 4096). af_xdp: raw frames from the
        driver, fragments included."""
        cpus = sorted(os.sched_getaffinity(0))
        main, work = cpus[0], cpus[-1]
        lcores = ",".join([f"0@{main}"] + [f"{i + 1}@{work}" for i in range(workers)])
        if pmd == "af_packet":
            vdev = f"net_af_packet0,iface={self.host_if},qpairs={workers},framesz=4096,blocksz=4096"
        elif pmd == "af_xdp":
            vdev = f"net_af_xdp0,iface={self.host_if},start_queue=0,queue_count={workers}"
        else:
            raise ValueError(f"unknown PMD {pmd}")
        return (f"--lcores={lcores} --no-huge -m 256 --no-shconf --file-prefix {self.file_prefix} --no-pci "
                f"--log-level=*:warning --vdev={vdev}")

    def relay_keys(self, pmd, workers=1, udp_port=5060, tcp_port=None, tls_port=None, ipv6=False):
        """The config keys that put a relay on this link (ipv6: also on its
        IPv6 address, UDP only)."""
        keys = {
            "dataplane.backend": "dpdk",
            "dataplane.workers": str(workers),
            "dataplane.eal": self.eal(workers, pmd),
            "dataplane.mbuf_size": "4096" if pmd == "af_packet" else "2048",
            "dataplane.address": f"{self.relay_ip}/24",
            "dataplane.exception": self.tap,
            "dataplane.idle_sleep_us": "50",
            "listen.udp": f"{self.relay_ip}:{udp_port}",
            "listen.tcp": f"{self.relay_ip}:{tcp_port}" if tcp_port else "",
            "acl.allow": self.prefix,
        }
        if tls_port:
            keys["listen.tls"] = f"{self.relay_ip}:{tls_port}"
        if ipv6:
            keys["dataplane.address"] = [keys["dataplane.address"], f"{self.relay_ip6}/64"]
            keys["listen.udp"] = [keys["listen.udp"], f"[{self.relay_ip6}]:{udp_port}"]
            keys["acl.allow"] = [keys["acl.allow"], self.prefix6]
        return keys


class Lab:
    def __init__(self):
        self.pid = os.getpid()
        self.tag = "%04d" % (self.pid % 10000)
        self.ns = f"srsw{self.tag}"
        self.links = []
        _run("ip", "netns", "add", self.ns)
        self.ns_run("ip", "link", "set", "lo", "up")

    @staticmethod
    def create():
        """A new lab, or exit 77 (skipped) when this machine cannot make one."""
        if os.geteuid() != 0:
            h.skip("the dpdk backend needs root (EAL, af_packet, network namespaces); CI runs as root")
        for tool in ("ip", "ethtool"):
            if h.find_tool(tool) is None:
                h.skip(f"{tool} is missing (scripts/setup-deps.sh installs it)")
        try:
            return Lab()
        except (RuntimeError, OSError) as e:
            h.skip(f"cannot create a network namespace here: {e}")

    def link(self, queues=1):
        link = Link(self, len(self.links), queues)
        self.links.append(link)
        return link

    def ns_argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def ns_run(self, *argv, check=True):
        r = subprocess.run(self.ns_argv(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"in {self.ns}: {' '.join(argv)}: {r.stdout.strip()}")
        return r

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_DGRAM):
        """A socket that lives in the namespace (setns for its creation only)."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the lab namespace")
            try:
                return socket.socket(family, kind)
            finally:
                if libc.setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(own)
            os.close(target)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link.host_if], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            for prefix in (link.file_prefix, link.file_prefix + "tp"):
                try:
                    os.rmdir(f"/var/run/dpdk/{prefix}")  # empty with --no-shconf
                except OSError:
                    pass
