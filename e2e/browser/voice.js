// A voice participant built only from what a browser offers: the gateway over WebSocket,
// RTCPeerConnection for media, WebAudio to measure what arrives. It follows the signaling
// in shared/src/v1/voice.rs the way a web client would, so the relay is tested against
// Chromium's own SDP, ICE, DTLS and RTP, not against our str0m client.
//
// Query: token, channel (voice channel id), gateway (ws:// URL). Reports are POSTed to
// the page's own origin: /report/<kind> (JSON) and /pcm?seq=<n> (little-endian f32 at
// 48 kHz: everything received, mixed, as a listener would hear it).
"use strict";

const params = new URLSearchParams(location.search);
const STATS_EVERY_MS = 250;
const PCM_EVERY_MS = 500;

function log(text) {
  document.getElementById("log").textContent += text + "\n";
}

// Reports are fire-and-forget: a lost one only makes the test's verdict stricter.
function report(kind, body) {
  return fetch("/report/" + kind, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).catch(() => {});
}

window.addEventListener("error", (e) => report("error", { message: String(e.message) }));
window.addEventListener("unhandledrejection", (e) =>
  report("error", { message: String(e.reason && e.reason.stack ? e.reason.stack : e.reason) }),
);

function toDb(meanSquare) {
  return meanSquare > 0 ? 10 * Math.log10(meanSquare) : -200;
}

// Everything received, summed like a speaker mix, captured in 4096-sample blocks.
class Listener {
  constructor() {
    // 48 kHz is the relay's Opus clock and the rate the test compares at.
    this.ctx = new AudioContext({ sampleRate: 48000 });
    this.mix = this.ctx.createGain();
    this.tap = this.ctx.createScriptProcessor(4096, 1, 1);
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    this.mix.connect(this.tap);
    // A ScriptProcessor only runs while connected to the destination; silenced there.
    this.tap.connect(mute);
    mute.connect(this.ctx.destination);
    this.silent = mute;
    this.slotMeters = {};
    this.pending = [];
    this.sumSquares = 0;
    this.count = 0;
    this.seq = 0;
    this.tap.onaudioprocess = (e) => {
      const block = new Float32Array(e.inputBuffer.getChannelData(0));
      this.pending.push(block);
      for (const x of block) this.sumSquares += x * x;
      this.count += block.length;
    };
    this.elements = [];
  }

  // `slot`: the receive slot (m-line index) the track arrives on; each is metered on its
  // own as well, to tell speakers on different slots apart.
  add(track, slot) {
    const stream = new MediaStream([track]);
    // Chromium delivers a remote track's audio to WebAudio only while some media
    // element plays it (crbug.com/933677); a muted one is enough.
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    element.play().catch(() => {});
    this.elements.push(element);
    const source = this.ctx.createMediaStreamSource(stream);
    source.connect(this.mix);
    const meter = { sumSquares: 0, count: 0 };
    const node = this.ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => {
      for (const x of e.inputBuffer.getChannelData(0)) meter.sumSquares += x * x;
      meter.count += 4096;
    };
    source.connect(node);
    node.connect(this.silent);
    this.slotMeters[slot] = meter;
  }

  // Mean level per slot since the last call, in dBFS.
  takeSlotLevelsDb() {
    const levels = {};
    for (const [slot, meter] of Object.entries(this.slotMeters)) {
      levels[slot] = toDb(meter.count ? meter.sumSquares / meter.count : 0);
      meter.sumSquares = 0;
      meter.count = 0;
    }
    return levels;
  }

  // Mean level since the last call, in dBFS (-200 for digital silence).
  takeLevelDb() {
    const mean = this.count ? this.sumSquares / this.count : 0;
    this.sumSquares = 0;
    this.count = 0;
    return toDb(mean);
  }

  flushPcm() {
    if (!this.pending.length) return;
    const total = this.pending.reduce((n, b) => n + b.length, 0);
    const all = new Float32Array(total);
    let at = 0;
    for (const b of this.pending) {
      all.set(b, at);
      at += b.length;
    }
    this.pending = [];
    fetch("/pcm?seq=" + this.seq++, { method: "POST", body: all.buffer }).catch(() => {});
  }
}

async function main() {
  const token = params.get("token");
  const channel = params.get("channel");
  const gatewayUrl = params.get("gateway");
  const listener = new Listener();
  await listener.ctx.resume();

  // The test compares what the far end hears with the file the fake device plays, so the
  // browser's own capture processing (echo canceller, noise suppressor, gain control)
  // stays off: it is not what the relay is being tested for.
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });

  const ws = new WebSocket(gatewayUrl);
  let lastSeq = 0;
  let pc = null;
  let joinedAt = 0;
  const slots = {};
  // Who the relay said was speaking (the page's own user included), at any time.
  const spoke = {};
  const send = (op, d) => ws.send(JSON.stringify({ op, d }));
  // restart_after_ms: once connected, wait that long and offer again with new ICE
  // credentials, as a web client does after a network change (the relay answers a second
  // offer with a fresh session).
  const restartAfter = params.get("restart_after_ms");
  let restartedAt = 0;
  const restart = () => {
    if (restartAfter === null || restartedAt) return;
    setTimeout(async () => {
      restartedAt = performance.now();
      pc.restartIce();
      await offerComplete(pc);
      send("voice_offer", { sdp: pc.localDescription.sdp });
    }, Number(restartAfter));
  };

  ws.onclose = (e) => report("error", { message: "gateway closed: " + e.code + " " + e.reason });
  ws.onmessage = async (message) => {
    const frame = JSON.parse(message.data);
    const d = frame.d;
    switch (frame.op) {
      case "hello":
        setInterval(() => send("heartbeat", { seq: lastSeq }), d.heartbeat_interval_ms);
        send("identify", { token });
        break;
      case "ready":
        lastSeq = d.seq;
        joinedAt = performance.now();
        send("voice_join", { channel_id: channel });
        break;
      case "dispatch":
        lastSeq = d.seq;
        if (d.event.type === "voice_slot") slots[d.event.slot] = d.event.user_id;
        if (d.event.type === "voice_speaking" && d.event.speaking) spoke[d.event.user_id] = true;
        break;
      case "voice_ready":
        pc = await connect(d, mic, listener, joinedAt, restart);
        send("voice_offer", { sdp: pc.localDescription.sdp });
        break;
      case "voice_answer":
        await pc.setRemoteDescription({ type: "answer", sdp: d.sdp });
        // Whether the relay accepted RED (it lists it after Opus: plain Opus is what a
        // clean link should carry; it adds copies for lossy listeners itself).
        report("answer", {
          red: /a=rtpmap:\d+ red\/48000/i.test(d.sdp),
          offered_red: /a=rtpmap:\d+ red\/48000/i.test(pc.localDescription.sdp),
        });
        if (restartedAt) {
          report("restarted", { answer_ms: performance.now() - restartedAt });
        }
        break;
      case "error":
        report("error", { message: "gateway error " + d.code + ": " + d.message });
        break;
    }
  };

  // getStats figures every STATS_EVERY_MS. Its own audioLevel/totalAudioEnergy of the
  // inbound streams stayed 0 in headless Chromium here (no sound card), so the received
  // level is measured with WebAudio instead; the microphone's level (media-source) does
  // work and shows whether the fake device plays the file at all.
  setInterval(async () => {
    if (!pc) return;
    let packetsReceived = 0;
    let packetsLost = 0;
    let packetsSent = 0;
    let microphoneLevel = 0;
    let rttMs = null;
    // By mid; the page's mids are "0", "1", … in m-line order, which is the slot order.
    const slotPackets = {};
    // Codecs by stats id, and which one our outbound stream uses: RFC 2198 RED over Opus
    // ("audio/red") when the relay accepted it.
    const codecs = {};
    let sendCodecId = null;
    const all = await pc.getStats();
    all.forEach((s) => {
      if (s.type === "codec") codecs[s.id] = s.mimeType;
      if (s.type === "outbound-rtp" && s.kind === "audio") sendCodecId = s.codecId || null;
    });
    all.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        slotPackets[s.mid] = s.packetsReceived || 0;
        packetsReceived += s.packetsReceived || 0;
        packetsLost += s.packetsLost || 0;
      } else if (s.type === "outbound-rtp" && s.kind === "audio") {
        packetsSent += s.packetsSent || 0;
      } else if (s.type === "media-source" && s.kind === "audio") {
        microphoneLevel = s.audioLevel || 0;
      } else if (s.type === "remote-inbound-rtp" && s.kind === "audio") {
        // From the relay's RTCP receiver reports on our stream.
        rttMs = s.roundTripTime === undefined ? null : s.roundTripTime * 1000;
      }
    });
    // The RFC 6464 level the relay writes into each forwarded packet's header.
    let headerLevel = 0;
    for (const receiver of pc.getReceivers()) {
      for (const source of receiver.getSynchronizationSources()) {
        headerLevel = Math.max(headerLevel, source.audioLevel || 0);
      }
    }
    report("stats", {
      connection: pc.connectionState,
      level_db: listener.takeLevelDb(),
      slot_level_db: listener.takeSlotLevelsDb(),
      packets_received: packetsReceived,
      slot_packets: slotPackets,
      packets_lost: packetsLost,
      packets_sent: packetsSent,
      microphone_level: microphoneLevel,
      header_level: headerLevel,
      rtt_ms: rttMs,
      codecs: Object.values(codecs),
      send_codec: sendCodecId ? codecs[sendCodecId] || null : null,
      slots,
      spoke,
    });
  }, STATS_EVERY_MS);
  setInterval(() => listener.flushPcm(), PCM_EVERY_MS);
}

// One sendrecv transceiver for the microphone and receive slot 0, then one recvonly per
// further slot, in that order: the m-line order is what numbers the slots.
async function connect(ready, mic, listener, joinedAt, onConnected) {
  const pc = new RTCPeerConnection({
    iceServers: ready.ice_servers.map((s) => ({
      urls: s.urls,
      username: s.username,
      credential: s.credential,
    })),
  });
  let offerAt = 0;
  const slotsWithTrack = new Set();
  pc.ontrack = (e) => {
    const slot = pc.getTransceivers().indexOf(e.transceiver);
    // Once per slot, should a renegotiation announce the same receiver again.
    if (slotsWithTrack.has(slot)) return;
    slotsWithTrack.add(slot);
    listener.add(e.track, slot);
  };
  pc.onconnectionstatechange = () => {
    log("connection " + pc.connectionState);
    if (pc.connectionState === "connected") {
      // offer_ms: how much of it was Chromium gathering candidates before the offer.
      const now = performance.now();
      report("connected", { connect_ms: now - joinedAt, offer_ms: offerAt - joinedAt });
      onConnected();
    } else if (pc.connectionState === "failed") {
      report("error", { message: "peer connection failed" });
    }
  };
  const [track] = mic.getAudioTracks();
  const first = pc.addTransceiver(track, { direction: "sendrecv", streams: [mic] });
  // RFC 2198 RED over Opus first, as web clients that want loss protection ask for it
  // (Chromium lists it in its capabilities but offers it only when asked, or by field trial).
  const capabilities = RTCRtpSender.getCapabilities ? RTCRtpSender.getCapabilities("audio") : null;
  const isRed = (c) => c.mimeType.toLowerCase() === "audio/red";
  const redCapable = !!capabilities && capabilities.codecs.some(isRed);
  if (redCapable && first.setCodecPreferences) {
    first.setCodecPreferences([
      ...capabilities.codecs.filter(isRed),
      ...capabilities.codecs.filter((c) => !isRed(c)),
    ]);
  }
  report("capabilities", { red: redCapable });
  for (let slot = 1; slot < Math.max(1, ready.receive_slots); slot++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  await offerComplete(pc);
  offerAt = performance.now();
  return pc;
}

// The relay takes one complete offer and does not trickle: wait for all candidates.
async function offerComplete(pc) {
  const gathered = new Promise((resolve) => {
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
  });
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") await gathered;
  report("offer", { sdp: pc.localDescription.sdp });
}

main().catch((e) => report("error", { message: String(e && e.stack ? e.stack : e) }));
