import { normalizeError } from "./backend";
import { hasKey, type TFunction } from "../i18n";

/** A translated message for a failed command: by its code, else the server's message. */
export function errorText(t: TFunction, e: unknown): string {
  const err = normalizeError(e);
  const key = `error.${err.code}`;
  if (hasKey(key)) return t(key);
  return err.message || t("error.unknown");
}
