#!/usr/bin/env bash
# The Debian package installs where Swift does not exist (root only).
#
#   1. builds the package (`make deb`), or takes MRA_DEB=path/to/the.deb;
#   2. makes a minimal Debian 12 root (debootstrap --variant=minbase bookworm, from the mirror this host's
#      apt uses), cached as a tarball under /var/tmp so reruns take seconds;
#   3. inside it (chroot, /proc mounted, in a network namespace of its own): plain `dpkg -i`, then
#      `metadata-route-agent --version`, `plan --snapshot` on the bundled example, the system user, the
#      config's owner and mode; a reinstall (the upgrade path); `dpkg -r` leaves only the conffiles;
#      `dpkg --purge` leaves nothing: the root's file list, passwd/group/shadow are as before the install;
#      a foreign route and an owned route (protocol 200) in the namespace survive every step;
#   4. outside it: the man page renders (`man -l`), `systemd-analyze verify` accepts the unit, lintian
#      reports no errors (its warnings are printed).
# Environment: MRA_DEB (skip the build), MRA_ROOT_CACHE (default /var/tmp/mra-debian12-minbase.tar),
# MRA_MIRROR (default: the Debian mirror in /etc/apt/sources.list*).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
[ "$(id -u)" = 0 ] || { echo "SKIP: the install test needs root (debootstrap, chroot, namespaces)"; exit 0; }
for tool in debootstrap lintian man systemd-analyze dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool missing: run scripts/setup-deps.sh"; exit 1; }
done

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "--- $* ($((SECONDS - start)) s)"; }

# ---- 1. the package ------------------------------------------------------------------------------------
if [ -n "${MRA_DEB:-}" ]; then
    deb=$MRA_DEB
else
    step "make deb"
    deb=$(make -s deb | tail -n 1)
fi
[ -f "$deb" ] || fail "no package at '$deb'"
echo "package: $deb ($(du -h "$deb" | cut -f1))"

# ---- 2. a minimal Debian 12 root, cached -----------------------------------------------------------------
cache=${MRA_ROOT_CACHE:-/var/tmp/mra-debian12-minbase.tar}
mirror=${MRA_MIRROR:-$( (grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) \
    | head -n 1 | tr -d ' ')}
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -s "$cache" ]; then
    step "debootstrap --variant=minbase bookworm from $mirror (cached in $cache)"
    build=$(mktemp -d /var/tmp/mra-debootstrap.XXXXXX)
    if ! debootstrap --variant=minbase bookworm "$build" "$mirror" > "$build.log" 2>&1; then
        tail -n 20 "$build.log"; rm -rf "$build" "$build.log"; fail "debootstrap failed (log above)"
    fi
    tar -C "$build" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
    rm -rf "$build" "$build.log"
fi

root=$(mktemp -d /var/tmp/mra-pkgroot.XXXXXX)
ns=mra-pkg-$$-$RANDOM
work=$(mktemp -d)
cleanup() {
    umount "$root/proc" 2>/dev/null || umount -l "$root/proc" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$root" "$work"
}
trap cleanup EXIT INT TERM
step "unpack the minimal root"
tar -C "$root" -xf "$cache"
if [ -e "$root/usr/bin/swift" ] || [ -d "$root/usr/lib/swift" ] || [ -e "$root/usr/bin/systemd-sysusers" ]; then
    fail "the minimal root has Swift or systemd: it proves nothing"
fi
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/package.deb"

# The chroot runs in a network namespace of its own: the agent reads (and the package must not touch)
# that namespace's routes, never the host's.
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add ext0 type veth peer name ext1
ip -n "$ns" link set ext0 up
ip -n "$ns" link set ext1 up
ip -n "$ns" addr add 203.0.113.2/24 dev ext0
ip -n "$ns" route add 198.51.100.0/24 via 203.0.113.7 proto static        # someone else's route
ip -n "$ns" route add 10.99.0.0/24 via 203.0.113.8 proto 200               # a route the agent owns
in_root() { ip netns exec "$ns" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
routes() { ip -n "$ns" -4 route show | sort; }
routes_before=$(routes)
check_routes() {
    [ "$(routes)" = "$routes_before" ] || { echo "before:"; echo "$routes_before"; echo "now:"; routes; fail "$1 changed routes"; }
}
files() {   # every path in the root but the package database, logs and caches, with owner and mode
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache \
        -o -path ./tmp \) -prune -o -printf '%p %u:%g %m\n' | LC_ALL=C sort \
        | grep -v -E '^\./etc/(passwd|group|shadow|gshadow)- ')   # the shadow tools' backups; compared by content below
}
accounts() { (cd "$root/etc" && md5sum passwd group shadow gshadow); }
files > "$work/files-before"
accounts > "$work/accounts-before"

# ---- 3. install, run, reinstall, remove, purge -------------------------------------------------------------
step "dpkg -i in the minimal root"
in_root dpkg -i /tmp/package.deb > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
cat "$work/install.log"
check_routes "installing"

version=$(in_root metadata-route-agent --version) || fail "--version failed in the minimal root"
echo "version: $version"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{7,}(-dirty)?\)$ ]] \
    || fail "--version does not name a version and a commit: '$version'"

step "plan --snapshot on the bundled example, inside the root"
snapshot=/usr/share/doc/metadata-route-agent/examples/demo-snapshot.json
in_root metadata-route-agent plan --snapshot "$snapshot" > "$work/plan.txt" 2>&1 || { cat "$work/plan.txt"; fail "plan failed"; }
cat "$work/plan.txt"
grep -q "10.0.0.0/24" "$work/plan.txt" || fail "plan does not add the tenant subnet 10.0.0.0/24"
in_root metadata-route-agent plan --snapshot "$snapshot" --format json > "$work/plan.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(a["destination"]=="10.0.0.0/24" for a in d["add"]), d; assert d["refused"], d' "$work/plan.json" \
    || fail "plan --format json lacks the route to add or the refusals"
check_routes "plan"

step "the system user and the configuration's owner and mode"
entry=$(in_root getent passwd metadata-route-agent) || fail "no system user metadata-route-agent"
echo "user: $entry"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "metadata-route-agent is not a system user (uid $uid)"
[[ $entry == *:/usr/sbin/nologin ]] || fail "the system user can log in: $entry"
[ "$(in_root stat -c '%U:%G %a' /etc/metadata-route-agent/config.yaml)" = "root:metadata-route-agent 640" ] \
    || fail "config.yaml is $(in_root stat -c '%U:%G %a' /etc/metadata-route-agent/config.yaml), not root:metadata-route-agent 640"
[ "$(in_root stat -c '%U:%G %a' /etc/metadata-route-agent)" = "root:metadata-route-agent 750" ] \
    || fail "/etc/metadata-route-agent is $(in_root stat -c '%U:%G %a' /etc/metadata-route-agent)"
in_root test -f /usr/lib/sysusers.d/metadata-route-agent.conf || fail "no sysusers.d entry"
in_root test -f /etc/iproute2/rt_protos.d/metadata-route-agent.conf || fail "no rt_protos.d entry"
in_root ldd /usr/bin/metadata-route-agent | grep -i swift && fail "the binary links a Swift library"

step "reinstall (the upgrade path: prerm upgrade, postinst configure with the old version)"
in_root dpkg -i /tmp/package.deb > "$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log"; fail "reinstall failed"; }
[ "$(in_root getent passwd metadata-route-agent)" = "$entry" ] || fail "the reinstall changed the system user"
check_routes "reinstalling"

# ---- 4. outside the root: man page, unit, lintian ------------------------------------------------------------
step "man -l, systemd-analyze verify, lintian"
dpkg-deb -x "$deb" "$work/x"
MANWIDTH=80 man -l "$work/x/usr/share/man/man1/metadata-route-agent.1.gz" > "$work/man.txt" 2> "$work/man.err" \
    || { cat "$work/man.err"; fail "man -l failed"; }
[ ! -s "$work/man.err" ] || { cat "$work/man.err"; fail "man -l warned"; }
for word in NAME SYNOPSIS DESCRIPTION "metadata-route-agent run" "metadata-route-agent cleanup" "--snapshot"; do
    grep -q -- "$word" "$work/man.txt" || fail "the man page lacks '$word'"
done
echo "man page: $(wc -l < "$work/man.txt") lines"
# Self-contained but small: full Foundation (ICU data) would add ~45 MB. An `import Foundation` or a
# Foundation-only API (String(format:), JSONSerialization, NSRegularExpression, Yams …) brings it back.
size=$(stat -c %s "$work/x/usr/bin/metadata-route-agent")
echo "binary: $size bytes stripped"
[ "$size" -le $((40 * 1024 * 1024)) ] || fail "the binary is $size bytes, over 40 MiB: did full Foundation (ICU) come back?"
for shell in bash zsh fish; do
    f=$(find "$work/x/usr/share" -path "*$shell*" -type f | head -n 1)
    [ -s "$f" ] || fail "no $shell completion"
    grep -q -- "--snapshot" "$f" || fail "the $shell completion does not know --snapshot"
done
bash -n "$work/x/usr/share/bash-completion/completions/metadata-route-agent" || fail "the bash completion is not valid bash"
# verify checks that ExecStart's binary exists and that the units it names exist: run it on the package's
# files, with this host's systemd units and kill(1) beside them (the minimal root has no systemd).
mkdir -p "$work/x/usr/bin"
cp -rn /usr/lib/systemd/system/. "$work/x/usr/lib/systemd/system/" 2>/dev/null || true
cp "$(type -P kill)" "$work/x/usr/bin/kill"
ln -s usr/bin "$work/x/bin"
if ! systemd-analyze verify --root="$work/x" /usr/lib/systemd/system/metadata-route-agent.service > "$work/verify.txt" 2>&1 \
        || [ -s "$work/verify.txt" ]; then
    cat "$work/verify.txt"; fail "systemd-analyze verify rejected the unit"
fi
echo "systemd-analyze verify: the unit is clean"
grep -q '^ExecStop' "$work/x/usr/lib/systemd/system/metadata-route-agent.service" && fail "the unit cleans up on stop"
lintian --fail-on error --no-tag-display-limit "$deb" > "$work/lintian.txt" 2>&1 || { cat "$work/lintian.txt"; fail "lintian reports errors"; }
echo "lintian: $(grep -c '^E:' "$work/lintian.txt" || true) errors, $(grep -c '^W:' "$work/lintian.txt" || true) warnings"
grep '^[EW]:' "$work/lintian.txt" || true

# ---- 3 (end). remove, purge --------------------------------------------------------------------------------
step "dpkg -r leaves only the conffiles"
in_root dpkg -r metadata-route-agent > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r failed"; }
check_routes "removing"
files > "$work/files-removed"
added=$(LC_ALL=C comm -13 "$work/files-before" "$work/files-removed" | cut -d' ' -f1)
expected=$(printf '%s\n' ./etc/iproute2 ./etc/iproute2/rt_protos.d ./etc/iproute2/rt_protos.d/metadata-route-agent.conf \
    ./etc/metadata-route-agent ./etc/metadata-route-agent/config.yaml | LC_ALL=C sort)
if [ "$(echo "$added" | grep -v '^\./etc/\(passwd\|group\|shadow\|gshadow\)-\?$' | LC_ALL=C sort)" != "$expected" ]; then
    echo "left after dpkg -r:"; echo "$added"; fail "dpkg -r left more (or less) than the conffiles"
fi
in_root test ! -e /usr/bin/metadata-route-agent || fail "dpkg -r left the binary"

step "dpkg --purge leaves nothing"
in_root dpkg --purge metadata-route-agent > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
check_routes "purging"
files > "$work/files-after"
if ! diff -u "$work/files-before" "$work/files-after"; then fail "the purge left files behind (diff above)"; fi
if ! diff -u "$work/accounts-before" <(accounts); then fail "the purge left the system user or group behind"; fi
in_root dpkg-statoverride --list | grep -q metadata-route-agent && fail "the purge left a dpkg-statoverride"
echo "routes in the namespace, untouched throughout:"; routes
echo "PASS: the package installs, runs, upgrades, removes and purges in a minimal Debian 12 root ($((SECONDS - start)) s)"
