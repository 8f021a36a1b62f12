// Discord's Deny / Inherit / Allow switch for one permission of a channel overwrite.
// Native radio buttons underneath, so arrow keys, Tab and screen readers work as usual.

import { useId } from "react";
import { useT } from "../../i18n";
import type { OverwriteState } from "../../lib/permissions";
import { Icon, type IconName } from "../../components/Icon";

const STATES: { state: OverwriteState; icon: IconName; on: string }[] = [
  { state: "deny", icon: "close", on: "peer-checked:bg-danger peer-checked:text-white" },
  { state: "inherit", icon: "slash", on: "peer-checked:bg-s3 peer-checked:text-fg-strong" },
  { state: "allow", icon: "check", on: "peer-checked:bg-ok peer-checked:text-white" },
];

export function TriState({
  label,
  description,
  value,
  onChange,
  disabled,
  testId,
}: {
  label: string;
  description?: string;
  value: OverwriteState;
  onChange: (v: OverwriteState) => void;
  disabled?: boolean;
  testId?: string;
}) {
  const t = useT();
  const name = useId();
  const labelId = useId();
  const descId = useId();
  return (
    <div className={`flex items-center justify-between gap-4 border-b border-line py-2.5 ${disabled ? "opacity-50" : ""}`}>
      <div>
        <div id={labelId} className="font-medium text-fg-strong">
          {label}
        </div>
        {description && (
          <p id={descId} className="text-sm text-muted">
            {description}
          </p>
        )}
      </div>
      <div
        role="radiogroup"
        aria-labelledby={labelId}
        aria-describedby={description ? descId : undefined}
        data-testid={testId}
        data-value={value}
        className="flex shrink-0 overflow-hidden rounded border border-line"
      >
        {STATES.map((s) => (
          <label key={s.state} className={disabled ? "cursor-not-allowed" : "cursor-pointer"}>
            <input
              type="radio"
              name={name}
              value={s.state}
              checked={value === s.state}
              disabled={disabled}
              aria-label={t(`overwrite.${s.state}`)}
              onChange={() => onChange(s.state)}
              className="peer sr-only"
            />
            <span
              aria-hidden="true"
              title={t(`overwrite.${s.state}`)}
              className={`flex h-7 w-8 items-center justify-center text-muted peer-focus-visible:outline-2 peer-focus-visible:-outline-offset-2 peer-focus-visible:outline-[#00a8fc] ${
                disabled ? "" : "hover:bg-hover"
              } ${s.on}`}
            >
              <Icon name={s.icon} size={16} />
            </span>
          </label>
        ))}
      </div>
    </div>
  );
}
