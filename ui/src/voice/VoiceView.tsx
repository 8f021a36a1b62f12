// The main area for a voice channel: participant tiles with speaking rings, and the
// call controls (join, mute, deafen, leave, transmit and connection quality).

import { useState } from "react";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { useVoice } from "../state/VoiceProvider";
import { memberName, permissionsIn } from "../state/app";
import { has } from "../lib/permissions";
import { usersInChannel } from "../state/voiceStates";
import type { Channel, ServerDetail, VoiceState } from "../lib/backend";
import { Avatar } from "../components/Avatar";
import { Icon } from "../components/Icon";
import { menuPositionFrom, type MenuPosition } from "../components/Menu";
import { Button } from "../components/ui";
import { hasParticipantMenu, ParticipantMenu } from "./ParticipantMenu";
import { VoiceFlags } from "../layout/ChannelList";
import { TransmitIndicator } from "../layout/UserPanel";
import { errorText } from "../lib/errors";
import { useMembers } from "../layout/MemberList";

export function VoiceView({ detail, channel }: { detail: ServerDetail; channel: Channel }) {
  const t = useT();
  const { state } = useApp();
  const voice = useVoice();
  const members = useMembers(detail.server.id) ?? [];
  const [menu, setMenu] = useState<{ at: MenuPosition; state: VoiceState; name: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const people = usersInChannel(state.voice, channel.id);
  const here = voice.status.channel_id === channel.id && voice.status.state !== "idle";
  const nameOf = (id: string) =>
    id === state.user?.id ? memberName(state.user) : memberName(members.find((m) => m.user_id === id)) || t("chat.unknownUser");
  const s = voice.status;
  const perms = permissionsIn(detail, channel.id);
  const canConnect = has(perms, "CONNECT");
  const canSpeak = has(perms, "SPEAK");

  const openMenu = (e: React.MouseEvent<HTMLElement>, p: VoiceState, name: string) => {
    if (hasParticipantMenu(p.user_id === state.user?.id, perms)) setMenu({ at: menuPositionFrom(e), state: p, name });
  };
  const act = (f: () => Promise<void>) => f().catch((e: unknown) => setError(errorText(t, e)));

  return (
    <div className="flex min-h-0 flex-1 flex-col bg-black/20">
      <section aria-label={t("voice.participants")} className="scroll-thin flex flex-1 flex-wrap content-center justify-center gap-4 overflow-y-auto p-6">
        {people.length === 0 && <p className="text-muted">{t("voice.empty")}</p>}
        {people.map((p) => {
          const name = nameOf(p.user_id);
          const speaking = !!state.voice.speaking[p.user_id];
          const locallyMuted = voice.userMuted[p.user_id];
          return (
            <button
              key={p.user_id}
              type="button"
              data-testid={`participant-${p.user_id}`}
              data-speaking={speaking ? "true" : "false"}
              aria-label={`${t("voice.userMenu", { name })}${speaking ? `, ${t("voice.speaking")}` : ""}`}
              onClick={(e) => openMenu(e, p, name)}
              onContextMenu={(e) => {
                e.preventDefault();
                openMenu(e, p, name);
              }}
              className={`flex h-40 w-64 flex-col items-center justify-center gap-3 rounded-lg bg-s1 transition-shadow ${
                speaking ? "ring-2 ring-ok" : ""
              }`}
            >
              <Avatar id={p.user_id} name={name} size={72} speaking={speaking} />
              <span className="flex items-center gap-1 font-medium text-fg-strong">
                {name}
                <VoiceFlags state={p} />
                {locallyMuted && <Icon name="speaker" size={14} className="text-danger" />}
              </span>
            </button>
          );
        })}
      </section>
      {error && (
        <p role="alert" className="mx-auto mb-2 rounded bg-danger/15 px-3 py-1 text-sm text-danger">
          {error}
        </p>
      )}
      <div className="flex shrink-0 items-center justify-center gap-3 pb-6" role="toolbar" aria-label={t("voice.connected")}>
        {!here ? (
          <Button onClick={() => act(() => voice.join(channel.id))} disabled={!canConnect} className="bg-ok hover:brightness-110">
            {t("voice.join")}
          </Button>
        ) : (
          <>
            <TransmitIndicator testId={false} />
            <RoundButton
              label={s.self_mute ? t("voice.unmute") : t("voice.mute")}
              active={s.self_mute}
              onClick={() => act(() => voice.setMute(!s.self_mute))}
            >
              <Icon name={s.self_mute ? "micOff" : "mic"} size={24} />
            </RoundButton>
            <RoundButton
              label={s.self_deaf ? t("voice.undeafen") : t("voice.deafen")}
              active={s.self_deaf}
              onClick={() => act(() => voice.setDeaf(!s.self_deaf))}
            >
              <Icon name={s.self_deaf ? "headphonesOff" : "headphones"} size={24} />
            </RoundButton>
            <RoundButton label={t("voice.leave")} danger onClick={() => act(() => voice.leave())}>
              <Icon name="hangup" size={24} />
            </RoundButton>
            <span className="text-xs text-muted" aria-label={t("voice.quality")}>
              {s.ping_ms !== null && t("voice.ping", { ms: Math.round(s.ping_ms) })}
              {s.loss_percent !== null && ` · ${t("voice.loss", { pct: s.loss_percent.toFixed(1) })}`}
            </span>
          </>
        )}
      </div>
      {!here && <p className="pb-4 text-center text-sm text-muted">{canConnect ? t("voice.joinPrompt") : t("voice.noConnect")}</p>}
      {here && !canSpeak && (
        <p role="status" className="pb-4 text-center text-sm text-warn">
          {t("voice.noSpeak")}
        </p>
      )}
      {menu && <ParticipantMenu at={menu.at} state={menu.state} name={menu.name} onClose={() => setMenu(null)} />}
    </div>
  );
}

function RoundButton({
  label,
  onClick,
  active,
  danger,
  children,
}: {
  label: string;
  onClick: () => void;
  active?: boolean;
  danger?: boolean;
  children: React.ReactNode;
}) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={danger ? undefined : !!active}
      onClick={onClick}
      className={`flex h-14 w-14 items-center justify-center rounded-full ${
        danger ? "bg-danger text-white hover:brightness-110" : active ? "bg-white text-black" : "bg-s3 text-fg hover:bg-active"
      }`}
    >
      {children}
    </button>
  );
}
