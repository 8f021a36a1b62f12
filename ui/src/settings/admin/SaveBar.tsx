// The "unsaved changes" bar of Discord's settings: edits stay local until Save, so a
// half-made change never reaches the server, and Reset throws them away.

import { useEffect, useId, useRef, useState } from "react";
import { useUi } from "../../state/ui";
import { useT } from "../../i18n";
import { errorText } from "../../lib/errors";
import { Button } from "../../components/ui";

export function SaveBar({
  blocked,
  canSave = true,
  onSave,
  onReset,
  testId,
}: {
  /** Someone tried to leave with unsaved changes: say why that did not happen. */
  blocked: boolean;
  canSave?: boolean;
  onSave: () => Promise<void>;
  onReset: () => void;
  testId?: string;
}) {
  const t = useT();
  const { markUnsaved, closeRefusals } = useUi();
  // Shown only while there are unsaved changes: while shown, settings do not close.
  const id = useId();
  useEffect(() => {
    markUnsaved(id, true);
    return () => markUnsaved(id, false);
  }, [id, markUnsaved]);
  const refusalsAtMount = useRef(closeRefusals);
  const closeRefused = closeRefusals !== refusalsAtMount.current;
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await onSave();
    } catch (e) {
      if (alive.current) setError(errorText(t, e));
    } finally {
      if (alive.current) setSaving(false);
    }
  };
  const warn = blocked || closeRefused || !!error;
  return (
    <div
      role="region"
      aria-label={t("unsaved.region")}
      data-testid={testId}
      className={`sticky bottom-0 z-10 mt-4 flex items-center gap-3 rounded-md px-4 py-2.5 shadow-xl ${warn ? "bg-danger text-white" : "bg-s0 text-fg"}`}
    >
      <p className="flex-1 text-sm font-medium" role={warn ? "alert" : "status"}>
        {error ?? (blocked || closeRefused ? t("unsaved.blocked") : t("unsaved.message"))}
      </p>
      <Button variant="link" className={warn ? "text-white!" : ""} onClick={onReset} disabled={saving}>
        {t("unsaved.reset")}
      </Button>
      <Button className="bg-ok! hover:brightness-90" onClick={() => void save()} disabled={saving || !canSave}>
        {t("unsaved.save")}
      </Button>
    </div>
  );
}
