#!/usr/bin/env bash
# Builds dist/metadata-route-agent_<version>-<revision>_<arch>.deb from a stripped, self-contained binary
# (`make deb` builds that first with `make release`). Needs dpkg-dev (dpkg-deb, dpkg-shlibdeps), gzip and
# python3; no network. The man page and the shell completions come from the binary's own help.
#   packaging/deb/build-deb.sh dist/metadata-route-agent
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: build-deb.sh BINARY}
name=metadata-route-agent
revision=${DEB_REVISION:-1}
version=$(sed -n 's/^ *static let version = "\(.*\)"$/\1/p' Sources/$name/BuildInfo.swift)
arch=$(dpkg --print-architecture)
debversion="$version-$revision"
out=dist/${name}_${debversion}_${arch}.deb
maintainer="metadata-route-agent maintainers <metadata-route-agent@lists.example.org>"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}

"$bin" --version | grep -q "^$version\b" || {
    echo "build-deb: $bin --version says '$("$bin" --version)', not version $version" >&2; exit 1; }
unit=packaging/$name.service
grep -q "^ExecStart=/usr/bin/$name " "$unit" || { echo "build-deb: $unit must start /usr/bin/$name" >&2; exit 1; }
if grep -q "^ExecStop" "$unit"; then echo "build-deb: $unit must not clean up routes on stop" >&2; exit 1; fi

root=dist/pkgroot
rm -rf "$root"
mkdir -p "$root/DEBIAN"
doc=$root/usr/share/doc/$name

# Files, with the modes they get; owners are root (dpkg-deb --root-owner-group), the postinst gives
# /etc/metadata-route-agent and config.yaml to the service's group.
install -D -m 0755 "$bin" "$root/usr/bin/$name"
install -D -m 0644 "$unit" "$root/usr/lib/systemd/system/$name.service"
install -D -m 0644 packaging/deb/sysusers.conf "$root/usr/lib/sysusers.d/$name.conf"
install -D -m 0640 packaging/config.yaml "$root/etc/$name/config.yaml"
install -D -m 0644 packaging/rt_protos.d-$name.conf "$root/etc/iproute2/rt_protos.d/$name.conf"

mkdir -p "$root/usr/share/man/man1"
python3 packaging/deb/gen-manpage.py "$bin" "$version" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" \
    | gzip -9n > "$root/usr/share/man/man1/$name.1.gz"
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"
# bash-completion sources the file: no #! line (lintian: bash-completion-with-hashbang).
"$bin" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/$name"
"$bin" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_$name"
"$bin" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/$name.fish"

install -D -m 0644 README.md "$doc/README.md"
install -m 0644 docs/operators-guide.md docs/bgp.md "$doc/"
install -D -m 0644 examples/demo-snapshot.json "$doc/examples/demo-snapshot.json"
install -m 0644 packaging/clouds.yaml.example packaging/config.yaml "$doc/examples/"
install -D -m 0644 packaging/prometheus/$name.rules.yml "$doc/prometheus/$name.rules.yml"
for dir in bird frr; do
    (cd packaging && find "$dir" -type f) | while read -r f; do install -D -m 0644 "packaging/$f" "$doc/$f"; done
done
install -m 0644 packaging/deb/copyright "$doc/copyright"
install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/$name"
{
    echo "$name ($debversion) unstable; urgency=medium"
    echo
    echo "  * Built from commit $("$bin" --version | sed -n 's/.*(commit \(.*\))$/\1/p')."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
find "$root/usr" -type d -exec chmod 0755 {} +
find "$root/usr/share" -type f -exec chmod 0644 {} +

# Depends: what the binary links (libc6, libgcc-s1, libstdc++6, zlib1g: all on a minimal Debian),
# computed by dpkg-shlibdeps from the libraries `ldd` lists.
shl=$(mktemp -d)
mkdir -p "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > "$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O -e "$OLDPWD/$root/usr/bin/$name" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies for $bin" >&2; exit 1; }

install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
printf '/etc/%s/config.yaml\n/etc/iproute2/rt_protos.d/%s.conf\n' "$name" "$name" > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/control" <<EOF
Package: $name
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Homepage: https://github.com/metadata-route-agent/metadata-route-agent
Description: routes from OpenStack tenant subnets back to their Neutron routers
 A daemon and command line tool for OpenStack operators: for every Neutron
 router with an external gateway and every subnet attached to it (IPv4 and
 IPv6), it keeps a kernel route "<subnet> via <router gateway IP>" through
 rtnetlink, so replies to tenant instances (the metadata service's among
 them) find their way back. It owns only routes with its protocol number,
 refuses unsafe tenant prefixes with a reason, and leaves routes as they are
 when Neutron cannot be read.
 .
 The service is installed but not enabled: give it credentials in
 /etc/metadata-route-agent/clouds.yaml, then systemctl enable --now
 metadata-route-agent. The binary is self-contained (no Swift runtime).
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p dist
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
rm -rf "$root"
echo "$out"
