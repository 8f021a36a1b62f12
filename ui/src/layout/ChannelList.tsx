import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { useUi } from "../state/ui";
import { useVoice } from "../state/VoiceProvider";
import { sortChannels, memberName, permissionsIn, visibleChannels } from "../state/app";
import { isUnread, mentionCount } from "../state/readStates";
import { usersInChannel } from "../state/voiceStates";
import { commands, unwrap, type Channel, type ServerDetail, type VoiceState } from "../lib/backend";
import { Icon } from "../components/Icon";
import { Avatar } from "../components/Avatar";
import { Menu, MenuItem, MenuSeparator, menuPositionFrom, type MenuPosition } from "../components/Menu";
import { hasParticipantMenu, ParticipantMenu } from "../voice/ParticipantMenu";
import { errorText } from "../lib/errors";
import { has } from "../lib/permissions";

interface Group {
  category: Channel | null;
  channels: Channel[];
}

/** Channels under their categories, Discord style: uncategorized first, then each category. */
export function groupChannels(channels: Channel[]): Group[] {
  const sorted = sortChannels(channels);
  const cats = sorted.filter((c) => c.kind === "category");
  const catIds = new Set(cats.map((c) => c.id));
  const groups: Group[] = [
    { category: null, channels: sorted.filter((c) => c.kind !== "category" && (!c.parent_id || !catIds.has(c.parent_id))) },
  ];
  for (const cat of cats) groups.push({ category: cat, channels: sorted.filter((c) => c.kind !== "category" && c.parent_id === cat.id) });
  // Text channels before voice channels inside a group, as Discord shows them.
  for (const g of groups) g.channels.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "text" ? -1 : 1));
  return groups;
}

export function ChannelList({ detail, activeChannelId }: { detail: ServerDetail; activeChannelId: string | null }) {
  const t = useT();
  const visible = useMemo(() => visibleChannels(detail), [detail]);
  const groups = useMemo(() => groupChannels(visible), [visible]);
  const [collapsed, setCollapsed] = useState<Record<string, boolean>>({});

  if (!visible.length) return <p className="p-4 text-sm text-muted">{t("channel.none")}</p>;

  return (
    <nav aria-label={detail.server.name} className="scroll-thin flex-1 overflow-y-auto px-2 py-3">
      {groups.map((g) => {
        if (!g.category && !g.channels.length) return null;
        const key = g.category?.id ?? "_";
        const isCollapsed = !!collapsed[key];
        return (
          <section key={key} className="mb-4">
            {g.category && (
              <h2>
                <button
                  type="button"
                  aria-expanded={!isCollapsed}
                  aria-label={t("channel.collapse", { name: g.category.name })}
                  onClick={() => setCollapsed((c) => ({ ...c, [key]: !c[key] }))}
                  className="flex w-full items-center gap-0.5 px-0.5 text-xs font-semibold uppercase tracking-wide text-muted hover:text-fg"
                >
                  <Icon name="chevron" size={14} className={isCollapsed ? "-rotate-90" : ""} />
                  {g.category.name}
                </button>
              </h2>
            )}
            <ul className="mt-1 flex flex-col gap-0.5">
              {g.channels.map((c) =>
                isCollapsed && c.id !== activeChannelId ? null : (
                  <li key={c.id}>
                    {c.kind === "voice" ? (
                      <VoiceChannelItem channel={c} active={c.id === activeChannelId} />
                    ) : (
                      <TextChannelItem channel={c} active={c.id === activeChannelId} />
                    )}
                  </li>
                ),
              )}
            </ul>
          </section>
        );
      })}
    </nav>
  );
}

function TextChannelItem({ channel, active }: { channel: Channel; active: boolean }) {
  const t = useT();
  const { state, dispatch } = useApp();
  const ui = useUi();
  const navigate = useNavigate();
  const [menu, setMenu] = useState<MenuPosition | null>(null);
  const canManage = has(permissionsIn(state.servers[channel.server_id], channel.id), "MANAGE_CHANNELS");
  const markRead = async () => {
    setMenu(null);
    const [newest] = unwrap(await commands.history(channel.id, null, 1));
    if (!newest) return;
    unwrap(await commands.ack(channel.id, newest.id));
    dispatch({ type: "read", channelId: channel.id, lastReadId: newest.id });
  };
  const unread = isUnread(state.read, channel.id);
  const mentions = mentionCount(state.read, channel.id);
  const label = [t("channel.text", { name: channel.name }), unread ? t("channel.unread") : "", mentions ? t("channel.mentions", { count: mentions }) : ""]
    .filter(Boolean)
    .join(", ");
  return (
    <>
    <button
      type="button"
      data-testid={`channel-${channel.id}`}
      aria-label={label}
      aria-current={active ? "page" : undefined}
      onClick={() => navigate(`/channels/${channel.server_id}/${channel.id}`)}
      onContextMenu={(e) => {
        e.preventDefault();
        setMenu(menuPositionFrom(e));
      }}
      className={`group relative flex w-full items-center gap-1.5 rounded px-2 py-1.5 text-left ${
        active ? "bg-active text-fg-strong" : unread ? "text-fg-strong hover:bg-hover" : "text-muted hover:bg-hover hover:text-fg"
      }`}
    >
      {unread && !active && <span aria-hidden="true" className="absolute -left-2 h-2 w-1 rounded-r bg-fg-strong" />}
      <Icon name="hash" size={20} className="shrink-0 opacity-70" />
      <span className={`flex-1 truncate ${unread ? "font-semibold" : "font-medium"}`}>{channel.name}</span>
      {mentions > 0 && (
        <span aria-hidden="true" className="rounded-full bg-danger px-1.5 text-xs font-bold text-white">
          {mentions}
        </span>
      )}
    </button>
      {menu && (
        <Menu at={menu} label={t("channel.menu", { name: channel.name })} onClose={() => setMenu(null)}>
          <MenuItem disabled={!unread && !mentions} onSelect={() => void markRead().catch(() => {})}>
            {t("channel.markRead")}
          </MenuItem>
          {canManage && (
            <MenuItem onSelect={() => (setMenu(null), navigate(`/channels/${channel.server_id}/${channel.id}`), ui.openSettings("admin"))}>
              {t("channel.edit")}
            </MenuItem>
          )}
          <MenuSeparator />
          <MenuItem onSelect={() => (setMenu(null), void navigator.clipboard?.writeText(channel.id))}>{t("common.copyId")}</MenuItem>
        </Menu>
      )}
    </>
  );
}

function VoiceChannelItem({ channel, active }: { channel: Channel; active: boolean }) {
  const t = useT();
  const { state } = useApp();
  const voice = useVoice();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [menu, setMenu] = useState<{ at: MenuPosition; state: VoiceState; name: string } | null>(null);
  const people = usersInChannel(state.voice, channel.id);
  const members = state.members[channel.server_id] ?? [];
  const nameOf = (id: string) =>
    id === state.user?.id ? memberName(state.user) : memberName(members.find((m) => m.user_id === id)) || t("chat.unknownUser");
  const perms = permissionsIn(state.servers[channel.server_id], channel.id);
  const canConnect = has(perms, "CONNECT");
  const openMenu = (e: React.MouseEvent<HTMLElement>, p: VoiceState, name: string) => {
    if (hasParticipantMenu(p.user_id === state.user?.id, perms)) setMenu({ at: menuPositionFrom(e), state: p, name });
  };
  const connectedHere = voice.status.channel_id === channel.id && voice.status.state !== "idle";
  const limit = channel.user_limit ?? 0;

  const join = async () => {
    setError(null);
    navigate(`/channels/${channel.server_id}/${channel.id}`);
    // Without CONNECT the channel still opens (to see who is there), without a doomed join.
    if (connectedHere || !canConnect) return;
    try {
      await voice.join(channel.id);
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  return (
    <>
      <button
        type="button"
        data-testid={`channel-${channel.id}`}
        aria-label={t("channel.voice", { name: channel.name }) + (canConnect ? "" : `, ${t("voice.noConnect")}`)}
        aria-current={active ? "page" : undefined}
        onClick={() => void join()}
        className={`flex w-full items-center gap-1.5 rounded px-2 py-1.5 text-left ${
          active || connectedHere ? "bg-active text-fg-strong" : "text-muted hover:bg-hover hover:text-fg"
        }`}
      >
        <Icon name="speaker" size={20} className="shrink-0 opacity-70" />
        <span className="flex-1 truncate font-medium">{channel.name}</span>
        {!canConnect && (
          <span title={t("voice.noConnect")} className="text-muted">
            <Icon name="lock" size={14} />
          </span>
        )}
        {limit > 0 && (
          <span className="rounded bg-s0 px-1 text-xs text-muted">{t("channel.userLimit", { count: people.length, limit })}</span>
        )}
      </button>
      {error && (
        <p role="alert" className="px-2 py-1 text-xs text-danger">
          {error}
        </p>
      )}
      {people.length > 0 && (
        <ul className="mb-1 ml-7 flex flex-col gap-0.5" aria-label={t("voice.participants")}>
          {people.map((p) => {
            const name = nameOf(p.user_id);
            const speaking = !!state.voice.speaking[p.user_id];
            return (
              <li key={p.user_id}>
                <button
                  type="button"
                  onClick={(e) => openMenu(e, p, name)}
                  onContextMenu={(e) => {
                    e.preventDefault();
                    openMenu(e, p, name);
                  }}
                  aria-label={`${t("voice.userMenu", { name })}${speaking ? `, ${t("voice.speaking")}` : ""}`}
                  className="flex w-full items-center gap-2 rounded px-1.5 py-1 text-left text-sm text-muted hover:bg-hover hover:text-fg"
                >
                  <Avatar id={p.user_id} name={name} size={24} speaking={speaking} />
                  <span className={`flex-1 truncate ${speaking ? "text-fg-strong" : ""}`}>{name}</span>
                  <VoiceFlags state={p} />
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {menu && <ParticipantMenu at={menu.at} state={menu.state} name={menu.name} onClose={() => setMenu(null)} />}
    </>
  );
}

export function VoiceFlags({ state }: { state: VoiceState }) {
  const t = useT();
  return (
    <span className="flex items-center gap-0.5">
      {(state.mute || state.self_mute) && (
        <span title={state.mute ? t("voice.serverMuted") : t("voice.selfMuted")} className={state.mute ? "text-danger" : ""}>
          <Icon name="micOff" size={16} />
          <span className="sr-only">{state.mute ? t("voice.serverMuted") : t("voice.selfMuted")}</span>
        </span>
      )}
      {(state.deaf || state.self_deaf) && (
        <span title={state.deaf ? t("voice.serverDeafened") : t("voice.selfDeafened")} className={state.deaf ? "text-danger" : ""}>
          <Icon name="headphonesOff" size={16} />
          <span className="sr-only">{state.deaf ? t("voice.serverDeafened") : t("voice.selfDeafened")}</span>
        </span>
      )}
    </span>
  );
}
