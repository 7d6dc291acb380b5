"""The harness of sigrelay's integration tests (and of scripts/demo.sh).

It starts real processes on loopback and drives them with real SIP tools:
sigrelay-sim plays the service, sipp plays the switch (and, in the interop
test, the service behind stunnel), stunnel4 is the TLS peer we did not write.

Rules it keeps so the tests are reproducible on a busy 2-core machine:
- every port comes from the kernel (bind to port 0, read it, close);
- every wait has a deadline (WAIT seconds unless told otherwise) and polls a
  condition: a ready line, a listening socket, an OPTIONS answer, a line in a
  log, a counters file; nothing sleeps to synchronize;
- everything started is stopped and the temporary directory removed when the
  Workspace closes, also when a check raises or the test gets SIGTERM;
- a missing tool makes the test exit 77 (skipped) with the reason.

Standard library only (plus python3-cryptography for the PASSporT check, and
only where that check runs).
"""
import base64
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WAIT = 20.0  # seconds: the default bound on every wait
SKIP = 77    # meson's exit status for a skipped test


# ---------------------------------------------------------------- checks and results

class Checks:
    """Prints one line per check; finish() gives the exit status."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return bool(ok)

    def finish(self):
        total = self.passed + len(self.failed)
        print(f"{self.title}: {self.passed}/{total} checks passed", flush=True)
        return 1 if self.failed or total == 0 else 0


def skip(reason):
    """Ends the test as skipped; meson shows the last line as the reason."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def find_tool(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def require_tools(**tools):
    """require_tools(sipp=('sipp',), stunnel=('stunnel4', 'stunnel')) -> {key: path}.
    Exits 77 naming the first tool that is missing."""
    found = {}
    for key, names in tools.items():
        p = find_tool(*names)
        if p is None:
            skip(f"{' or '.join(names)} not installed (scripts/setup-deps.sh installs it)")
        found[key] = p
    return found


def require_binary(path, what):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        skip(f"{what} not built: {path} is missing (ninja -C build)")
    return os.path.abspath(path)


def wait_for(what, predicate, timeout=WAIT, interval=0.05):
    """Polls predicate() until it returns something true; returns it, or
    raises TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def install_sigterm_handler():
    """meson stops a test that runs too long with SIGTERM: turn it into
    SystemExit so every finally block runs and nothing is left behind."""
    def handler(signo, frame):
        raise SystemExit(f"terminated by signal {signo}")
    signal.signal(signal.SIGTERM, handler)


# ---------------------------------------------------------------- ports and sockets

def free_port(kind="tcp", host="127.0.0.1"):
    """A port the kernel considers free now (bound to port 0, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def tcp_listening(port, host="127.0.0.1", table=None):
    """True when a socket listens on host:port, read from /proc/net/tcp so
    the check itself opens no connection. `table`: that file's text as read
    elsewhere (another network namespace)."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), "little"), port)
    want_any = "00000000:%04X" % port
    if table is None:
        try:
            with open("/proc/net/tcp") as f:
                table = f.read()
        except OSError:
            return False
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and fields[1] in (want, want_any):
            return True
    return False


# ---------------------------------------------------------------- workspace

class Workspace:
    """A temporary directory plus every process started in it. Closing it
    stops the processes (newest first) and removes the directory;
    SIGRELAY_KEEP_TMP=1 keeps the directory for a look afterwards."""

    def __init__(self, prefix="sigrelay-it-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.procs = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for p in reversed(self.procs):
            p.kill_if_running()
        if os.environ.get("SIGRELAY_KEEP_TMP") == "1":
            print(f"(kept {self.dir})", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Proc:
    """A child process with stdout on a pipe (read line by line with a
    deadline) and stderr in a file of the workspace."""

    def __init__(self, ws, name, argv, cwd=None, stdout_file=False):
        self.ws = ws
        self.name = name
        self.argv = argv
        self.stderr_path = ws.path(f"{name}.stderr")
        self.stdout_path = ws.path(f"{name}.stdout") if stdout_file else None
        self._stderr = open(self.stderr_path, "ab")
        self._stdout_file = open(self.stdout_path, "ab") if stdout_file else None
        self.proc = subprocess.Popen(
            argv, cwd=cwd or ws.dir, stdin=subprocess.DEVNULL,
            stdout=self._stdout_file if stdout_file else subprocess.PIPE,
            stderr=self._stderr)
        self._buf = b""
        self.lines = []  # every stdout line read so far
        self.returncode = None
        ws.procs.append(self)

    def read_line(self, timeout=WAIT):
        """The next stdout line (without the newline); TimeoutError or
        EOFError (with the stderr text) when there is none in time."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"{self.name}: no line on stdout within {timeout:.0f} s; "
                                   f"stderr: {self.stderr_tail()}")
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(timeout=timeout)
                raise EOFError(f"{self.name} exited with status {self.proc.returncode}; "
                               f"stderr: {self.stderr_tail()}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        text = line.decode(errors="replace")
        self.lines.append(text)
        return text

    def wait_line(self, prefix, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, n=15):
        return " | ".join(self.stderr_text().strip().splitlines()[-n:]) or "(empty)"

    def running(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=WAIT):
        """Signals the process and waits for it; returns (exit status, rest of
        stdout). A process that does not exit in time is killed (status 'hung')."""
        rest = b""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            if self.proc.stdout is not None:
                out, _ = self.proc.communicate(timeout=timeout)
                rest = out or b""
            else:
                self.proc.wait(timeout=timeout)
            self.returncode = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = "hung"
        self._close_files()
        text = (self._buf + rest).decode(errors="replace")
        self._buf = b""
        self.lines.extend(line for line in text.splitlines())
        return self.returncode, text

    def kill_if_running(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_files()

    def _close_files(self):
        for f in (self._stderr, self._stdout_file):
            if f is not None and not f.closed:
                f.close()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()


# ---------------------------------------------------------------- throwaway PKI

class Pki:
    """A throwaway CA and leaf certificates made with the openssl command:
    ca.crt signs sim.crt (SAN DNS:sim.test, IP:127.0.0.1) for the service and
    relay.crt (SAN DNS:relay.test, IP:127.0.0.1) for the relay's TLS
    listener; other-ca.crt is a CA that signed neither; shaken.key/.pub is
    the P-256 key the simulator signs PASSporTs with. All EC P-256."""

    def __init__(self, ws):
        self.dir = ws.path("pki")
        os.makedirs(self.dir)
        self.ca = self._ca("ca", "sigrelay integration throwaway CA")
        self.other_ca = self._ca("other-ca", "sigrelay integration unrelated CA")
        self.sim_cert, self.sim_key = self._leaf("sim", "sim.test")
        self.relay_cert, self.relay_key = self._leaf("relay", "relay.test")
        self.shaken_key = self.path("shaken.key")
        self.shaken_pub = self.path("shaken.pub")
        self._openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.shaken_key)
        self._openssl("ec", "-in", self.shaken_key, "-pubout", "-out", self.shaken_pub)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = subprocess.run(["openssl", *args], cwd=self.dir, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}")

    def _ca(self, name, cn):
        cnf = self.path(name + ".cnf")
        with open(cnf, "w") as f:
            f.write("[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
                    f"[dn]\nCN = {cn}\n"
                    "[ext]\nbasicConstraints = critical, CA:TRUE\n"
                    "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n")
        self._openssl("req", "-x509", "-config", cnf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", self.path(name + ".key"), "-out", self.path(name + ".crt"),
                      "-days", "2")
        return self.path(name + ".crt")

    def _leaf(self, name, dns):
        cnf = self.path(name + ".cnf")
        ext = self.path(name + ".ext")
        with open(cnf, "w") as f:
            f.write(f"[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {dns}\n")
        with open(ext, "w") as f:
            f.write("basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                    "extendedKeyUsage = serverAuth, clientAuth\n"
                    f"subjectAltName = DNS:{dns}, IP:127.0.0.1\n"
                    "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
        key, csr, crt = (self.path(name + s) for s in (".key", ".csr", ".crt"))
        self._openssl("req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", key, "-out", csr)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                      "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key


# ---------------------------------------------------------------- sigrelay-sim

class Sim:
    """sigrelay-sim on loopback. `rules` are rule lines (docs/sim.md);
    `extra` more config lines. Ports 0 unless given (a restart reuses the
    ports the first start got)."""

    def __init__(self, ws, binary, name, pki, rules=(), tls=True, tcp=False, extra=(),
                 tls_port=0, tcp_port=0, counters=True):
        self.ws, self.binary, self.name, self.pki = ws, binary, name, pki
        self.write_counters = counters  # off for load: the file is rewritten on every change
        self.rules, self.tls, self.tcp, self.extra = list(rules), tls, tcp, list(extra)
        self.counters_path = ws.path(f"{name}-counters.json")
        self.ports = {"tls": tls_port, "tcp": tcp_port}
        self.proc = None
        self.start()

    def config_text(self):
        lines = []
        if self.tcp:
            lines.append(f"listen.tcp = 127.0.0.1:{self.ports['tcp']}")
        if self.tls:
            lines += [f"listen.tls = 127.0.0.1:{self.ports['tls']}",
                      f"tls.cert = {self.pki.sim_cert}", f"tls.key = {self.pki.sim_key}"]
        lines += [f"shaken.key = {self.pki.shaken_key}", "shaken.x5u = https://cert.example.org/sim.pem"]
        if self.write_counters:
            lines.append(f"sim.counters_file = {self.counters_path}")
        lines += self.extra
        lines += [f"rule = {r}" for r in self.rules]
        return "\n".join(lines) + "\n"

    def start(self, timeout=WAIT):
        conf = self.ws.write(f"{self.name}.conf", self.config_text())
        self.proc = Proc(self.ws, self.name, [self.binary, "--config", conf])
        line = self.proc.wait_line("sigrelay-sim: ready", timeout)
        for kind, port in re.findall(r"(tcp|tls)=127\.0\.0\.1:(\d+)", line):
            self.ports[kind] = int(port)
        return line

    def counters(self):
        with open(self.counters_path) as f:
            return json.load(f)

    def stop(self):
        rc, _ = self.proc.stop()
        return rc

    def restart(self, timeout=WAIT):
        """Starts again on the same ports (the relay's upstream URI names them)."""
        return self.start(timeout)


# ---------------------------------------------------------------- sigrelay

class Relay:
    """The sigrelay daemon on loopback, configured by `keys` (config key ->
    value or list of values; docs/configuration.md) on top of test defaults:
    UDP/TCP on kernel ports, the stats and control sockets in the workspace,
    fast reconnects, only 127.0.0.1 allowed."""

    def __init__(self, ws, binary, name, keys, start=True):
        self.ws, self.binary, self.name = ws, binary, name
        self.keys = {
            "mode": "relay",
            "listen.udp": "127.0.0.1:0",
            "listen.tcp": "127.0.0.1:0",
            "acl.allow": "127.0.0.1/32",
            "upstream.timeout_ms": "2000",
            "upstream.reconnect_min_ms": "50",
            "upstream.reconnect_max_ms": "400",
            "stats.http": f"127.0.0.1:{free_port()}",
            "control.socket": ws.path(f"{name}-control.sock"),
            "log.level": "info",
        }
        self.keys.update(keys)
        # The config loader takes ports 1..65535 only, so ":0" here means "a
        # port the kernel says is free now".
        for key, kind in (("listen.udp", "udp"), ("listen.tcp", "tcp"), ("listen.tls", "tcp")):
            if self.keys.get(key) == "127.0.0.1:0":
                self.keys[key] = f"127.0.0.1:{free_port(kind)}"
        self.ports = {}
        # Where OPTIONS probes go and come from; a dpdk lab relay changes these.
        self.host, self.source, self.probe_socket = "127.0.0.1", "127.0.0.1", None
        self.proc = None
        self.ready_line = None
        self.counters = None
        self.exit_status = None
        if start:
            self.start()

    def config_text(self):
        out = []
        for k, v in self.keys.items():
            if v is None:
                continue
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                out.append(f"{k} = {item}")
        return "\n".join(out) + "\n"

    def start(self, timeout=WAIT):
        conf = self.ws.write(f"{self.name}.conf", self.config_text())
        self.proc = Proc(self.ws, self.name, [self.binary, "--config", conf])
        self.ready_line = self.proc.wait_line("sigrelay: ready", timeout)
        for kind, addrs in re.findall(r"\b(udp|tcp|tls)=(\S+)", self.ready_line):
            first = addrs.split(",")[0]
            self.ports[kind] = int(first.rsplit(":", 1)[1])
        return self.ready_line

    def attach(self, link, lab):
        """Probes go to the relay's address on a dpdk lab link, from the
        switch side of the namespace (dpdk_lab.py)."""
        self.link = link
        self.host, self.source, self.probe_socket = link.relay_ip, link.switch_ip, lab.socket

    def options(self, timeout=1.0, source=None):
        sock = self.probe_socket() if self.probe_socket else None
        return options_probe(self.ports["udp"], host=self.host, timeout=timeout, source=source or self.source,
                             sock=sock)

    def wait_options(self, want, timeout=WAIT):
        """Polls OPTIONS over UDP until the relay answers `want`; returns the
        seconds it took, or raises TimeoutError with the last answer."""
        start = time.monotonic()
        last = [None]

        def probe():
            last[0] = self.options(timeout=0.5)
            return last[0] == want
        try:
            wait_for(f"{self.name} answering OPTIONS {want}", probe, timeout, interval=0.1)
        except TimeoutError as e:
            raise TimeoutError(f"{e} (last answer: {last[0]}; stderr: {self.proc.stderr_tail(5)})")
        return time.monotonic() - start

    def stop(self, timeout=WAIT):
        """SIGTERM; returns the exit status and keeps the exit counters."""
        rc, text = self.proc.stop(timeout=timeout)
        self.exit_status = rc
        self.counters = None
        for line in (self.proc.lines + text.splitlines()):
            if line.startswith("sigrelay: counters "):
                try:
                    self.counters = json.loads(line[len("sigrelay: counters "):])
                except ValueError:
                    pass
        return rc

    def stderr_text(self):
        return self.proc.stderr_text()


# ---------------------------------------------------------------- stunnel

class Stunnel:
    """stunnel4 in the foreground. mode 'client': plain TCP in on
    accept_port, TLS out to connect_port, the peer verified against `ca`
    (chain and IP 127.0.0.1). mode 'server': TLS in with cert/key, plain TCP
    out."""

    def __init__(self, ws, binary, name, mode, connect_port, ca=None, cert=None, key=None):
        self.accept_port = free_port()
        lines = ["foreground = yes", "pid =", "syslog = no", "debug = notice", f"[{name}]",
                 f"accept = 127.0.0.1:{self.accept_port}", f"connect = 127.0.0.1:{connect_port}"]
        if mode == "client":
            lines += ["client = yes", f"CAfile = {ca}", "verifyChain = yes", "checkIP = 127.0.0.1"]
        else:
            lines += [f"cert = {cert}", f"key = {key}"]
        conf = ws.write(f"{name}.conf", "\n".join(lines) + "\n")
        self.proc = Proc(ws, name, [binary, conf], stdout_file=True)
        try:
            wait_for(f"{name} listening on {self.accept_port}",
                     lambda: tcp_listening(self.accept_port) or not self.proc.running())
        except TimeoutError as e:
            raise TimeoutError(f"{e}; stderr: {self.proc.stderr_tail()}")
        if not self.proc.running():
            raise RuntimeError(f"{name} exited: {self.proc.stderr_tail()}")

    def stop(self):
        return self.proc.stop()[0]


# ---------------------------------------------------------------- SIP messages

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "e": "content-encoding", "s": "subject"}


class SipMessage:
    """A parsed SIP message: start line, headers in order (names lower-cased,
    compact forms expanded, values as they were), body."""

    def __init__(self, text, direction=""):
        self.raw = text
        self.direction = direction
        self.time = None
        head, _, self.body = text.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        self.start = lines[0].strip()
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # folded line
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                continue
            n = name.strip().lower()
            self.headers.append((COMPACT.get(n, n), value.strip()))
        self.is_response = self.start.startswith("SIP/2.0 ")
        self.status = int(self.start.split()[1]) if self.is_response else None
        self.method = None if self.is_response else self.start.split(" ", 1)[0]

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    def vias(self):
        """Every Via value, split at commas (RFC 3261 §7.3.1)."""
        out = []
        for v in self.all("via"):
            out += [x.strip() for x in v.split(",") if x.strip()]
        return out

    def call_id(self):
        return self.get("call-id")

    def cseq_method(self):
        c = self.get("cseq") or ""
        parts = c.split()
        return parts[1] if len(parts) > 1 else None

    def to_tag(self):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get("to") or "")
        return m.group(1) if m else None

    def __repr__(self):
        return self.start


def parse_sipp_message_log(path):
    """The messages sipp logged with -trace_msg, in order, as SipMessage
    with direction 'sent' or 'received' and `time` (seconds since the epoch,
    from sipp's separator line; None if it has none)."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    out = []
    parts = re.split(r"(?m)^-{20,}([^\n]*)\n", text)
    # parts = [before, stamp1, chunk1, stamp2, chunk2, ...]
    for stamp, chunk in zip(parts[1::2], parts[2::2]):
        chunk = chunk.lstrip("\r\n")
        first, _, rest = chunk.partition("\n")
        if "message sent" in first:
            direction = "sent"
        elif "message received" in first:
            direction = "received"
        else:
            continue
        msg = rest.lstrip("\r\n").rstrip() + "\n\n"
        if msg.strip():
            m = SipMessage(msg, direction)
            t = re.search(r"(\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d(?:\.\d+)?)", stamp)
            m.time = None
            if t:
                day = time.mktime(time.strptime(t.group(1), "%Y-%m-%d"))
                m.time = day + int(t.group(2)) * 3600 + int(t.group(3)) * 60 + float(t.group(4))
            out.append(m)
    return out


# ---------------------------------------------------------------- sipp

class SippResult:
    def __init__(self, rc, stats, messages, errors, screen, argv):
        self.rc, self.stats, self.messages, self.errors, self.screen, self.argv = \
            rc, stats, messages, errors, screen, argv

    @property
    def successful(self):
        return int(self.stats.get("SuccessfulCall(C)", 0))

    @property
    def failed(self):
        return int(self.stats.get("FailedCall(C)", 0))

    def ok(self, calls=1):
        return self.rc == 0 and self.successful == calls and self.failed == 0

    def received(self):
        return [m for m in self.messages if m.direction == "received"]

    def sent(self):
        return [m for m in self.messages if m.direction == "sent"]

    def invite_finals(self):
        """{Call-ID: [distinct (status, To tag) of final responses to its INVITE]}.
        A retransmitted final (same status and tag) counts once."""
        out = {}
        for m in self.received():
            if m.is_response and m.status >= 200 and m.cseq_method() == "INVITE":
                seen = out.setdefault(m.call_id(), [])
                key = (m.status, m.to_tag())
                if key not in seen:
                    seen.append(key)
        for m in self.sent():
            if m.method == "INVITE":
                out.setdefault(m.call_id(), [])
        return out

    def first_final(self, status=None):
        for m in self.received():
            if m.is_response and m.status >= 200 and m.cseq_method() == "INVITE":
                if status is None or m.status == status:
                    return m
        return None

    def final_ms(self):
        """Milliseconds from the first INVITE sent to the first final
        received, by sipp's own clock; None when either is missing."""
        sent = next((m.time for m in self.sent() if m.method == "INVITE"), None)
        final = self.first_final()
        if sent is None or final is None or final.time is None:
            return None
        return (final.time - sent) * 1000

    def statuses(self):
        return [m.status for m in self.received() if m.is_response]

    def describe(self):
        got = ", ".join(f"{m.status}/{m.cseq_method()}" for m in self.received() if m.is_response) or "nothing"
        err = " ".join(self.errors.split())[:300]
        return (f"sipp exit {self.rc}, {self.successful} ok / {self.failed} failed calls, received: {got}"
                + (f"; sipp errors: {err}" if err else ""))


def run_sipp(ws, sipp, name, scenario, target_port, transport="u1", calls=1, rate=20,
             local_ip="127.0.0.1", timeout=WAIT, inf_lines=None, extra=(), target_host="127.0.0.1",
             wrap=None):
    """Runs sipp with scenario text (XML) as a UAC against target, `calls`
    calls at `rate`/s, and returns a SippResult. -timeout + -timeout_error
    bound the whole run; the message log (-trace_msg), the error log
    (-trace_err) and the statistics (-trace_stat) are read back."""
    base = ws.path(f"sipp-{name}")
    xml = base + ".xml"
    with open(xml, "w") as f:
        f.write(scenario)
    # Inside another namespace (wrap) any port is free: the namespace is ours.
    lport = random.randint(20000, 59999) if wrap else free_port("udp" if transport.startswith("u") else "tcp", local_ip)
    argv = [sipp, "-sf", xml, "-t", transport, "-i", local_ip, "-bind_local", "-p", str(lport),
            "-m", str(calls), "-r", str(rate), "-l", str(max(1, calls)),
            "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin",
            "-trace_msg", "-message_file", base + ".msg",
            "-trace_err", "-error_file", base + ".err",
            "-trace_stat", "-stf", base + ".csv"]
    if inf_lines is not None:
        with open(base + ".csv.in", "w") as f:
            f.write("SEQUENTIAL\n" + "".join(line + "\n" for line in inf_lines))
        argv += ["-inf", base + ".csv.in"]
    argv += list(extra)
    argv.append(f"{target_host}:{target_port}")
    if wrap is not None:
        argv = wrap(argv)  # e.g. run it inside a network namespace
    with open(base + ".screen", "wb") as screen:
        try:
            rc = subprocess.run(argv, cwd=ws.dir, stdin=subprocess.DEVNULL, stdout=screen,
                                stderr=subprocess.STDOUT, timeout=timeout + 10).returncode
        except subprocess.TimeoutExpired:
            rc = "hung"
    return SippResult(rc, _sipp_stats(base + ".csv"), parse_sipp_message_log(base + ".msg"),
                      _read(base + ".err"), _read(base + ".screen"), argv)


class SippServer:
    """sipp as a UAS in the background (-m calls, then it exits)."""

    def __init__(self, ws, sipp, name, scenario, calls, transport="t1", timeout=60):
        self.base = ws.path(f"sipp-{name}")
        with open(self.base + ".xml", "w") as f:
            f.write(scenario)
        self.port = free_port("tcp" if transport.startswith("t") else "udp")
        argv = [sipp, "-sf", self.base + ".xml", "-t", transport, "-i", "127.0.0.1", "-bind_local",
                "-p", str(self.port), "-m", str(calls), "-timeout", f"{int(timeout)}s", "-timeout_error",
                "-nostdin", "-trace_msg", "-message_file", self.base + ".msg",
                "-trace_err", "-error_file", self.base + ".err",
                "-trace_stat", "-stf", self.base + ".csv"]
        self.proc = Proc(ws, f"sipp-{name}", argv, stdout_file=True)
        if transport.startswith("t"):
            wait_for(f"sipp UAS listening on {self.port}",
                     lambda: tcp_listening(self.port) or not self.proc.running())
            if not self.proc.running():
                raise RuntimeError(f"sipp UAS exited: {_read(self.proc.stdout_path)[-500:]}")

    def wait(self, timeout=WAIT):
        """Waits for sipp to finish its calls; returns a SippResult."""
        try:
            self.proc.proc.wait(timeout=timeout)
            rc = self.proc.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.stop()
            rc = "hung"
        self.proc._close_files()
        return SippResult(rc, _sipp_stats(self.base + ".csv"), parse_sipp_message_log(self.base + ".msg"),
                          _read(self.base + ".err"), _read(self.proc.stdout_path), self.proc.argv)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _sipp_stats(path):
    """The last line of sipp's -trace_stat file as {column: value}."""
    lines = [line for line in _read(path).splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    names = lines[0].split(";")
    values = lines[-1].split(";")
    return dict(zip(names, values))


# ---------------------------------------------------------------- sipp scenarios

def _xml(name, steps):
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            f'<scenario name="{name}">\n' + "".join(steps) + "</scenario>\n")


def _send(text, retrans=None, extra_attrs=""):
    attrs = f' retrans="{retrans}"' if retrans else ""
    return f"  <send{attrs}{extra_attrs}>\n    <![CDATA[\n\n{text}\n\n    ]]>\n  </send>\n"


CALLER = "13035550100"
BRANCH = "z9hG4bK-sr-[pid]-[call_number]"


def _request(method, ruri, cseq_method=None, max_forwards=70, to=None, body=None):
    if to is None:
        to = ruri.split(";")[0] if ruri.startswith("tel:") else "sip:callee@[remote_ip]:[remote_port]"
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={BRANCH}",
        f'From: "switch" <sip:{CALLER}@[local_ip]>;tag=[pid]SR[call_number]',
        f"To: <{to}>",
        "Call-ID: [call_id]",
        f"CSeq: 1 {cseq_method or method}",
    ]
    if method == "INVITE":
        lines.append("Contact: <sip:switch@[local_ip]:[local_port];transport=[transport]>")
    lines.append(f"Max-Forwards: {max_forwards}")
    if body:
        # sipp fills [len] with the body's length.
        return "\n".join(lines + ["Content-Type: application/sdp", "Content-Length: [len]", "", body])
    lines.append("Content-Length: 0")
    return "\n".join(lines)


def sdp_body(size):
    """An SDP offer padded with attribute lines to about `size` bytes (a
    large INVITE: on UDP over a 1500-byte MTU it travels in fragments)."""
    lines = ["v=0", "o=switch 1 1 IN IP4 [local_ip]", "s=-", "c=IN IP4 [local_ip]", "t=0 0",
             "m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000"]
    n = 0
    while sum(len(x) + 2 for x in lines) < size:
        lines.append(f"a=x-pad-{n:04d}:" + "p" * 60)
        n += 1
    return "\n".join(lines)


def number_uri(number):
    """The Request-URI of a call to `number` (a tel: URI is used as it is)."""
    if number.startswith("tel:"):
        return number
    return f"sip:{number}@[remote_ip]:[remote_port];user=phone"


def _ack(ruri):
    return "\n".join([
        f"ACK {ruri} SIP/2.0",
        f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={BRANCH}",
        "[last_From:]",
        "[last_To:]",
        "[last_Call-ID:]",
        "CSeq: 1 ACK",
        "Max-Forwards: 70",
        "Content-Length: 0"])


def invite_scenario(number, expect, max_forwards=70, duplicate=False, cancel=False,
                    final_timeout_ms=None, linger_ms=0, body=None):
    """A call to `number` that expects the final `expect` and ACKs it
    (RFC 3261 §17.1.1.3: same branch, the response's To).
    duplicate: the identical INVITE is sent again after the 100, before the
    final (a retransmission the relay must absorb, RFC 3261 §17.2.1); run
    it with sipp's -nr. cancel: after the 100, CANCEL
    (§9.1) and expect 200 to it, then `expect` (487) to the INVITE.
    final_timeout_ms: the final must come within this (else the call fails).
    linger_ms: stay in the call after the ACK, so a second final would be
    an unexpected message and fail the call."""
    ruri = number_uri(number)
    steps = []
    if duplicate:
        # The copy goes out once the 100 is in (sipp refuses a response that
        # comes while it is about to send). Run it with sipp's -nr: otherwise
        # sipp takes the relay's repeated 100 (its answer to the copy) for a
        # retransmission and sends the copy again, and again.
        steps.append(_send(_request("INVITE", ruri, max_forwards=max_forwards)))
        steps.append('  <recv response="100"/>\n')
        steps.append(_send(_request("INVITE", ruri, max_forwards=max_forwards)))
    else:
        steps.append(_send(_request("INVITE", ruri, max_forwards=max_forwards, body=body), retrans=500))
    if cancel:
        steps.append('  <recv response="100"/>\n')
        steps.append(_send(_request("CANCEL", ruri), retrans=500))
        steps.append('  <recv response="200"/>\n')
    else:
        steps.append('  <recv response="100" optional="true"/>\n')
    t = f' timeout="{final_timeout_ms}"' if final_timeout_ms else ""
    steps.append(f'  <recv response="{expect}"{t}/>\n')
    steps.append(_send(_ack(ruri)))
    if linger_ms:
        steps.append(f'  <pause milliseconds="{linger_ms}"/>\n')
    return _xml(f"invite-{expect}", steps)


def no_answer_scenario(number, wait_ms):
    """An INVITE that must get no answer at all within wait_ms: any response
    fails the call (an unexpected message, or the timeout of the recv that
    follows a 100)."""
    ruri = number_uri(number)
    return _xml("no-answer", [
        _send(_request("INVITE", ruri)),
        f'  <recv response="100" timeout="{wait_ms}" ontimeout="quiet"/>\n',
        '  <recv response="100" timeout="1"/>\n',
        '  <label id="quiet"/>\n',
        '  <nop/>\n'])


def options_scenario(expect):
    ruri = "sip:[remote_ip]:[remote_port]"
    return _xml(f"options-{expect}", [
        _send(_request("OPTIONS", ruri, to="sip:[remote_ip]:[remote_port]"), retrans=500),
        f'  <recv response="{expect}"/>\n'])


def _response(status_line, extra_headers=()):
    return "\n".join([status_line, "[last_Via:]", "[last_From:]",
                      "[last_To:];tag=[pid]UAS[call_number]", "[last_Call-ID:]", "[last_CSeq:]",
                      *extra_headers, "Content-Length: 0"])


def uas_scenario(answers, default):
    """sipp as the service: each INVITE is answered by the first entry of
    `answers` [(Request-URI user prefix, status line, [extra header lines])]
    whose prefix starts the user part, else by `default` (status line,
    headers); then it waits for the relay's ACK (RFC 3261 §17.1.1.3, hop by
    hop: the relay must ACK the service's non-2xx itself)."""
    actions = "".join(
        f'      <ereg regexp="^INVITE sips?:{re.escape(prefix)}" search_in="msg" check_it="false" '
        f'assign_to="a{i}"/>\n' for i, (prefix, _, _) in enumerate(answers))
    steps = [f'  <recv request="INVITE">\n    <action>\n{actions}    </action>\n  </recv>\n']
    steps += [f'  <nop next="l{i}" test="a{i}"/>\n' for i in range(len(answers))]
    steps.append(_send(_response(default[0], default[1]), extra_attrs=' next="ack"'))
    for i, (_, line, headers) in enumerate(answers):
        steps.append(f'  <label id="l{i}"/>\n')
        steps.append(_send(_response(line, headers), extra_attrs=' next="ack"'))
    steps.append('  <label id="ack"/>\n  <recv request="ACK"/>\n')
    return _xml("uas", steps)


# ---------------------------------------------------------------- SIP from python

def options_probe(port, host="127.0.0.1", timeout=1.0, source="127.0.0.1", sock=None):
    """Sends one OPTIONS over UDP from `source` and returns the status code
    of the answer, or None when none came within `timeout` seconds. `sock`:
    a fresh UDP socket to use (e.g. one made in another network namespace)."""
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        lport = s.getsockname()[1]
        token = "%016x" % random.getrandbits(64)
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {source}:{lport};branch=z9hG4bK-probe-{token}\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:probe@{source}>;tag={token[:8]}\r\n"
               f"To: <sip:{host}:{port}>\r\n"
               f"Call-ID: probe-{token}@{source}\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        s.sendto(msg, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65536)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            m = SipMessage(data.decode(errors="replace"))
            if m.is_response and m.call_id() == f"probe-{token}@{source}" and m.status >= 200:
                return m.status
    finally:
        s.close()


def stream_closed_without_answer(port, source, send=b"", timeout=5.0):
    """Connects from `source` to 127.0.0.1:port, sends `send`, and reports
    what the peer did: 'closed' (EOF or reset, no byte received),
    'answered' (bytes came back), 'open' (still open after `timeout`),
    or 'refused'."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return "refused"
        try:
            if send:
                s.sendall(send)
            data = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        except socket.timeout:
            return "open"
        return "closed" if not data else "answered"
    finally:
        s.close()


def options_bytes(port, source="127.0.0.1", transport="TCP"):
    token = "%016x" % random.getrandbits(64)
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {source}:9;branch=z9hG4bK-acl-{token}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:acl@{source}>;tag={token[:8]}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: acl-{token}\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


# ---------------------------------------------------------------- PASSporT

def _b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_identity(identity, pub_pem_path):
    """Checks an Identity header value (RFC 8224 §4.1) whose JWS was signed
    with the key in pub_pem_path: returns (claims, error). The signature is
    checked with python3-cryptography (ES256, RFC 7518 §3.4), so any byte
    changed on the way breaks it."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    except ImportError as e:
        return None, f"python3-cryptography missing: {e}"
    token = identity.split(";", 1)[0].strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None, f"not a compact JWS: {token[:60]}"
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        sig = _b64url_decode(parts[2])
    except ValueError as e:
        return None, f"undecodable JWS: {e}"
    if header.get("alg") != "ES256" or len(sig) != 64:
        return None, f"unexpected header {header} or signature length {len(sig)}"
    with open(pub_pem_path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return None, "signature does not verify"
    return claims, None


# ---------------------------------------------------------------- test entry point

class Env:
    """What a test body gets: the binaries and tools, the workspace, the
    checks and a throwaway PKI."""

    def __init__(self, relay, sim, sipp, stunnel, ws, checks, lab=None, pmd=None):
        self.relay_bin, self.sim_bin, self.sipp, self.stunnel = relay, sim, sipp, stunnel
        self.ws, self.checks = ws, checks
        self.pki = Pki(ws)
        self.results = []  # every SippResult of a UAC run, for the one-final check
        # The packet backend the relays run on: kernel sockets on loopback
        # (lab None), or dpdk with `pmd` in a namespace lab (dpdk_lab.py),
        # where each relay gets its own link and the switches live in the
        # namespace. routes: a port the switch side talks to -> (host, local_ip).
        self.lab, self.pmd = lab, pmd
        self.routes = {}

    @property
    def backend(self):
        return f"dpdk/{self.pmd}" if self.lab else "socket"

    def relay(self, name, keys, timeout=WAIT):
        """Starts a Relay on this Env's backend and returns it once ready."""
        if self.lab is None:
            return Relay(self.ws, self.relay_bin, name, keys)
        keys = dict(keys)
        workers = int(keys.get("dataplane.workers", "1"))
        if self.pmd == "af_xdp":
            # A veth reports no "combined" channels, and DPDK's af_xdp wants
            # one per queue: one queue, one worker there.
            workers = 1
        link = self.lab.link(queues=workers)
        tcp = free_port() if keys.get("listen.tcp", "127.0.0.1:0") else None
        tls = free_port() if keys.get("listen.tls") else None
        keys.update(link.relay_keys(self.pmd, workers=workers, udp_port=free_port("udp"), tcp_port=tcp,
                                    tls_port=tls))
        relay = Relay(self.ws, self.relay_bin, name, keys, start=False)
        relay.start(timeout=max(timeout, 60))
        relay.attach(link, self.lab)
        for port in relay.ports.values():
            self.routes[port] = (link.relay_ip, link.switch_ip)
        return relay

    def stunnel_client(self, name, relay):
        """stunnel4 in client mode in front of the relay's TLS listener: the
        switch side's TLS. Returns (stunnel, port the switch connects to)."""
        if self.lab is None:
            t = Stunnel(self.ws, self.stunnel, name, "client", relay.ports["tls"], ca=self.pki.ca)
            return t, t.accept_port
        link = relay.link
        accept = free_port()
        conf = self.ws.write(f"{name}.conf", "\n".join([
            "foreground = yes", "pid =", "syslog = no", "debug = notice", f"[{name}]", "client = yes",
            f"accept = {link.switch_ip}:{accept}", f"connect = {link.relay_ip}:{relay.ports['tls']}",
            f"CAfile = {self.pki.ca}", "verifyChain = yes", "checkHost = relay.test"]) + "\n")
        proc = Proc(self.ws, name, self.lab.ns_argv([self.stunnel, conf]), stdout_file=True)
        wait_for(f"{name} listening in the lab namespace",
                 lambda: tcp_listening(accept, link.switch_ip, self.lab.ns_run("cat", "/proc/net/tcp").stdout)
                 or not proc.running())
        if not proc.running():
            raise RuntimeError(f"{name} exited: {proc.stderr_tail()}")
        self.routes[accept] = (link.switch_ip, link.switch_ip)

        class _Tunnel:
            def stop(self_inner):
                return proc.stop()[0]
        return _Tunnel(), accept

    def check(self, name, ok, detail=""):
        return self.checks.check(name, ok, detail)

    def sipp_call(self, name, scenario, port, transport="u1", track=True, **kw):
        """run_sipp; with track, the call counts in check_one_final_each
        (not for sources the relay must ignore)."""
        if self.lab is not None and port in self.routes and "target_host" not in kw:
            host, local_ip = self.routes[port]
            kw.update(target_host=host, local_ip=local_ip, wrap=self.lab.ns_argv)
        r = run_sipp(self.ws, self.sipp, name, scenario, port, transport=transport, **kw)
        if track:
            self.results.append((name, r))
        return r

    def check_one_final_each(self, label="every INVITE got exactly one final response"):
        """DESIGN.md §1: each INVITE that passed the whitelist gets exactly one
        final (retransmissions of that same final aside)."""
        bad = []
        n = 0
        for name, r in self.results:
            for call_id, finals in r.invite_finals().items():
                n += 1
                if len(finals) != 1:
                    bad.append(f"{name} {call_id}: {finals or 'none'}")
        return self.check(f"{label} ({n} calls)", n > 0 and not bad, "; ".join(bad[:5]))


def run_test(title, body, argv, stunnel=True):
    """Common main(): argv = [script, SIGRELAY, SIGRELAY_SIM [BACKEND]],
    BACKEND socket (default) or dpdk:PMD (af_packet, af_xdp: the relays run
    on the dpdk backend in a namespace lab; skipped without root). Skips
    (77) when a binary or tool is missing; exits 1 if any check failed."""
    install_sigterm_handler()
    backend = argv[3] if len(argv) == 4 else "socket"
    if len(argv) not in (3, 4) or not (backend == "socket" or backend in ("dpdk:af_packet", "dpdk:af_xdp")):
        print(f"usage: {os.path.basename(argv[0])} PATH/TO/sigrelay PATH/TO/sigrelay-sim "
              "[socket|dpdk:af_packet|dpdk:af_xdp]", file=sys.stderr)
        sys.exit(2)
    relay = require_binary(argv[1], "sigrelay")
    sim = require_binary(argv[2], "sigrelay-sim")
    want = {"sipp": ("sipp",), "openssl": ("openssl",)}
    if stunnel:
        want["stunnel"] = ("stunnel4", "stunnel")
    tools = require_tools(**want)
    lab, pmd = None, None
    if backend != "socket":
        import dpdk_lab
        lab, pmd = dpdk_lab.Lab.create(), backend.split(":", 1)[1]
        title = f"{title} [{backend}]"
    checks = Checks(title)
    ws = Workspace()
    try:
        body(Env(relay, sim, tools["sipp"], tools.get("stunnel"), ws, checks, lab=lab, pmd=pmd))
    except (TimeoutError, RuntimeError, EOFError, OSError, ValueError, subprocess.SubprocessError) as e:
        checks.check(f"harness ({type(e).__name__})", False, str(e))
    finally:
        ws.close()
        if lab is not None:
            lab.close()
    sys.exit(checks.finish())
