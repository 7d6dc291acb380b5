#!/usr/bin/env python3
"""sigrelay-sim end to end, over TCP and TLS, with a PASSporT check by code we did not write.

Usage: sim_e2e_test.py PATH/TO/sigrelay-sim

Makes a throwaway CA, server certificate and SHAKEN key with the openssl command,
starts the simulator on kernel-chosen ports, and checks every answer against
RFC 3261 (§8.2.6 copied headers, §9.2 CANCEL, §17.2.1 retransmissions), RFC 5626
(CRLF keepalive) and RFC 8224/8225/8588 (the Identity header and PASSporT, verified
with python3-jwt and python3-cryptography). Every wait is bounded; nothing sleeps
to synchronize: the simulator writes its counters file before it answers or
closes, so an answer (or an EOF) means the counters already include the request.
Prints one line per check; exits 1 if any check failed.
"""
import base64
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

try:
    import jwt
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError as e:
    sys.exit(f"sim_e2e_test: {e}: run it with Debian's /usr/bin/python3 and the python3-jwt and "
             "python3-cryptography packages (scripts/setup-deps.sh installs them)")

SIM = os.path.abspath(sys.argv[1])  # the simulator runs in a temporary directory
WAIT = 20.0  # seconds: the bound on every wait
X5U = "https://cert.example.org/sim-e2e.pem"
RULE_VERIFY = "rule = +1212 302 contacts=sip:term1@192.0.2.30 verify\n"

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
    return ok


# ---------------------------------------------------------------- certificates

def make_pki(d):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n"
                "[dn]\nCN = sigrelay-sim e2e throwaway CA\n"
                "[v3_ca]\nbasicConstraints = critical, CA:TRUE\n"
                "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n")
    with open(os.path.join(d, "server.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = 127.0.0.1\n")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n"
                "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
    ec_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", "-config", "ca.cnf", *ec_args, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2")
    openssl("req", "-new", "-config", "server.cnf", *ec_args, "-keyout", "server.key", "-out", "server.csr")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "shaken.key")
    openssl("ec", "-in", "shaken.key", "-pubout", "-out", "shaken.pub")
    # The SHAKEN key's certificate, for a verifying simulator's shaken.trust.
    with open(os.path.join(d, "shaken.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = sigrelay-sim e2e SHAKEN\n")
    openssl("req", "-new", "-x509", "-config", "shaken.cnf", "-key", "shaken.key", "-out", "shaken.crt",
            "-days", "2")


# ---------------------------------------------------------------- the simulator

class Sim:
    def __init__(self, d, name, conf_text, extra_args=()):
        self.conf = os.path.join(d, name + ".conf")
        self.counters_path = os.path.join(d, name + "-counters.json")
        self.stderr_path = os.path.join(d, name + ".stderr")
        with open(self.conf, "w") as f:
            f.write(conf_text + f"sim.counters_file = {self.counters_path}\n")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([SIM, "--config", self.conf, *extra_args], stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=d)
        self.ports = self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + WAIT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise RuntimeError("no ready line within %.0f s" % WAIT)
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError("sigrelay-sim exited: " + open(self.stderr_path).read())
            line += chunk
        text = line.decode()
        if not text.startswith("sigrelay-sim: ready"):
            raise RuntimeError("unexpected first line: " + text)
        return {k: int(v) for k, v in re.findall(r"(tcp|tls)=127\.0\.0\.1:(\d+)", text)}

    def counters(self):
        with open(self.counters_path) as f:
            return json.load(f)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        self.stderr.close()
        return rc


# ---------------------------------------------------------------- SIP over a stream

class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data within %.0f s" % WAIT)
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_bytes(self, n):
        deadline = time.monotonic() + WAIT
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_message(self):
        deadline = time.monotonic() + WAIT
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(rest) < length:
            self._fill(deadline)
            head, _, rest = self.buf.partition(b"\r\n\r\n")
        self.buf = rest[length:]
        return Response(head.decode(), rest[:length])

    def wait_eof(self):
        """True when the peer closes within the bound (after any bytes still coming)."""
        deadline = time.monotonic() + WAIT
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            return True
        except (TimeoutError, socket.timeout):
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close_and_wait(self):
        """Half-close, then wait for the simulator to close too: it updates its
        counters before it closes, so they are current when this returns."""
        if isinstance(self.sock, ssl.SSLSocket):
            self.sock.settimeout(WAIT)
            raw = self.sock.unwrap()  # close_notify both ways
            self.sock = raw
        else:
            self.sock.shutdown(socket.SHUT_WR)
        ok = self.wait_eof()
        self.sock.close()
        return ok


class Response:
    def __init__(self, head, body):
        lines = head.split("\r\n")
        self.start = lines[0]
        parts = self.start.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[0] == "SIP/2.0" else 0
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))
        self.body = body

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    def to_tag(self):
        m = re.search(r";\s*tag=([^;>\s]+)\s*$", self.get("To") or "")
        return m.group(1) if m else None

    def __repr__(self):
        return self.start + " " + repr(self.headers)


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # A small receive window makes the simulator's writes come up short.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", port))
    return s


def tcp(port, rcvbuf=None):
    return Conn(connect(port, rcvbuf))


def tls_context(d):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.path.join(d, "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls(d, port, rcvbuf=None):
    return Conn(tls_context(d).wrap_socket(connect(port, rcvbuf), server_hostname="127.0.0.1"))


SDP = (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
       b"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Call:
    """One INVITE transaction as a switch behind the relay would send it."""

    def __init__(self, called, transport="TCP", calling="+1-303-555-0100", pai=None):
        self.branch = "z9hG4bK" + uuid.uuid4().hex
        self.call_id = uuid.uuid4().hex + "@192.0.2.1"
        self.from_ = f'"Caller" <sip:{calling}@switch.example;user=phone>;tag=' + uuid.uuid4().hex[:10]
        self.to = f"<sip:{called}@sip.service.example;user=phone>"
        self.ruri = f"sip:{called}@sip.service.example;user=phone"
        self.vias = [f"SIP/2.0/{transport} 127.0.0.1:5060;branch={self.branch};rport",
                     "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKswitch" + uuid.uuid4().hex[:8]]
        self.pai = pai

    def request(self, method, cseq_method=None, to=None, body=b"", extra=()):
        lines = [f"{method} {self.ruri} SIP/2.0"]
        # CANCEL and the ACK for a non-2xx carry only the INVITE's top Via (RFC 3261 §9.1, §17.1.1.3).
        vias = self.vias if method not in ("CANCEL", "ACK") else self.vias[:1]
        lines += [f"Via: {v}" for v in vias]
        lines += ["Max-Forwards: 69", f"From: {self.from_}", f"To: {to or self.to}",
                  f"Call-ID: {self.call_id}", f"CSeq: 1 {cseq_method or method}"]
        if method == "INVITE":
            lines.append("Contact: <sip:caller@192.0.2.1:5060>")
            if self.pai:
                lines.append(f"P-Asserted-Identity: {self.pai}")
            lines.append("Content-Type: application/sdp")
        lines += list(extra)
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(self):
        return self.request("INVITE", body=SDP)

    def cancel(self):
        return self.request("CANCEL")

    def ack(self, to_tag):
        return self.request("ACK", to=f"{self.to};tag={to_tag}")

    def copied(self, r, method="INVITE"):
        """RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID, CSeq copied; To copied plus a tag."""
        to = r.get("To") or ""
        return (r.all("Via") == self.vias and r.get("From") == self.from_ and r.get("Call-ID") == self.call_id
                and r.get("CSeq") == f"1 {method}" and to.startswith(self.to) and r.to_tag() is not None
                and r.get("Content-Length") == "0")


def options_request():
    branch = "z9hG4bK" + uuid.uuid4().hex
    return (f"OPTIONS sip:sip.service.example SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch={branch}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:relay@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:sip.service.example>\r\nCall-ID: {uuid.uuid4().hex}\r\nCSeq: 7 OPTIONS\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


# ---------------------------------------------------------------- PASSporT check (not our code)

def check_passport(label, r, pub_pem, called, calling, attest):
    ident = r.get("Identity") or ""
    m = re.fullmatch(r"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+);info=<([^>]*)>;alg=ES256;ppt=shaken", ident)
    if not check(f"{label}: Identity is JWS;info=<URL>;alg=ES256;ppt=shaken (RFC 8224 §4.1)", m, ident):
        return None
    token, info = m.group(1), m.group(2)
    check(f"{label}: info is the x5u URL", info == X5U, info)
    # python3-jwt verifies the signature and decodes.
    try:
        claims = jwt.decode(token, pub_pem, algorithms=["ES256"], options={"verify_aud": False})
        header = jwt.get_unverified_header(token)
        check(f"{label}: PyJWT verifies ES256 with the public key", True)
    except jwt.PyJWTError as e:
        check(f"{label}: PyJWT verifies ES256 with the public key", False, repr(e))
        return None
    # python3-cryptography on the raw R||S (RFC 7518 §3.4): 64 bytes, big-endian halves.
    h64, p64, s64 = token.split(".")
    sig = base64.urlsafe_b64decode(s64 + "=" * (-len(s64) % 4))
    check(f"{label}: signature is 64 bytes R||S", len(sig) == 64, len(sig))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key = serialization.load_pem_public_key(pub_pem)
    try:
        key.verify(der, f"{h64}.{p64}".encode(), ec.ECDSA(hashes.SHA256()))
        check(f"{label}: cryptography verifies the signature over header.payload", True)
    except Exception as e:  # InvalidSignature
        check(f"{label}: cryptography verifies the signature over header.payload", False, repr(e))
    check(f"{label}: no base64 padding in any part", "=" not in token)
    check(f"{label}: protected header (RFC 8588 §3)",
          header == {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U}, header)
    check(f"{label}: dest.tn is the called number", claims.get("dest") == {"tn": [called]}, claims)
    check(f"{label}: orig.tn is the calling number", claims.get("orig") == {"tn": calling}, claims)
    check(f"{label}: attest {attest}", claims.get("attest") == attest, claims)
    iat = claims.get("iat")
    check(f"{label}: iat is an integer near now", isinstance(iat, int) and abs(iat - time.time()) < 600, iat)
    try:
        uuid.UUID(claims.get("origid", ""))
        check(f"{label}: origid is a UUID", True)
    except ValueError:
        check(f"{label}: origid is a UUID", False, claims)
    check(f"{label}: exactly the five claims", set(claims) == {"attest", "dest", "iat", "orig", "origid"}, claims)
    return claims


# ---------------------------------------------------------------- the checks

def main_checks(d, sim, pub_pem):
    tcp_port, tls_port = sim.ports.get("tcp"), sim.ports.get("tls")
    check("ready line names both bound ports", tcp_port and tls_port and tcp_port != tls_port, sim.ports)
    first = sim.counters()
    check("counters file exists at ready, all zero", first["invites"] == 0 and first["connections_accepted"] == 0,
          first)
    new_invites = {}  # code -> count we expect in invites_by_code

    def expect(code):
        new_invites[code] = new_invites.get(code, 0) + 1

    c = tcp(tcp_port)

    # 503: nothing matches.
    call = Call("+4420-7946-0000")
    c.send(call.invite())
    r = c.read_message()
    check("TCP default answer is 503", r.status == 503, r)
    check("503 copies Via/From/To/Call-ID/CSeq and adds a To tag", call.copied(r), r)
    expect(503)

    # Retransmission after the answer: the same response again, same To tag (RFC 3261 §17.2.1).
    c.send(call.invite())
    r2 = c.read_message()
    check("retransmitted INVITE gets the same final response", r2.status == 503 and r2.to_tag() == r.to_tag(), r2)
    c.send(call.ack(r.to_tag()))

    # 302 with P-Asserted-Identity: Contacts and a PASSporT.
    call = Call("+1-212-555-0100", pai="<sip:+1-303-555-0199@switch.example;user=phone>")
    c.send(call.invite())
    r = c.read_message()
    check("302 for +1212", r.status == 302 and r.reason == "Moved Temporarily", r)
    check("302 copies the request's headers", call.copied(r), r)
    check("302 Contacts in order with q descending",
          r.all("Contact") == ["<sip:gw1@192.0.2.10:5060;transport=tcp>;q=1.0", "<sip:gw2@192.0.2.11>;q=0.9",
                               "<sip:captcha@192.0.2.12>;q=0.8"], r.all("Contact"))
    claims1 = check_passport("302/tcp", r, pub_pem, "12125550100", "13035550199", "B")
    expect(302)
    c.send(call.ack(r.to_tag()))

    # 302 without PAI: the calling number comes from From; the rule overrides attest.
    call = Call("+16465550100", calling="+1-(303)-555-0142")
    c.send(call.invite())
    r = c.read_message()
    check("302 for +1646", r.status == 302 and r.all("Contact") == ["<sip:x@192.0.2.20>;q=1.0"], r)
    claims2 = check_passport("302 from From", r, pub_pem, "16465550100", "13035550142", "C")
    if claims1 and claims2:
        check("each PASSporT has its own origid", claims1["origid"] != claims2["origid"])
    expect(302)

    # 603 and 404.
    for number, code, reason in (("+19005550100", 603, "Decline"), ("+14045550100", 404, "Not Found")):
        call = Call(number)
        c.send(call.invite())
        r = c.read_message()
        check(f"{code} for {number}", r.status == code and r.reason == reason and call.copied(r), r)
        check(f"{code} carries no Contact or Identity", not r.all("Contact") and not r.all("Identity"), r)
        expect(code)
        c.send(call.ack(r.to_tag()))

    # OPTIONS: 200 with Allow.
    c.send(options_request())
    r = c.read_message()
    check("OPTIONS gets 200 with Allow", r.status == 200 and "INVITE" in (r.get("Allow") or ""), r)

    # CRLFCRLF ping, CRLF pong (RFC 5626 §3.5.1).
    c.send(b"\r\n\r\n")
    check("CRLFCRLF ping answered with a CRLF pong", c.read_bytes(2) == b"\r\n")

    # Silent: no answer; a retransmission is absorbed; CANCEL gives 200 then 487.
    call = Call("+15555550100")
    c.send(call.invite())
    c.send(call.invite())  # retransmission while pending: absorbed
    c.send(options_request())
    r = c.read_message()
    check("silent INVITE (and its retransmission) unanswered: next message is the OPTIONS 200",
          r.status == 200 and r.get("CSeq") == "7 OPTIONS", r)
    c.send(call.cancel())
    got = [c.read_message(), c.read_message()]
    by_method = {m.get("CSeq"): m for m in got}
    ok200 = by_method.get("1 CANCEL")
    r487 = by_method.get("1 INVITE")
    check("CANCEL of a held INVITE: 200 to the CANCEL", ok200 is not None and ok200.status == 200, got)
    check("... and 487 to the INVITE", r487 is not None and r487.status == 487 and call.copied(r487), got)
    check("... 200 comes before 487", got[0].get("CSeq") == "1 CANCEL", got)
    if ok200 is not None and r487 is not None:
        check("... with the same To tag (RFC 3261 §9.2)", ok200.to_tag() == r487.to_tag(), got)
        c.send(call.ack(r487.to_tag()))
    expect(487)

    # CANCEL that matches nothing: 481.
    stray = Call("+15555550199")
    c.send(stray.cancel())
    r = c.read_message()
    check("CANCEL for no transaction gets 481", r.status == 481 and r.get("CSeq") == "1 CANCEL", r)

    # Delay: the OPTIONS sent after the delayed INVITE is answered first, so the
    # loop did not block; the delayed answer never comes before its time.
    call = Call("+15565550100")
    started = time.monotonic()
    c.send(call.invite() + options_request())
    first_r = c.read_message()
    second_r = c.read_message()
    elapsed = time.monotonic() - started
    check("delayed INVITE: OPTIONS answered in the meantime", first_r.get("CSeq") == "7 OPTIONS", first_r)
    check("delayed INVITE: then its 503", second_r.status == 503 and call.copied(second_r), second_r)
    check("delayed INVITE: not answered before delay_ms", elapsed >= 1.5, elapsed)
    expect(503)
    c.send(call.ack(second_r.to_tag()))

    # 100 Trying first when the rule says so, then the final answer.
    call = Call("+14865550100")
    c.send(call.invite())
    r100 = c.read_message()
    rfinal = c.read_message()
    check("trying rule: 100 first, without a To tag (RFC 3261 §8.2.6.1)",
          r100.status == 100 and r100.to_tag() is None, r100)
    check("trying rule: then 486", rfinal.status == 486 and call.copied(rfinal), rfinal)
    expect(486)
    c.send(call.ack(rfinal.to_tag()))

    # Other methods: 405 with Allow.
    call = Call("+4420")
    c.send(call.request("MESSAGE", body=b"hi", extra=["Content-Type: text/plain"]))
    r = c.read_message()
    check("MESSAGE gets 405 with Allow", r.status == 405 and r.get("Allow"), r)

    # A request that frames but does not parse: 400, and the connection stays usable.
    bad = Call("+4420").invite().replace(b"CSeq: 1 INVITE", b"CSeq: abc INVITE")
    c.send(bad)
    r = c.read_message()
    check("invalid CSeq gets 400", r.status == 400, r)
    last = Call("+4420-1234")
    c.send(last.invite())
    r = c.read_message()
    check("connection still serves after a 400", r.status == 503, r)
    expect(503)
    k = sim.counters()
    check("counters: last_invite is the last INVITE byte for byte", k["last_invite"] == last.invite().decode(),
          k["last_invite"][:300])
    check("TCP connection closes cleanly", c.close_and_wait())

    # A stream that cannot be framed (no Content-Length, RFC 3261 §18.3): 400, then close.
    c = tcp(tcp_port)
    c.send(b"INVITE sip:1@sip.service.example SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKnocl\r\n"
           b"Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@sip.service.example>\r\nCall-ID: nocl\r\n"
           b"CSeq: 1 INVITE\r\n\r\n")
    r = c.read_message()
    check("INVITE without Content-Length on a stream: 400", r.status == 400, r)
    check("... then the simulator closes the connection", c.wait_eof())
    c.sock.close()

    # TLS: the certificate verifies against the throwaway CA; same answers.
    t = tls(d, tls_port)
    check("TLS 1.2 or newer negotiated", t.sock.version() in ("TLSv1.2", "TLSv1.3"), t.sock.version())
    call = Call("+1-212-555-0177", transport="TLS", calling="+13035550177")
    t.send(call.invite())
    r = t.read_message()
    check("TLS 302", r.status == 302 and call.copied(r), r)
    check_passport("302/tls", r, pub_pem, "12125550177", "13035550177", "B")
    expect(302)
    t.send(call.ack(r.to_tag()))
    call = Call("+19005550111", transport="TLS")
    t.send(call.invite())
    r = t.read_message()
    check("TLS 603", r.status == 603 and call.copied(r), r)
    expect(603)
    t.send(call.ack(r.to_tag()))
    t.send(b"\r\n\r\n")
    check("TLS ping/pong", t.read_bytes(2) == b"\r\n")
    # Silent + CANCEL over TLS.
    call = Call("+15555550222", transport="TLS")
    t.send(call.invite())
    t.send(call.cancel())
    got = sorted([t.read_message(), t.read_message()], key=lambda m: m.status)
    check("TLS silent + CANCEL: 200 and 487", [m.status for m in got] == [200, 487], got)
    expect(487)
    t.send(options_request())
    r = t.read_message()
    check("TLS OPTIONS", r.status == 200, r)
    # One byte per TLS record: the stream framer resumes across every split.
    call = Call("+19005550112", transport="TLS")
    for byte in call.invite():
        t.send(bytes([byte]))
    r = t.read_message()
    check("INVITE sent one byte per TLS record is answered", r.status == 603 and call.copied(r), r)
    expect(603)
    t.send(call.ack(r.to_tag()))
    check("TLS connection closes cleanly", t.close_and_wait())

    # A burst pipelined without reading: the answers outgrow the socket buffer,
    # so the simulator must keep what the kernel does not take and send it later.
    for label, conn, transport in (("TCP", tcp(tcp_port, 4096), "TCP"), ("TLS", tls(d, tls_port, 4096), "TLS")):
        burst = [Call(f"+4930{i:07d}", transport=transport) for i in range(1000)]
        conn.send(b"".join(b.invite() for b in burst))
        answers = [conn.read_message() for _ in burst]
        in_order = all(a.status == 503 and a.get("Call-ID") == b.call_id for a, b in zip(answers, burst))
        check(f"{label}: 1000 pipelined INVITEs answered in order", in_order)
        for _ in burst:
            expect(503)
        check(f"{label}: burst connection closes cleanly", conn.close_and_wait())

    # Many connections at once, both transports, every one answered.
    conns = [tcp(tcp_port) for _ in range(40)] + [tls(d, tls_port) for _ in range(10)]
    calls = [Call(f"+3312345{i:04d}", transport="TLS" if i >= 40 else "TCP") for i in range(len(conns))]
    for conn, call in zip(conns, calls):
        conn.send(call.invite())
    answered = 0
    for conn, call in zip(conns, calls):
        r = conn.read_message()
        if r.status == 503 and call.copied(r):
            answered += 1
        conn.send(call.ack(r.to_tag()))
        expect(503)
    check("50 concurrent connections all answered", answered == len(conns), answered)
    mid = sim.counters()
    check("counters: 50 connections open while in use", mid["connections_open"] == len(conns), mid["connections_open"])
    check("all 50 connections close cleanly", all([conn.close_and_wait() for conn in conns]))

    # A failed handshake: plain text on the TLS port.
    g = Conn(socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT))
    g.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
    check("garbage on the TLS port: closed", g.wait_eof())
    g.sock.close()

    # The counters, now that every connection is closed.
    k = sim.counters()
    total = sum(new_invites.values())
    check("counters: invites", k["invites"] == total, (k["invites"], total))
    check("counters: invites_by_code", k["invites_by_code"] == {str(c): n for c, n in new_invites.items()},
          (k["invites_by_code"], new_invites))
    check("counters: one retransmission after the answer, one while held", k["invite_retransmissions"] == 2,
          k["invite_retransmissions"])
    check("counters: silent_invites", k["silent_invites"] == 2, k["silent_invites"])
    check("counters: options", k["options"] == 4, k["options"])
    check("counters: acks", k["acks"] == 10 + 50, k["acks"])
    check("counters: cancels (one unmatched)", k["cancels"] == 3 and k["cancels_unmatched"] == 1,
          (k["cancels"], k["cancels_unmatched"]))
    check("counters: pings", k["pings"] == 2, k["pings"])
    check("counters: bad_messages (bad CSeq, no Content-Length)", k["bad_messages"] == 2, k["bad_messages"])
    check("counters: other_requests", k["other_requests"] == 1, k["other_requests"])
    check("counters: forbidden 0 here", k["forbidden"] == 0, k["forbidden"])
    check("counters: connections_accepted", k["connections_accepted"] == 3 + 2 + 50 + 1, k["connections_accepted"])
    check("counters: connections_open back to 0", k["connections_open"] == 0, k["connections_open"])
    check("counters: tls handshakes", k["tls_handshakes"] == 12 and k["tls_handshake_failures"] == 1,
          (k["tls_handshakes"], k["tls_handshake_failures"]))
    check("counters: last_invite is one of the last 50", k["last_invite"] in [x.invite().decode() for x in calls],
          k["last_invite"][:300])
    return total


def tampered(identity):
    """The same Identity header with one character of the signature changed."""
    jws, sep, params = identity.partition(";")
    h64, p64, s64 = jws.split(".")
    s64 = s64[:10] + ("B" if s64[10] == "A" else "A") + s64[11:]
    return f"{h64}.{p64}.{s64}{sep}{params}"


def verify_checks(d, signer, pub_pem):
    """The terminating side (a `verify` rule) checks a PASSporT the originating
    side (`signer`) issued in this test. Returns the INVITEs sent to `signer`."""
    pai = "<sip:+1-303-555-0199@switch.example;user=phone>"
    c = tcp(signer.ports["tcp"])
    call = Call("+1-212-555-0100", pai=pai)
    c.send(call.invite())
    r = c.read_message()
    identity = r.get("Identity") or ""
    check("verify: the originating sim signs a 302", r.status == 302 and identity, r)
    check_passport("verify: originating 302", r, pub_pem, "12125550100", "13035550199", "B")
    c.send(call.ack(r.to_tag()))
    check("verify: originating connection closes cleanly", c.close_and_wait())

    # Two certificates in one shaken.trust file; the second is the signer's.
    with open(os.path.join(d, "trust-bundle.pem"), "w") as f:
        for name in ("ca.crt", "shaken.crt"):
            with open(os.path.join(d, name)) as part:
                f.write(part.read())
    rule = "rule = +1212 302 contacts=sip:term1@192.0.2.30,sip:term2@192.0.2.31 verify\n"
    contacts = ["<sip:term1@192.0.2.30>;q=1.0", "<sip:term2@192.0.2.31>;q=0.9"]
    sims = []
    for label, name, conf in (("shaken.trust", "term-trust", "shaken.trust = trust-bundle.pem\n"),
                              ("own shaken.key", "term-own", f"shaken.key = shaken.key\nshaken.x5u = {X5U}\n")):
        term = Sim(d, name, "listen.tcp = 127.0.0.1:0\n" + conf + rule)
        sims.append(term)
        t = tcp(term.ports["tcp"])

        def ask(called, ident):
            call = Call(called, pai=pai)
            extra = [f"Identity: {ident}"] if ident is not None else []
            t.send(call.request("INVITE", body=SDP, extra=extra))
            r = t.read_message()
            t.send(call.ack(r.to_tag()))
            ok = (r.status == 302 and call.copied(r) and r.all("Contact") == contacts
                  and not r.all("Identity"))
            check(f"verify ({label}): 302 with the rule's Contacts, copied headers and no new Identity", ok, r)
            return r

        def pai_with(verstat):
            return f"<sip:+13035550199@switch.example;user=phone;verstat={verstat}>"

        r = ask("+1-212-555-0100", identity)
        check(f"verify ({label}): signed INVITE -> verstat=TN-Validation-Passed",
              r.all("P-Asserted-Identity") == [pai_with("TN-Validation-Passed")], r)
        check(f"verify ({label}): P-Attestation-Indicator is the PASSporT's attest",
              r.all("P-Attestation-Indicator") == ["B"], r)
        r = ask("+1-212-555-0100", tampered(identity))
        check(f"verify ({label}): tampered signature -> verstat=TN-Validation-Failed",
              r.all("P-Asserted-Identity") == [pai_with("TN-Validation-Failed")], r)
        check(f"verify ({label}): no P-Attestation-Indicator when not valid", not r.all("P-Attestation-Indicator"), r)
        expected = {"verifications_passed": 1, "verifications_failed": 1, "verifications_none": 0,
                    "verification_failures": {"bad_signature": 1}, "invites_by_code": {"302": 2}}
        if label == "shaken.trust":
            # Another called number than the PASSporT's dest.tn, and no Identity at all.
            r = ask("+1-212-555-0101", identity)
            check("verify: dest.tn not the called number -> TN-Validation-Failed",
                  r.all("P-Asserted-Identity") == [pai_with("TN-Validation-Failed")]
                  and not r.all("P-Attestation-Indicator"), r)
            r = ask("+1-212-555-0100", None)
            check("verify: no Identity -> No-TN-Validation",
                  r.all("P-Asserted-Identity") == [pai_with("No-TN-Validation")]
                  and not r.all("P-Attestation-Indicator"), r)
            expected = {"verifications_passed": 1, "verifications_failed": 2, "verifications_none": 1,
                        "verification_failures": {"bad_signature": 1, "dest_mismatch": 1},
                        "invites_by_code": {"302": 4}}
        check(f"verify ({label}): connection closes cleanly", t.close_and_wait())
        k = term.counters()
        check(f"verify ({label}): counters by verstat", {key: k.get(key) for key in expected} == expected, k)
    return 1, sims


def forbidden_checks(d, sim):
    c = tcp(sim.ports["tcp"])
    call = Call("+12125550100")
    c.send(call.invite())
    r = c.read_message()
    check("source outside sim.allow: 403 even where a rule says 302", r.status == 403 and call.copied(r), r)
    check("403 carries no Identity", not r.all("Identity"), r)
    c.send(call.ack(r.to_tag()))
    c.send(options_request())
    r = c.read_message()
    check("source outside sim.allow: OPTIONS still 200", r.status == 200, r)
    check("forbidden sim: connection closes cleanly", c.close_and_wait())
    k = sim.counters()
    check("forbidden sim counters", k["forbidden"] == 1 and k["invites"] == 1 and k["invites_by_code"] == {"403": 1}
          and k["acks"] == 1 and k["connections_open"] == 0, k)


def main():
    d = tempfile.mkdtemp(prefix="sigrelay_sim_e2e_")
    sims = []
    try:
        make_pki(d)
        with open(os.path.join(d, "shaken.pub"), "rb") as f:
            pub_pem = f.read()
        rules = ("rule = +1212 302 contacts=sip:gw1@192.0.2.10:5060;transport=tcp,sip:gw2@192.0.2.11,"
                 "sip:captcha@192.0.2.12\n"
                 "rule = +1646 302 contacts=sip:x@192.0.2.20 attest=C\n"
                 "rule = 1900 603\n"
                 "rule = 1404 404\n"
                 "rule = 1555 503 silent\n"
                 "rule = 1556 503 delay_ms=1500\n"
                 "rule = 1486 486 trying\n"
                 "shaken.key = shaken.key\n"
                 f"shaken.x5u = {X5U}\n"
                 "shaken.attest = B\n")
        conf = ("listen.tcp = 127.0.0.1:0\nlisten.tls = 127.0.0.1:0\n"
                "tls.cert = server.crt\ntls.key = server.key\n"
                "sim.allow = 127.0.0.0/8\n"
                # A small kernel send buffer: the bursts below then need partial writes.
                "sim.send_buffer = 4096\n") + rules
        sim = Sim(d, "main", conf)
        sims.append(sim)
        invites = main_checks(d, sim, pub_pem)
        signed, term_sims = verify_checks(d, sim, pub_pem)
        invites += signed
        sims += term_sims

        # A second instance whose whitelist leaves 127.0.0.1 out.
        quiet = Sim(d, "forbidden", "listen.tcp = 127.0.0.1:0\nsim.allow = 192.0.2.0/24\n" + rules, ["--quiet"])
        sims.append(quiet)
        forbidden_checks(d, quiet)

        for s in sims:
            check(f"SIGTERM: clean exit 0 ({os.path.basename(s.conf)})", s.stop() == 0)
        sims = []
        with open(os.path.join(d, "main.stderr")) as f:
            log = f.read()
        lines = len(re.findall(r"^sigrelay-sim: INVITE ", log, re.M))
        check("one info line per new INVITE", lines == invites, (lines, invites))
        with open(os.path.join(d, "forbidden.stderr")) as f:
            check("--quiet: no INVITE lines", "INVITE" not in f.read())
        with open(os.path.join(d, "term-trust.stderr")) as f:
            log = f.read()
        check("verify: the log line names the verdict and why",
              "verstat=TN-Validation-Passed attest=B" in log and
              "verstat=TN-Validation-Failed (bad_signature)" in log, log)

        # shaken.trust files are checked before anything is bound.
        for name, text, want_rc, want in (("trust-ok", "shaken.trust = trust-bundle.pem\n", 0, b"configuration OK"),
                                          ("trust-bad", "shaken.trust = shaken.key\n", 2, b"shaken.trust")):
            conf = os.path.join(d, name + ".conf")
            with open(conf, "w") as f:
                f.write("listen.tcp = 127.0.0.1:0\n" + text + RULE_VERIFY)
            p = subprocess.run([SIM, "--config", conf, "--check-config"], capture_output=True, cwd=d, timeout=WAIT)
            check(f"--check-config with {name}: exit {want_rc}",
                  p.returncode == want_rc and want in p.stdout + p.stderr, (p.returncode, p.stdout, p.stderr))

        # Configuration errors name the key.
        bad = os.path.join(d, "bad.conf")
        with open(bad, "w") as f:
            f.write("listen.tcp = 127.0.0.1:0\nsim.allowed = 10.0.0.0/8\n")
        p = subprocess.run([SIM, "--config", bad], capture_output=True, timeout=WAIT)
        check("unknown key: exit 2 naming it and its line",
              p.returncode == 2 and b"sim.allowed" in p.stderr and b":2:" in p.stderr, p.stderr)
    finally:
        for s in sims:
            s.proc.kill()
            s.proc.wait()
        shutil.rmtree(d, ignore_errors=True)

    print(f"{checks - failures} of {checks} checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
