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

export function countPermissions(perms: string): number {
  let b = bits(perms);
  let n = 0;
  while (b) {
    n += Number(b & 1n);
    b >>= 1n;
  }
  return n;
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

/** Every defined bit, as the server sends it for an owner or administrator. */
export const ALL_PERMISSIONS = ((1n << 22n) - 1n).toString();

/**
 * Server-wide permissions of a member, by the rules of shared/src/permissions.rs
 * (`server_permissions`): owner has all; else @everyone (the role whose ID is the server's)
 * plus every role held; ADMINISTRATOR grants all.
 */
export function serverPermissions(
  roles: { id: string; permissions: string }[],
  serverId: string,
  memberRoleIds: readonly string[],
  isOwner: boolean,
): string {
  if (isOwner) return ALL_PERMISSIONS;
  let p = 0n;
  for (const r of roles) if (r.id === serverId || memberRoleIds.includes(r.id)) p |= bits(r.permissions);
  if (p & (1n << BigInt(Perm.ADMINISTRATOR))) return ALL_PERMISSIONS;
  return (p & BigInt(ALL_PERMISSIONS)).toString();
}
