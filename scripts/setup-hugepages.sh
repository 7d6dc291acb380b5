#!/usr/bin/env bash
# Reserves 2 MB hugepages for sigrelay's dpdk backend (docs/install.md).
#
#   setup-hugepages.sh [--dry-run]
#
# SIGRELAY_HUGEPAGES (default 512, i.e. 1 GB) is the number of 2 MB pages the
# host must have reserved. Pages already reserved count: the script only ever
# raises the reservation, never lowers it (another DPDK program may be using
# them), so running it again is harmless. 0 means "nothing to do" (sites that
# run the EAL with --no-huge).
#
# The systemd drop-in conf/sigrelay-dpdk.conf runs it before the daemon
# starts. --dry-run prints what it would do and changes nothing; it needs no
# root. SIGRELAY_SYSFS (default /sys) lets a test point it at a copy of sysfs.
set -euo pipefail

say() { echo "setup-hugepages: $*"; }
die() { echo "setup-hugepages: $*" >&2; exit 1; }

dry_run=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (try --help)" ;;
  esac
done

want="${SIGRELAY_HUGEPAGES:-512}"
[[ "$want" =~ ^[0-9]+$ ]] || die "SIGRELAY_HUGEPAGES must be a whole number of 2 MB pages, not '$want'"
want=$((10#$want))

sysfs="${SIGRELAY_SYSFS:-/sys}"
pool="$sysfs/kernel/mm/hugepages/hugepages-2048kB"
knob="$pool/nr_hugepages"

if ((want == 0)); then
  say "SIGRELAY_HUGEPAGES=0: no hugepages wanted (EAL runs with --no-huge); nothing to do"
  exit 0
fi

[[ -r "$knob" ]] || die "$knob is missing: this kernel has no 2 MB hugepage support"

have=$(<"$knob")
if ((have >= want)); then
  say "$have 2 MB hugepages reserved, $want wanted: nothing to do"
  exit 0
fi

if ((dry_run)); then
  say "dry run: would raise $knob from $have to $want ($((want * 2)) MB)"
  exit 0
fi

((EUID == 0)) || [[ -w "$knob" ]] || die "$have of $want hugepages reserved; run as root to reserve more"

# The kernel reserves what it can find in free contiguous memory, which may be
# less than asked on a host that has run a while; compacting memory first and
# asking once more often gets the rest.
echo "$want" >"$knob"
have=$(<"$knob")
if ((have < want)) && [[ -w /proc/sys/vm/compact_memory && "$sysfs" == /sys ]]; then
  say "only $have of $want pages after the first try; compacting memory and trying again"
  echo 1 >/proc/sys/vm/compact_memory
  echo "$want" >"$knob"
  have=$(<"$knob")
fi

if ((have < want)); then
  die "the kernel reserved only $have of $want 2 MB hugepages (not enough free contiguous memory);" \
    "reserve them at boot instead: hugepages=$want on the kernel command line or vm.nr_hugepages=$want in /etc/sysctl.d"
fi
say "reserved $have 2 MB hugepages ($((have * 2)) MB)"
if [[ "$sysfs" == /sys ]] && ! grep -qs ' hugetlbfs ' /proc/mounts; then
  say "note: no hugetlbfs is mounted; run the EAL with --in-memory, or mount one (systemd's dev-hugepages.mount)"
fi
