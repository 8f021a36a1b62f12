import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useLang, useT } from "../i18n";
import { commands, type Member } from "../lib/backend";
import { shouldSendTyping } from "../state/typing";
import { memberName } from "../state/app";
import { Icon } from "../components/Icon";
import { Avatar } from "../components/Avatar";
import { encodeMentions, insertMention, mentionMatches, mentionQuery } from "./mentions";
import { loadEmojis, replaceShortcodes, shortcodeMap } from "./emojiData";

/** The server's limit (`MAX_MESSAGE_CHARS`, in characters after trimming). */
export const MAX_MESSAGE_CHARS = 4000;
/** The counter shows from this many characters left, as Discord's does near its limit. */
const COUNTER_FROM = 200;

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
  members,
}: {
  channelId: string;
  channelName: string;
  disabled: boolean;
  reply: ReplyTarget | null;
  onCancelReply: () => void;
  onSend: (content: string) => void;
  onEditLast: () => void;
  members: Member[];
}) {
  const t = useT();
  const lang = useLang();
  const [text, setText] = useState("");
  // :shortcodes: become emoji on send once the emoji data is in (a moment after start).
  const [codes, setCodes] = useState<Map<string, string>>(() => new Map());
  useEffect(() => {
    let alive = true;
    loadEmojis(lang)
      .then((list) => alive && setCodes(shortcodeMap(list)))
      .catch(() => {});
    return () => {
      alive = false;
    };
  }, [lang]);
  const [caret, setCaret] = useState(0);
  const [selected, setSelected] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  const lastTyping = useRef<number | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const listId = useId();

  // Reply means "now type": the composer takes the focus, as in Discord.
  const replyId = reply?.id;
  useEffect(() => {
    if (replyId) ref.current?.focus();
  }, [replyId]);

  const query = mentionQuery(text, caret);
  const matches = useMemo(
    () => (query === null || dismissed ? [] : mentionMatches(members, query)),
    [query, dismissed, members],
  );
  const active = matches.length ? Math.min(selected, matches.length - 1) : -1;
  // Counted as sent: mentions go out as `<@id>`, longer than the name typed.
  const outgoing = (content: string) => encodeMentions(replaceShortcodes(content, codes), members);
  const length = useMemo(
    () => [...encodeMentions(replaceShortcodes(text.trim(), codes), members)].length,
    [text, members, codes],
  );
  const left = MAX_MESSAGE_CHARS - length;

  const pick = (m: Member) => {
    const next = insertMention(text, caret, m.username);
    setText(next.text);
    setCaret(next.caret);
    requestAnimationFrame(() => ref.current?.setSelectionRange(next.caret, next.caret));
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (matches.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const d = e.key === "ArrowDown" ? 1 : matches.length - 1;
        setSelected((active + d) % matches.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(matches[active]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setDismissed(true);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      const content = text.trim();
      if (!content) return;
      // Refused, not cut: the text stays for the user to shorten or split.
      if (left < 0) return;
      onSend(outgoing(content));
      setText("");
      lastTyping.current = null;
    } else if (e.key === "Escape" && reply) {
      onCancelReply();
    } else if (e.key === "ArrowUp" && !text) {
      e.preventDefault();
      onEditLast();
    }
  };

  const onChange = (value: string, caretAt: number) => {
    setText(value);
    setCaret(caretAt);
    setSelected(0);
    setDismissed(false);
    const now = Date.now();
    if (value && shouldSendTyping(lastTyping.current, now)) {
      lastTyping.current = now;
      commands.startTyping(channelId).catch(() => {});
    }
  };

  return (
    <div className="relative shrink-0 px-4 pb-6">
      {matches.length > 0 && (
        <ul
          id={listId}
          role="listbox"
          aria-label={t("chat.mentionList")}
          className="absolute bottom-full left-4 right-4 mb-1 rounded-lg bg-s1 p-1.5 shadow-xl"
        >
          {matches.map((m, i) => (
            <li
              key={m.user_id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(m);
              }}
              className={`flex cursor-pointer items-center gap-2 rounded px-2 py-1.5 ${i === active ? "bg-active" : "hover:bg-hover"}`}
            >
              <Avatar id={m.user_id} name={memberName(m)} size={24} />
              <span className="font-medium text-fg-strong">{memberName(m)}</span>
              <span className="text-sm text-muted">{m.username}</span>
            </li>
          ))}
        </ul>
      )}
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
          onChange={(e) => onChange(e.target.value, e.target.selectionStart ?? e.target.value.length)}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onKeyDown={onKeyDown}
          aria-autocomplete="list"
          aria-controls={matches.length ? listId : undefined}
          aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
          aria-invalid={left < 0 ? true : undefined}
          aria-describedby={left < COUNTER_FROM ? `${listId}-count` : undefined}
          className="max-h-[50vh] min-h-[44px] flex-1 resize-none bg-transparent py-2.5 text-fg outline-none placeholder:text-muted focus-visible:outline-none disabled:cursor-not-allowed"
          style={{ height: `${Math.min(12, text.split("\n").length) * 22 + 22}px` }}
        />
        {left < COUNTER_FROM && (
          <span
            id={`${listId}-count`}
            data-testid="composer-count"
            aria-live="polite"
            className={`shrink-0 self-center pl-2 text-xs tabular-nums ${left < 0 ? "font-semibold text-danger" : "text-muted"}`}
          >
            {left}
          </span>
        )}
      </div>
      {left < 0 && (
        <p role="alert" className="mt-1 text-xs text-danger">
          {t("chat.tooLong", { count: length, max: MAX_MESSAGE_CHARS })}
        </p>
      )}
    </div>
  );
}
