// Messages per channel, oldest first, deduplicated by ID. The list is painted from the
// local cache first, then merged with the history the server returns.

import type { Message, ReactionCount } from "../lib/backend";
import { compareIds } from "../lib/ids";

export interface ChannelMessages {
  items: Message[];
  /** The newest page came from the server (not only from the local cache). */
  fresh: boolean;
  /** Older history may exist on the server. */
  hasMore: boolean;
}
export type MessagesState = Record<string, ChannelMessages>;

export type MessagesAction =
  | { type: "cached"; channelId: string; messages: Message[] }
  | { type: "history"; channelId: string; messages: Message[]; before: string | null; limit: number }
  | { type: "upsert"; message: Message }
  | { type: "delete"; channelId: string; messageId: string }
  | { type: "reaction"; channelId: string; messageId: string; emoji: string; add: boolean; mine: boolean }
  /** A new gateway session: what we hold may have gaps, so fetch the newest page again. */
  | { type: "stale" };

const EMPTY: ChannelMessages = { items: [], fresh: false, hasMore: true };

export function mergeMessages(a: Message[], b: Message[]): Message[] {
  const byId = new Map<string, Message>();
  for (const m of a) byId.set(m.id, m);
  for (const m of b) byId.set(m.id, m);
  return [...byId.values()].sort((x, y) => compareIds(x.id, y.id));
}

export function applyReaction(
  reactions: ReactionCount[],
  emoji: string,
  add: boolean,
  mine: boolean,
): ReactionCount[] {
  const i = reactions.findIndex((r) => r.emoji === emoji);
  const cur = i >= 0 ? reactions[i] : { emoji, count: 0, me: false };
  // Our own reaction is applied optimistically; its echo must not count twice.
  if (mine && cur.me === add) return reactions;
  const next = { ...cur, count: Math.max(0, cur.count + (add ? 1 : -1)), me: mine ? add : cur.me };
  const out = [...reactions];
  if (i >= 0) {
    if (next.count === 0) out.splice(i, 1);
    else out[i] = next;
  } else if (next.count > 0) {
    out.push(next);
  }
  return out;
}

export function messagesReducer(state: MessagesState, action: MessagesAction): MessagesState {
  switch (action.type) {
    case "cached": {
      const cur = state[action.channelId] ?? EMPTY;
      return {
        ...state,
        [action.channelId]: { ...cur, items: mergeMessages(action.messages, cur.items) },
      };
    }
    case "history": {
      const cur = state[action.channelId] ?? EMPTY;
      const full = action.messages.length >= action.limit;
      return {
        ...state,
        [action.channelId]: {
          items: mergeMessages(cur.items, action.messages),
          fresh: action.before === null ? true : cur.fresh,
          // A short page means the start of the channel was reached.
          hasMore: full,
        },
      };
    }
    case "upsert": {
      const m = action.message;
      const cur = state[m.channel_id];
      if (!cur) return state; // Not loaded: history will bring it when the channel opens.
      return { ...state, [m.channel_id]: { ...cur, items: mergeMessages(cur.items, [m]) } };
    }
    case "delete": {
      const cur = state[action.channelId];
      if (!cur) return state;
      return {
        ...state,
        [action.channelId]: { ...cur, items: cur.items.filter((m) => m.id !== action.messageId) },
      };
    }
    case "reaction": {
      const cur = state[action.channelId];
      if (!cur) return state;
      let changed = false;
      const items = cur.items.map((m) => {
        if (m.id !== action.messageId) return m;
        const reactions = applyReaction(m.reactions ?? [], action.emoji, action.add, action.mine);
        if (reactions === m.reactions) return m;
        changed = true;
        return { ...m, reactions };
      });
      return changed ? { ...state, [action.channelId]: { ...cur, items } } : state;
    }
    case "stale": {
      const out: MessagesState = {};
      for (const [id, ch] of Object.entries(state)) out[id] = { ...ch, fresh: false };
      return out;
    }
  }
}
