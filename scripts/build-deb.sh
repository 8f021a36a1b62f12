#!/usr/bin/env bash
# Builds the server's Debian package: scripts/build-deb.sh [release|debug] [OUT_DIR]
# The package holds the binary, the systemd unit, a config in /etc/auraspeak and the
# monitoring files under /usr/share/auraspeak-server.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
out=${2:-target/debian}
target_dir=${CARGO_TARGET_DIR:-target}
if [ "$profile" = release ]; then
    cargo build --release --locked -p auraspeak-server --bin auraspeak-server
    binary="$target_dir/release/auraspeak-server"
else
    # Same feature set as the test run (which builds the whole workspace), so nothing rebuilds.
    cargo build --locked --workspace --bins
    binary="$target_dir/debug/auraspeak-server"
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$binary" "$root/usr/bin/auraspeak-server"
install -D -m 0644 installers/systemd/auraspeak-server.service "$root/lib/systemd/system/auraspeak-server.service"
install -D -m 0640 installers/deb/server.toml "$root/etc/auraspeak/server.toml"
install -D -m 0644 server/config/default.toml "$root/usr/share/auraspeak-server/default.toml"
cp -r installers/prometheus installers/grafana "$root/usr/share/auraspeak-server/"
install -D -m 0644 README.md "$root/usr/share/doc/auraspeak-server/README.md"
mkdir -p "$root/DEBIAN"
install -m 0755 installers/deb/postinst installers/deb/prerm installers/deb/postrm "$root/DEBIAN/"
echo "/etc/auraspeak/server.toml" > "$root/DEBIAN/conffiles"
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: auraspeak-server
Version: $version
Architecture: $arch
Maintainer: AuraSpeak developers <dev@auraspeak.invalid>
Installed-Size: $size
Depends: adduser, libc6, ca-certificates
Recommends: postgresql
Section: net
Priority: optional
Homepage: https://example.invalid/auraspeak
Description: self-hosted voice and text chat server for gaming communities
 AuraSpeak keeps accounts, communities with roles and permissions, persistent chat
 and a realtime gateway in one binary, on an embedded database or PostgreSQL.
CONTROL
mkdir -p "$out"
deb="$out/auraspeak-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
