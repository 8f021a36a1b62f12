// Mentions as people type them ("@bob") and as the wire carries them ("<@200>"), the
// syntax of shared/src/mentions.rs.

import type { Member } from "../lib/backend";
import { memberName } from "../state/app";

/** The partial name after an "@" right before the caret, or null when not mentioning. */
export function mentionQuery(text: string, caret: number): string | null {
  const m = /(^|\s)@([\w.-]{0,32})$/.exec(text.slice(0, caret));
  return m ? m[2] : null;
}

export function mentionMatches(members: Member[], query: string, limit = 8): Member[] {
  const q = query.toLowerCase();
  return members
    .filter((m) => m.username.toLowerCase().startsWith(q) || memberName(m).toLowerCase().startsWith(q))
    .sort((a, b) => memberName(a).localeCompare(memberName(b)))
    .slice(0, limit);
}

/** Replaces the "@query" before the caret with "@username "; returns the text and new caret. */
export function insertMention(text: string, caret: number, username: string): { text: string; caret: number } {
  const before = text.slice(0, caret).replace(/@[\w.-]*$/, `@${username} `);
  return { text: before + text.slice(caret), caret: before.length };
}

/** Turns "@name" of known members into "<@id>" for sending; unknown names stay text. */
export function encodeMentions(content: string, members: Member[]): string {
  // Usernames first; then nicknames and display names as people also type them ("@Carlos"),
  // where exactly one member goes by that name and it is no one's username.
  const byName = new Map(members.map((m) => [m.username.toLowerCase(), m.user_id]));
  const shown = new Map<string, string | null>();
  for (const m of members) {
    for (const name of new Set([m.nickname, m.display_name].filter((n): n is string => !!n).map((n) => n.toLowerCase()))) {
      if (!/^[\w.-]{2,32}$/.test(name) || byName.has(name)) continue;
      shown.set(name, shown.has(name) && shown.get(name) !== m.user_id ? null : m.user_id);
    }
  }
  for (const [name, id] of shown) if (id) byName.set(name, id);
  return content.replace(/(^|\s)@([\w.-]{2,32})/g, (all, pre: string, name: string) => {
    // "@bob." at the end of a sentence: try without trailing dots and dashes too.
    const trimmed = name.replace(/[.-]+$/, "");
    for (const candidate of [name, trimmed]) {
      const id = byName.get(candidate.toLowerCase());
      if (id) return `${pre}<@${id}>${name.slice(candidate.length)}`;
    }
    return all;
  });
}
