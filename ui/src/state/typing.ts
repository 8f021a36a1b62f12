// "X is typing…": a typing_start keeps a user listed for TYPING_TTL_MS; their message
// (or the time running out) removes them. Pure; the provider owns the clock.

export const TYPING_TTL_MS = 10_000;
/** How often we tell the server we are typing while the composer keeps changing. */
export const TYPING_SEND_INTERVAL_MS = 8_000;

/** channel ID → user ID → time (ms) when the indicator expires. */
export type TypingState = Record<string, Record<string, number>>;

export type TypingAction =
  | { type: "start"; channelId: string; userId: string; now: number }
  | { type: "stop"; channelId: string; userId: string }
  | { type: "prune"; now: number };

export function typingReducer(state: TypingState, action: TypingAction): TypingState {
  switch (action.type) {
    case "start": {
      const ch = { ...(state[action.channelId] ?? {}) };
      ch[action.userId] = action.now + TYPING_TTL_MS;
      return { ...state, [action.channelId]: ch };
    }
    case "stop": {
      const ch = state[action.channelId];
      if (!ch || !(action.userId in ch)) return state;
      const next = { ...ch };
      delete next[action.userId];
      return { ...state, [action.channelId]: next };
    }
    case "prune": {
      let changed = false;
      const out: TypingState = {};
      for (const [channelId, users] of Object.entries(state)) {
        const kept: Record<string, number> = {};
        for (const [userId, until] of Object.entries(users)) {
          if (until > action.now) kept[userId] = until;
          else changed = true;
        }
        if (Object.keys(kept).length) out[channelId] = kept;
        else if (Object.keys(users).length === 0) changed = true;
      }
      return changed ? out : state;
    }
  }
}

export function typingUsers(
  state: TypingState,
  channelId: string,
  now: number,
  exceptUserId?: string,
): string[] {
  const users = state[channelId] ?? {};
  return Object.entries(users)
    .filter(([id, until]) => until > now && id !== exceptUserId)
    .map(([id]) => id);
}

/** The earliest expiry in the state, to schedule the next prune. */
export function nextExpiry(state: TypingState): number | null {
  let min: number | null = null;
  for (const users of Object.values(state))
    for (const until of Object.values(users)) if (min === null || until < min) min = until;
  return min;
}

/** Throttle for start_typing: returns true when a new notification is due. */
export function shouldSendTyping(lastSentAt: number | null, now: number): boolean {
  return lastSentAt === null || now - lastSentAt >= TYPING_SEND_INTERVAL_MS;
}
