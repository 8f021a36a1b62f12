// IDs are decimal strings of 64-bit snowflakes: ordered by creation time, too large for a
// JavaScript number. Comparing by length first, then lexically, orders them exactly.

export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function maxId(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return compareIds(a, b) >= 0 ? a : b;
}

/** A nonce for the outbox: unique per send attempt, at most 64 characters. */
export function newNonce(): string {
  const rand = globalThis.crypto?.randomUUID?.() ?? `${Math.random()}`.slice(2);
  return `${Date.now().toString(36)}-${rand}`;
}
