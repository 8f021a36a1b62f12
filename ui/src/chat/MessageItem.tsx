import { memo, useState, type KeyboardEvent } from "react";
import { useT } from "../i18n";
import type { Message } from "../lib/backend";
import { Avatar } from "../components/Avatar";
import { Icon } from "../components/Icon";
import { Menu, MenuItem, MenuSeparator, menuPositionFrom, type MenuPosition } from "../components/Menu";
import { Markdown, type RenderContext } from "./markdown";
import { EmojiPicker } from "./EmojiPicker";

export interface MessageView {
  /** The message ID, or the nonce of a pending one. */
  key: string;
  authorId: string;
  authorName: string;
  content: string;
  createdAt: number;
  editedAt: number | null;
  pending: boolean;
  failed: string | null;
  mentionsMe: boolean;
  reply: { authorName: string; content: string } | "deleted" | null;
  reactions: Message["reactions"];
  /** Continues the previous message of the same author: no header. */
  compact: boolean;
}

export interface MessageActions {
  canEdit: boolean;
  canDelete: boolean;
  /** ADD_REACTIONS in the channel: the picker, and joining others' reactions. */
  canReact: boolean;
  onReply: () => void;
  onEdit: (content: string) => Promise<void>;
  onDelete: () => void;
  onReact: (emoji: string, add: boolean) => void;
  onRetry: () => void;
  onDiscard: () => void;
}

export function formatTime(ms: number, lang: string, today: (time: string) => string): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return today(time);
  return `${d.toLocaleDateString(lang)} ${time}`;
}

export const MessageItem = memo(function MessageItem({
  m,
  actions,
  ctx,
  lang,
  editing,
  setEditing,
}: {
  m: MessageView;
  actions: MessageActions;
  ctx: RenderContext;
  lang: string;
  editing: boolean;
  setEditing: (v: boolean) => void;
}) {
  const t = useT();
  const [picker, setPicker] = useState<MenuPosition | null>(null);
  const [menu, setMenu] = useState<MenuPosition | null>(null);
  const choose = (action: () => void) => () => {
    setMenu(null);
    action();
  };
  const [draft, setDraft] = useState(m.content);

  const onEditKey = async (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Escape") {
      e.preventDefault();
      setEditing(false);
    } else if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      const c = draft.trim();
      if (c && c !== m.content) await actions.onEdit(c);
      setEditing(false);
    }
  };

  return (
    <article
      data-testid="message"
      data-message-id={m.key}
      data-pending={m.pending ? "true" : "false"}
      aria-label={`${m.authorName}: ${m.content}`}
      tabIndex={-1}
      onContextMenu={(e) => {
        // Editing: the text field's own menu (cut, copy, paste) stays.
        if (m.pending || editing) return;
        e.preventDefault();
        setMenu(menuPositionFrom(e));
      }}
      className={`group relative flex gap-4 px-4 ${m.compact ? "py-0.5" : "mt-4 py-0.5"} ${
        m.mentionsMe ? "border-l-2 border-warn bg-mention" : "border-l-2 border-transparent hover:bg-black/5 dark:hover:bg-black/10"
      } ${m.pending ? "opacity-60" : ""}`}
    >
      <div className="w-10 shrink-0">
        {!m.compact && <Avatar id={m.authorId} name={m.authorName} size={40} />}
      </div>
      <div className="min-w-0 flex-1">
        {m.reply && (
          <div className="mb-0.5 flex items-center gap-1 truncate text-sm text-muted">
            <Icon name="reply" size={14} className="-scale-x-100" />
            {m.reply === "deleted" ? (
              <em>{t("chat.originalDeleted")}</em>
            ) : (
              <>
                <span className="font-semibold text-fg">@{m.reply.authorName}</span>
                <span className="truncate">{m.reply.content}</span>
              </>
            )}
          </div>
        )}
        {!m.compact && (
          <div className="flex items-baseline gap-2">
            <span className="font-medium text-fg-strong">{m.authorName}</span>
            <time className="text-xs text-muted" dateTime={new Date(m.createdAt).toISOString()}>
              {formatTime(m.createdAt, lang, (time) => t("chat.today", { time }))}
            </time>
          </div>
        )}
        {editing ? (
          <div>
            <textarea
              autoFocus
              aria-label={t("chat.editLabel")}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => void onEditKey(e)}
              className="mt-1 w-full resize-none rounded bg-s3 p-2 text-fg outline-none"
              rows={Math.min(10, draft.split("\n").length + 1)}
            />
            <p className="text-xs text-muted">{t("chat.editing")}</p>
          </div>
        ) : (
          <div className="whitespace-pre-wrap break-words leading-[1.375rem] text-fg">
            <Markdown content={m.content} ctx={ctx} />
            {m.editedAt && <span className="ml-1 text-[10px] text-muted">{t("chat.edited")}</span>}
          </div>
        )}
        {m.failed && (
          <div role="alert" className="mt-0.5 flex items-center gap-2 text-xs text-danger">
            <span>{t("chat.failed")} {m.failed}</span>
            <button type="button" onClick={actions.onRetry} className="underline">
              {t("common.retry")}
            </button>
            <button type="button" onClick={actions.onDiscard} className="underline">
              {t("chat.discard")}
            </button>
          </div>
        )}
        {m.pending && !m.failed && <span className="sr-only">{t("chat.pending")}</span>}
        {(m.reactions ?? []).length > 0 && (
          <div className="mt-1 flex flex-wrap gap-1">
            {(m.reactions ?? []).map((r) => (
              <button
                key={r.emoji}
                type="button"
                aria-pressed={r.me}
                aria-label={t("chat.reaction", { emoji: r.emoji, count: r.count })}
                // Without ADD_REACTIONS one's own reaction can still be taken back.
                disabled={(!actions.canReact && !r.me) || m.pending}
                onClick={() => actions.onReact(r.emoji, !r.me)}
                className={`flex items-center gap-1 rounded-lg border px-1.5 py-0.5 text-sm ${
                  r.me ? "border-accent bg-accent/20" : "border-transparent bg-s1 hover:border-line"
                }`}
              >
                <span>{r.emoji}</span>
                <span className="text-xs font-semibold">{r.count}</span>
              </button>
            ))}
          </div>
        )}
      </div>
      {!m.pending && !editing && (
        <div
          role="toolbar"
          aria-label={t("chat.actions")}
          className="absolute -top-4 right-4 flex rounded border border-line bg-s2 opacity-0 shadow group-hover:opacity-100 group-has-[:focus-visible]:opacity-100"
        >
          {actions.canReact && (
            <ToolButton label={t("chat.addReaction")} onClick={(e) => setPicker(menuPositionFrom({ currentTarget: e.currentTarget }))}>
              <Icon name="smile" size={18} />
            </ToolButton>
          )}
          <ToolButton label={t("chat.reply")} onClick={actions.onReply}>
            <Icon name="reply" size={18} />
          </ToolButton>
          {actions.canEdit && (
            <ToolButton label={t("common.edit")} onClick={() => (setDraft(m.content), setEditing(true))}>
              <Icon name="edit" size={18} />
            </ToolButton>
          )}
          {actions.canDelete && (
            <ToolButton label={t("chat.delete")} onClick={actions.onDelete} danger>
              <Icon name="trash" size={18} />
            </ToolButton>
          )}
        </div>
      )}
      {menu && (
        <Menu at={menu} label={t("chat.messageMenu")} onClose={() => setMenu(null)}>
          {actions.canReact && <MenuItem onSelect={choose(() => setPicker(menu))}>{t("chat.addReaction")}</MenuItem>}
          <MenuItem onSelect={choose(actions.onReply)}>{t("chat.reply")}</MenuItem>
          {actions.canEdit && <MenuItem onSelect={choose(() => (setDraft(m.content), setEditing(true)))}>{t("common.edit")}</MenuItem>}
          <MenuItem onSelect={choose(() => void navigator.clipboard?.writeText(m.content))}>{t("chat.copyText")}</MenuItem>
          <MenuSeparator />
          <MenuItem onSelect={choose(() => void navigator.clipboard?.writeText(m.key))}>{t("common.copyId")}</MenuItem>
          {actions.canDelete && (
            <MenuItem danger onSelect={choose(actions.onDelete)}>
              {t("chat.delete")}
            </MenuItem>
          )}
        </Menu>
      )}
      {picker && (
        <EmojiPicker
          at={{ x: picker.x - 240, y: picker.y }}
          onPick={(emoji) => {
            const mine = (m.reactions ?? []).find((r) => r.emoji === emoji)?.me ?? false;
            if (!mine) actions.onReact(emoji, true);
          }}
          onClose={() => setPicker(null)}
        />
      )}
    </article>
  );
});

function ToolButton({
  label,
  onClick,
  danger,
  children,
}: {
  label: string;
  onClick: (e: React.MouseEvent<HTMLButtonElement>) => void;
  danger?: boolean;
  children: React.ReactNode;
}) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      onClick={onClick}
      className={`p-1.5 hover:bg-hover ${danger ? "text-danger" : "text-muted hover:text-fg"}`}
    >
      {children}
    </button>
  );
}
