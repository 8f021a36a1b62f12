// The outbox: nothing typed is lost while the connection is down. Every message gets a
// nonce when it is typed; it is sent (and, after a transient failure, re-sent) with that
// same nonce, so the server can deduplicate, and it leaves the outbox as soon as either
// the command result or the gateway echo carrying the nonce arrives. Pure state here; the
// ChatProvider drives it.

export type OutboxStatus = "queued" | "sending" | "failed";

export interface OutboxEntry {
  nonce: string;
  channelId: string;
  content: string;
  replyTo: string | null;
  createdAt: number;
  status: OutboxStatus;
  attempts: number;
  /** Not before this time (ms) after a transient failure: exponential backoff. */
  retryAt: number;
  /** The error code of a permanent failure. */
  error: string | null;
}

export type OutboxState = OutboxEntry[];

export type OutboxAction =
  | { type: "enqueue"; nonce: string; channelId: string; content: string; replyTo: string | null; now: number }
  | { type: "sending"; nonce: string }
  /** Command result or gateway echo with this nonce: it reached the server. */
  | { type: "delivered"; nonce: string }
  | { type: "failed"; nonce: string; code: string; transient: boolean; now: number }
  | { type: "retry"; nonce: string; now: number }
  | { type: "discard"; nonce: string }
  /** The connection came back: try everything waiting right away. */
  | { type: "online"; now: number };

const MAX_BACKOFF_MS = 30_000;

export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempts - 1));
}

export function outboxReducer(state: OutboxState, action: OutboxAction): OutboxState {
  switch (action.type) {
    case "enqueue":
      if (state.some((e) => e.nonce === action.nonce)) return state;
      return [
        ...state,
        {
          nonce: action.nonce,
          channelId: action.channelId,
          content: action.content,
          replyTo: action.replyTo,
          createdAt: action.now,
          status: "queued",
          attempts: 0,
          retryAt: 0,
          error: null,
        },
      ];
    case "sending":
      return state.map((e) =>
        e.nonce === action.nonce ? { ...e, status: "sending", attempts: e.attempts + 1 } : e,
      );
    case "delivered":
    case "discard":
      return state.some((e) => e.nonce === action.nonce)
        ? state.filter((e) => e.nonce !== action.nonce)
        : state;
    case "failed":
      return state.map((e) => {
        if (e.nonce !== action.nonce) return e;
        return action.transient
          ? { ...e, status: "queued", retryAt: action.now + backoffMs(e.attempts), error: null }
          : { ...e, status: "failed", error: action.code };
      });
    case "retry":
      return state.map((e) =>
        e.nonce === action.nonce ? { ...e, status: "queued", retryAt: action.now, error: null } : e,
      );
    case "online": {
      let changed = false;
      const next = state.map((e) => {
        if (e.status === "queued" && e.retryAt > action.now) {
          changed = true;
          return { ...e, retryAt: action.now };
        }
        return e;
      });
      return changed ? next : state;
    }
  }
}

/**
 * The entries to send now: while live, the oldest queued and due entry of each channel
 * whose previous message is not still in flight (so a channel's messages keep their order).
 */
export function sendable(state: OutboxState, live: boolean, now: number): OutboxEntry[] {
  if (!live) return [];
  const busy = new Set<string>();
  const out: OutboxEntry[] = [];
  for (const e of state) {
    if (busy.has(e.channelId)) continue;
    if (e.status === "sending") {
      busy.add(e.channelId);
    } else if (e.status === "queued") {
      busy.add(e.channelId);
      if (e.retryAt <= now) out.push(e);
    }
  }
  return out;
}

/** The earliest future retry, to schedule a wake-up. */
export function nextRetry(state: OutboxState, now: number): number | null {
  let min: number | null = null;
  for (const e of state)
    if (e.status === "queued" && e.retryAt > now && (min === null || e.retryAt < min)) min = e.retryAt;
  return min;
}
