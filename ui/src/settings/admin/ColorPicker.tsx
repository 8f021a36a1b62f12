// A role's color: "none" (0, names keep the default color), a few presets, or any hex.

import { useEffect, useId, useState } from "react";
import { useT } from "../../i18n";
import { colorHex } from "../../lib/permissions";
import { Icon } from "../../components/Icon";

/** Discord's role palette, so roles look familiar. */
export const ROLE_COLORS = [0x1abc9c, 0x2ecc71, 0x3498db, 0x9b59b6, 0xe91e63, 0xf1c40f, 0xe67e22, 0xe74c3c, 0x95a5a6, 0x607d8b];

/** `#RRGGBB` or `RRGGBB` (also three-digit shorthand) as a number, or null. */
export function parseHex(text: string): number | null {
  let h = text.trim().replace(/^#/, "");
  if (/^[0-9a-f]{3}$/i.test(h)) h = h.replace(/./g, (c) => c + c);
  return /^[0-9a-f]{6}$/i.test(h) ? parseInt(h, 16) : null;
}

export function ColorPicker({
  value,
  onChange,
  onValidChange,
  disabled,
}: {
  value: number;
  onChange: (color: number) => void;
  /** False while the hex field holds something that is not a color: saving would lose it. */
  onValidChange: (valid: boolean) => void;
  disabled?: boolean;
}) {
  const t = useT();
  const hexId = useId();
  const errId = useId();
  const [text, setText] = useState(value ? colorHex(value).toUpperCase() : "");
  const invalid = text.trim() !== "" && parseHex(text) === null;

  // Follow the value when a preset or Reset changes it, without fighting the typing.
  useEffect(() => {
    setText((cur) => {
      const parsed = cur.trim() === "" ? 0 : parseHex(cur);
      return parsed === value ? cur : value ? colorHex(value).toUpperCase() : "";
    });
  }, [value]);
  useEffect(() => onValidChange(!invalid), [invalid, onValidChange]);

  const swatch = (color: number, label: string) => (
    <button
      key={color}
      type="button"
      aria-label={label}
      aria-pressed={value === color}
      disabled={disabled}
      onClick={() => onChange(color)}
      className={`flex h-8 w-8 items-center justify-center rounded border-2 disabled:cursor-not-allowed ${
        value === color ? "border-fg-strong" : "border-transparent"
      } ${color ? "" : "bg-[#99aab5]"}`}
      style={color ? { background: colorHex(color) } : undefined}
    >
      {value === color ? (
        <Icon name="check" size={16} className="text-white drop-shadow" />
      ) : (
        !color && <Icon name="slash" size={16} className="text-white" />
      )}
    </button>
  );

  return (
    <fieldset className="mb-4" disabled={disabled}>
      <legend className="mb-2 text-xs font-bold uppercase tracking-wide text-muted">{t("roles.color")}</legend>
      <div className="flex flex-wrap items-center gap-2">
        {swatch(0, t("roles.colorNone"))}
        {ROLE_COLORS.map((c) => swatch(c, t("roles.colorPreset", { hex: colorHex(c).toUpperCase() })))}
        <label htmlFor={hexId} className="sr-only">
          {t("roles.colorHex")}
        </label>
        <input
          id={hexId}
          value={text}
          placeholder="#5865F2"
          maxLength={7}
          spellCheck={false}
          aria-invalid={invalid || undefined}
          aria-describedby={invalid ? errId : undefined}
          onChange={(e) => {
            setText(e.target.value);
            const parsed = e.target.value.trim() === "" ? 0 : parseHex(e.target.value);
            if (parsed !== null) onChange(parsed);
          }}
          className="ml-1 w-28 rounded bg-s0 px-2 py-1.5 font-mono text-sm text-fg outline-none focus-visible:outline-2"
        />
      </div>
      {invalid && (
        <p id={errId} className="mt-1 text-xs text-danger">
          {t("roles.colorInvalid")}
        </p>
      )}
    </fieldset>
  );
}
