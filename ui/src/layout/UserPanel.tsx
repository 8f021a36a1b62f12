// Bottom of the channel column: the voice connection panel (while in a call) above the
// user panel with own name and the mute / deafen / settings buttons.

import { useState } from "react";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { useVoice } from "../state/VoiceProvider";
import { useUi } from "../state/ui";
import { memberName, permissionsIn } from "../state/app";
import { has } from "../lib/permissions";
import { Icon } from "../components/Icon";
import { Avatar } from "../components/Avatar";
import { Menu, MenuItem, menuPositionFrom, type MenuPosition } from "../components/Menu";
import { useAppSettings } from "../state/settings";
import { commands, unwrap, type PresenceStatus } from "../lib/backend";
import { errorText } from "../lib/errors";

function IconButton({
  label,
  onClick,
  active,
  danger,
  testId,
  pressed,
  children,
}: {
  label: string;
  onClick: () => void;
  active?: boolean;
  danger?: boolean;
  testId?: string;
  pressed?: boolean;
  children: React.ReactNode;
}) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={pressed}
      data-testid={testId}
      onClick={onClick}
      className={`flex h-8 w-8 items-center justify-center rounded hover:bg-hover ${
        danger ? "text-danger" : active ? "text-fg-strong" : "text-muted hover:text-fg"
      }`}
    >
      {children}
    </button>
  );
}

export function qualityOf(ping: number | null, loss: number | null): "good" | "ok" | "bad" | "unknown" {
  if (ping === null && loss === null) return "unknown";
  if ((loss ?? 0) >= 10 || (ping ?? 0) >= 300) return "bad";
  if ((loss ?? 0) >= 3 || (ping ?? 0) >= 150) return "ok";
  return "good";
}

export function VoicePanel() {
  const t = useT();
  const { state } = useApp();
  const voice = useVoice();
  const [error, setError] = useState<string | null>(null);
  const s = voice.status;
  if (s.state === "idle" || !s.channel_id) return null;
  const detail = s.server_id ? state.servers[s.server_id] : undefined;
  const channel = detail?.channels.find((c) => c.id === s.channel_id);
  // Without SPEAK in the channel the relay drops our audio, whatever the gate does.
  const canSpeak = !detail || has(permissionsIn(detail, s.channel_id), "SPEAK");
  const quality = qualityOf(s.ping_ms, s.loss_percent);
  const color =
    s.state !== "connected" ? "text-warn" : quality === "bad" ? "text-danger" : quality === "ok" ? "text-warn" : "text-ok";
  const details = [
    s.ping_ms !== null ? t("voice.ping", { ms: Math.round(s.ping_ms) }) : null,
    s.loss_percent !== null ? t("voice.loss", { pct: s.loss_percent.toFixed(1) }) : null,
    s.loss_up_percent !== null ? t("voice.lossUp", { pct: s.loss_up_percent.toFixed(1) }) : null,
    s.jitter_ms !== null ? t("voice.jitter", { ms: Math.round(s.jitter_ms) }) : null,
  ]
    .filter(Boolean)
    .join(" · ");

  return (
    <section
      data-testid="voice-panel"
      data-state={s.state}
      aria-label={t("voice.connected")}
      className="border-b border-line bg-s1 px-2 py-2"
    >
      <div className="flex items-center gap-1">
        <div className="min-w-0 flex-1" role="status" title={details || undefined}>
          <div className={`flex items-center gap-1 text-sm font-semibold ${color}`}>
            <Icon name="signal" size={16} className="shrink-0" />
            <span className="truncate">{t(`voice.state.${s.state}`)}</span>
          </div>
          <div className="truncate text-xs text-muted">
            {channel ? `${channel.name} / ${detail?.server.name ?? ""}` : ""}
          </div>
          {!canSpeak && (
            <div className="truncate text-[11px] text-warn" title={t("voice.noSpeak")}>
              {t("voice.noSpeakShort")}
            </div>
          )}
          {details && (
            <div className="truncate text-[11px] text-muted" aria-label={t("voice.quality")}>
              {details}
            </div>
          )}
        </div>
        <TransmitIndicator />
        <IconButton
          label={t("voice.leave")}
          testId="voice-leave"
          onClick={() => voice.leave().catch((e: unknown) => setError(errorText(t, e)))}
        >
          <Icon name="hangup" size={20} />
        </IconButton>
      </div>
      {error && (
        <p role="alert" className="text-xs text-danger">
          {error}
        </p>
      )}
    </section>
  );
}

export function TransmitIndicator({ testId = true }: { testId?: boolean }) {
  const t = useT();
  const voice = useVoice();
  const active = voice.transmitting;
  const ptt = voice.settings.input_mode === "push_to_talk";
  return (
    <span
      data-testid={testId ? "transmit-indicator" : undefined}
      data-active={active ? "true" : "false"}
      role="img"
      aria-label={active ? t("voice.transmitting") : t("voice.notTransmitting")}
      title={ptt && voice.settings.ptt_shortcut ? t("voice.ptt", { key: voice.settings.ptt_shortcut }) : undefined}
      className={`mx-1 flex h-6 items-center gap-1 rounded-full px-1.5 text-[10px] font-bold uppercase ${
        active ? "bg-ok/20 text-ok" : "text-muted"
      }`}
    >
      <span className={`h-2 w-2 rounded-full ${active ? "bg-ok" : "bg-[#80848e]"}`} />
      {ptt && "PTT"}
    </span>
  );
}

export function UserPanel() {
  const t = useT();
  const { state } = useApp();
  const voice = useVoice();
  const ui = useUi();
  const user = state.user;
  const { settings, update } = useAppSettings();
  const [statusMenu, setStatusMenu] = useState<MenuPosition | null>(null);
  const muted = voice.status.self_mute || voice.status.self_deaf;
  const deaf = voice.status.self_deaf;
  if (!user) return null;
  const name = memberName(user);
  const presence: PresenceStatus = state.connection === "live" ? (settings.presence ?? "online") : "offline";
  const choose = (status: PresenceStatus) => {
    setStatusMenu(null);
    void commands
      .setPresence(status)
      .then(unwrap)
      .then(() => update({ presence: status }))
      .catch(() => {});
  };
  return (
    <section aria-label={t("user.panel")} className="flex h-[52px] shrink-0 items-center gap-2 bg-s0/60 px-2">
      <button
        type="button"
        data-testid="presence-menu"
        data-presence={presence}
        aria-label={`${t("user.setStatus")}: ${t(`presence.${presence}`)}`}
        aria-haspopup="menu"
        className="rounded-full"
        onClick={(e) => setStatusMenu(menuPositionFrom(e))}
      >
        <Avatar id={user.id} name={name} size={32} presence={presence} speaking={voice.transmitting} />
      </button>
      {statusMenu && (
        <Menu at={statusMenu} label={t("user.setStatus")} onClose={() => setStatusMenu(null)}>
          {(["online", "idle", "do_not_disturb", "invisible"] as const).map((status) => (
            <MenuItem key={status} onSelect={() => choose(status)}>
              <span data-testid={`presence-${status}`} className="flex flex-col">
                <span>{t(`presence.${status}`)}</span>
                {status === "do_not_disturb" && <span className="text-xs opacity-70">{t("presence.dndHint")}</span>}
              </span>
              {(settings.presence ?? "online") === status && <span aria-hidden>✓</span>}
            </MenuItem>
          ))}
        </Menu>
      )}
      <div className="min-w-0 flex-1 leading-tight">
        <div className="truncate text-sm font-semibold text-fg-strong">{name}</div>
        <div className="truncate text-xs text-muted">{user.username}</div>
      </div>
      <IconButton
        label={muted ? t("voice.unmute") : t("voice.mute")}
        testId="toggle-mute"
        pressed={muted}
        danger={muted}
        onClick={() => {
          // Like Discord: unmuting while deafened undeafens too.
          if (deaf && muted) void voice.setDeaf(false).catch(() => {});
          void voice.setMute(!muted).catch(() => {});
        }}
      >
        <Icon name={muted ? "micOff" : "mic"} />
      </IconButton>
      <IconButton
        label={deaf ? t("voice.undeafen") : t("voice.deafen")}
        testId="toggle-deafen"
        pressed={deaf}
        danger={deaf}
        onClick={() => void voice.setDeaf(!deaf).catch(() => {})}
      >
        <Icon name={deaf ? "headphonesOff" : "headphones"} />
      </IconButton>
      <IconButton label={t("voice.settings")} testId="open-settings" onClick={() => ui.openSettings("account")}>
        <Icon name="gear" />
      </IconButton>
    </section>
  );
}
