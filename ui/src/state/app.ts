// The app-wide state of a logged-in session: what Ready says plus every live gateway
// event applied to it. One pure reducer composed of small ones, so each can be tested.

import type {
  Channel,
  ChannelPermissions,
  ConnectionState,
  CurrentUser,
  GatewayEvent,
  Member,
  PresenceStatus,
  Ready,
  ServerDetail,
} from "../lib/backend";
import { messagesReducer, type MessagesState } from "./messages";
import { has } from "../lib/permissions";
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
  /**
   * Servers whose detail must be loaded again: the server said we may now see channels
   * we have never been sent (a role or overwrite change), and only the detail has them.
   */
  reloadServers: string[];
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
  reloadServers: [],
};

export type AppAction =
  | { type: "connection"; state: ConnectionState; ready: Ready | null }
  | { type: "user"; user: CurrentUser }
  | { type: "event"; event: GatewayEvent }
  | { type: "serverDetail"; detail: ServerDetail }
  /** Loading a server's detail again failed: the next permissions_update asks again. */
  | { type: "reloadFailed"; serverId: string }
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
    reloadServers: withoutId(state.reloadServers, id),
  };
}

function withoutId(ids: string[], id: string): string[] {
  return ids.includes(id) ? ids.filter((x) => x !== id) : ids;
}

/**
 * The server's word on what we may do in a server now: it replaces our permissions there,
 * channels it leaves out are no longer visible (dropped, as a deleted channel is), and
 * channels it names that we were never sent make us load the server's detail again.
 */
function applyPermissions(state: AppState, serverId: string, my: string, inChannels: ChannelPermissions[]): AppState {
  const d = state.servers[serverId];
  if (!d) return state;
  const visible = new Set(inChannels.map((p) => p.channel_id));
  const channels = d.channels.filter((c) => visible.has(c.id));
  const known = new Set(channels.map((c) => c.id));
  const unknown = inChannels.some((p) => !known.has(p.channel_id));
  const next = withServer(state, serverId, () => ({
    ...d,
    my_permissions: my,
    channel_permissions: inChannels,
    channels: channels.length === d.channels.length ? d.channels : channels,
  }));
  if (!unknown || next.reloadServers.includes(serverId)) return next;
  return { ...next, reloadServers: [...next.reloadServers, serverId] };
}

/** My role IDs in the server of a channel (for role mentions). */
function myRolesForChannel(state: AppState, channelId: string): string[] {
  for (const d of Object.values(state.servers))
    if (d.channels.some((c) => c.id === channelId)) return d.me.roles;
  return [];
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
      return {
        ...state,
        servers,
        serverOrder: state.serverOrder.filter((id) => id !== ev.server_id),
        reloadServers: withoutId(state.reloadServers, ev.server_id),
      };
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
      // What the new roles allow arrives as permissions_update.
      if (ev.member.user_id === state.user?.id) next = withServer(next, ev.server_id, (d) => ({ ...d, me: ev.member }));
      return next;
    }
    case "member_remove": {
      const list = state.members[ev.server_id];
      if (!list) return state;
      return { ...state, members: { ...state.members, [ev.server_id]: list.filter((m) => m.user_id !== ev.user_id) } };
    }
    case "role_create":
    case "role_update":
      return withServer(state, ev.server_id, (d) => {
        const i = d.roles.findIndex((r) => r.id === ev.role.id);
        const roles = [...d.roles];
        if (i < 0) roles.push(ev.role);
        else roles[i] = ev.role;
        return { ...d, roles };
      });
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
      return next;
    }
    case "server_update":
      return withServer(state, ev.server.id, (d) => ({ ...d, server: ev.server }));
    case "permissions_update":
      return applyPermissions(state, ev.server_id, ev.my_permissions, ev.channel_permissions);
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
          reloadServers: [],
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
    case "reloadFailed":
      return { ...state, reloadServers: withoutId(state.reloadServers, action.serverId) };
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

// ---- What we may do in a channel: the server's numbers, never our own guess ----

const indexes = new WeakMap<ChannelPermissions[], Map<string, string>>();

/**
 * Our permissions in a channel, as the server computed them (roles, overwrites, category
 * inheritance; all bits for the owner and administrators). "0" for a channel the server
 * has not given numbers for: one we cannot see, or one created a moment ago whose
 * permissions_update is still on its way. A server too old to send any per-channel
 * numbers gets its server-wide ones, as before.
 */
export function permissionsIn(detail: ServerDetail | undefined, channelId: string | null | undefined): string {
  if (!detail || !channelId) return "0";
  const list = detail.channel_permissions;
  if (!list) return detail.channels.some((c) => c.id === channelId) ? detail.my_permissions : "0";
  let index = indexes.get(list);
  if (!index) indexes.set(list, (index = new Map(list.map((p) => [p.channel_id, p.permissions]))));
  return index.get(channelId) ?? "0";
}

export function channelPermissions(state: AppState, serverId: string | null | undefined, channelId: string | null | undefined): string {
  return permissionsIn(serverId ? state.servers[serverId] : undefined, channelId);
}

/** The channels of a server we may see (VIEW_CHANNEL there). */
export function visibleChannels(detail: ServerDetail): Channel[] {
  return detail.channels.filter((c) => has(permissionsIn(detail, c.id), "VIEW_CHANNEL"));
}

/** Whether some channel lets us manage it (an overwrite can grant MANAGE_CHANNELS there). */
export function managesSomeChannel(detail: ServerDetail): boolean {
  return has(detail.my_permissions, "MANAGE_CHANNELS") || detail.channels.some((c) => has(permissionsIn(detail, c.id), "MANAGE_CHANNELS"));
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
