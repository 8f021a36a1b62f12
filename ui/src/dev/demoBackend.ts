// A demo backend for looking at the UI in a plain browser (`npm run dev:demo`): answers
// every command with sample data through Tauri's own IPC mock. Never part of a release
// build: main.tsx imports it only when VITE_DEMO is set at build time.

import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type {
  Channel,
  CreateRoleRequest,
  Member,
  Message,
  OverwriteKind,
  Ready,
  Role,
  RolePosition,
  ServerDetail,
  SetOverwriteRequest,
  UpdateChannelRequest,
  UpdateRoleRequest,
} from "../lib/backend";

const me = { id: "100", username: "ann", display_name: "Ann", email: "ann@example.com", created_at: Date.now() - 9e9 };
const members: Member[] = [
  { user_id: "100", username: "ann", display_name: "Ann", nickname: null, roles: ["12"], joined_at: 0 },
  { user_id: "200", username: "bob", display_name: "Bob", nickname: null, roles: [], joined_at: 0 },
  { user_id: "300", username: "carl", display_name: null, nickname: "Carlos", roles: ["11"], joined_at: 0 },
  { user_id: "400", username: "dora", display_name: "Dora", nickname: null, roles: [], joined_at: 0 },
  { user_id: "500", username: "eve", display_name: "Eve", nickname: null, roles: [], joined_at: 0 },
];
const ch = (id: string, name: string, kind: Channel["kind"], parent: string | null, extra: Partial<Channel> = {}): Channel => {
  const c: Channel = {
    id, server_id: "10", kind, name, topic: null, position: Number(id), parent_id: parent,
    bitrate_kbps: kind === "voice" ? 64 : null, user_limit: kind === "voice" ? 0 : null, overwrites: [], ...extra,
  };
  return { ...c, permissions_synced: synced(c) };
};
// As the server says it: in a category and without overwrites of its own.
const synced = (c: Channel) => c.parent_id !== null && c.overwrites.length === 0;
// The demo user owns the first server (every bit everywhere) and is a plain member of the
// second; a real server computes these with overwrites and categories.
const everywhere = (channels: Channel[], permissions: string) => channels.map((c) => ({ channel_id: c.id, permissions }));
const server: ServerDetail = {
  server: { id: "10", name: "Night Raiders", description: null, owner_id: "100", member_count: 5, created_at: 0 },
  channels: [
    ch("1", "Text Channels", "category", null),
    ch("20", "general", "text", "1", { topic: "Talk about anything. Be nice." }),
    ch("21", "clips", "text", "1"),
    ch("22", "lfg", "text", "1"),
    ch("2", "Voice Channels", "category", null),
    ch("30", "Lounge", "voice", "2", { overwrites: [{ kind: "role", target_id: "10", allow: "0", deny: "8192" }, { kind: "role", target_id: "11", allow: "8192", deny: "0" }] }),
    ch("31", "Raid Night", "voice", "2", { user_limit: 5 }),
  ],
  channel_permissions: [],
  roles: [
    { id: "10", name: "@everyone", permissions: "12859", position: 0, color: 0 },
    { id: "12", name: "Officers", permissions: String(1 << 19), position: 3, color: 0xe67e22 },
    { id: "11", name: "Raid Leads", permissions: String((1 << 14) | (1 << 16)), position: 2, color: 0x3498db },
    { id: "13", name: "Newcomers", permissions: "0", position: 1, color: 0 },
  ],
  me: members[0],
  my_permissions: String((1 << 22) - 1),
};
server.channel_permissions = everywhere(server.channels, server.my_permissions);
const other: ServerDetail = {
  ...server,
  server: { ...server.server, id: "11", name: "Speedrun Club", owner_id: "200" },
  channels: [ch("40", "welcome", "text", null)].map((c) => ({ ...c, server_id: "11" })),
  my_permissions: "12859",
};
other.channel_permissions = everywhere(other.channels, other.my_permissions);
const t0 = Date.now() - 3600_000;
const msg = (id: number, author: string, content: string, extra: Partial<Message> = {}): Message => ({
  id: String(1000 + id), channel_id: "20", author_id: author, content, reply_to: null, nonce: null,
  created_at: t0 + id * 60_000, edited_at: null, mentions: [], mention_roles: [], mention_everyone: false, reactions: [], ...extra,
});
const messages: Message[] = [
  msg(1, "200", "Anyone up for a raid tonight?"),
  msg(2, "300", "I'm in! **Bring potions** this time 😅", { reactions: [{ emoji: "😂", count: 2, me: true }] }),
  msg(3, "300", "Build guide: https://example.com/guide"),
  msg(4, "100", "Sure, I'll set up `Raid Night` at 21:00", { reply_to: "1001" }),
  msg(5, "400", "<@100> can you share the loadout?\n```toml\n[loadout]\nweapon = \"bow\"\n```", { mentions: ["100"] }),
  msg(6, "200", "_finally_ a plan ~~that works~~", { edited_at: t0 }),
];

let voiceChannel: string | null = null;

// Role and channel administration: change the sample server, then tell the UI the way
// the gateway would. Objects are replaced, never changed in place: the UI holds them too.
const gateway = (event: unknown) => setTimeout(() => void emit("server-event", { event }), 30);
function findRole(id: unknown): Role {
  const role = server.roles.find((r) => r.id === id);
  if (!role) throw { code: "not_found", message: "role not found" };
  return role;
}
function putRole(role: Role): Role {
  server.roles = server.roles.map((r) => (r.id === role.id ? role : r));
  gateway({ type: "role_update", server_id: "10", role });
  return role;
}
function putChannel(id: unknown, change: (c: Channel) => Channel): Channel {
  const old = server.channels.find((x) => x.id === id);
  if (!old) throw { code: "not_found", message: "channel not found" };
  const changed = change(old);
  const c = { ...changed, permissions_synced: synced(changed) };
  server.channels = server.channels.map((x) => (x.id === c.id ? c : x));
  gateway({ type: "channel_update", channel: c });
  return c;
}
function admin(cmd: string, a: Record<string, unknown>): unknown {
  switch (cmd) {
    case "create_role": {
      const req = a.request as CreateRoleRequest;
      const role: Role = {
        id: String(nextId++), name: req.name, permissions: req.permissions ?? "0", color: req.color ?? 0,
        position: Math.max(...server.roles.map((r) => r.position)) + 1,
      };
      server.roles = [...server.roles, role];
      gateway({ type: "role_create", server_id: "10", role });
      return role;
    }
    case "update_role": {
      const role = findRole(a.roleId);
      const req = a.request as UpdateRoleRequest;
      return putRole({
        ...role, name: req.name ?? role.name, color: req.color ?? role.color, permissions: req.permissions ?? role.permissions,
      });
    }
    case "reorder_roles":
      for (const p of a.positions as RolePosition[]) putRole({ ...findRole(p.id), position: p.position });
      return server.roles;
    case "delete_role":
      findRole(a.roleId);
      server.roles = server.roles.filter((r) => r.id !== a.roleId);
      gateway({ type: "role_delete", server_id: "10", role_id: a.roleId });
      return null;
    case "set_member_role": {
      const i = members.findIndex((x) => x.user_id === a.userId);
      if (i < 0) throw { code: "not_found", message: "member not found" };
      const roles = members[i].roles.filter((r) => r !== a.roleId);
      members[i] = { ...members[i], roles: a.granted ? [...roles, String(a.roleId)] : roles };
      gateway({ type: "member_update", server_id: "10", member: members[i] });
      return null;
    }
    case "update_channel": {
      const { sync_permissions, ...req } = a.request as UpdateChannelRequest;
      const set = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined && v !== null));
      if (sync_permissions && !server.channels.find((c) => c.id === a.channelId)?.parent_id)
        throw { code: "invalid_body", message: "sync_permissions: only a channel in a category can sync" };
      return putChannel(a.channelId, (c) => ({ ...c, ...set, ...(sync_permissions ? { overwrites: [] } : {}) }));
    }
    case "set_overwrite":
    case "delete_overwrite": {
      const kind = a.kind as OverwriteKind;
      const req = (a.request ?? {}) as SetOverwriteRequest;
      const c = putChannel(a.channelId, (c) => ({
        ...c,
        overwrites: [
          // A synced channel's first overwrite starts from a copy of its category's.
          ...(c.permissions_synced ? server.channels.find((p) => p.id === c.parent_id)?.overwrites ?? [] : c.overwrites)
            .filter((o) => !(o.kind === kind && o.target_id === a.targetId)),
          ...(cmd === "set_overwrite" ? [{ kind, target_id: String(a.targetId), allow: req.allow ?? "0", deny: req.deny ?? "0" }] : []),
        ],
      }));
      return cmd === "set_overwrite" ? c : null;
    }
    default:
      return undefined;
  }
}
const ready: Ready = {
  session_id: "demo", seq: 1, user: me, servers: [server, other], heartbeat_interval_ms: 30000,
  read_states: [
    { channel_id: "21", last_read_id: null, unread_count: 3, mention_count: 0 },
    { channel_id: "22", last_read_id: null, unread_count: 1, mention_count: 2 },
  ],
  presences: [
    { user_id: "100", status: "online" }, { user_id: "200", status: "online" },
    { user_id: "300", status: "idle" }, { user_id: "400", status: "do_not_disturb" },
  ],
  voice_states: [
    { user_id: "200", server_id: "10", channel_id: "30", self_mute: false, self_deaf: false, mute: false, deaf: false },
    { user_id: "300", server_id: "10", channel_id: "30", self_mute: true, self_deaf: false, mute: false, deaf: false },
  ],
};

let voiceSettings = {
  input_device: null, output_device: null, echo_cancellation: true, noise_suppression: true, strong_suppression: true, input_mode: "voice_activity",
  vad_threshold_db: -50, ptt_shortcut: "Ctrl+Shift+M", ptt_release_ms: 200, input_gain_db: 0, push_to_mute_shortcut: "", toggle_mute_shortcut: "",
};
let appSettings = { theme: "dark", language: "en", start_minimized: false, notifications: true, presence: "online" };
const loggedIn = new URLSearchParams(location.search).get("demo") !== "login";
let nextId = 2000;

function status(state: string) {
  return { channel_id: voiceChannel, server_id: voiceChannel ? "10" : null, state, self_mute: false, self_deaf: false, transmitting: false, ping_ms: voiceChannel ? 38 : null, loss_percent: voiceChannel ? 0.4 : null, loss_up_percent: voiceChannel ? 0.1 : null, jitter_ms: voiceChannel ? 3 : null };
}

mockIPC(
  (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    switch (cmd) {
      case "known_servers": return [{ url: "https://chat.example.com", username: "ann", last_used_ms: Date.now() }];
      case "take_invite_link": return null;
      case "restore_session":
        if (loggedIn) setTimeout(() => void emit("connection-changed", { state: "live", ready }), 50);
        return loggedIn ? { server_url: "https://chat.example.com", user: me } : null;
      case "login":
        if (a.password !== "password") throw { code: "invalid_credentials", message: "invalid username or password" };
        setTimeout(() => void emit("connection-changed", { state: "live", ready }), 50);
        return { server_url: a.serverUrl, user: me };
      case "app_settings": return appSettings;
      case "set_app_settings": appSettings = a.settings as typeof appSettings; return null;
      case "voice_settings": return voiceSettings;
      case "voice_user_preferences": return [];
      case "set_voice_settings": voiceSettings = a.settings as typeof voiceSettings; return null;
      case "voice_devices": return { inputs: [{ id: "m", name: "USB Microphone", is_default: true }], outputs: [{ id: "s", name: "Headphones", is_default: true }] };
      case "list_members": return a.serverId === "10" ? members.slice() : members.slice(0, 2);
      case "cached_messages": return a.channelId === "20" ? messages : [];
      case "history": return a.channelId === "20" && !a.before ? messages : [];
      case "send_message": {
        const m = msg(0, "100", String(a.content), { id: String(nextId++), channel_id: String(a.channelId), nonce: String(a.nonce), created_at: Date.now(), reply_to: (a.replyTo as string) ?? null });
        setTimeout(() => void emit("server-event", { event: { type: "message_create", message: m } }), 30);
        return m;
      }
      case "voice_join":
        voiceChannel = String(a.channelId);
        void emit("voice-status", status("connecting"));
        setTimeout(() => {
          void emit("voice-status", status("connected"));
          void emit("server-event", { event: { type: "voice_state_update", state: { user_id: "100", server_id: "10", channel_id: voiceChannel, self_mute: false, self_deaf: false, mute: false, deaf: false } } });
          void emit("server-event", { event: { type: "voice_speaking", channel_id: "30", user_id: "200", speaking: true } });
        }, 300);
        return null;
      case "voice_leave":
        void emit("server-event", { event: { type: "voice_state_update", state: { user_id: "100", server_id: "10", channel_id: null, self_mute: false, self_deaf: false, mute: false, deaf: false } } });
        voiceChannel = null;
        void emit("voice-status", status("idle"));
        return null;
      case "list_sessions": return [
        { id: "1", device_name: "Desktop (Linux)", created_at: Date.now() - 9e8, last_used_at: Date.now(), ip: "127.0.0.1", current: true },
        { id: "2", device_name: "Laptop (Windows)", created_at: Date.now() - 9e8, last_used_at: Date.now() - 86400000, ip: null, current: false },
      ];
      case "revoke_invite": return null;
      case "list_invites": return [{ code: "hTKzmak", server_id: "10", creator_id: "100", uses: 3, max_uses: null, expires_at: null, created_at: 0 }];
      case "list_bans": return [{ user_id: "900", username: "griefer", reason: "spam", moderator_id: "100", created_at: 0 }];
      case "audit_log": return [{ id: "1", action: "member_ban", actor_id: "100", target_id: "900", reason: "spam", created_at: Date.now() - 5e6 }];
      case "create_invite": return { code: "nEwC0de", server_id: "10", creator_id: "100", uses: 0, max_uses: null, expires_at: null, created_at: Date.now() };
      default: return admin(cmd, a) ?? null;
    }
  },
  { shouldMockEvents: true },
);

// Someone types now and then, so the indicator can be seen.
setInterval(() => void emit("server-event", { event: { type: "typing_start", channel_id: "20", user_id: "400" } }), 12_000);
setTimeout(() => void emit("server-event", { event: { type: "typing_start", channel_id: "20", user_id: "400" } }), 500);
