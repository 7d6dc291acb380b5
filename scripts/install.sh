#!/usr/bin/env bash
# Installs sigrelay on a Debian 12 host, as root (docs/install.md):
#
#   scripts/install.sh [--start] [--dpdk] [--no-deps] [--builddir DIR] [--no-build]
#   scripts/install.sh --destdir DIR [--builddir DIR] [--no-build]
#
#   --start         start (or restart) sigrelay.service afterwards; without it
#                   the service is enabled for the next boot but not started
#   --dpdk          also install the dpdk drop-in (hugepages, root) as
#                   /etc/systemd/system/sigrelay.service.d/dpdk.conf
#   --no-deps       do not run scripts/setup-deps.sh (apt-get)
#   --builddir DIR  build directory to use (default: build-release); created
#                   as a release build with prefix /usr when missing
#   --no-build      install what DIR holds, without building first
#   --destdir DIR   install under DIR only: no packages, no user, no chown,
#                   no systemctl (for tests and for making packages)
#
# Steps: build dependencies, a release build, meson install (programs,
# /usr/share/sigrelay, the unit), the system user "sigrelay", the config
# /etc/sigrelay/sigrelay.conf (only when there is none: an existing one is
# kept), /var/log/sigrelay, systemctl daemon-reload and enable. Running it
# again is harmless: that is how an upgrade is installed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

start=0 dpdk=0 deps=1 build=1 destdir="" builddir=""
while (($#)); do
  case "$1" in
    --start) start=1 ;;
    --dpdk) dpdk=1 ;;
    --no-deps) deps=0 ;;
    --no-build) build=0 ;;
    --builddir) (($# >= 2)) || die "--builddir needs a directory"; builddir=$2; shift ;;
    --builddir=*) builddir=${1#*=} ;;
    --destdir) (($# >= 2)) || die "--destdir needs a directory"; destdir=$2; shift ;;
    --destdir=*) destdir=${1#*=} ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

if [[ -n "$destdir" ]]; then
  ((start == 0)) || die "--start cannot be combined with --destdir"
  mkdir -p "$destdir"
  destdir=$(cd "$destdir" && pwd)
  deps=0
  say "installing under $destdir only; the system is left alone"
else
  ((EUID == 0)) || die "run as root (or give --destdir DIR to install into a directory)"
fi
systemd_running=0
[[ -d /run/systemd/system ]] && command -v systemctl >/dev/null && systemd_running=1
((start == 0 || systemd_running)) || die "--start needs systemd, which is not running here"

builddir=${builddir:-$root/build-release}
builddir=$(realpath -m "$builddir")

# 1. What the build needs.
if ((deps)); then
  say "checking build dependencies (scripts/setup-deps.sh)"
  bash "$root/scripts/setup-deps.sh"
fi

# 2. A release build with the Debian layout. An existing build directory is
# used as it is configured.
if [[ ! -f "$builddir/build.ninja" ]]; then
  ((build)) || die "$builddir is not a configured build directory (drop --no-build to make one)"
  say "configuring a release build in $builddir (prefix /usr, sysconfdir /etc)"
  # A new compiler warning must not stop an install: -Werror is for development.
  meson setup "$builddir" "$root" --buildtype=release --prefix=/usr --sysconfdir=/etc \
    -Dwerror=false -Dbench=disabled
fi

# Where this build installs: prefix, bindir, datadir and sysconfdir, absolute.
paths=$(meson introspect --buildoptions "$builddir" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
print(p, *(os.path.join(p, o[k]) for k in ("bindir", "datadir", "sysconfdir")))') || paths=""
read -r prefix bindir datadir sysconfdir <<<"$paths" || true
[[ -n "$sysconfdir" ]] || die "cannot read the install paths of $builddir (meson introspect)"
if [[ "$prefix" != /usr ]]; then
  say "note: $builddir installs under prefix $prefix, not /usr; the unit then points"
  say "      the daemon at $datadir/sigrelay/dashboard (docs/install.md, 'Layout')"
fi

# 3. Build only what gets installed (the tests are not needed on a server).
if ((build)); then
  mapfile -t targets < <(meson introspect --targets "$builddir" | python3 -c '
import json, os, sys
build = sys.argv[1]
for t in json.load(sys.stdin):
    if t.get("installed"):
        for f in t["filename"]:
            print(os.path.relpath(f, build))' "$builddir")
  ((${#targets[@]})) || die "meson lists nothing to install in $builddir"
  say "building ${#targets[@]} installed targets in $builddir"
  ninja -C "$builddir" "${targets[@]}"
fi

# 4. The system user the socket backend runs as.
if [[ -z "$destdir" ]]; then
  if getent passwd sigrelay >/dev/null; then
    say "system user sigrelay exists"
  elif command -v adduser >/dev/null; then
    say "creating the system user and group sigrelay"
    adduser --system --group --no-create-home --home /nonexistent --quiet sigrelay
  else
    say "creating the system user and group sigrelay (useradd)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sigrelay
  fi
fi

# 5. meson install. The config in sysconfdir is created by it only when
# missing (conf/meson.build); remember whether it was there.
live_conf="$destdir$sysconfdir/sigrelay/sigrelay.conf"
had_conf=0
[[ -e "$live_conf" ]] && had_conf=1
say "meson install from $builddir${destdir:+ into $destdir}"
# Step 3 built what is installed; meson would otherwise build everything.
install_args=(install -C "$builddir" --quiet --no-rebuild)
[[ -z "$destdir" ]] || install_args+=(--destdir "$destdir")
meson "${install_args[@]}"
[[ -e "$live_conf" ]] || die "meson install did not create $live_conf"

# 6. Config and log directories: readable and writable by the service only.
conf_dir=$(dirname "$live_conf")
logs="$destdir/var/log/sigrelay"
if [[ -z "$destdir" ]]; then
  chown root:sigrelay "$conf_dir"
  chmod 0750 "$conf_dir"
  install -d -o sigrelay -g sigrelay -m 0750 "$logs"
else
  chmod 0750 "$conf_dir"
  install -d -m 0750 "$logs"
fi
if ((had_conf)); then
  say "kept the existing $sysconfdir/sigrelay/sigrelay.conf; the new reference is $datadir/sigrelay/sigrelay.conf"
else
  [[ -n "$destdir" ]] || chown root:sigrelay "$live_conf"
  chmod 0640 "$live_conf"
  say "installed the reference config as $sysconfdir/sigrelay/sigrelay.conf: set upstream and acl.allow there"
fi

# 7. The dpdk drop-in.
if ((dpdk)); then
  dropin="$destdir/etc/systemd/system/sigrelay.service.d/dpdk.conf"
  install -D -m 0644 "$destdir$datadir/sigrelay/sigrelay-dpdk.conf" "$dropin"
  say "installed the dpdk drop-in as ${dropin#"$destdir"} (SIGRELAY_HUGEPAGES there)"
fi

# 8. systemd.
if [[ -n "$destdir" ]]; then
  say "done: $(find "$destdir" -type f | wc -l) files under $destdir"
  exit 0
fi
if ((systemd_running)); then
  systemctl daemon-reload
  systemctl enable --quiet sigrelay.service
  say "sigrelay.service is enabled: it starts at boot"
  if ((start)); then
    # As the user the service runs as: it must be able to read the keys.
    as_service=(runuser -u sigrelay --)
    [[ ! -e /etc/systemd/system/sigrelay.service.d/dpdk.conf ]] || as_service=()
    "${as_service[@]}" "$bindir/sigrelay" --config "$sysconfdir/sigrelay/sigrelay.conf" --check-config >/dev/null ||
      die "the config does not check out (errors above): not starting"
    systemctl restart sigrelay.service
    say "sigrelay.service (re)started; journalctl -u sigrelay shows its log"
  elif systemctl is-active --quiet sigrelay.service; then
    say "sigrelay.service is running the previous binaries: systemctl restart sigrelay"
  else
    say "not started: check the config with"
    say "  $bindir/sigrelay --config $sysconfdir/sigrelay/sigrelay.conf --check-config"
    say "then: systemctl start sigrelay"
  fi
else
  say "systemd is not running here (a container?): the unit is installed but not enabled"
  say "run it by hand: $bindir/sigrelay --config $sysconfdir/sigrelay/sigrelay.conf"
fi
