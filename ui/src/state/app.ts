// The app-wide state of a logged-in session: what Ready says plus every live gateway
// event applied to it. One pure reducer composed of small ones, so each can be tested.

import type {
  Channel,
  ConnectionState,
  CurrentUser,
  GatewayEvent,
  Member,
  PresenceStatus,
  Ready,
  ServerDetail,
} from "../lib/backend";
import { messagesReducer, type MessagesState } from "./messages";
import { serverPermissions } from "../lib/permissions";
import { readReducer, type ReadStates } from "./readStates";
import { emptyVoiceStates, voiceReducer, type VoiceStates } from "./voiceStates";

export interface AppState {
  connection: ConnectionState;
  user: CurrentUser | null;
  servers: Record<string, ServerDetail>;
  /** Server IDs in the order they are shown. */
  serverOrder: string[];
  presences: Record<string, PresenceStatus>;
  /** Members per server, loaded when the server is opened. */
  members: Record<string, Member[]>;
  read: ReadStates;
  voice: VoiceStates;
  messages: MessagesState;
  /** The text channel on screen: its new messages count as read. */
  viewingChannelId: string | null;
}

export const initialAppState: AppState = {
  connection: "connecting",
  user: null,
  servers: {},
  serverOrder: [],
  presences: {},
  members: {},
  read: {},
  voice: emptyVoiceStates,
  messages: {},
  viewingChannelId: null,
};

export type AppAction =
  | { type: "connection"; state: ConnectionState; ready: Ready | null }
  | { type: "user"; user: CurrentUser }
  | { type: "event"; event: GatewayEvent }
  | { type: "serverDetail"; detail: ServerDetail }
  | { type: "members"; serverId: string; members: Member[] }
  | { type: "viewing"; channelId: string | null }
  | { type: "messages"; action: Parameters<typeof messagesReducer>[1] }
  | { type: "read"; channelId: string; lastReadId: string };

function withServer(
  state: AppState,
  serverId: string,
  f: (d: ServerDetail) => ServerDetail,
): AppState {
  const d = state.servers[serverId];
  if (!d) return state;
  return { ...state, servers: { ...state.servers, [serverId]: f(d) } };
}

function upsertChannel(channels: Channel[], ch: Channel): Channel[] {
  const i = channels.findIndex((c) => c.id === ch.id);
  if (i < 0) return [...channels, ch];
  const out = [...channels];
  out[i] = ch;
  return out;
}

function upsertMember(list: Member[] | undefined, m: Member): Member[] | undefined {
  if (!list) return list;
  const i = list.findIndex((x) => x.user_id === m.user_id);
  if (i < 0) return [...list, m];
  const out = [...list];
  out[i] = m;
  return out;
}

function addServer(state: AppState, detail: ServerDetail): AppState {
  const id = detail.server.id;
  return {
    ...state,
    servers: { ...state.servers, [id]: detail },
    serverOrder: state.serverOrder.includes(id) ? state.serverOrder : [...state.serverOrder, id],
  };
}

/** My role IDs in the server of a channel (for role mentions). */
function myRolesForChannel(state: AppState, channelId: string): string[] {
  for (const d of Object.values(state.servers))
    if (d.channels.some((c) => c.id === channelId)) return d.me.roles;
  return [];
}

/** After a role or own-membership change, recompute what we may do on that server. */
function refreshPermissions(state: AppState, serverId: string): AppState {
  return withServer(state, serverId, (d) => {
    const my_permissions = serverPermissions(d.roles, d.server.id, d.me.roles, d.server.owner_id === state.user?.id);
    return my_permissions === d.my_permissions ? d : { ...d, my_permissions };
  });
}

export function applyEvent(state: AppState, ev: GatewayEvent): AppState {
  switch (ev.type) {
    case "message_create": {
      const m = ev.message;
      const next = { ...state, messages: messagesReducer(state.messages, { type: "upsert", message: m }) };
      if (!state.user) return next;
      next.read = readReducer(state.read, {
        type: "message",
        message: m,
        me: { id: state.user.id, roleIds: myRolesForChannel(state, m.channel_id) },
        viewing: state.viewingChannelId === m.channel_id,
      });
      return next;
    }
    case "message_update":
      return { ...state, messages: messagesReducer(state.messages, { type: "upsert", message: ev.message }) };
    case "message_delete":
      return {
        ...state,
        messages: messagesReducer(state.messages, {
          type: "delete",
          channelId: ev.channel_id,
          messageId: ev.message_id,
        }),
      };
    case "reaction_add":
    case "reaction_remove":
      return {
        ...state,
        messages: messagesReducer(state.messages, {
          type: "reaction",
          channelId: ev.channel_id,
          messageId: ev.message_id,
          emoji: ev.emoji,
          add: ev.type === "reaction_add",
          mine: ev.user_id === state.user?.id,
        }),
      };
    case "read_state_update":
      return { ...state, read: readReducer(state.read, { type: "read", channelId: ev.channel_id, lastReadId: ev.last_read_id }) };
    case "channel_create":
    case "channel_update":
      return withServer(state, ev.channel.server_id, (d) => ({ ...d, channels: upsertChannel(d.channels, ev.channel) }));
    case "channel_delete":
      return withServer(state, ev.server_id, (d) => ({
        ...d,
        channels: d.channels.filter((c) => c.id !== ev.channel_id),
      }));
    case "server_delete": {
      if (!state.servers[ev.server_id]) return state;
      const servers = { ...state.servers };
      delete servers[ev.server_id];
      return { ...state, servers, serverOrder: state.serverOrder.filter((id) => id !== ev.server_id) };
    }
    case "server_join":
      return addServer(state, ev.detail);
    case "member_add":
    case "member_update": {
      let next: AppState = {
        ...state,
        members: { ...state.members, [ev.server_id]: upsertMember(state.members[ev.server_id], ev.member) ?? [] },
      };
      if (!state.members[ev.server_id]) next = { ...next, members: state.members };
      if (ev.member.user_id === state.user?.id) {
        next = withServer(next, ev.server_id, (d) => ({ ...d, me: ev.member }));
        next = refreshPermissions(next, ev.server_id);
      }
      return next;
    }
    case "member_remove": {
      const list = state.members[ev.server_id];
      if (!list) return state;
      return { ...state, members: { ...state.members, [ev.server_id]: list.filter((m) => m.user_id !== ev.user_id) } };
    }
    case "role_create":
    case "role_update":
      return refreshPermissions(
        withServer(state, ev.server_id, (d) => {
          const i = d.roles.findIndex((r) => r.id === ev.role.id);
          const roles = [...d.roles];
          if (i < 0) roles.push(ev.role);
          else roles[i] = ev.role;
          return { ...d, roles };
        }),
        ev.server_id,
      );
    case "role_delete": {
      // The server drops the role from every member and every channel overwrite with it
      // but announces only the role itself: do the same here, or stale IDs linger.
      const strip = (m: Member): Member => (m.roles.includes(ev.role_id) ? { ...m, roles: m.roles.filter((r) => r !== ev.role_id) } : m);
      const isIt = (o: { kind: string; target_id: string }) => o.kind === "role" && o.target_id === ev.role_id;
      let next = withServer(state, ev.server_id, (d) => ({
        ...d,
        roles: d.roles.filter((r) => r.id !== ev.role_id),
        me: strip(d.me),
        channels: d.channels.map((c) => (c.overwrites.some(isIt) ? { ...c, overwrites: c.overwrites.filter((o) => !isIt(o)) } : c)),
      }));
      const list = state.members[ev.server_id];
      if (list && next !== state) next = { ...next, members: { ...next.members, [ev.server_id]: list.map(strip) } };
      return refreshPermissions(next, ev.server_id);
    }
    case "server_update":
      return refreshPermissions(withServer(state, ev.server.id, (d) => ({ ...d, server: ev.server })), ev.server.id);
    case "presence_update":
      return { ...state, presences: { ...state.presences, [ev.user_id]: ev.status } };
    case "voice_state_update":
      return { ...state, voice: voiceReducer(state.voice, { type: "update", state: ev.state }) };
    case "voice_speaking":
      return {
        ...state,
        voice: voiceReducer(state.voice, {
          type: "speaking",
          channelId: ev.channel_id,
          userId: ev.user_id,
          speaking: ev.speaking,
        }),
      };
    case "typing_start":
    case "voice_slot":
      return state;
    default:
      // An event this build does not know yet (the protocol is append-only).
      return state;
  }
}

export function appReducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case "connection": {
      let next: AppState = { ...state, connection: action.state };
      const r = action.ready;
      if (r) {
        const servers: Record<string, ServerDetail> = {};
        for (const d of r.servers) servers[d.server.id] = d;
        const presences: Record<string, PresenceStatus> = {};
        for (const p of r.presences ?? []) presences[p.user_id] = p.status;
        // Ready lists presences among shared servers only: with none yet, we are not in it,
        // but our own session being live means we are online.
        presences[r.user.id] ??= "online";
        next = {
          ...next,
          user: r.user,
          servers,
          serverOrder: r.servers.map((d) => d.server.id),
          presences,
          // Member events may have been missed while disconnected: load the lists again.
          members: {},
          read: readReducer(state.read, { type: "ready", readStates: r.read_states ?? [] }),
          voice: voiceReducer(state.voice, { type: "ready", states: r.voice_states ?? [] }),
          messages: messagesReducer(state.messages, { type: "stale" }),
        };
      }
      return next;
    }
    case "user":
      return { ...state, user: action.user };
    case "event":
      return applyEvent(state, action.event);
    case "serverDetail":
      return addServer(state, action.detail);
    case "members":
      return { ...state, members: { ...state.members, [action.serverId]: action.members } };
    case "viewing":
      return state.viewingChannelId === action.channelId ? state : { ...state, viewingChannelId: action.channelId };
    case "messages":
      return { ...state, messages: messagesReducer(state.messages, action.action) };
    case "read":
      return { ...state, read: readReducer(state.read, { type: "read", channelId: action.channelId, lastReadId: action.lastReadId }) };
  }
}

/** Text, voice and category channels sorted by position, then ID. */
export function sortChannels(channels: Channel[]): Channel[] {
  return [...channels].sort((a, b) => a.position - b.position || (a.id.length - b.id.length) || (a.id < b.id ? -1 : 1));
}

export function memberName(
  m: { nickname?: string | null; display_name: string | null; username: string } | undefined | null,
): string {
  if (!m) return "";
  return m.nickname || m.display_name || m.username;
}
