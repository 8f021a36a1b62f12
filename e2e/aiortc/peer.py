#!/usr/bin/env python3
"""A voice participant built on a second, independent WebRTC stack: aiortc (PyPI), with
its own SDP, ICE (aioice), DTLS, SRTP and libopus. It signals the way our clients do
(shared/src/v1/voice.rs): REST login, gateway `identify`, `voice_join` → `voice_ready`
→ `voice_offer` → `voice_answer`, then media. It plays a WAV file as its microphone and
records everything it receives, on every receive slot, to a WAV file.

aiortc keeps its default bundlePolicy on purpose: it reads the candidates of each m-line
as if it were unbundled, and the relay's answer must work for such an offerer too
(shared/reviews/webrtc-interop.md).

Usage: peer.py --server URL --login NAME --password-env VAR --channel "Server/Channel"
               [--play in.wav] [--record out.wav] --duration SECONDS
Prints one JSON summary line on stdout (connected, packets per slot, frames recorded).
"""

import argparse
import asyncio
import fractions
import json
import os
import sys
import time

import aiohttp
import aioice.ice
import numpy as np
import soundfile
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

RATE = 48000  # aiortc's Opus decoder hands out 48 kHz frames


def loopback_only():
    """aioice never gathers 127.0.0.1; a test on loopback needs exactly that one.

    Without it aiortc would offer the machine's other addresses, which still reach a relay
    on 127.0.0.1 here but not on a machine whose only interface is `lo`."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


class Recording:
    """What arrived on every receive slot, placed on one timeline and mixed.

    A frame's place is its RTP time (pts) relative to the slot's first frame, anchored at
    the wall-clock moment that first frame arrived: silence the relay does not send
    (DTX, nobody speaking) stays silence, and arrival jitter does not move samples."""

    def __init__(self, start, seconds):
        self.start = start
        self.mix = np.zeros(int(seconds * RATE) + RATE, dtype=np.float64)
        self.frames = 0

    def add(self, anchor, frame):
        pcm = frame.to_ndarray().astype(np.float64) / 32768.0
        channels = len(frame.layout.channels)
        if frame.format.is_planar:
            mono = pcm.mean(axis=0)
        else:
            mono = pcm.reshape(-1, channels).mean(axis=1)
        at = anchor + int(frame.pts * frame.time_base * RATE)
        if at < 0 or at >= len(self.mix):
            return
        end = min(len(self.mix), at + len(mono))
        self.mix[at:end] += mono[: end - at]
        self.frames += 1

    def save(self, path):
        last = np.flatnonzero(self.mix)
        length = int(last[-1]) + 1 if len(last) else 0
        soundfile.write(path, np.clip(self.mix[:length], -1.0, 1.0), RATE, subtype="PCM_16")


async def consume(track, recording, slot, counts):
    first = None
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if frame.time_base is None:
            frame.time_base = fractions.Fraction(1, RATE)
        if first is None:
            arrived = int((time.monotonic() - recording.start) * RATE)
            first = arrived - int(frame.pts * frame.time_base * RATE)
        counts[slot] = counts.get(slot, 0) + 1
        recording.add(first, frame)


async def rest(session, base, method, path, body=None, token=None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, base + path, json=body, headers=headers) as resp:
        text = await resp.text()
        if resp.status >= 400:
            raise SystemExit(f"{method} {path}: {resp.status} {text}")
        return json.loads(text) if text else None


def find_channel(ready, spec):
    server_name, _, channel_name = spec.rpartition("/")
    for detail in ready["servers"]:
        if server_name and detail["server"]["name"] != server_name:
            continue
        for channel in detail["channels"]:
            if channel["kind"] == "voice" and channel["name"] == channel_name:
                return channel["id"]
    raise SystemExit(f"no voice channel {spec!r} in the ready snapshot")


async def connect_media(ready_frame, player, recording, counts, consumers):
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"),
                            credential=s.get("credential"))
               for s in ready_frame["ice_servers"]]
    # An explicit list, even empty: with none, aiortc would ask a public STUN server.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))

    @pc.on("track")
    def on_track(track):
        slot = next(i for i, t in enumerate(pc.getTransceivers()) if t.receiver.track is track)
        consumers.append(asyncio.ensure_future(consume(track, recording, slot, counts)))

    # Slot 0 is the sendrecv m-line that also carries the microphone; one recvonly m-line
    # per further slot, in order: the m-line order numbers the slots.
    if player is not None and player.audio is not None:
        pc.addTransceiver(player.audio, direction="sendrecv")
    else:
        pc.addTransceiver("audio", direction="sendrecv")
    for _ in range(1, max(1, ready_frame["receive_slots"])):
        pc.addTransceiver("audio", direction="recvonly")
    # aiortc gathers every candidate inside setLocalDescription: the offer is complete,
    # as the relay (which does not trickle) needs.
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def run(args):
    if args.loopback:
        loopback_only()
    password = os.environ[args.password_env]
    ws_base = args.server.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    start = time.monotonic()
    recording = Recording(start, args.duration)
    counts = {}
    consumers = []
    summary = {"connected": False, "ice": None, "slots": {}, "heard_users": []}
    pc = None
    player = None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        auth = await rest(session, args.server, "POST", "/api/v1/auth/login",
                          {"login": args.login, "password": password})
        token = auth["tokens"]["access_token"]
        async with session.ws_connect(ws_base + "/api/v1/gateway", heartbeat=None) as ws:
            seq = 0
            heartbeat = None

            async def beat(interval):
                while True:
                    await asyncio.sleep(interval / 1000.0)
                    await ws.send_json({"op": "heartbeat", "d": {"seq": seq}})

            async def frames():
                nonlocal seq, heartbeat, pc, player
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = json.loads(message.data)
                    op, d = frame["op"], frame.get("d") or {}
                    if op == "hello":
                        heartbeat = asyncio.ensure_future(beat(d["heartbeat_interval_ms"]))
                        await ws.send_json({"op": "identify", "d": {"token": token}})
                    elif op == "ready":
                        seq = d["seq"]
                        channel = find_channel(d, args.channel)
                        await ws.send_json({"op": "voice_join", "d": {"channel_id": channel}})
                    elif op == "dispatch":
                        seq = d["seq"]
                        event = d["event"]
                        if event.get("type") == "voice_slot" and event.get("user_id"):
                            summary["heard_users"].append(event["user_id"])
                    elif op == "voice_ready":
                        # aiortc pulls the first frame from the player only once DTLS is
                        # up, so the file starts with the media path, not into nothing.
                        player = MediaPlayer(args.play) if args.play else None
                        pc = await connect_media(d, player, recording, counts, consumers)

                        @pc.on("connectionstatechange")
                        def on_state():
                            summary["ice"] = pc.connectionState
                            if pc.connectionState == "connected":
                                summary["connected"] = True
                                summary["connect_s"] = round(time.monotonic() - start, 3)

                        offer = pc.localDescription.sdp
                        await ws.send_json({"op": "voice_offer", "d": {"sdp": offer}})
                    elif op == "voice_answer":
                        answer = RTCSessionDescription(sdp=d["sdp"], type="answer")
                        await pc.setRemoteDescription(answer)
                    elif op == "error":
                        print(f"gateway error: {d}", file=sys.stderr)

            reader = asyncio.ensure_future(frames())
            remaining = args.duration - (time.monotonic() - start)
            done, _ = await asyncio.wait([reader], timeout=max(0.0, remaining))
            if reader in done:
                if reader.exception():
                    raise reader.exception()
                # The server ended the session before the call's time was up.
                raise SystemExit(f"the gateway closed early: {ws.close_code}")
            await ws.send_json({"op": "voice_leave", "d": {}})
            reader.cancel()
            if heartbeat:
                heartbeat.cancel()
    if pc is not None:
        await pc.close()
    for c in consumers:
        c.cancel()
    summary["slots"] = {str(k): v for k, v in sorted(counts.items())}
    summary["frames_recorded"] = recording.frames
    if args.record:
        recording.save(args.record)
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--login", required=True)
    ap.add_argument("--password-env", default="AURASPEAK_PASSWORD")
    ap.add_argument("--channel", required=True, help="Server name/voice channel name")
    ap.add_argument("--play", help="WAV file to send as the microphone")
    ap.add_argument("--record", help="WAV file for everything received")
    ap.add_argument("--duration", type=float, required=True, help="seconds in the call")
    ap.add_argument("--loopback", action="store_true",
                    help="offer only a 127.0.0.1 host candidate (a relay on loopback)")
    args = ap.parse_args()
    summary = asyncio.run(run(args))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
