import { useT } from "../i18n";
import { Menu, type MenuPosition } from "../components/Menu";

export const COMMON_EMOJIS = [
  "👍", "👎", "😂", "❤️", "🔥", "🎉", "😮", "😢",
  "😡", "👀", "✅", "❌", "🙏", "💯", "🤔", "😎",
  "🥳", "😅", "👋", "🚀", "🎮", "🏆", "💀", "🤝",
];

export function EmojiPicker({ at, onPick, onClose }: { at: MenuPosition; onPick: (emoji: string) => void; onClose: () => void }) {
  const t = useT();
  return (
    <Menu at={at} label={t("chat.emojiPicker")} onClose={onClose}>
      <div className="grid grid-cols-8 gap-0.5">
        {COMMON_EMOJIS.map((e) => (
          <button
            key={e}
            type="button"
            role="menuitem"
            aria-label={e}
            onClick={() => {
              onPick(e);
              onClose();
            }}
            className="flex h-8 w-8 items-center justify-center rounded text-xl hover:bg-hover"
          >
            {e}
          </button>
        ))}
      </div>
    </Menu>
  );
}
