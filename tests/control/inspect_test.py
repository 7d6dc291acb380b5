#!/usr/bin/env python3
"""sigrelay-inspect end to end: JSON fields, verdicts, exit codes, --stream framing.

Usage: inspect_test.py PATH/TO/sigrelay-inspect CORPUS_DIR
Prints one line per check; exits 1 if any check failed.
"""
import json
import os
import subprocess
import sys
import tempfile

inspect, corpus = sys.argv[1], sys.argv[2]
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


def run(*args, stdin=None):
    p = subprocess.run([inspect, *args], input=stdin, capture_output=True, timeout=60)
    out = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, out, p.stderr.decode(errors="replace")


# A valid INVITE: every documented field is present and right (values from the file).
rc, out, _ = run(os.path.join(corpus, "rfc4475/esc01.dat"))
m = out[0]
check("valid message exits 0", rc == 0, rc)
check("verdict valid", m["verdict"] == "valid", m)
check("kind/method", m["kind"] == "request" and m["method"] == "INVITE", m)
check("request uri and user", m["request_uri"] == "sip:sips%3Auser%40example.com@example.net"
      and m["request_uri_user"] == "sips%3Auser%40example.com", m)
check("call-id from compact i:", m["call_id"] == "esc01.239409asdfakjkn23onasd0-3234", m)
check("cseq", m["cseq"] == {"number": 234234, "method": "INVITE"}, m)
check("top via branch", m["top_via_branch"] == "z9hG4bKkdjuw", m)
check("from tag, no to tag", m["from_tag"] == "938" and "to_tag" not in m, m)
check("content length", m["content_length"] == 150 and m["body_length"] == 150, m)
check("header count", m["header_count"] == 9, m)
check("file name echoed", m["file"].endswith("esc01.dat"), m)

# A response.
rc, out, _ = run(os.path.join(corpus, "rfc4475/noreason.dat"))
check("response kind/status", out[0]["kind"] == "response" and out[0]["status"] == 100 and out[0]["reason_phrase"] == "", out)

# Invalid messages: exit 1 with the reason.
for f, reason in [("rfc4475/scalar02.dat", "invalid CSeq"),
                  ("rfc4475/ncl.dat", "invalid Content-Length"),
                  ("rfc4475/insuf.dat", "missing From"),
                  ("rfc4475/multi01.dat", "multiple CSeq headers"),
                  ("rfc4475/badvers.dat", "unsupported SIP version"),
                  ("rfc5118/wire/ipv6-in-sdp", "Content-Length exceeds datagram")]:
    rc, out, _ = run(os.path.join(corpus, f))
    check(f"{f} invalid: {reason}", rc == 1 and out[0]["verdict"] == "invalid" and out[0]["reason"] == reason, out)

# Several files: one invalid makes the exit status 1, and every file is reported.
rc, out, _ = run(os.path.join(corpus, "rfc4475/esc01.dat"), os.path.join(corpus, "rfc4475/ncl.dat"))
check("mixed files exit 1 with two reports", rc == 1 and len(out) == 2, (rc, out))

# --stream: two messages and a keepalive ping in one file are framed apart.
with open(os.path.join(corpus, "rfc4475/esc01.dat"), "rb") as fh:
    msg = fh.read()
with tempfile.NamedTemporaryFile(suffix=".tcp", delete=False) as tmp:
    tmp.write(b"\r\n\r\n" + msg + msg)
    stream_file = tmp.name
rc, out, _ = run("--stream", stream_file)
check("stream: two messages", rc == 0 and len(out) == 2 and all(m["verdict"] == "valid" for m in out), (rc, out))
check("stream: offsets", out and out[0]["stream_offset"] == 4 and out[1]["stream_offset"] == 4 + len(msg), out)
# A datagram with the same bytes is one message (the rest is trailing noise).
rc, out, _ = run(stream_file)
check("datagram: one message", rc == 0 and len(out) == 1, (rc, out))
# A stream cut inside the body is reported as truncated.
with open(stream_file, "wb") as fh:
    fh.write(msg[:-10])
rc, out, _ = run("--stream", stream_file)
check("stream: truncated", rc == 1 and out[-1]["error"] == "truncated", (rc, out))
os.unlink(stream_file)

# Standard input, and usage errors.
rc, out, _ = run("-", stdin=msg)
check("stdin", rc == 0 and out[0]["call_id"] == "esc01.239409asdfakjkn23onasd0-3234", out)
rc, _, err = run()
check("no file: usage, exit 2", rc == 2 and "usage" in err, (rc, err))
rc, _, err = run("/nonexistent/file.sip")
check("unreadable file: exit 2", rc == 2 and "cannot read" in err, (rc, err))

# Binary junk never crashes and is invalid.
rc, out, _ = run("-", stdin=bytes(range(256)) * 4)
check("binary junk invalid", rc == 1 and out[0]["verdict"] == "invalid", out)

print(f"{checks - failures} of {checks} checks passed")
sys.exit(1 if failures else 0)
