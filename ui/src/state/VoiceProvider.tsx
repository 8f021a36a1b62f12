// The call as the Rust audio engine reports it: VoiceStatus (state, mute, ping, loss),
// whether we transmit (InputLevel / PushToTalk), and the voice settings.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { commands, events, unwrap, type VoiceSettings, type VoiceStatus } from "../lib/backend";
import { useBackendEvent } from "../lib/useBackendEvent";

export const idleVoiceStatus: VoiceStatus = {
  channel_id: null,
  server_id: null,
  state: "idle",
  self_mute: false,
  self_deaf: false,
  transmitting: false,
  ping_ms: null,
  loss_percent: null,
  loss_up_percent: null,
  jitter_ms: null,
  ended_reason: null,
};

export const defaultVoiceSettings: VoiceSettings = {
  input_device: null,
  output_device: null,
  echo_cancellation: true,
  noise_suppression: true,
  strong_suppression: true,
  input_mode: "voice_activity",
  vad_threshold_db: -50,
  ptt_shortcut: "",
  ptt_release_ms: 200,
  input_gain_db: 0,
  push_to_mute_shortcut: "",
  toggle_mute_shortcut: "",
};

interface VoiceValue {
  status: VoiceStatus;
  /** True while audio goes out: the VAD/PTT gate is open. */
  transmitting: boolean;
  pttPressed: boolean;
  settings: VoiceSettings;
  saveSettings: (patch: Partial<VoiceSettings>) => Promise<void>;
  shortcutProblem: string | null;
  join: (channelId: string) => Promise<void>;
  leave: () => Promise<void>;
  setMute: (muted: boolean) => Promise<void>;
  setDeaf: (deafened: boolean) => Promise<void>;
  /** Local per-user volume (percent) and mute, remembered for the session. */
  userVolumes: Record<string, number>;
  userMuted: Record<string, boolean>;
  setUserVolume: (userId: string, percent: number) => Promise<void>;
  setUserMuted: (userId: string, muted: boolean) => Promise<void>;
}

const VoiceContext = createContext<VoiceValue | null>(null);

export function VoiceProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<VoiceStatus>(idleVoiceStatus);
  const [levelTransmitting, setLevelTransmitting] = useState(false);
  const [pttPressed, setPttPressed] = useState(false);
  const [settings, setSettings] = useState<VoiceSettings>(defaultVoiceSettings);
  const [shortcutProblem, setShortcutProblem] = useState<string | null>(null);
  const [userVolumes, setUserVolumes] = useState<Record<string, number>>({});
  const [userMuted, setUserMuted_] = useState<Record<string, boolean>>({});
  const settingsRef = useRef(settings);
  settingsRef.current = settings;

  useEffect(() => {
    commands.voiceSettings().then(setSettings).catch(() => {});
    // Volumes and mutes remembered for this account (they outlive calls and restarts).
    commands
      .voiceUserPreferences()
      .then((list) => {
        setUserVolumes(Object.fromEntries(list.map((p) => [p.user_id, p.volume_percent])));
        setUserMuted_(Object.fromEntries(list.map((p) => [p.user_id, p.muted])));
      })
      .catch(() => {});
  }, []);

  useBackendEvent(events.voiceStatus, (s) => {
    setStatus(s);
    if (s.state === "idle") setLevelTransmitting(false);
  });
  // InputLevel arrives ten times a second; only a change of the gate re-renders.
  useBackendEvent(events.inputLevel, (l) => setLevelTransmitting(l.transmitting));
  useBackendEvent(events.pushToTalk, (p) => setPttPressed(p.pressed));
  useBackendEvent(events.shortcutUnavailable, (p) => setShortcutProblem(p.reason));

  const transmitting =
    levelTransmitting ||
    status.transmitting ||
    (settings.input_mode === "push_to_talk" && pttPressed && !status.self_mute);

  const saveSettings = useCallback(async (patch: Partial<VoiceSettings>) => {
    const next = { ...settingsRef.current, ...patch };
    settingsRef.current = next;
    setSettings(next);
    unwrap(await commands.setVoiceSettings(next));
  }, []);

  const join = useCallback(async (channelId: string) => {
    unwrap(await commands.voiceJoin(channelId));
  }, []);
  const leave = useCallback(async () => {
    unwrap(await commands.voiceLeave());
  }, []);
  const setMute = useCallback(async (muted: boolean) => {
    setStatus((s) => ({ ...s, self_mute: muted }));
    unwrap(await commands.voiceSetSelfMute(muted));
  }, []);
  const setDeaf = useCallback(async (deafened: boolean) => {
    setStatus((s) => ({ ...s, self_deaf: deafened }));
    unwrap(await commands.voiceSetSelfDeaf(deafened));
  }, []);
  const setUserVolume = useCallback(async (userId: string, percent: number) => {
    const p = Math.max(0, Math.min(200, Math.round(percent)));
    setUserVolumes((v) => ({ ...v, [userId]: p }));
    unwrap(await commands.voiceSetUserVolume(userId, p));
  }, []);
  const setUserMuted = useCallback(async (userId: string, muted: boolean) => {
    setUserMuted_((v) => ({ ...v, [userId]: muted }));
    unwrap(await commands.voiceSetUserMuted(userId, muted));
  }, []);

  const value = useMemo(
    () => ({
      status,
      transmitting,
      pttPressed,
      settings,
      saveSettings,
      shortcutProblem,
      join,
      leave,
      setMute,
      setDeaf,
      userVolumes,
      userMuted,
      setUserVolume,
      setUserMuted,
    }),
    [status, transmitting, pttPressed, settings, saveSettings, shortcutProblem, join, leave, setMute, setDeaf, userVolumes, userMuted, setUserVolume, setUserMuted],
  );
  return <VoiceContext.Provider value={value}>{children}</VoiceContext.Provider>;
}

export function useVoice(): VoiceValue {
  const v = useContext(VoiceContext);
  if (!v) throw new Error("useVoice outside VoiceProvider");
  return v;
}
