#!/usr/bin/env bash
# Starts or stops a private, headless PulseAudio for the device tests, with two null sinks:
#   auraspeak_out  the speaker: tests record what was played from auraspeak_out.monitor
#   auraspeak_mic  the virtual microphone's feed: `paplay -d auraspeak_mic file.wav` plays a
#                  file into it, and auraspeak_mic.monitor is the capture source (the default)
# Usage: pulse-headless.sh start DIR   (prints `export VAR=value` lines for the tests:
#                                       PULSE_SERVER is all a client needs to find it)
#        pulse-headless.sh stop DIR
#
# Why streams into an idle null sink started late (the trap of an earlier attempt), and
# what this script does about it:
# - The distribution's default.pa loads module-suspend-on-idle, which suspends a sink 5 s
#   after its last stream ends; `-n` skips default.pa, so nothing is ever suspended.
# - A null sink renders on a timer, in blocks as long as the lowest latency any of its
#   streams asks for, and 2 s when none asks. A new stream's request takes effect only
#   when the current block ends: the first audio of a recorder or player attached to an
#   idle sink arrived up to 2 s late (measured: 1.65 s for parec with --latency-msec=10).
#   So each sink gets a "keeper", a recorder of its monitor with a 10 ms latency that
#   discards what it reads, keeping the sink rendering in 10 ms blocks for as long as the
#   server runs.
set -euo pipefail

cmd=${1:?start|stop}
dir=${2:?directory}
out_sink=auraspeak_out
mic_sink=auraspeak_mic

# Private runtime and home folders: as root, a plain `pulseaudio` would otherwise look
# for (or refuse) the system-wide instance, and never touch the developer's own session.
env_for() {
    export XDG_RUNTIME_DIR="$dir/runtime" HOME="$dir/home"
    export PULSE_SERVER="unix:$dir/runtime/pulse/native"
    unset PULSE_RUNTIME_PATH PULSE_COOKIE
}

case "$cmd" in
start)
    command -v pulseaudio >/dev/null || { echo "pulseaudio not installed" >&2; exit 1; }
    mkdir -p "$dir/runtime/pulse" "$dir/home"
    chmod 700 "$dir/runtime"
    env_for
    # auth-anonymous: the socket lives in a private 0700 folder, so the cookie would only
    # add a file for every client to find. 48 kHz float sinks: the engine's own rate, so
    # the server does not resample what the test compares.
    pulseaudio -D -n --exit-idle-time=-1 --disallow-exit --daemonize=yes \
        --log-target="file:$dir/pulse.log" \
        --load="module-native-protocol-unix auth-anonymous=1 socket=$dir/runtime/pulse/native" \
        --load="module-null-sink sink_name=$out_sink rate=48000 channels=2 format=float32le sink_properties=device.description=AuraSpeak-Speaker" \
        --load="module-null-sink sink_name=$mic_sink rate=48000 channels=2 format=float32le sink_properties=device.description=AuraSpeak-Mic-Feed"
    for _ in $(seq 1 50); do
        pactl info >/dev/null 2>&1 && break
        sleep 0.1
    done
    pactl info >/dev/null || { echo "PulseAudio did not start; see $dir/pulse.log" >&2; exit 1; }
    pactl set-default-sink "$out_sink"
    pactl set-default-source "$mic_sink.monitor"
    for sink in "$out_sink" "$mic_sink"; do
        setsid parec -d "$sink.monitor" --raw --latency-msec=10 >/dev/null 2>>"$dir/keepers.log" &
        echo $! >>"$dir/keepers.pid"
    done
    # The keepers' 10 ms takes over when the sinks' first 2 s block ends: wait for it,
    # so the first test does not meet the late start this is all about.
    for _ in $(seq 1 50); do
        slow=$(pactl list sinks | awk '/^[ \t]*Latency:/ && $2 > 100000' | wc -l)
        [ "$slow" -eq 0 ] && break
        sleep 0.1
    done
    echo "export PULSE_SERVER=$PULSE_SERVER"
    echo "export AURASPEAK_TEST_PULSE=1"
    echo "export AURASPEAK_TEST_PULSE_OUT=$out_sink"
    echo "export AURASPEAK_TEST_PULSE_MIC=$mic_sink"
    ;;
stop)
    [ -d "$dir/runtime" ] || exit 0
    env_for
    if [ -f "$dir/keepers.pid" ]; then
        while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$dir/keepers.pid"
        rm -f "$dir/keepers.pid"
    fi
    pulseaudio --kill >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
esac
