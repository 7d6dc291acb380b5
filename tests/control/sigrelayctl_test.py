#!/usr/bin/env python3
"""sigrelayctl end to end against a stand-in control server (no daemon needed).

The stand-in speaks the protocol of docs/sigrelayctl.md: it reads one JSON
request line, records it, answers one JSON line and closes.

Usage: sigrelayctl_test.py PATH/TO/sigrelayctl
Prints one line per check; exits 1 if any check failed.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

ctl = sys.argv[1]
failures = 0
checks = 0


def check(name, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print(f"ok   {name}")
    else:
        failures += 1
        print(f"FAIL {name} {detail}")


STATS = {
    "invites_in": 1234567,
    "acl_denied": 5,
    "local_503_timeout": 0,
    "inline_invite_size": {"le_1024": 3, "larger": 12},
}
SESSIONS = [
    {"target": "sip:sip.example.net:5061;transport=tls", "connection": 0, "state": "up"},
    {"target": "sip:sip.example.net:5061;transport=tls", "connection": 1, "state": "connecting"},
]


def answer(request):
    """The stand-in's replies: (ok, result-or-error)."""
    command, args = request.get("command"), request.get("args", [])
    if command == "stats":
        return True, STATS
    if command == "sessions":
        return True, SESSIONS
    if command == "acl" and args[:1] == ["list"]:
        return True, ["192.0.2.0/24", "2001:db8::/32"]
    if command == "acl" and args[:1] == ["test"]:
        allowed = args[1].startswith("192.0.2.")
        result = {"address": args[1], "allowed": allowed}
        if allowed:
            result["rule"] = "192.0.2.0/24"
        return True, result
    if command == "version":
        return True, "9.8.7"
    if command == "trace":
        return True, None
    if command == "reload":
        return False, "sigrelay.conf:3: upstream.uri: missing"
    return False, f"unknown command '{command}'"


class StandIn:
    """A Unix-socket server speaking the control protocol, on a thread."""

    def __init__(self, path, reply=answer):
        self.path, self.reply, self.requests = path, reply, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                request = json.loads(data)
                self.requests.append(request)
                reply = self.reply(request)
                if reply is None:
                    continue  # close without answering
                ok, value = reply
                body = {"ok": True, "result": value} if ok else {"ok": False, "error": value}
                conn.sendall(json.dumps(body).encode() + b"\n")

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=10)


def run(*args, user=None):
    cmd = [ctl, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


tmp = tempfile.mkdtemp(prefix="sigrelayctl-test-")
try:
    sock = os.path.join(tmp, "control.sock")
    server = StandIn(sock)

    # stats as a table: a header, one row per counter, nested objects as
    # dotted names, values right-aligned (every line the same width).
    rc, out, err = run("--socket", sock, "stats")
    lines = out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in lines[1:] if line.split()}
    check("stats exits 0", rc == 0, (rc, err))
    check("stats sent the request", server.requests[-1] == {"command": "stats", "args": []}, server.requests)
    check("stats header", lines and lines[0].split() == ["COUNTER", "VALUE"], out)
    check("stats rows", rows == {"invites_in": "1234567", "acl_denied": "5", "local_503_timeout": "0",
                                 "inline_invite_size.le_1024": "3", "inline_invite_size.larger": "12"}, out)
    check("stats values right-aligned", len({len(line) for line in lines}) == 1, out)

    rc, out, err = run("--socket", sock, "stats", "--json")
    check("stats --json exits 0", rc == 0, (rc, err))
    check("stats --json is the daemon's object", json.loads(out) == STATS, out)

    # acl test: the address reaches the daemon as given; the answer is shown.
    rc, out, err = run("--socket", sock, "acl", "test", "192.0.2.1")
    check("acl test exits 0", rc == 0, (rc, err))
    check("acl test request", server.requests[-1] == {"command": "acl", "args": ["test", "192.0.2.1"]},
          server.requests[-1])
    fields = dict(line.split(None, 1) for line in out.splitlines())
    check("acl test output", fields == {"address": "192.0.2.1", "allowed": "true", "rule": "192.0.2.0/24"}, out)
    rc, out, err = run("--socket", sock, "--json", "acl", "test", "2001:db8::1")
    check("acl test IPv6 --json", rc == 0 and json.loads(out) == {"address": "2001:db8::1", "allowed": False},
          (rc, out, err))
    before = len(server.requests)
    rc, out, err = run("--socket", sock, "acl", "test", "192.0.2.256")
    check("acl test with a bad address is a usage error", rc == 2 and "192.0.2.256" in err, (rc, err))
    check("a usage error sends nothing", len(server.requests) == before, server.requests)

    rc, out, err = run("--socket", sock, "acl", "list")
    check("acl list: one rule a line", rc == 0 and out.splitlines() == ["192.0.2.0/24", "2001:db8::/32"], out)

    # sessions: a list of objects becomes a table with a column per field.
    rc, out, err = run("--socket", sock, "sessions")
    lines = out.splitlines()
    check("sessions table", rc == 0 and lines[0].split() == ["CONNECTION", "STATE", "TARGET"] and len(lines) == 3
          and lines[2].split() == ["1", "connecting", "sip:sip.example.net:5061;transport=tls"], out)

    rc, out, err = run("--socket", sock, "version")
    check("version", rc == 0 and out == "sigrelay 9.8.7\n", (rc, out, err))
    rc, out, err = run("--socket", sock, "trace", "start")
    check("trace start: null result prints ok", rc == 0 and out == "ok\n"
          and server.requests[-1] == {"command": "trace", "args": ["start"]}, (rc, out, err))

    # The daemon's error: exit 1, its message on stderr.
    rc, out, err = run("--socket", sock, "reload")
    check("a failed command exits 1", rc == 1, (rc, err))
    check("the daemon's error is shown", err == "sigrelayctl: reload: sigrelay.conf:3: upstream.uri: missing\n", err)

    # "--" lets a Call-ID start with '-'.
    rc, out, err = run("--socket", sock, "why", "--", "-x1@host")
    check("why after --", server.requests[-1] == {"command": "why", "args": ["-x1@host"]}
          and rc == 1 and "unknown command 'why'" in err, (rc, err, server.requests[-1]))

    # The default socket comes from control.socket in the config file...
    conf = os.path.join(tmp, "sigrelay.conf")
    with open(conf, "w") as f:
        f.write(f"[upstream]\nuri = sip:127.0.0.1:5061;transport=tls\n[control]\nsocket = {sock}\n")
    rc, out, err = run("--config", conf, "version")
    check("socket from --config", rc == 0 and out == "sigrelay 9.8.7\n", (rc, out, err))
    # ...even when the file fails other checks (a key file this user cannot read).
    with open(conf, "w") as f:
        f.write(f"[listen]\ntls_cert = {tmp}/missing.pem\ntls_key = {tmp}/missing.key\n"
                f"[upstream]\nuri = sip:127.0.0.1:5061;transport=tls\n[control]\nsocket = {sock}\n")
    rc, out, err = run("--config", conf, "version")
    check("socket from a config that fails other checks", rc == 0, (rc, out, err))
    # Without the key, the compiled-in default.
    with open(conf, "w") as f:
        f.write("[upstream]\nuri = sip:127.0.0.1:5061;transport=tls\n")
    rc, out, err = run("--config", conf, "version")
    check("compiled-in default socket", "/run/sigrelay/control.sock" in err if rc == 3 else rc == 0, (rc, err))

    # A peer that accepts and closes without answering: exit 1, not 3.
    server.reply = lambda request: None
    rc, out, err = run("--socket", sock, "stats")
    check("no answer exits 1", rc == 1 and sock in err and "closed without a response" in err, (rc, err))
    server.close()

    # Nothing at the path: exit 3, naming the path.
    missing = os.path.join(tmp, "missing.sock")
    rc, out, err = run("--socket", missing, "stats")
    check("no socket exits 3", rc == 3, (rc, err))
    check("no socket message",
          err == f"sigrelayctl: cannot connect to {missing}: no such file (is sigrelay running?)\n", err)

    # A socket file nobody listens on (the stand-in above is closed, its file stays).
    check("stale socket file remains", os.path.exists(sock))
    rc, out, err = run("--socket", sock, "stats")
    check("stale socket exits 3", rc == 3 and sock in err and "is sigrelay running?" in err, (rc, err))

    # Permission denied: exit 3 with a hint. Root passes every permission
    # check, so as root the client runs as nobody (when setpriv is there).
    private = os.path.join(tmp, "private")
    os.mkdir(private, 0o700)
    psock = os.path.join(private, "control.sock")
    pserver = StandIn(psock)
    user = None
    if os.geteuid() == 0 and shutil.which("setpriv"):
        user = "65534"
        os.chmod(tmp, 0o755)
    if os.geteuid() != 0 or user:
        rc, out, err = run("--socket", psock, "stats", user=user)
        if user and err.startswith("setpriv:"):
            print(f"skip permission denied (nobody cannot run {ctl}: {err.strip()})")
        else:
            check("permission denied exits 3", rc == 3 and psock in err and "permission denied" in err, (rc, err))
    else:
        print("skip permission denied (root without setpriv)")
    pserver.close()

    # Usage errors: exit 2, a message, nothing sent.
    for args in [[], ["frobnicate"], ["trace"], ["trace", "pause"], ["stats", "extra"], ["acl"],
                 ["acl", "test"], ["why"], ["--frob", "stats"], ["--timeout", "0", "stats"],
                 ["--socket"], ["--socket", "/" + "x" * 200, "stats"]]:
        rc, out, err = run(*args)
        check(f"usage error {args}", rc == 2 and err.startswith("sigrelayctl: ") and out == "", (rc, out, err))

    rc, out, err = run("--help")
    check("--help", rc == 0 and out.startswith("usage: sigrelayctl") and "acl test IP" in out, (rc, err))
    rc, out, err = run("--version")
    check("--version", rc == 0 and out.startswith("sigrelayctl "), (rc, out))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{checks - failures}/{checks} checks passed")
sys.exit(1 if failures else 0)
