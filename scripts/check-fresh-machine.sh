#!/usr/bin/env bash
# `npm run check:fresh`: proves set-up on a pristine Debian 12. Builds a bookworm root with mmdebstrap
# (Debian's default package set plus nodejs and npm, from the host's own apt sources), copies a clean
# clone of HEAD into it and, inside it (chroot in a private mount namespace; /proc, /sys and /dev
# bound; /dev/kvm hidden), runs `npm run setup`, then the composefs suite, the PostgreSQL suite and
# pass 1 at single tier on amd64. Prints the root's libc6/base-files versions and /etc/os-release
# before and after and fails if either changed. Removes the root at the end (--keep keeps it).
#
#   bash scripts/check-fresh-machine.sh [--keep] [--root DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
keep=0
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --root) root=$2; shift ;;
    *) echo "usage: $0 [--keep] [--root DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "check:fresh needs root (chroot, mounts)" >&2; exit 2; }
start=$(date +%s)
log() { printf '[check:fresh] %s\n' "$*"; }

if ! command -v mmdebstrap >/dev/null; then
  log "installing mmdebstrap (bookworm)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null
fi
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
[ -n "$root" ] || root=$(mktemp -d /var/tmp/pn-fresh.XXXXXX)
cleanup() {
  if [ "$keep" = 1 ]; then log "kept the root at $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

log "building a pristine bookworm root in $root"
mmdebstrap --quiet --include=nodejs,npm bookworm "$root" "$sources"
# What belongs to the machine, not to set-up: its resolver, its site CA certificates (an egress proxy's,
# say) and npm's configuration, as a fresh machine at this site would have them.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
  if [ -f "$f" ]; then mkdir -p "$root$(dirname "$f")"; cp "$f" "$root$f"; fi
done

state() {
  chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' libc6 base-files
  grep -E '^(PRETTY_NAME|VERSION_ID|VERSION_CODENAME)=' "$root/etc/os-release"
}
before=$(state)
log "before:"; printf '%s\n' "$before"

log "copying a clean clone of HEAD ($(git -C "$repo" rev-parse --short HEAD))"
git clone --quiet --no-local "$repo" "$root/root/powernode"

inside='set -e
cd /root/powernode
npm run setup
.tools/node_modules/.bin/bun scripts/test.ts --only unit,postgres,smoke \
  --suites "^(unit composefs|postgres .*|smoke pass1\.ts --tier single --arch amd64)$"'
set +e
unshare --mount --propagation private bash -c '
  set -e
  root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  [ -e "$root/dev/kvm" ] && mount --bind /dev/null "$root/dev/kvm"
  mount -t tmpfs tmpfs "$root/tmp"
  exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb CI=true ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} bash -c "$2"
' check-fresh "$root" "$inside"
rc=$?
set -e

after=$(state)
log "after:"; printf '%s\n' "$after"
if [ "$before" != "$after" ]; then
  log "FAIL: the C library, base-files or the release changed"
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") || true
  rc=1
fi
log "wall time $(( $(date +%s) - start )) s; suites exit $rc"
exit $rc
