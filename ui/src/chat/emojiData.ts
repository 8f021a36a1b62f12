// The full Unicode emoji set for the picker and for :shortcodes:, from emojibase-data
// (names and keywords in English and German, GitHub's shortcodes, which Discord and Slack
// users know). About 1 MB of JSON, so it is a chunk of its own, loaded the first time a
// picker opens or a composer mounts, not part of the app's start.

export interface EmojiEntry {
  emoji: string;
  /** The name shown and searched, in the UI's language. */
  label: string;
  /** Without colons: "thumbsup", "+1". */
  shortcodes: string[];
  /** Search words (both languages where German is chosen). */
  tags: string[];
  group: number;
  order: number;
}

interface CompactEmoji {
  hexcode: string;
  label: string;
  unicode: string;
  group?: number;
  order?: number;
  tags?: string[];
}

/** The form people type and Discord sends: no variation selector after a character that
 * is an emoji by default (👍, not 👍 + U+FE0F), so the same reaction is one reaction.
 * Text-default characters (❤️) keep theirs. */
export function canonicalEmoji(emoji: string): string {
  const bare = emoji.replace(/\uFE0F/g, "");
  return /^\p{Emoji_Presentation}$/u.test(bare) ? bare : emoji;
}

let loading: Promise<EmojiEntry[]> | null = null;
let loadedLang: string | null = null;

export function loadEmojis(lang: string): Promise<EmojiEntry[]> {
  if (loading && loadedLang === lang) return loading;
  loadedLang = lang;
  loading = (async () => {
    const [en, codes, de] = await Promise.all([
      import("emojibase-data/en/compact.json"),
      import("emojibase-data/en/shortcodes/github.json"),
      lang === "de" ? import("emojibase-data/de/compact.json") : Promise.resolve(null),
    ]);
    const shortcodes = codes.default as Record<string, string | string[]>;
    const german = new Map<string, CompactEmoji>(((de?.default ?? []) as CompactEmoji[]).map((e) => [e.hexcode, e]));
    return (en.default as CompactEmoji[])
      // Regional indicators and skin-tone swatches have no group: not emoji to pick alone.
      .filter((e) => e.group !== undefined && e.group !== 2)
      .map((e) => {
        const local = german.get(e.hexcode);
        const codes = shortcodes[e.hexcode] ?? [];
        return {
          emoji: canonicalEmoji(e.unicode),
          label: local?.label ?? e.label,
          shortcodes: Array.isArray(codes) ? codes : [codes],
          tags: [...(e.tags ?? []), ...(local?.tags ?? []), e.label, ...(local ? [local.label] : [])].map((t) => t.toLowerCase()),
          group: e.group ?? 0,
          order: e.order ?? 0,
        };
      })
      .sort((a, b) => a.order - b.order);
  })();
  // A failed load (a broken build) may be retried by the next picker.
  loading.catch(() => {
    loading = null;
  });
  return loading;
}

/** Best matches first: a shortcode or name starting with the query, then containing it,
 * then a keyword. */
export function searchEmojis(list: EmojiEntry[], query: string, limit = 160): EmojiEntry[] {
  const q = query.trim().toLowerCase().replace(/^:|:$/g, "");
  if (!q) return list.slice(0, limit);
  const rank = (e: EmojiEntry) => {
    if (e.shortcodes.some((c) => c === q)) return 0;
    if (e.shortcodes.some((c) => c.startsWith(q)) || e.label.toLowerCase().startsWith(q)) return 1;
    if (e.shortcodes.some((c) => c.includes(q)) || e.label.toLowerCase().includes(q)) return 2;
    if (e.tags.some((t) => t.startsWith(q))) return 3;
    return 4;
  };
  return list
    .map((e) => [rank(e), e] as const)
    .filter(([r]) => r < 4)
    .sort((a, b) => a[0] - b[0] || a[1].order - b[1].order)
    .slice(0, limit)
    .map(([, e]) => e);
}

export function shortcodeMap(list: EmojiEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of list) for (const c of e.shortcodes) if (!map.has(c)) map.set(c, e.emoji);
  return map;
}

/** ":thumbsup:" becomes 👍 as Discord does on send; unknown codes and anything inside
 * `code` stay as typed. */
export function replaceShortcodes(text: string, codes: Map<string, string>): string {
  return text
    .split(/(```[\s\S]*?```|`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/:([\w+-]{1,40}):/g, (all, code: string) => codes.get(code.toLowerCase()) ?? all)))
    .join("");
}
