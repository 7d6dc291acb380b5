#!/usr/bin/env bash
# Installs every package sigrelay needs to build and run its tests on Debian 12.
# Safe to run again and again: when everything is already there it only asks dpkg
# and returns at once, so scripts/test.sh can call it on every run.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config g++
  # clang with libFuzzer and the sanitizer runtimes for the fuzz stage; llvm puts
  # llvm-symbolizer on PATH so sanitizer reports show file:line, not raw addresses
  clang libclang-rt-14-dev llvm
  # libraries
  dpdk dpdk-dev libdpdk-dev libipsec-mb-dev libssl-dev openssl
  libboost-program-options-dev nlohmann-json3-dev
  # libpcap writes the call traces (control/trace_writer.cpp, docs/tracing.md)
  libpcap-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # HTTP/1.1 parsing for the stats server (control/stats_server.cpp, docs/stats-http.md)
  libcpp-httplib-dev
  # test tools: python3 runs the summariser, sipp drives SIP, tshark reads traces,
  # stunnel is a TLS peer we did not write, iproute2/procps set up and watch namespaces
  python3 sip-tester tshark stunnel4 iproute2 procps
  # the dpdk lab test answers ARP and ping: arping and ping probe it from the switch side
  iputils-ping arping ethtool
  # sigrelay-sim's end-to-end test checks its PASSporTs with code we did not write
  python3-jwt python3-cryptography
  # promtool checks the stats socket's Prometheus exposition (tests/control/prometheus_test.cpp).
  # On a systemd host the package also enables a Prometheus server on :9090, the stats port's default
  prometheus
  # the dashboard test loads the stats page in headless Chromium
  chromium
)

# One dpkg-query for all packages keeps the no-op path fast. Only a package whose
# state is "installed" counts; half-configured or removed ones are installed again.
declare -A installed=()
while read -r name status; do
  if [[ "$status" == "installed" ]]; then installed[$name]=1; fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for pkg in "${packages[@]}"; do
  [[ -n "${installed[$pkg]:-}" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup-deps: missing packages: ${missing[*]}"

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup-deps: not root and sudo is not available; as root, run:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture; answer "no" ahead of
# time so the install never stops at a prompt (tests capture as root or read files).
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
  "${as_root[@]}" debconf-set-selections

apt_quiet=(-q -o Dpkg::Use-Pty=0)
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_quiet[@]}" update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_quiet[@]}" install -y \
  --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

# The prometheus package is here only for promtool; on a systemd host it also
# starts a Prometheus server on :9090, sigrelay's default stats.http port.
# Keep that server off (a no-op where systemd does not run, as in containers).
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 &&
   [[ -d /run/systemd/system ]]; then
  "${as_root[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
