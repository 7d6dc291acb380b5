#!/usr/bin/env bash
# The README's first command: sigrelay at work on one machine.
#
# Installs what is missing, builds sigrelay and sigrelay-sim, then
# tests/integration/demo.py makes throwaway certificates, starts sigrelay-sim
# (the call-analytics service, over TLS) and sigrelay on loopback, and plays a
# switch with sipp: calls the service lets through (503), routes with a signed
# STIR/SHAKEN PASSporT (302) or blocks (603), emergency calls that never leave
# the box, OPTIONS pings, and fail-open when the service is silent or gone.
# It prints what the switch got for each call and the relay's counters, and
# stops everything it started. The integration tests use the same harness
# (tests/integration/harness.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup-deps.sh
build_dir=${BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  echo "== configuring $build_dir"
  meson setup "$build_dir" >/dev/null
fi
echo "== building sigrelay and sigrelay-sim ($build_dir)"
ninja -C "$build_dir" control/sigrelay sim/sigrelay-sim >/dev/null

# Debian's interpreter has python3-cryptography, which checks the PASSporTs.
python=/usr/bin/python3
[[ -x "$python" ]] || python=python3
exec "$python" tests/integration/demo.py "$build_dir/control/sigrelay" "$build_dir/sim/sigrelay-sim"
