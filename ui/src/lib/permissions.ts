// Permission bits as defined in shared/src/permissions.rs (append only there, so these
// stay valid). Permissions travel as decimal strings; BigInt keeps bits above 2^53.

export const Perm = {
  VIEW_CHANNEL: 0,
  SEND_MESSAGES: 1,
  READ_HISTORY: 2,
  MANAGE_MESSAGES: 3,
  MENTION_EVERYONE: 4,
  ADD_REACTIONS: 5,
  MANAGE_CHANNELS: 6,
  MANAGE_ROLES: 7,
  MANAGE_SERVER: 8,
  CREATE_INVITE: 9,
  KICK_MEMBERS: 10,
  BAN_MEMBERS: 11,
  CONNECT: 12,
  SPEAK: 13,
  MUTE_MEMBERS: 14,
  DEAFEN_MEMBERS: 15,
  MOVE_MEMBERS: 16,
  PRIORITY_SPEAKER: 17,
  VIEW_AUDIT_LOG: 18,
  ADMINISTRATOR: 19,
  CHANGE_NICKNAME: 20,
  MANAGE_NICKNAMES: 21,
} as const;
export type PermName = keyof typeof Perm;

function bits(perms: string | null | undefined): bigint {
  if (!perms || !/^\d+$/.test(perms)) return 0n;
  return BigInt(perms);
}

/** Whether the set grants `name`; ADMINISTRATOR grants everything, like on the server. */
export function has(perms: string | null | undefined, name: PermName): boolean {
  const b = bits(perms);
  if (b & (1n << BigInt(Perm.ADMINISTRATOR))) return true;
  return (b & (1n << BigInt(Perm[name]))) !== 0n;
}

/** Whether any administration tab makes sense for someone with these permissions. */
export function canAdminister(perms: string | null | undefined): boolean {
  return (
    has(perms, "MANAGE_SERVER") ||
    has(perms, "BAN_MEMBERS") ||
    has(perms, "KICK_MEMBERS") ||
    has(perms, "VIEW_AUDIT_LOG") ||
    has(perms, "CREATE_INVITE") ||
    has(perms, "MANAGE_ROLES") ||
    has(perms, "MANAGE_CHANNELS")
  );
}

/** Every defined bit: the server ignores others in grants (`Permissions::known`). */
const KNOWN = (1n << 22n) - 1n;

/** Whether `mine` holds every defined bit of `perms` (raw bits, ADMINISTRATOR grants none). */
export function holdsAll(mine: string | null | undefined, perms: string | null | undefined): boolean {
  return (bits(perms) & KNOWN & ~bits(mine)) === 0n;
}

// ---- Editing permission sets (roles and channel overwrites) ----

/** The raw bit, without ADMINISTRATOR implying it: what a role or overwrite itself says. */
export function hasBit(perms: string | null | undefined, name: PermName): boolean {
  return (bits(perms) & (1n << BigInt(Perm[name]))) !== 0n;
}

/** `perms` with `name` switched on or off, as a decimal string. */
export function withBit(perms: string, name: PermName, on: boolean): string {
  const bit = 1n << BigInt(Perm[name]);
  const b = bits(perms);
  return (on ? b | bit : b & ~bit).toString();
}

/** The names of the defined bits set in `perms`, in bit order. */
export function permissionNames(perms: string): PermName[] {
  return (Object.keys(Perm) as PermName[]).filter((n) => hasBit(perms, n));
}

export type PermGroup = "general" | "text" | "voice" | "moderation";

/** Every permission in exactly one group, in the order the roles editor shows them. */
export const PERMISSION_GROUPS: { id: PermGroup; perms: PermName[] }[] = [
  { id: "general", perms: ["VIEW_CHANNEL", "MANAGE_CHANNELS", "MANAGE_ROLES", "MANAGE_SERVER", "CREATE_INVITE", "CHANGE_NICKNAME"] },
  { id: "text", perms: ["SEND_MESSAGES", "READ_HISTORY", "ADD_REACTIONS", "MENTION_EVERYONE", "MANAGE_MESSAGES"] },
  { id: "voice", perms: ["CONNECT", "SPEAK", "PRIORITY_SPEAKER", "MUTE_MEMBERS", "DEAFEN_MEMBERS", "MOVE_MEMBERS"] },
  { id: "moderation", perms: ["KICK_MEMBERS", "BAN_MEMBERS", "MANAGE_NICKNAMES", "VIEW_AUDIT_LOG", "ADMINISTRATOR"] },
];

// What an overwrite can change per channel kind, mirroring `channel_permissions` in
// shared/src/permissions.rs: a text channel drops the voice bits (and CONNECT), a voice
// channel without CONNECT drops them. The server checks the rest (invites, roles, kicks,
// bans, nicknames, audit log, ADMINISTRATOR) server-wide, so overwriting them does nothing.
const CHANNEL_GENERAL: PermName[] = ["VIEW_CHANNEL", "MANAGE_CHANNELS"];
const TEXT_ONLY: PermName[] = ["SEND_MESSAGES", "READ_HISTORY", "ADD_REACTIONS", "MENTION_EVERYONE", "MANAGE_MESSAGES"];
const VOICE_ONLY: PermName[] = ["CONNECT", "SPEAK", "PRIORITY_SPEAKER", "MUTE_MEMBERS", "DEAFEN_MEMBERS", "MOVE_MEMBERS"];

/** Groups of overwritable permissions for a channel kind; a category passes them all on. */
export function channelPermissionGroups(kind: "text" | "voice" | "category"): { id: PermGroup; perms: PermName[] }[] {
  const groups: { id: PermGroup; perms: PermName[] }[] = [{ id: "general", perms: CHANNEL_GENERAL }];
  if (kind !== "voice") groups.push({ id: "text", perms: TEXT_ONLY });
  if (kind !== "text") groups.push({ id: "voice", perms: VOICE_ONLY });
  return groups;
}

/** Every bit set in either. */
export function union(a: string, b: string): string {
  return (bits(a) | bits(b)).toString();
}

export type OverwriteState = "allow" | "inherit" | "deny";
export interface OverwriteBits {
  allow: string;
  deny: string;
}

export function overwriteState(ow: OverwriteBits, name: PermName): OverwriteState {
  if (hasBit(ow.allow, name)) return "allow";
  if (hasBit(ow.deny, name)) return "deny";
  return "inherit";
}

/** Sets one permission of an overwrite; a bit is never in both sets (the server drops such deny bits). */
export function setOverwriteState(ow: OverwriteBits, name: PermName, state: OverwriteState): OverwriteBits {
  return { allow: withBit(ow.allow, name, state === "allow"), deny: withBit(ow.deny, name, state === "deny") };
}

// ---- Role hierarchy, as the server enforces it (server/src/community/roles.rs, members.rs) ----

export interface Rank {
  /** Owner or administrator: above every role, may grant anything. */
  outranksAll: boolean;
  /** Position of one's highest role; 0 with only @everyone. */
  top: number;
  /** Server-wide permissions: nobody can grant a bit they lack. */
  permissions: string;
  userId: string;
  ownerId: string;
  /** The server's @everyone role (its ID is the server's). */
  everyoneId: string;
  /** Every role of the server, to rank other members by. */
  roles: readonly { id: string; position: number; permissions: string }[];
}

export function rankOf(detail: {
  server: { id: string; owner_id: string };
  roles: readonly { id: string; position: number; permissions: string }[];
  me: { user_id: string; roles: readonly string[] };
  my_permissions: string;
}): Rank {
  const top = detail.roles.filter((r) => detail.me.roles.includes(r.id)).reduce((m, r) => Math.max(m, r.position), 0);
  const outranksAll = detail.me.user_id === detail.server.owner_id || hasBit(detail.my_permissions, "ADMINISTRATOR");
  return {
    outranksAll,
    top,
    permissions: detail.my_permissions,
    userId: detail.me.user_id,
    ownerId: detail.server.owner_id,
    everyoneId: detail.server.id,
    roles: detail.roles,
  };
}

/**
 * Whether a role may be managed (edited, moved, deleted, given or taken; MANAGE_ROLES
 * assumed): strictly below one's highest role (@everyone counts as below everyone) and
 * carrying no permission one lacks, so a lower role with ADMINISTRATOR stays out of reach.
 * The owner and administrators may manage every role.
 */
export function canManageRole(rank: Rank, role: { id: string; position: number; permissions: string }): boolean {
  if (rank.outranksAll) return true;
  const below = role.id === rank.everyoneId || role.position < rank.top;
  return below && holdsAll(rank.permissions, role.permissions);
}

/**
 * Whether one may act on another member (their roles, kick, ban, voice moderation): never
 * on the owner; otherwise only on someone whose highest role is below one's own and who is
 * not an administrator, unless one outranks every role. Never true for oneself.
 */
export function canActOn(rank: Rank, target: { user_id: string; roles: readonly string[] }): boolean {
  if (target.user_id === rank.ownerId || target.user_id === rank.userId) return false;
  if (rank.outranksAll) return true;
  let top = 0;
  let perms = 0n;
  for (const r of rank.roles) {
    if (r.id === rank.everyoneId || target.roles.includes(r.id)) perms |= bits(r.permissions);
    if (target.roles.includes(r.id)) top = Math.max(top, r.position);
  }
  if (perms & (1n << BigInt(Perm.ADMINISTRATOR))) return false;
  return top < rank.top;
}

/**
 * Whether one may edit a channel overwrite for this role or member (MANAGE_ROLES assumed):
 * @everyone or a role below one's highest; oneself or a member one outranks.
 */
export function canOverwriteFor(
  rank: Rank,
  target: { kind: "role"; role: { id: string; position: number } } | { kind: "member"; member: { user_id: string; roles: readonly string[] } },
): boolean {
  if (rank.outranksAll) return true;
  if (target.kind === "role") return target.role.id === rank.everyoneId || target.role.position < rank.top;
  return target.member.user_id === rank.userId || canActOn(rank, target.member);
}

/** Whether `name` may be granted or denied by someone of this rank. */
export function canGrant(rank: Rank, name: PermName): boolean {
  return rank.outranksAll || hasBit(rank.permissions, name);
}

/** Bits of `perms` this rank could not grant: a save including them is refused. */
export function ungrantable(rank: Rank, perms: string): PermName[] {
  return rank.outranksAll ? [] : permissionNames(perms).filter((n) => !hasBit(rank.permissions, n));
}

export function colorHex(color: number): string {
  return `#${color.toString(16).padStart(6, "0")}`;
}
