import { normalizeError } from "./backend";
import { hasKey, type TFunction } from "../i18n";

/** A translated message for a failed command: by its code, else the server's message. */
export function errorText(t: TFunction, e: unknown): string {
  const err = normalizeError(e);
  const key = `error.${err.code}`;
  if (hasKey(key)) return t(key);
  return err.message || t("error.unknown");
}

/** The server's reasons per field of a refused form, translated where the reason is one of
 * the validation rules every client shares (`shared/src/limits.rs`), else as the server
 * worded it. Keyed by the server's field name. */
export function fieldErrors(t: TFunction, e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of normalizeError(e).fields ?? []) {
    const key = `field.${f.message}`;
    out[f.field] = hasKey(key) ? t(key) : f.message;
  }
  return out;
}
