import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useLang, useT } from "../i18n";
import { useApp, useChannelLoader, useOutbox, useTypingState } from "../state/AppProvider";
import { memberName, permissionsIn } from "../state/app";
import { mentionsMe } from "../state/readStates";
import { typingUsers } from "../state/typing";
import { commands, unwrap, type Channel, type Message, type ServerDetail } from "../lib/backend";
import { compareIds } from "../lib/ids";
import { has } from "../lib/permissions";
import { errorText } from "../lib/errors";
import { MessageItem, type MessageView } from "./MessageItem";
import { Composer, type ReplyTarget } from "./Composer";
import { ConfirmDialog } from "../layout/ServerHeader";
import { Icon } from "../components/Icon";

const GROUP_WINDOW_MS = 7 * 60 * 1000;

type View = MessageView & {
  source: Message | null;
  nonce: string | null;
  /** A new day starts with this message: the date to show above it. */
  dayDivider: string | null;
  /** The first message that was unread when the channel was opened. */
  unreadDivider: boolean;
};

export function ChatView({ detail, channel }: { detail: ServerDetail; channel: Channel }) {
  const t = useT();
  const lang = useLang();
  const { state, dispatch } = useApp();
  const outbox = useOutbox();
  const { channel: data, loadingOlder, loadOlder } = useChannelLoader(channel.id);
  const [reply, setReply] = useState<ReplyTarget | null>(null);
  const [editingId, setEditingId] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Message | null>(null);
  const [error, setError] = useState<string | null>(null);
  const me = state.user;
  // This channel's permissions from the server: overwrites and its category count.
  const perms = permissionsIn(detail, channel.id);
  const members = state.members[detail.server.id];
  const items = useMemo(() => data?.items ?? [], [data]);
  const pending = useMemo(() => outbox.entries.filter((e) => e.channelId === channel.id), [outbox.entries, channel.id]);
  const canSend = has(perms, "SEND_MESSAGES");
  // Where "New messages" goes: after what was read when the channel was opened.
  const [unreadMarker] = useState(() => {
    const rs = state.read[channel.id];
    return rs && rs.unread > 0 ? rs.lastReadId ?? "0" : null;
  });

  // This channel is on screen: its new messages count as read.
  useEffect(() => {
    dispatch({ type: "viewing", channelId: channel.id });
    return () => dispatch({ type: "viewing", channelId: null });
  }, [channel.id, dispatch]);

  // Ack the newest message whenever it is newer than what the server knows we read.
  const newest = items[items.length - 1];
  const lastRead = state.read[channel.id]?.lastReadId ?? null;
  const readState = state.read[channel.id];
  const acked = useRef<string | null>(null);
  useEffect(() => {
    // An unread count with nothing to show (history gone or not visible): just clear it.
    if (!newest && data?.fresh && (readState?.unread ?? 0) > 0) {
      dispatch({ type: "read", channelId: channel.id, lastReadId: readState?.lastReadId ?? "0" });
      return;
    }
    if (!newest || state.connection !== "live") return;
    const unreadHere = (readState?.unread ?? 0) > 0 || !lastRead || compareIds(newest.id, lastRead) > 0;
    if (!unreadHere || acked.current === newest.id) return;
    acked.current = newest.id;
    dispatch({ type: "read", channelId: channel.id, lastReadId: newest.id });
    commands.ack(channel.id, newest.id).catch(() => {});
  }, [newest, lastRead, readState, channel.id, dispatch, state.connection, data?.fresh]);

  const nameOf = useCallback(
    (id: string) => {
      if (id === me?.id) return memberName(me);
      const m = members?.find((x) => x.user_id === id);
      return m ? memberName(m) : t("chat.unknownUser");
    },
    [members, me, t],
  );
  const ctx = useMemo(
    () => ({
      userName: nameOf,
      roleName: (id: string) => detail.roles.find((r) => r.id === id)?.name ?? "role",
      myId: me?.id ?? null,
    }),
    [nameOf, detail.roles, me],
  );

  const views: View[] = useMemo(() => {
    const byId = new Map(items.map((m) => [m.id, m]));
    const out: View[] = [];
    let prev: { author: string; at: number } | null = null;
    let markerPlaced = false;
    const roleIds = detail.me.roles;
    for (const m of items) {
      const day = new Date(m.created_at).toDateString();
      const newDay = !prev || new Date(prev.at).toDateString() !== day;
      const firstUnread =
        !markerPlaced && unreadMarker !== null && compareIds(m.id, unreadMarker) > 0 && m.author_id !== me?.id;
      if (firstUnread) markerPlaced = true;
      const compact =
        !newDay && !firstUnread && !!prev && prev.author === m.author_id && m.created_at - prev.at < GROUP_WINDOW_MS && !m.reply_to;
      const replied = m.reply_to ? byId.get(m.reply_to) : undefined;
      out.push({
        key: m.id,
        authorId: m.author_id,
        authorName: nameOf(m.author_id),
        content: m.content,
        createdAt: m.created_at,
        editedAt: m.edited_at,
        pending: false,
        failed: null,
        mentionsMe: !!me && m.author_id !== me.id && mentionsMe(m, { id: me.id, roleIds }),
        reply: m.reply_to ? (replied ? { authorName: nameOf(replied.author_id), content: replied.content } : "deleted") : null,
        reactions: m.reactions,
        compact,
        source: m,
        nonce: null,
        dayDivider: newDay ? new Date(m.created_at).toLocaleDateString(lang, { dateStyle: "long" }) : null,
        unreadDivider: firstUnread,
      });
      prev = { author: m.author_id, at: m.created_at };
    }
    for (const e of pending) {
      if (!me) break;
      // The echo may already be in the list while the command result is on its way.
      if (items.some((m) => m.nonce === e.nonce)) continue;
      const replied = e.replyTo ? byId.get(e.replyTo) : undefined;
      out.push({
        key: e.nonce,
        authorId: me.id,
        authorName: memberName(me),
        content: e.content,
        createdAt: e.createdAt,
        editedAt: null,
        pending: true,
        failed: e.status === "failed" ? errorTextFor(e.error) : null,
        mentionsMe: false,
        reply: replied ? { authorName: nameOf(replied.author_id), content: replied.content } : null,
        reactions: [],
        compact: !!prev && prev.author === me.id && !e.replyTo,
        source: null,
        nonce: e.nonce,
        dayDivider: null,
        unreadDivider: false,
      });
      prev = { author: me.id, at: e.createdAt };
    }
    return out;
    function errorTextFor(code: string | null) {
      return code ? errorText(t, { code, message: "" }) : "";
    }
  }, [items, pending, me, nameOf, detail.me.roles, t, unreadMarker, lang]);

  // Scrolling: stay at the bottom for new messages; keep the view steady when older
  // messages are prepended; load older ones near the top.
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prevHeight = useRef(0);
  const prevFirst = useRef<string | null>(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = views[0]?.key ?? null;
    if (prevFirst.current && first !== prevFirst.current && !atBottom.current) {
      el.scrollTop += el.scrollHeight - prevHeight.current;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    prevFirst.current = first;
    prevHeight.current = el.scrollHeight;
  }, [views]);
  useEffect(() => {
    atBottom.current = true;
    prevFirst.current = null;
  }, [channel.id]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    prevHeight.current = el.scrollHeight;
    if (el.scrollTop < 200 && data?.hasMore && !loadingOlder && items.length) void loadOlder(items[0]);
  };

  const send = (content: string) => {
    atBottom.current = true;
    outbox.send(channel.id, content, reply?.id ?? null);
    setReply(null);
  };

  const editLast = () => {
    const mine = [...items].reverse().find((m) => m.author_id === me?.id);
    if (mine) setEditingId(mine.id);
  };

  return (
    <div className="flex min-h-0 min-w-0 flex-1 flex-col">
      <div
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-label={t("chat.messages", { channel: channel.name })}
        aria-live="polite"
        className="scroll-thin min-h-0 flex-1 overflow-y-auto pb-4"
      >
        {data && !data.hasMore && (
          <div className="px-4 pb-2 pt-8">
            <div className="mb-2 flex h-16 w-16 items-center justify-center rounded-full bg-s3 text-fg-strong">
              <Icon name="hash" size={40} />
            </div>
            <h2 className="text-3xl font-bold text-fg-strong">{t("chat.welcome", { channel: channel.name })}</h2>
            <p className="text-muted">{t("chat.welcomeSub", { channel: channel.name })}</p>
          </div>
        )}
        {loadingOlder && <p className="py-2 text-center text-sm text-muted">{t("chat.loadingMore")}</p>}
        {views.map((v) => {
          const src = v.source;
          const mine = v.authorId === me?.id;
          return (
            <Fragment key={v.key}>
            {v.dayDivider && (
              <div role="separator" aria-label={v.dayDivider} className="mx-4 mb-1 mt-5 flex items-center gap-2 text-xs font-semibold text-muted">
                <span className="h-px flex-1 bg-line" />
                {v.dayDivider}
                <span className="h-px flex-1 bg-line" />
              </div>
            )}
            {v.unreadDivider && (
              <div role="separator" aria-label={t("chat.newMessages")} className="relative mx-4 mt-3 h-px bg-danger">
                <span className="absolute -top-2 right-0 rounded bg-danger px-1 text-[10px] font-bold uppercase leading-4 text-white">
                  {t("chat.newMessages")}
                </span>
              </div>
            )}
            <MessageItem
              m={v}
              ctx={ctx}
              lang={lang}
              editing={editingId === v.key}
              setEditing={(on) => setEditingId(on ? v.key : null)}
              actions={{
                canEdit: !!src && mine,
                canDelete: !!src && (mine || has(perms, "MANAGE_MESSAGES")),
                canReact: has(perms, "ADD_REACTIONS"),
                onReply: () => setReply({ id: v.key, authorName: v.authorName }),
                onEdit: async (content) => {
                  try {
                    const updated = unwrap(await commands.editMessage(channel.id, v.key, content));
                    dispatch({ type: "messages", action: { type: "upsert", message: updated } });
                  } catch (e) {
                    setError(errorText(t, e));
                  }
                },
                onDelete: () => src && setDeleting(src),
                onReact: (emoji, add) => {
                  if (!src || !me) return;
                  dispatch({
                    type: "messages",
                    action: { type: "reaction", channelId: channel.id, messageId: src.id, emoji, add, mine: true },
                  });
                  const call = add ? commands.addReaction : commands.removeReaction;
                  call(channel.id, src.id, emoji)
                    .then(unwrap)
                    .catch((e: unknown) => {
                      // Undo the optimistic change.
                      dispatch({
                        type: "messages",
                        action: { type: "reaction", channelId: channel.id, messageId: src.id, emoji, add: !add, mine: true },
                      });
                      setError(errorText(t, e));
                    });
                },
                onRetry: () => v.nonce && outbox.retry(v.nonce),
                onDiscard: () => v.nonce && outbox.discard(v.nonce),
              }}
            />
            </Fragment>
          );
        })}
      </div>
      {error && (
        <div role="alert" className="mx-4 mb-2 flex items-center justify-between rounded bg-danger/15 px-3 py-1.5 text-sm text-danger">
          <span>{error}</span>
          <button type="button" aria-label={t("common.close")} onClick={() => setError(null)}>
            <Icon name="close" size={16} />
          </button>
        </div>
      )}
      <Composer
        channelId={channel.id}
        channelName={channel.name}
        disabled={!canSend}
        reply={reply}
        onCancelReply={() => setReply(null)}
        onSend={send}
        onEditLast={editLast}
        members={members ?? []}
      />
      <ChannelTyping channelId={channel.id} myId={me?.id} nameOf={nameOf} />
      {deleting && (
        <ConfirmDialog
          title={t("chat.delete")}
          body={t("chat.deleteConfirm")}
          confirm={t("common.delete")}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            unwrap(await commands.deleteMessage(channel.id, deleting.id));
            dispatch({ type: "messages", action: { type: "delete", channelId: channel.id, messageId: deleting.id } });
          }}
        />
      )}
    </div>
  );
}

/** Subscribes to typing on its own, so the typing clock does not re-render the message list. */
function ChannelTyping({ channelId, myId, nameOf }: { channelId: string; myId?: string; nameOf: (id: string) => string }) {
  const typing = useTypingState();
  return <TypingLine names={typingUsers(typing, channelId, Date.now(), myId).map(nameOf)} />;
}

export function TypingLine({ names }: { names: string[] }) {
  const t = useT();
  const text =
    names.length === 0
      ? ""
      : names.length === 1
        ? t("chat.typing.one", { a: names[0] })
        : names.length === 2
          ? t("chat.typing.two", { a: names[0], b: names[1] })
          : t("chat.typing.many");
  return (
    <div className="-mt-5 h-5 shrink-0 truncate px-4 text-xs text-fg" aria-live="polite" data-testid="typing-indicator">
      {text && (
        <>
          <span className="mr-1 inline-flex gap-0.5" aria-hidden="true">
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-fg" />
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-fg [animation-delay:150ms]" />
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-fg [animation-delay:300ms]" />
          </span>
          <strong className="font-semibold">{text}</strong>
        </>
      )}
    </div>
  );
}
