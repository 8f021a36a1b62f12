import { useEffect, useState } from "react";
import { Navigate, useNavigate, useParams } from "react-router-dom";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { useUi } from "../state/ui";
import { useVoice } from "../state/VoiceProvider";
import { sortChannels, visibleChannels } from "../state/app";
import { isUnread, mentionCount } from "../state/readStates";
import { useMentionNotifications } from "../state/notifications";
import { ServerList } from "./ServerList";
import { ServerHeader } from "./ServerHeader";
import { ChannelList } from "./ChannelList";
import { UserPanel, VoicePanel } from "./UserPanel";
import { MemberList } from "./MemberList";
import { ChatView } from "../chat/ChatView";
import { VoiceView } from "../voice/VoiceView";
import { SettingsOverlay } from "../settings/SettingsOverlay";
import { Icon } from "../components/Icon";
import { Button } from "../components/ui";
import { CreateServerDialog, JoinServerDialog } from "./ServerList";

export function ConnectionBanner() {
  const t = useT();
  const { state } = useApp();
  if (state.connection === "live") return null;
  const key = state.connection === "offline" ? "conn.offline" : state.connection === "reconnecting" ? "conn.reconnecting" : "conn.connecting";
  return (
    <div
      data-testid="connection-banner"
      data-state={state.connection}
      role="status"
      className={`shrink-0 px-4 py-1 text-center text-sm font-medium text-white ${state.connection === "offline" ? "bg-danger" : "bg-warn text-black"}`}
    >
      {t(key)}
    </div>
  );
}

/** On the home screen the channel column lists the servers, with their unread state. */
function HomeServerList() {
  const t = useT();
  const { state } = useApp();
  const navigate = useNavigate();
  return (
    <nav aria-label={t("nav.servers")} className="scroll-thin flex-1 overflow-y-auto px-2 py-3">
      <h2 className="px-2 pb-1 text-xs font-semibold uppercase tracking-wide text-muted">{t("nav.servers")}</h2>
      <ul className="flex flex-col gap-0.5">
        {state.serverOrder.map((id) => {
          const d = state.servers[id];
          if (!d) return null;
          const texts = d.channels.filter((c) => c.kind === "text");
          const unread = texts.some((c) => isUnread(state.read, c.id));
          const mentions = texts.reduce((n, c) => n + mentionCount(state.read, c.id), 0);
          return (
            <li key={id}>
              <button
                type="button"
                onClick={() => navigate(`/channels/${id}`)}
                className={`flex w-full items-center gap-3 rounded px-2 py-1.5 text-left hover:bg-hover ${unread ? "text-fg-strong" : "text-muted hover:text-fg"}`}
              >
                <span aria-hidden="true" className="flex h-8 w-8 shrink-0 items-center justify-center rounded-full bg-s2 text-xs font-semibold text-fg">
                  {d.server.name.slice(0, 2).toUpperCase()}
                </span>
                <span className={`flex-1 truncate ${unread ? "font-semibold" : "font-medium"}`}>{d.server.name}</span>
                {mentions > 0 && (
                  <span className="rounded-full bg-danger px-1.5 text-xs font-bold text-white">{mentions}</span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function Home() {
  const t = useT();
  const { state } = useApp();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<"create" | "join" | null>(null);
  return (
    <div className="flex flex-1 flex-col items-center justify-center gap-4 p-8 text-center">
      <div className="flex h-20 w-20 items-center justify-center rounded-3xl bg-accent text-white" aria-hidden="true">
        <Icon name="headphones" size={44} />
      </div>
      <h1 className="text-2xl font-bold text-fg-strong">{t("home.title")}</h1>
      <p className="max-w-md text-muted">{state.serverOrder.length ? t("home.body") : t("home.noServers")}</p>
      <div className="flex gap-2">
        <Button onClick={() => setDialog("create")}>{t("nav.createServer")}</Button>
        <Button variant="secondary" onClick={() => setDialog("join")}>
          {t("nav.joinServer")}
        </Button>
      </div>
      {dialog === "create" && <CreateServerDialog onClose={() => setDialog(null)} onDone={(id) => navigate(`/channels/${id}`)} />}
      {dialog === "join" && <JoinServerDialog onClose={() => setDialog(null)} onDone={(id) => navigate(`/channels/${id}`)} />}
    </div>
  );
}

export function AppShell() {
  const t = useT();
  const { state } = useApp();
  const ui = useUi();
  const voice = useVoice();
  const { serverId, channelId } = useParams();
  const detail = serverId ? state.servers[serverId] : undefined;
  const channel = detail && channelId ? detail.channels.find((c) => c.id === channelId) : undefined;
  useMentionNotifications();

  // Ctrl+, opens settings as in most desktop apps.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === ",") {
        e.preventDefault();
        ui.openSettings();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [ui]);

  // A server we left or were removed from: go home. A server without a channel in the
  // URL: open its first text channel.
  if (serverId && !detail && state.connection === "live" && Object.keys(state.servers).length > 0) return <Navigate to="/" replace />;
  if (detail && !channel) {
    const first = sortChannels(visibleChannels(detail)).find((c) => c.kind === "text");
    if (first && (!channelId || state.connection === "live")) return <Navigate to={`/channels/${detail.server.id}/${first.id}`} replace />;
  }

  return (
    <div data-testid="app-shell" className="flex h-full flex-col">
      <ConnectionBanner />
      {voice.shortcutProblem && voice.settings.input_mode === "push_to_talk" && (
        <div role="status" data-testid="shortcut-unavailable" className="shrink-0 bg-s3 px-4 py-1 text-center text-xs text-muted">
          {t("voice.shortcutUnavailable", { reason: voice.shortcutProblem })}
        </div>
      )}
      <div className="flex min-h-0 flex-1">
        <ServerList />
        <div className="flex w-60 shrink-0 flex-col bg-s1">
          {detail ? (
            <>
              <ServerHeader detail={detail} />
              <ChannelList detail={detail} activeChannelId={channel?.id ?? null} />
            </>
          ) : (
            <>
              <header className="flex h-12 shrink-0 items-center px-4 font-semibold text-fg-strong shadow-[0_1px_0_rgba(0,0,0,0.2)]">
                {t("nav.home")}
              </header>
              <HomeServerList />
            </>
          )}
          <VoicePanel />
          <UserPanel />
        </div>
        <main className="flex min-w-0 flex-1 flex-col bg-s2">
          {detail && channel ? (
            <>
              <header className="flex h-12 shrink-0 items-center gap-2 px-4 shadow-[0_1px_0_rgba(0,0,0,0.2)]">
                <Icon name={channel.kind === "voice" ? "speaker" : "hash"} className="text-muted" />
                <h1 className="font-semibold text-fg-strong">{channel.name}</h1>
                {channel.topic && (
                  <>
                    <span className="mx-2 h-6 w-px bg-line" aria-hidden="true" />
                    <p className="truncate text-sm text-muted">{channel.topic}</p>
                  </>
                )}
                {channel.kind === "voice" && channel.bitrate_kbps && (
                  <span className="text-xs text-muted">{t("voice.bitrate", { kbps: channel.bitrate_kbps })}</span>
                )}
                <div className="flex-1" />
                <button
                  type="button"
                  aria-label={t("members.toggle")}
                  aria-pressed={ui.showMembers}
                  title={t("members.toggle")}
                  onClick={ui.toggleMembers}
                  className={`rounded p-1 ${ui.showMembers ? "text-fg-strong" : "text-muted hover:text-fg"}`}
                >
                  <Icon name="users" size={22} />
                </button>
              </header>
              <div className="flex min-h-0 flex-1">
                {channel.kind === "voice" ? <VoiceView detail={detail} channel={channel} /> : <ChatView key={channel.id} detail={detail} channel={channel} />}
                {ui.showMembers && <MemberList detail={detail} />}
              </div>
            </>
          ) : detail ? (
            <div className="flex flex-1 items-center justify-center text-muted">{t("channel.select")}</div>
          ) : (
            <Home />
          )}
        </main>
      </div>
      {ui.settingsTab && <SettingsOverlay serverId={detail?.server.id ?? null} />}
    </div>
  );
}
