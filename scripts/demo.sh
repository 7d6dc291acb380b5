#!/usr/bin/env bash
# The README's first command. Today sigrelay's SIP core exists and the relay
# daemon does not yet: the demo builds everything, shows how the relay's
# parser reads real and broken SIP messages, and prints the call flow the
# relay will carry out. When the daemon lands, this script starts
# sigrelay-sim and sigrelay on loopback and drives calls through them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup-deps.sh
build_dir=${BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" >/dev/null
fi
echo "== building ($build_dir)"
ninja -C "$build_dir" >/dev/null
inspect="$build_dir/control/sigrelay-inspect"

summary() {
  python3 -c '
import json, sys
for m in json.load(sys.stdin):
    name = m["file"].split("/")[-1]
    what = m.get("method") or (str(m.get("status", "")) + " " + m.get("reason_phrase", "")).strip()
    line = f"  {name:52} {m[\"verdict\"]:8} {what}"
    if m["verdict"] == "valid":
        line += f"  call-id={m.get(\"call_id\")} cseq={m[\"cseq\"][\"number\"]} branch={m.get(\"top_via_branch\", \"-\")}"
    else:
        line += f"  ({m[\"reason\"]})"
    print(line)
'
}

echo
echo "== how sigrelay reads messages from real captures"
"$inspect" tests/corpus/real/*.sip | summary || true
echo
echo "== and how it rejects RFC 4475 torture messages (a relay answers these with 400)"
"$inspect" tests/corpus/rfc4475/{badinv01,ncl,scalar02,quotbal,multi01,insuf,badvers}.dat | summary || true
echo
echo "== one message in full (sigrelay-inspect prints JSON)"
"$inspect" tests/corpus/real/aaa-pcap_f223_INVITE_nero-sipps.sip || true
cat <<'PLAN'

== what the relay does with an INVITE (docs/ and DESIGN.md describe it in full)
  switch --UDP/TCP/TLS--> sigrelay: whitelist check, emergency-number guard, 100 Trying
  sigrelay --TLS--> service: INVITE with our Via (branch = worker|slot|generation|SipHash)
  service --> sigrelay --> switch: 503 (route-advance) | 302 + Identity (route/sign) | 603 (block)
  no answer within upstream.timeout_ms: local 503, so the switch routes around the service
PLAN
