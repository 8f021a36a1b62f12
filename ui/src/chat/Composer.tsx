import { useRef, useState, type KeyboardEvent } from "react";
import { useT } from "../i18n";
import { commands } from "../lib/backend";
import { shouldSendTyping } from "../state/typing";
import { Icon } from "../components/Icon";

export interface ReplyTarget {
  id: string;
  authorName: string;
}

/** Enter sends, Shift+Enter makes a new line; typing notifications are throttled. */
export function Composer({
  channelId,
  channelName,
  disabled,
  reply,
  onCancelReply,
  onSend,
  onEditLast,
}: {
  channelId: string;
  channelName: string;
  disabled: boolean;
  reply: ReplyTarget | null;
  onCancelReply: () => void;
  onSend: (content: string) => void;
  onEditLast: () => void;
}) {
  const t = useT();
  const [text, setText] = useState("");
  const lastTyping = useRef<number | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      const content = text.trim();
      if (!content) return;
      onSend(content);
      setText("");
      lastTyping.current = null;
    } else if (e.key === "Escape" && reply) {
      onCancelReply();
    } else if (e.key === "ArrowUp" && !text) {
      e.preventDefault();
      onEditLast();
    }
  };

  const onChange = (value: string) => {
    setText(value);
    const now = Date.now();
    if (value && shouldSendTyping(lastTyping.current, now)) {
      lastTyping.current = now;
      commands.startTyping(channelId).catch(() => {});
    }
  };

  return (
    <div className="shrink-0 px-4 pb-6">
      {reply && (
        <div className="flex items-center justify-between rounded-t-lg bg-s1 px-4 py-2 text-sm text-muted">
          <span>{t("chat.replyingTo", { name: reply.authorName })}</span>
          <button type="button" onClick={onCancelReply} aria-label={t("chat.cancelReply")} className="rounded-full p-0.5 hover:text-fg">
            <Icon name="close" size={16} />
          </button>
        </div>
      )}
      <div className={`flex items-end bg-s3 px-4 ${reply ? "rounded-b-lg" : "rounded-lg"}`}>
        <textarea
          ref={ref}
          data-testid="composer"
          aria-label={t("chat.composer", { channel: channelName })}
          placeholder={disabled ? t("chat.noPermission") : t("chat.placeholder", { channel: channelName })}
          disabled={disabled}
          rows={1}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={onKeyDown}
          maxLength={4000}
          className="max-h-[50vh] min-h-[44px] flex-1 resize-none bg-transparent py-2.5 text-fg outline-none placeholder:text-muted disabled:cursor-not-allowed"
          style={{ height: `${Math.min(12, text.split("\n").length) * 22 + 22}px` }}
        />
      </div>
    </div>
  );
}
