// Desktop notifications for mentions. The UI knows who we are on each server (roles for
// role mentions) and names for the text, so it composes the notification; the shell
// shows it only when notifications are on and the window is in the background.

import { useNavigate } from "react-router-dom";
import { commands, events, type GatewayEvent, type Message } from "../lib/backend";
import { useBackendEvent } from "../lib/useBackendEvent";
import { memberName, type AppState } from "./app";
import { mentionsMe } from "./readStates";
import { useApp } from "./AppProvider";

export interface MentionNotice {
  serverId: string;
  channelId: string;
  title: string;
  body: string;
}

/** Replaces `<@id>` and `<@&id>` with readable names, as the chat shows them. */
export function plainMentions(content: string, names: (id: string, role: boolean) => string | undefined): string {
  return content.replace(/<@(&?)(\d{1,20})>/g, (raw, amp: string, id: string) => {
    const name = names(id, amp === "&");
    return name ? `@${name}` : raw;
  });
}

/** The notification a new message deserves, or null if it does not mention us. */
export function mentionNotice(state: AppState, message: Message): MentionNotice | null {
  const me = state.user;
  if (!me || message.author_id === me.id) return null;
  const detail = Object.values(state.servers).find((d) => d.channels.some((c) => c.id === message.channel_id));
  if (!detail) return null;
  if (!mentionsMe(message, { id: me.id, roleIds: detail.me.roles })) return null;
  const channel = detail.channels.find((c) => c.id === message.channel_id);
  const members = state.members[detail.server.id] ?? [];
  const member = (id: string) => members.find((m) => m.user_id === id);
  const author = memberName(member(message.author_id)) || message.author_id;
  const body = plainMentions(message.content, (id, role) =>
    role ? detail.roles.find((r) => r.id === id)?.name : memberName(id === me.id ? detail.me : member(id)) || undefined,
  );
  return {
    serverId: detail.server.id,
    channelId: message.channel_id,
    title: `${author} (#${channel?.name ?? "?"}, ${detail.server.name})`,
    body,
  };
}

/** Raises notifications for mentions and opens the channel a notification was clicked for. */
export function useMentionNotifications(): void {
  const { state } = useApp();
  const navigate = useNavigate();
  useBackendEvent(events.serverEvent, ({ event }: { event: GatewayEvent }) => {
    if (event.type !== "message_create") return;
    const notice = mentionNotice(state, event.message);
    if (!notice) return;
    commands.notifyMention(notice.serverId, notice.channelId, notice.title, notice.body).catch(() => {
      // No notification service (a bare window manager): the badge still counts it.
    });
  });
  useBackendEvent(events.openChannel, (e) => navigate(`/channels/${e.server_id}/${e.channel_id}`));
}
