import { useEffect, useMemo, useState } from "react";
import { useLang, useT } from "../i18n";
import { Menu, type MenuPosition } from "../components/Menu";
import { loadEmojis, searchEmojis, type EmojiEntry } from "./emojiData";

/** Shown first, before the full set has loaded and while nothing is searched. */
export const COMMON_EMOJIS = [
  "👍", "👎", "😂", "❤️", "🔥", "🎉", "😮", "😢",
  "😡", "👀", "✅", "❌", "🙏", "💯", "🤔", "😎",
  "🥳", "😅", "👋", "🚀", "🎮", "🏆", "💀", "🤝",
];

export function EmojiPicker({ at, onPick, onClose }: { at: MenuPosition; onPick: (emoji: string) => void; onClose: () => void }) {
  const t = useT();
  const lang = useLang();
  const [all, setAll] = useState<EmojiEntry[] | null>(null);
  const [query, setQuery] = useState("");
  useEffect(() => {
    let alive = true;
    loadEmojis(lang)
      .then((list) => alive && setAll(list))
      .catch(() => {});
    return () => {
      alive = false;
    };
  }, [lang]);
  const found = useMemo(() => (all ? searchEmojis(all, query, query ? 160 : all.length) : []), [all, query]);
  const pick = (emoji: string) => {
    onPick(emoji);
    onClose();
  };
  const cell = (emoji: string, label: string) => (
    <button
      key={emoji}
      type="button"
      role="menuitem"
      aria-label={label}
      title={label}
      onClick={() => pick(emoji)}
      className="emoji flex h-8 w-8 items-center justify-center rounded text-xl hover:bg-hover"
    >
      {emoji}
    </button>
  );
  return (
    <Menu at={at} label={t("chat.emojiPicker")} onClose={onClose}>
      <input
        type="search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && found[0]) {
            e.preventDefault();
            pick(found[0].emoji);
          }
        }}
        placeholder={t("chat.emojiSearch")}
        aria-label={t("chat.emojiSearch")}
        data-testid="emoji-search"
        autoFocus
        className="mb-1.5 w-[288px] rounded bg-s2 px-2 py-1.5 text-sm text-fg outline-none placeholder:text-muted"
      />
      <div className="max-h-[280px] w-[288px] overflow-y-auto">
        {!query && (
          <div className="grid grid-cols-9 gap-0.5 border-b border-line pb-1.5" aria-label={t("chat.emojiFrequent")}>
            {COMMON_EMOJIS.map((e) => cell(e, e))}
          </div>
        )}
        {all === null && <p className="p-2 text-xs text-muted">{t("common.loading")}</p>}
        {all !== null && found.length === 0 && <p className="p-2 text-xs text-muted">{t("chat.emojiNone")}</p>}
        <div className="grid grid-cols-9 gap-0.5 pt-1.5">
          {found.map((e) => cell(e.emoji, e.shortcodes[0] ? `${e.label} :${e.shortcodes[0]}:` : e.label))}
        </div>
      </div>
    </Menu>
  );
}
