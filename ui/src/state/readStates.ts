// Unread and mention counts per text channel: seeded from Ready.read_states, advanced by
// live message_create, cleared by read_state_update (another device) or our own ack.

import type { Message, ReadState } from "../lib/backend";
import { compareIds, maxId } from "../lib/ids";

export interface ChannelRead {
  lastReadId: string | null;
  unread: number;
  mentions: number;
}
export type ReadStates = Record<string, ChannelRead>;

export interface Me {
  id: string;
  roleIds: readonly string[];
}

export type ReadAction =
  | { type: "ready"; readStates: ReadState[] }
  | { type: "message"; message: Message; me: Me; viewing: boolean }
  | { type: "read"; channelId: string; lastReadId: string };

export function mentionsMe(message: Message, me: Me): boolean {
  return (
    message.mention_everyone ||
    (message.mentions ?? []).includes(me.id) ||
    (message.mention_roles ?? []).some((r) => me.roleIds.includes(r))
  );
}

const EMPTY: ChannelRead = { lastReadId: null, unread: 0, mentions: 0 };

export function readReducer(state: ReadStates, action: ReadAction): ReadStates {
  switch (action.type) {
    case "ready": {
      const next: ReadStates = {};
      for (const rs of action.readStates) {
        next[rs.channel_id] = {
          lastReadId: rs.last_read_id,
          unread: rs.unread_count,
          mentions: rs.mention_count,
        };
      }
      return next;
    }
    case "message": {
      const { message, me, viewing } = action;
      const cur = state[message.channel_id] ?? EMPTY;
      if (cur.lastReadId && compareIds(message.id, cur.lastReadId) <= 0) return state;
      // Our own messages and messages in the channel on screen count as read.
      if (message.author_id === me.id || viewing) {
        return {
          ...state,
          [message.channel_id]: { lastReadId: message.id, unread: 0, mentions: 0 },
        };
      }
      return {
        ...state,
        [message.channel_id]: {
          lastReadId: cur.lastReadId,
          unread: cur.unread + 1,
          mentions: cur.mentions + (mentionsMe(message, me) ? 1 : 0),
        },
      };
    }
    case "read": {
      const cur = state[action.channelId] ?? EMPTY;
      if (cur.lastReadId && compareIds(action.lastReadId, cur.lastReadId) < 0) return state;
      if (cur.unread === 0 && cur.mentions === 0 && cur.lastReadId === action.lastReadId) {
        return state;
      }
      return {
        ...state,
        [action.channelId]: {
          lastReadId: maxId(cur.lastReadId, action.lastReadId),
          unread: 0,
          mentions: 0,
        },
      };
    }
  }
}

export function isUnread(state: ReadStates, channelId: string): boolean {
  return (state[channelId]?.unread ?? 0) > 0;
}

export function mentionCount(state: ReadStates, channelId: string): number {
  return state[channelId]?.mentions ?? 0;
}
