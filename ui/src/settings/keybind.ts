// Turns a key press into a shortcut string such as "Ctrl+Shift+M" or "V" (the format the
// global-shortcut plugin parses, and `ptt/chord.rs` on X11). Uses `code`, the physical
// key, so the layout does not change the binding; a press of only modifiers is not a
// shortcut yet. Mouse buttons bind as Discord names them: Mouse3 (middle), Mouse4 and
// Mouse5 (the side buttons).

const MODIFIER_CODES = new Set([
  "ControlLeft", "ControlRight", "ShiftLeft", "ShiftRight", "AltLeft", "AltRight", "MetaLeft", "MetaRight", "OSLeft", "OSRight",
]);

export interface KeyLike {
  code: string;
  key?: string;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

export function keyName(code: string): string {
  if (/^Key[A-Z]$/.test(code)) return code.slice(3);
  if (/^Digit\d$/.test(code)) return code.slice(5);
  if (/^Numpad\d$/.test(code)) return `Num${code.slice(6)}`;
  if (code.startsWith("Arrow")) return code.slice(5);
  return code;
}

export function keybindFromEvent(e: KeyLike): string | null {
  if (!e.code || MODIFIER_CODES.has(e.code)) return null;
  const parts: string[] = [];
  if (e.ctrlKey) parts.push("Ctrl");
  if (e.altKey) parts.push("Alt");
  if (e.shiftKey) parts.push("Shift");
  if (e.metaKey) parts.push("Super");
  parts.push(keyName(e.code));
  return parts.join("+");
}

/** The binding for a mouse button pressed while recording; the left and right buttons
 * stay for clicking, so they never bind. */
export function keybindFromMouse(e: Pick<KeyLike, "ctrlKey" | "shiftKey" | "altKey" | "metaKey"> & { button: number }): string | null {
  const name = ({ 1: "Mouse3", 3: "Mouse4", 4: "Mouse5" } as Record<number, string>)[e.button];
  if (!name) return null;
  const parts: string[] = [];
  if (e.ctrlKey) parts.push("Ctrl");
  if (e.altKey) parts.push("Alt");
  if (e.shiftKey) parts.push("Shift");
  if (e.metaKey) parts.push("Super");
  parts.push(name);
  return parts.join("+");
}
