// The one door between the UI and the Rust shell. Everything else imports backend access
// from here, never from `../bindings`, so the generated bindings can replace the hand-made
// ones with at most small fixes in this file.

import { commands, events } from "../bindings";
import type {
  AppSettings,
  CommandError,
  ConnectionChanged,
  VoiceSettings,
  VoiceStatus,
} from "../bindings";

/** What every fallible command resolves to (the shape tauri-specta generates). */
export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

export { commands, events };
export type {
  AppSession,
  AppSettings,
  AudioDevice,
  AudioDevices,
  AuditEntry,
  Ban,
  ServerChannel as Channel,
  ChannelPermissions,
  CommandError,
  ConnectionChanged,
  CreateChannelRequest,
  CreateRoleRequest,
  CurrentUser,
  Event as GatewayEvent,
  InputLevel,
  Invite,
  KnownServerInfo as KnownServer,
  Member,
  Message,
  OverwriteKind,
  PermissionOverwrite,
  PresenceEntry,
  ReactionCount,
  ReadState,
  Ready,
  Role,
  RolePosition,
  Server,
  ServerDetail,
  SessionInfo,
  SetOverwriteRequest,
  UpdateChannelRequest,
  UpdateRoleRequest,
  VoiceSettings,
  VoiceState,
  VoiceStatus,
} from "../bindings";

// Derived from struct fields rather than imported by name: the generator may name these
// enums differently, the field types stay the same.
export type ConnectionState = ConnectionChanged["state"];
export type VoiceConnectionState = VoiceStatus["state"];
export type Theme = AppSettings["theme"];
export type Language = AppSettings["language"];
export type InputMode = VoiceSettings["input_mode"];
export type PresenceStatus = "online" | "idle" | "do_not_disturb" | "invisible" | "offline";
export type ChannelKind = "text" | "voice" | "category";

/** A failed command, thrown by {@link unwrap} so callers can use try/catch. */
export class BackendError extends Error {
  readonly code: string;
  readonly fields: CommandError["fields"];
  constructor(error: CommandError) {
    super(error.message || error.code);
    this.name = "BackendError";
    this.code = error.code;
    this.fields = error.fields ?? [];
  }
}

/** Returns the data of an ok result, throws a {@link BackendError} otherwise. */
export function unwrap<T>(result: Result<T, CommandError>): T {
  if (result.status === "ok") return result.data;
  throw new BackendError(normalizeError(result.error));
}

/** Whatever a command rejected with, as a CommandError. */
export function normalizeError(e: unknown): CommandError {
  if (e instanceof BackendError) return { code: e.code, message: e.message, fields: e.fields };
  if (e && typeof e === "object" && "code" in e) {
    const o = e as { code: unknown; message?: unknown; fields?: unknown };
    const fields = Array.isArray(o.fields) ? (o.fields as CommandError["fields"]) : [];
    return { code: String(o.code), message: typeof o.message === "string" ? o.message : "", fields };
  }
  if (e instanceof Error) return { code: "internal", message: e.message, fields: [] };
  return { code: "internal", message: String(e), fields: [] };
}

/** Codes after which a retry later may succeed (the server or the network was the problem). */
const TRANSIENT_CODES = new Set([
  "unreachable",
  "unavailable",
  "timeout",
  "rate_limited",
  "not_logged_in",
  "token_expired",
  "internal",
]);

export function isTransient(code: string): boolean {
  return TRANSIENT_CODES.has(code);
}
