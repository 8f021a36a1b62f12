#!/usr/bin/env bash
# Packaging checks: builds the .deb (from the debug build the tests already made),
# installs it for real (as root), starts the installed binary as the service user with the
# packaged config, verifies the systemd unit, removes the package again; then checks the
# container files. Prints "packaging: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/auraspeak-pkg.XXXXXX)
chmod 755 "$WORK"
passed=0
failed=0
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    if [ "$(id -u)" = 0 ] && dpkg -s auraspeak-server >/dev/null 2>&1; then
        dpkg --purge auraspeak-server >/dev/null 2>&1 || true
    fi
    if [ "$(id -u)" = 0 ] && dpkg -s aura-speak >/dev/null 2>&1; then
        dpkg --purge aura-speak >/dev/null 2>&1 || true
    fi
    [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@" >"$WORK/check.log" 2>&1; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/check.log"
    fi
}

deb=$(scripts/build-deb.sh debug "$WORK")
check "package metadata" bash -c "dpkg-deb --info '$deb' | grep -q 'Package: auraspeak-server'"
check "package contents" bash -c "dpkg-deb --contents '$deb' | grep -q './usr/bin/auraspeak-server' \
    && dpkg-deb --contents '$deb' | grep -q './lib/systemd/system/auraspeak-server.service' \
    && dpkg-deb --contents '$deb' | grep -q './etc/auraspeak/server.toml' \
    && dpkg-deb --contents '$deb' | grep -q 'grafana/dashboards/auraspeak-overview.json'"
check "unit is hardened" bash -c "grep -q '^NoNewPrivileges=yes' installers/systemd/auraspeak-server.service \
    && grep -q '^ProtectSystem=strict' installers/systemd/auraspeak-server.service \
    && grep -q '^User=auraspeak' installers/systemd/auraspeak-server.service"

if [ "$(id -u)" = 0 ]; then
    check "package installs" dpkg -i "$deb"
    check "service user exists" getent passwd auraspeak
    check "config readable by the service only" bash -c \
        "[ \"\$(stat -c '%U:%G %a' /etc/auraspeak/server.toml)\" = 'root:auraspeak 640' ]"
    check "installed config is valid" runuser -u auraspeak -- /usr/bin/auraspeak-server \
        --config /etc/auraspeak/server.toml print-config
    if command -v systemd-analyze >/dev/null; then
        check "systemd unit verifies" systemd-analyze verify /lib/systemd/system/auraspeak-server.service
    fi
    mkdir -p "$WORK/data" && chown auraspeak:auraspeak "$WORK/data"
    # setpriv execs the server itself (runuser would stay as a parent and mask its exit code).
    setpriv --reuid=auraspeak --regid=auraspeak --init-groups /usr/bin/auraspeak-server --config /etc/auraspeak/server.toml \
        --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
    pid=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
    addr=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$WORK/server.out" | head -n1)
    check "installed server is ready" bash -c "curl -fsS 'http://$addr/readyz' | grep -q '\"ok\"'"
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    pid=""
    check "installed server stops cleanly on SIGTERM" test "$status" = 0
    check "package purges" dpkg --purge auraspeak-server
else
    echo "skip install checks: not root"
fi

# Desktop app: the Tauri bundler's .deb (from the debug build the tests made, so it costs
# a link, not a compile), inspected, installed and started in a private X server.
TARGET=${CARGO_TARGET_DIR:-target}
tauri=ui/node_modules/.bin/tauri
check "desktop .deb bundles" "$tauri" build --debug --bundles deb --ci
desk=$(ls "$TARGET"/debug/bundle/deb/AuraSpeak_*_amd64.deb 2>/dev/null | head -n1)
check "desktop package contents" bash -c "dpkg-deb --contents '$desk' | grep -q ' usr/bin/auraspeak-desktop$' \
    && dpkg-deb --contents '$desk' | grep -q 'usr/share/applications/AuraSpeak.desktop' \
    && dpkg-deb --contents '$desk' | grep -q 'hicolor/128x128/apps/auraspeak-desktop.png'"
check "desktop entry opens auraspeak:// invite links" bash -c "dpkg-deb --fsys-tarfile '$desk' \
    | tar -xO usr/share/applications/AuraSpeak.desktop \
    | grep -q '^MimeType=x-scheme-handler/auraspeak;' && dpkg-deb --fsys-tarfile '$desk' \
    | tar -xO usr/share/applications/AuraSpeak.desktop | grep -q '^Exec=auraspeak-desktop %u$'"
check "desktop package depends on WebKitGTK and PulseAudio" bash -c \
    "dpkg-deb --field '$desk' Depends | grep -q libwebkit2gtk-4.1-0 && dpkg-deb --field '$desk' Depends | grep -q libpulse0"
if [ "$(id -u)" = 0 ] && command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
    check "desktop package installs" dpkg -i "$desk"
    display=":$((300 + RANDOM % 300))"
    Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb=$!
    sleep 1
    mkdir -p "$WORK/desk"
    DISPLAY=$display XDG_CONFIG_HOME="$WORK/desk" XDG_DATA_HOME="$WORK/desk" \
        /usr/bin/auraspeak-desktop >"$WORK/desk.out" 2>&1 &
    desk_pid=$!
    check "installed desktop app opens its window" timeout 30 env DISPLAY="$display" \
        xdotool search --sync --name '^AuraSpeak$'
    kill "$desk_pid" 2>/dev/null || true
    wait "$desk_pid" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    xvfb=""
    check "desktop package purges" dpkg --purge aura-speak
fi

# Debian's python3-yaml serves /usr/bin/python3; another python3 first on PATH may lack it.
PY=python3
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import yaml' 2>/dev/null; then PY=$candidate; break; fi
done
"$PY" -c 'import yaml' 2>/dev/null || "$PY" -m pip install --quiet pyyaml >/dev/null 2>&1 || true
check "compose file is well-formed" "$PY" - installers/docker/docker-compose.yml <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
for name in ["auraspeak", "postgres", "prometheus", "grafana", "pgadmin"]:
    assert name in services, f"missing service {name}"
for name, svc in services.items():
    assert "image" in svc or "build" in svc, f"{name} has neither image nor build"
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0]
        if not src.startswith(("./", "../", "/")):
            assert src in (doc.get("volumes") or {}), f"{name} uses undeclared volume {src}"
        elif src.startswith(".."):
            import os
            path = os.path.join(os.path.dirname(sys.argv[1]), src)
            assert os.path.exists(path), f"{name} mounts missing {path}"
PY
check "compose publishes only the app and has no default passwords" "$PY" - installers/docker/docker-compose.yml <<'PY'
import re, sys, yaml
text = open(sys.argv[1]).read()
services = yaml.safe_load(text)["services"]
# Only AuraSpeak's own ports on every interface; the tools on loopback, behind a profile.
for name, svc in services.items():
    for port in svc.get("ports", []):
        if name == "auraspeak":
            assert port in ("8080:8080", "7881:7881/udp"), f"auraspeak publishes {port}"
        else:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"
    if name not in ("auraspeak", "postgres"):
        assert svc.get("profiles"), f"{name} starts without being asked for"
# Every password comes from the environment, required (${VAR:?...}), never defaulted.
for line in text.splitlines():
    if re.search(r"PASSWORD", line) and not line.lstrip().startswith("#"):
        assert not re.search(r"\$\{[A-Z_]*PASSWORD:?-", line), f"default password: {line.strip()}"
for var in ("POSTGRES_PASSWORD", "GRAFANA_PASSWORD", "PGADMIN_PASSWORD"):
    assert "${" + var + ":?" in text, f"{var} is not required"
PY
check "Dockerfile builds the server binary" bash -c "grep -q 'cargo build --release --locked -p auraspeak-server' installers/docker/Dockerfile \
    && grep -q '^USER auraspeak' installers/docker/Dockerfile"

echo "packaging: $passed passed, $failed failed"
[ "$failed" = 0 ]
