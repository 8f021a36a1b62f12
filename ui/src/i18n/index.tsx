// A typed dictionary per language and a `useT()` hook; no i18n library needed for two
// languages and a few hundred strings.

import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from "react";
import { en, type Dictionary, type TranslationKey } from "./en";
import { de } from "./de";
import type { Language } from "../lib/backend";

export type { TranslationKey };
export const dictionaries: Record<Language, Dictionary> = { en, de };
export type Params = Record<string, string | number>;
export type TFunction = (key: TranslationKey, params?: Params) => string;

/** Fills `{name}` placeholders; unknown placeholders stay visible so they get noticed. */
export function translate(lang: Language, key: TranslationKey, params?: Params): string {
  const text = dictionaries[lang][key] ?? en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

/** True when `key` names a string (for keys built at run time, such as error codes). */
export function hasKey(key: string): key is TranslationKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

interface I18nValue {
  lang: Language;
  t: TFunction;
}

const I18nContext = createContext<I18nValue>({
  lang: "en",
  t: (key, params) => translate("en", key, params),
});

export function I18nProvider({ lang, children }: { lang: Language; children: ReactNode }) {
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const t = useCallback<TFunction>((key, params) => translate(lang, key, params), [lang]);
  const value = useMemo(() => ({ lang, t }), [lang, t]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useT(): TFunction {
  return useContext(I18nContext).t;
}

export function useLang(): Language {
  return useContext(I18nContext).lang;
}
