// Right-click menu on someone in voice: local volume (0–200 %) and mute for everyone;
// server mute/deafen and move for moderators: by our permissions in the channel they are
// in (as the server sends them) and the role hierarchy. The server has the last word and
// its refusal is shown translated.

import { useState } from "react";
import { useT } from "../i18n";
import { Menu, MenuItem, MenuSeparator, type MenuPosition } from "../components/Menu";
import { useVoice } from "../state/VoiceProvider";
import { useApp } from "../state/AppProvider";
import { commands, unwrap, type VoiceState } from "../lib/backend";
import { canActOn, has, rankOf } from "../lib/permissions";
import { errorText } from "../lib/errors";
import { permissionsIn, sortChannels } from "../state/app";

/**
 * Whether the menu has anything for this person: local controls for others, moderation
 * for mods. `perms`: ours in the voice channel the person is in.
 */
export function hasParticipantMenu(isMe: boolean, perms: string | undefined): boolean {
  return !isMe || has(perms, "MUTE_MEMBERS") || has(perms, "DEAFEN_MEMBERS") || has(perms, "MOVE_MEMBERS");
}

export function ParticipantMenu({
  at,
  state,
  name,
  onClose,
}: {
  at: MenuPosition;
  state: VoiceState;
  name: string;
  onClose: () => void;
}) {
  const t = useT();
  const voice = useVoice();
  const { state: app } = useApp();
  const [error, setError] = useState<string | null>(null);
  const detail = app.servers[state.server_id];
  const isMe = state.user_id === app.user?.id;
  // Moderating someone else needs outranking them; the member list may not be loaded yet,
  // then the server decides.
  const target = app.members[state.server_id]?.find((m) => m.user_id === state.user_id);
  const mayAct = isMe || !detail || !target || canActOn(rankOf(detail), target);
  const perms = mayAct ? permissionsIn(detail, state.channel_id) : "0";
  const volume = voice.userVolumes[state.user_id] ?? 100;
  const locallyMuted = voice.userMuted[state.user_id] ?? false;
  // A move needs MOVE_MEMBERS and CONNECT where the person is put.
  const otherVoice = detail
    ? sortChannels(detail.channels).filter((c) => {
        if (c.kind !== "voice" || c.id === state.channel_id) return false;
        const there = permissionsIn(detail, c.id);
        return has(there, "MOVE_MEMBERS") && has(there, "CONNECT");
      })
    : [];

  const run = async (f: () => Promise<unknown>, close = true) => {
    try {
      await f();
      if (close) onClose();
    } catch (e) {
      setError(errorText(t, e));
    }
  };
  const moderate = (mute: boolean | null, deaf: boolean | null, channelId: string | null) =>
    run(async () => unwrap(await commands.moderateVoice(state.server_id, state.user_id, mute, deaf, channelId)));

  return (
    <Menu at={at} label={t("voice.userMenu", { name })} onClose={onClose}>
      {!isMe && (
        <>
          <div className="px-2 py-1.5">
            <label className="mb-1 flex justify-between text-xs font-bold uppercase text-muted">
              <span>{t("voice.userVolume")}</span>
              <span>{volume} %</span>
            </label>
            <input
              type="range"
              min={0}
              max={200}
              step={1}
              value={volume}
              aria-label={t("voice.userVolume")}
              aria-valuetext={`${volume} %`}
              onChange={(e) => void run(() => voice.setUserVolume(state.user_id, Number(e.target.value)), false)}
              className="w-full"
            />
          </div>
          <MenuItem onSelect={() => void run(() => voice.setUserMuted(state.user_id, !locallyMuted))}>
            {locallyMuted ? t("voice.localUnmute") : t("voice.localMute")}
          </MenuItem>
        </>
      )}
      {(has(perms, "MUTE_MEMBERS") || has(perms, "DEAFEN_MEMBERS") || has(perms, "MOVE_MEMBERS")) && <MenuSeparator />}
      {has(perms, "MUTE_MEMBERS") && (
        <MenuItem danger onSelect={() => void moderate(!state.mute, null, null)}>
          {state.mute ? t("voice.serverUnmute") : t("voice.serverMute")}
        </MenuItem>
      )}
      {has(perms, "DEAFEN_MEMBERS") && (
        <MenuItem danger onSelect={() => void moderate(null, !state.deaf, null)}>
          {state.deaf ? t("voice.serverUndeafen") : t("voice.serverDeafen")}
        </MenuItem>
      )}
      {has(perms, "MOVE_MEMBERS") && otherVoice.length > 0 && (
        <>
          <div className="px-2 pt-1.5 text-xs font-bold uppercase text-muted">{t("voice.moveTo")}</div>
          {otherVoice.map((c) => (
            <MenuItem key={c.id} onSelect={() => void moderate(null, null, c.id)}>
              {c.name}
            </MenuItem>
          ))}
        </>
      )}
      {error && (
        <p role="alert" className="px-2 py-1 text-xs text-danger">
          {error}
        </p>
      )}
    </Menu>
  );
}
