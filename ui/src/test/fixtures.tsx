// Wire-shaped test data and a helper that starts the whole app logged in.

import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import type { Channel, CurrentUser, Member, Message, Ready, ServerDetail, VoiceSettings } from "../lib/backend";
import { App, routerFuture } from "../App";
import { emit, mockCommand } from "./tauriMock";

export const me: CurrentUser = { id: "100", username: "ann", display_name: "Ann", email: "ann@example.com", created_at: 1_767_225_601_000 };
export const bob: Member = { user_id: "200", username: "bob", display_name: "Bob", nickname: null, roles: [], joined_at: 0 };
export const carl: Member = { user_id: "300", username: "carl", display_name: null, nickname: "Carlos", roles: ["11"], joined_at: 0 };

export function channel(id: string, name: string, kind: Channel["kind"] = "text", extra: Partial<Channel> = {}): Channel {
  return {
    id,
    server_id: "10",
    kind,
    name,
    topic: null,
    position: Number(id),
    parent_id: null,
    bitrate_kbps: kind === "voice" ? 64 : null,
    user_limit: kind === "voice" ? 0 : null,
    overwrites: [],
    permissions_synced: false,
    ...extra,
  };
}

// Permission bits: everything but ADMINISTRATOR for the owner of the test server.
export const ALL_PERMS = String((1 << 22) - 1 - (1 << 19));

export const server: ServerDetail = {
  server: { id: "10", name: "Gamers", description: null, owner_id: me.id, member_count: 3, created_at: 0 },
  channels: [channel("20", "general"), channel("21", "random"), channel("30", "Lounge", "voice"), channel("31", "Raid", "voice")],
  roles: [
    { id: "10", name: "@everyone", permissions: "12859", position: 0, color: 0 },
    { id: "11", name: "Mods", permissions: String(1 << 14), position: 1, color: 0x3ba55c },
  ],
  me: { user_id: me.id, username: me.username, display_name: me.display_name, nickname: null, roles: [], joined_at: 0 },
  my_permissions: ALL_PERMS,
  channel_permissions: ["20", "21", "30", "31"].map((id) => ({ channel_id: id, permissions: ALL_PERMS })),
};

/**
 * The test server changed by `patch`, with the server's per-channel numbers for every one
 * of its channels: `perChannel` where given, else the server-wide permissions (as with no
 * overwrites).
 */
export function serverWith(patch: Partial<ServerDetail>, perChannel: Record<string, string> = {}): ServerDetail {
  const d = { ...server, ...patch };
  const channel_permissions = d.channels.map((c) => ({ channel_id: c.id, permissions: perChannel[c.id] ?? d.my_permissions }));
  return { ...d, channel_permissions };
}

export function message(id: string, content: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    channel_id: "20",
    author_id: bob.user_id,
    content,
    reply_to: null,
    nonce: null,
    created_at: 1_767_225_700_000 + Number(id),
    edited_at: null,
    mentions: [],
    mention_roles: [],
    mention_everyone: false,
    reactions: [],
    ...extra,
  };
}

export function ready(extra: Partial<Ready> = {}): Ready {
  return {
    session_id: "s",
    seq: 1,
    user: me,
    servers: [server],
    heartbeat_interval_ms: 30_000,
    read_states: [],
    presences: [
      { user_id: me.id, status: "online" },
      { user_id: bob.user_id, status: "idle" },
    ],
    voice_states: [],
    ...extra,
  };
}

export const voiceSettings: VoiceSettings = {
  input_device: null,
  output_device: null,
  echo_cancellation: true,
  noise_suppression: true,
  strong_suppression: true,
  input_mode: "voice_activity",
  vad_threshold_db: -50,
  ptt_shortcut: "Ctrl+Shift+M",
  ptt_release_ms: 200,
  input_gain_db: 0,
  push_to_mute_shortcut: "",
  toggle_mute_shortcut: "",
};

/** Default answers for the commands every screen calls. */
export function mockBasics(): void {
  mockCommand("app_settings", { theme: "dark", language: "en", start_minimized: false, notifications: true, presence: "online" });
  mockCommand("set_app_settings", null);
  mockCommand("known_servers", []);
  mockCommand("take_invite_link", null);
  mockCommand("voice_settings", voiceSettings);
  mockCommand("set_voice_settings", null);
  mockCommand("voice_user_preferences", []);
  mockCommand("list_members", [
    { user_id: me.id, username: me.username, display_name: me.display_name, nickname: null, roles: [], joined_at: 0 },
    bob,
    carl,
  ]);
  mockCommand("cached_messages", []);
  mockCommand("history", []);
  mockCommand("ack", null);
  mockCommand("start_typing", null);
}

/** Renders the app logged in at `path` and makes the gateway live with `readyData`. */
export async function renderLoggedIn(path = "/channels/10/20", readyData: Ready = ready(), setup?: () => void) {
  mockBasics();
  setup?.();
  mockCommand("restore_session", { server_url: "https://chat.example.com", user: me });
  const Router = ({ children }: { children?: React.ReactNode }) => <MemoryRouter future={routerFuture} initialEntries={[path]}>{children}</MemoryRouter>;
  const utils = render(<App router={Router} />);
  await utils.findByTestId("app-shell");
  await emit("connection-changed", { state: "live", ready: readyData });
  return utils;
}
