#!/usr/bin/env bash
# Installs the Debian packages a part of AuraSpeak needs, once (missing ones only).
#   scripts/install-deps.sh build     # building the server and the client crate
#   scripts/install-deps.sh desktop   # building and running the desktop app (Tauri 2)
#   scripts/install-deps.sh test      # everything the test suite starts or drives
set -euo pipefail

BUILD=(pkg-config ca-certificates cmake curl libasound2-dev)
# Tauri 2 on Linux: WebKitGTK 4.1, GTK 3, the tray (Ayatana), SVG icons, libsoup 3, xdo
# (the global shortcut plugin's key sender), libdbus (the keyring for saved tokens). nodejs/npm build the UI where the machine
# lacks them.
DESKTOP=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
    libssl-dev libxdo-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libdbus-1-dev)
# Tests: PostgreSQL; python3-venv (the virtualenv of the aiortc interop check); PulseAudio
# (virtual devices); coturn (TURN); chromium (WebRTC interop); pebble (ACME); Xvfb,
# WebKitWebDriver, xdotool, x11-apps (xlogo, the "game" window that has focus during the
# push-to-talk test) and imagemagick (screenshots) for the desktop app test, which also
# runs a private session bus with a real keyring
# (gnome-keyring, checked with secret-tool) and notification daemon (dunst). Push-to-talk
# on Wayland runs the app under KWin (headless) with the XDG portal and its KDE backend,
# whose Qt needs its Wayland platform plugin.
TEST=(postgresql python3-yaml python3-venv systemd openssl libasound2-plugins pulseaudio
    pulseaudio-utils coturn chromium pebble xvfb xdotool webkit2gtk-driver x11-apps imagemagick
    dbus-daemon dbus-bin gnome-keyring libsecret-tools dunst
    kwin-wayland xdg-desktop-portal xdg-desktop-portal-kde qtwayland5)

case "${1:-}" in
    build) WANT=("${BUILD[@]}") ;;
    desktop) WANT=("${BUILD[@]}" "${DESKTOP[@]}") ;;
    test) WANT=("${BUILD[@]}" "${DESKTOP[@]}" "${TEST[@]}") ;;
    *) echo "usage: $0 build|desktop|test" >&2; exit 2 ;;
esac
command -v npm >/dev/null || WANT+=(nodejs npm)

missing=()
for pkg in "${WANT[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
