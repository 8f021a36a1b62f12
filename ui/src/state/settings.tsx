// App settings (theme, language, …): applied at once, persisted through the Rust shell,
// and cached in localStorage so the first paint already has the right theme and language.

import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { commands, type AppSettings } from "../lib/backend";
import { I18nProvider } from "../i18n";

const CACHE_KEY = "auraspeak.appSettings";

export const defaultAppSettings: AppSettings = {
  theme: "dark",
  language: "en",
  start_minimized: false,
  notifications: true,
  presence: "online",
};

function cached(): AppSettings {
  try {
    const raw = localStorage.getItem(CACHE_KEY);
    if (raw) return { ...defaultAppSettings, ...(JSON.parse(raw) as Partial<AppSettings>) };
  } catch {
    // Unreadable cache: fall back to defaults.
  }
  return defaultAppSettings;
}

export function applyTheme(theme: AppSettings["theme"]): void {
  const root = document.documentElement;
  root.classList.toggle("dark", theme === "dark");
  root.classList.toggle("light", theme === "light");
}

interface SettingsValue {
  settings: AppSettings;
  update: (patch: Partial<AppSettings>) => Promise<void>;
}

const SettingsContext = createContext<SettingsValue | null>(null);

export function SettingsProvider({ children }: { children: ReactNode }) {
  const [settings, setSettings] = useState<AppSettings>(cached);

  useEffect(() => {
    let alive = true;
    commands
      .appSettings()
      .then((s) => {
        if (alive && s) setSettings(s);
      })
      .catch(() => {
        // Not inside Tauri: keep the cached settings.
      });
    return () => {
      alive = false;
    };
  }, []);

  useEffect(() => {
    applyTheme(settings.theme);
    try {
      localStorage.setItem(CACHE_KEY, JSON.stringify(settings));
    } catch {
      // Storage full or disabled: only the first paint suffers.
    }
  }, [settings]);

  const current = useRef(settings);
  current.current = settings;
  const update = useCallback(async (patch: Partial<AppSettings>) => {
    const next = { ...current.current, ...patch };
    current.current = next;
    setSettings(next);
    try {
      await commands.setAppSettings(next);
    } catch {
      // The setting still applies for this run.
    }
  }, []);

  return (
    <SettingsContext.Provider value={{ settings, update }}>
      <I18nProvider lang={settings.language}>{children}</I18nProvider>
    </SettingsContext.Provider>
  );
}

export function useAppSettings(): SettingsValue {
  const v = useContext(SettingsContext);
  if (!v) throw new Error("useAppSettings outside SettingsProvider");
  return v;
}
