// Tauri drops events emitted before anyone listens, and `listen` itself is asynchronous.
// The gateway can become live (with its Ready snapshot) while `login` is still returning,
// before the logged-in store exists. So one listener starts before any session command,
// keeps the latest connection state and Ready plus the events after it, and hands them
// to the store when it mounts; from then on it forwards live.

import { events, type ConnectionChanged, type ConnectionState, type GatewayEvent, type Ready } from "../lib/backend";

export type GatewayMessage =
  | { kind: "connection"; payload: ConnectionChanged }
  | { kind: "event"; event: GatewayEvent };

export interface GatewaySnapshot {
  state: ConnectionState;
  ready: Ready | null;
  /** Events since that Ready, in order. */
  events: GatewayEvent[];
}

/** Enough for any realistic gap between Ready and the store mounting. */
const MAX_BUFFERED = 2000;

export class GatewayBuffer {
  private state: ConnectionState = "connecting";
  private ready: Ready | null = null;
  private buffered: GatewayEvent[] = [];
  private readonly subscribers = new Set<(m: GatewayMessage) => void>();
  private started: Promise<void> | null = null;
  private unlisten: (() => void)[] = [];

  /** Subscribes to the Rust events once; resolves when both listeners are registered. */
  start(): Promise<void> {
    this.started ??= Promise.all([
      events.connectionChanged.listen((e) => this.handleConnection(e.payload)),
      events.serverEvent.listen((e) => this.handleEvent(e.payload.event)),
    ])
      .then((fns) => {
        this.unlisten = fns;
      })
      .catch(() => {
        // Outside Tauri there is nothing to listen to.
      });
    return this.started;
  }

  stop(): void {
    for (const u of this.unlisten) u();
    this.unlisten = [];
    this.started = null;
  }

  handleConnection(payload: ConnectionChanged): void {
    this.state = payload.state;
    if (payload.ready) {
      this.ready = payload.ready;
      this.buffered = [];
    }
    for (const s of this.subscribers) s({ kind: "connection", payload });
  }

  handleEvent(event: GatewayEvent): void {
    if (this.subscribers.size === 0) {
      if (this.buffered.length < MAX_BUFFERED) this.buffered.push(event);
      return;
    }
    for (const s of this.subscribers) s({ kind: "event", event });
  }

  /** The state so far; the buffered events are handed over (and forgotten here). */
  takeSnapshot(): GatewaySnapshot {
    const snapshot = { state: this.state, ready: this.ready, events: this.buffered };
    this.buffered = [];
    return snapshot;
  }

  /** What arrived since the last snapshot, then live messages. */
  subscribe(fn: (m: GatewayMessage) => void): { snapshot: GatewaySnapshot; unsubscribe: () => void } {
    const snapshot = this.takeSnapshot();
    this.subscribers.add(fn);
    return { snapshot, unsubscribe: () => this.subscribers.delete(fn) };
  }

  /** After logout: the next session starts from nothing. */
  reset(): void {
    this.state = "connecting";
    this.ready = null;
    this.buffered = [];
  }
}
