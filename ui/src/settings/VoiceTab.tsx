import { useCallback, useEffect, useState, type KeyboardEvent, type MouseEvent } from "react";
import { useT } from "../i18n";
import { useVoice } from "../state/VoiceProvider";
import { commands, events, unwrap, type AudioDevices, type InputMode, type VoiceSettings } from "../lib/backend";
import { useBackendEvent } from "../lib/useBackendEvent";
import { errorText } from "../lib/errors";
import { Button, ErrorText, SectionTitle, Select, Toggle } from "../components/ui";
import { keybindFromEvent, keybindFromMouse } from "./keybind";

/** Maps dBFS (-70…0) to a 0…100 % bar. */
export function levelPercent(dbfs: number): number {
  return Math.max(0, Math.min(100, ((dbfs + 70) / 70) * 100));
}

/** How long the microphone may deliver exact zeros before the meter says so. */
export const SILENT_INPUT_WARNING_MS = 5000;

function LevelMeter({ threshold }: { threshold: number }) {
  const t = useT();
  const [level, setLevel] = useState({ rms: -100, on: false });
  // Since when every level report said digital silence (null: the last one had sound).
  const [silentSince, setSilentSince] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  useBackendEvent(events.inputLevel, (l) => {
    setLevel({ rms: l.rms_dbfs ?? -100, on: l.transmitting });
    const at = Date.now();
    setNow(at);
    setSilentSince((since) => (l.silent_input ? (since ?? at) : null));
  });
  const pct = levelPercent(level.rms);
  const dead = silentSince !== null && now - silentSince >= SILENT_INPUT_WARNING_MS;
  return (
    <div className="mb-4">
      {dead && (
        <p role="alert" data-testid="silent-input" className="mb-2 rounded bg-warn/10 px-3 py-2 text-sm text-warn">
          {t("voiceSettings.silentInput")}
        </p>
      )}
      <div className="mb-2 text-xs font-bold uppercase tracking-wide text-muted">{t("voiceSettings.level")}</div>
      <div
        role="meter"
        aria-label={t("voiceSettings.level")}
        aria-valuemin={-70}
        aria-valuemax={0}
        aria-valuenow={Math.round(Math.max(-70, level.rms))}
        data-testid="input-level"
        className="relative h-2.5 overflow-hidden rounded-full bg-s0"
      >
        <div className={`h-full transition-[width] duration-100 ${level.on ? "bg-ok" : "bg-warn"}`} style={{ width: `${pct}%` }} />
        <div className="absolute top-0 h-full w-0.5 bg-fg" style={{ left: `${levelPercent(threshold)}%` }} aria-hidden="true" />
      </div>
    </div>
  );
}

function KeybindCapture({
  id,
  label,
  value,
  onChange,
  clearable,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  /** Offers "clear" (the key is optional). */
  clearable?: boolean;
}) {
  const t = useT();
  const [recording, setRecording] = useState(false);
  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (!recording) return;
    if (e.key === "Tab") return;
    e.preventDefault();
    e.stopPropagation();
    if (e.key === "Escape" && !e.ctrlKey && !e.shiftKey && !e.altKey) {
      setRecording(false);
      return;
    }
    const combo = keybindFromEvent(e);
    if (combo) {
      onChange(combo);
      setRecording(false);
    }
  };
  // Side buttons go "back" in a webview unless stopped; they bind while recording.
  const onMouseDown = (e: MouseEvent<HTMLButtonElement>) => {
    if (!recording) return;
    const combo = keybindFromMouse(e);
    if (!combo) return;
    e.preventDefault();
    e.stopPropagation();
    onChange(combo);
    setRecording(false);
  };
  return (
    <div className="mb-4">
      <div id={`${id}-shortcut-label`} className="mb-2 flex items-center justify-between text-xs font-bold uppercase tracking-wide text-muted">
        {label}
        {clearable && value && (
          <Button variant="link" className="text-xs normal-case" data-testid={`${id}-clear`} onClick={() => onChange("")}>
            {t("voiceSettings.clearShortcut")}
          </Button>
        )}
      </div>
      <button
        type="button"
        data-testid={`${id}-keybind`}
        data-keycapture={recording ? "" : undefined}
        aria-labelledby={`${id}-shortcut-label`}
        aria-describedby={`${id}-shortcut-value`}
        onClick={() => setRecording((r) => !r)}
        onKeyDown={onKeyDown}
        onMouseDown={onMouseDown}
        onAuxClick={(e) => recording && e.preventDefault()}
        onBlur={() => setRecording(false)}
        className={`flex w-full items-center justify-between rounded border px-3 py-2.5 text-left ${
          recording ? "border-danger bg-danger/10" : "border-transparent bg-s0"
        }`}
      >
        <span id={`${id}-shortcut-value`} className="font-mono text-fg-strong">
          {recording ? t("voiceSettings.recording") : value || t("common.none")}
        </span>
        <span className="shrink-0 rounded bg-s3 px-2 py-1 text-sm text-fg">{t("voiceSettings.recordShortcut")}</span>
      </button>
    </div>
  );
}

/** The three noise suppression choices, as the two engine switches store them. */
export type SuppressionLevel = "off" | "standard" | "strong";

export function suppressionLevel(s: Pick<VoiceSettings, "noise_suppression" | "strong_suppression">): SuppressionLevel {
  if (!s.noise_suppression) return "off";
  // Settings from before the choice existed have no value: the engine's default, strong.
  return s.strong_suppression === false ? "standard" : "strong";
}

export function suppressionPatch(level: SuppressionLevel): Pick<VoiceSettings, "noise_suppression" | "strong_suppression"> {
  return { noise_suppression: level !== "off", strong_suppression: level === "strong" };
}

export function VoiceTab() {
  const t = useT();
  const voice = useVoice();
  const s = voice.settings;
  const suppression = suppressionLevel(s);
  const [devices, setDevices] = useState<AudioDevices>({ inputs: [], outputs: [] });
  const [micTest, setMicTest] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const loadDevices = useCallback(() => {
    commands
      .voiceDevices()
      .then((r) => setDevices(unwrap(r)))
      .catch((e: unknown) => setError(errorText(t, e)));
  }, [t]);
  useEffect(loadDevices, [loadDevices]);
  useBackendEvent(events.devicesChanged, () => loadDevices());

  // Stop the mic test when leaving the tab.
  useEffect(() => () => void commands.micTest(false).catch(() => {}), []);

  const save = (patch: Parameters<typeof voice.saveSettings>[0]) =>
    voice.saveSettings(patch).catch((e: unknown) => setError(errorText(t, e)));

  const defaultLabel = (list: AudioDevices["inputs"]) => {
    const d = list.find((x) => x.is_default);
    return d ? t("voiceSettings.defaultNamed", { name: d.name }) : t("voiceSettings.default");
  };

  return (
    <>
      <h1 className="mb-5 text-xl font-bold text-fg-strong">{t("settings.tab.voice")}</h1>
      <ErrorText>{error}</ErrorText>
      <div className="flex items-center justify-between">
        <SectionTitle>{t("voiceSettings.devices")}</SectionTitle>
        <Button variant="link" className="text-xs" onClick={loadDevices}>
          {t("voiceSettings.refresh")}
        </Button>
      </div>
      <div className="grid grid-cols-2 gap-4">
        <Select label={t("voiceSettings.input")} name="input-device" value={s.input_device ?? ""} onChange={(e) => void save({ input_device: e.target.value || null })}>
          <option value="">{defaultLabel(devices.inputs)}</option>
          {devices.inputs.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </Select>
        <Select label={t("voiceSettings.output")} name="output-device" value={s.output_device ?? ""} onChange={(e) => void save({ output_device: e.target.value || null })}>
          <option value="">{defaultLabel(devices.outputs)}</option>
          {devices.outputs.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </Select>
      </div>
      <div className="mb-4">
        <label className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted" htmlFor="input-gain">
          {t("voiceSettings.gain")} — {t("voiceSettings.gainValue", { db: s.input_gain_db ?? 0 })}
        </label>
        <input id="input-gain" type="range" min={-20} max={20} step={1} value={s.input_gain_db ?? 0} onChange={(e) => void save({ input_gain_db: Number(e.target.value) })} className="w-full" />
      </div>
      <div className="mb-2 flex items-center gap-4">
        <Button
          data-testid="mic-test"
          aria-pressed={micTest}
          onClick={async () => {
            try {
              unwrap(await commands.micTest(!micTest));
              setMicTest(!micTest);
            } catch (e) {
              setError(errorText(t, e));
            }
          }}
        >
          {micTest ? t("voiceSettings.micTestStop") : t("voiceSettings.micTest")}
        </Button>
        <span className="text-sm text-muted">{t("voiceSettings.micTestHint")}</span>
      </div>
      <LevelMeter threshold={s.vad_threshold_db ?? -50} />

      <SectionTitle>{t("voiceSettings.inputMode")}</SectionTitle>
      <fieldset className="mb-4">
        <legend className="sr-only">{t("voiceSettings.inputMode")}</legend>
        {(
          [
            ["voice_activity", t("voiceSettings.vad")],
            ["push_to_talk", t("voiceSettings.ptt")],
          ] as [InputMode, string][]
        ).map(([value, label]) => (
          <label key={value} className={`mb-2 flex cursor-pointer items-center gap-3 rounded px-3 py-2.5 ${s.input_mode === value ? "bg-active" : "bg-s1 hover:bg-hover"}`}>
            <input type="radio" name="input-mode" value={value} checked={s.input_mode === value} onChange={() => void save({ input_mode: value })} />
            <span className="font-medium text-fg-strong">{label}</span>
          </label>
        ))}
      </fieldset>
      {s.input_mode === "voice_activity" ? (
        <div className="mb-4">
          <label htmlFor="vad-threshold" className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted">
            {t("voiceSettings.sensitivity")} — {t("voiceSettings.sensitivityValue", { db: s.vad_threshold_db ?? -50 })}
          </label>
          <input
            id="vad-threshold"
            name="vad-threshold"
            type="range"
            min={-70}
            max={0}
            step={1}
            value={s.vad_threshold_db ?? -50}
            onChange={(e) => void save({ vad_threshold_db: Number(e.target.value) })}
            className="w-full"
          />
        </div>
      ) : (
        <div>
          <KeybindCapture id="ptt" label={t("voiceSettings.shortcut")} value={s.ptt_shortcut} onChange={(v) => void save({ ptt_shortcut: v })} />
          <div className="mb-4">
            <label htmlFor="ptt-release" className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted">
              {t("voiceSettings.releaseDelay")} — {t("voiceSettings.releaseValue", { ms: s.ptt_release_ms })}
            </label>
            <input id="ptt-release" name="ptt-release" type="range" min={0} max={2000} step={20} value={s.ptt_release_ms} onChange={(e) => void save({ ptt_release_ms: Number(e.target.value) })} className="w-full" />
          </div>
        </div>
      )}
      <div className="grid grid-cols-2 gap-4">
        <KeybindCapture
          id="push-to-mute"
          label={t("voiceSettings.pushToMute")}
          value={s.push_to_mute_shortcut ?? ""}
          onChange={(v) => void save({ push_to_mute_shortcut: v })}
          clearable
        />
        <KeybindCapture
          id="toggle-mute"
          label={t("voiceSettings.toggleMute")}
          value={s.toggle_mute_shortcut ?? ""}
          onChange={(v) => void save({ toggle_mute_shortcut: v })}
          clearable
        />
      </div>
      <p className="-mt-2 mb-4 text-xs text-muted">{t("voiceSettings.shortcutHint")}</p>
      {voice.shortcutProblem && (
        <p role="status" className="mb-4 rounded bg-warn/15 px-3 py-2 text-sm text-warn">
          {t("voice.shortcutUnavailable", { reason: voice.shortcutProblem })}
        </p>
      )}

      <SectionTitle>{t("voiceSettings.processing")}</SectionTitle>
      <Toggle
        name="echo-cancellation"
        label={t("voiceSettings.echo")}
        hint={t("voiceSettings.echoHint")}
        checked={s.echo_cancellation !== false}
        onChange={(on) => void save({ echo_cancellation: on })}
      />
      <fieldset className="mb-4">
        <legend className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted">{t("voiceSettings.noise")}</legend>
        {(
          [
            ["off", t("voiceSettings.noiseOff"), t("voiceSettings.noiseOffHint")],
            ["standard", t("voiceSettings.noiseStandard"), t("voiceSettings.noiseStandardHint")],
            ["strong", t("voiceSettings.noiseStrong"), t("voiceSettings.noiseStrongHint")],
          ] as [SuppressionLevel, string, string][]
        ).map(([value, label, hint]) => (
          <label key={value} className={`mb-2 flex cursor-pointer items-center gap-3 rounded px-3 py-2.5 ${suppression === value ? "bg-active" : "bg-s1 hover:bg-hover"}`}>
            <input type="radio" name="noise-suppression" value={value} checked={suppression === value} onChange={() => void save(suppressionPatch(value))} />
            <span>
              <span className="block font-medium text-fg-strong">{label}</span>
              <span className="block text-sm text-muted">{hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <p className="mt-6 rounded bg-s1 px-3 py-2 text-sm text-muted">{t("voiceSettings.bitrateNote")}</p>
    </>
  );
}
