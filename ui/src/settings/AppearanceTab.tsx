import { useT } from "../i18n";
import { useAppSettings } from "../state/settings";
import { Select, Toggle } from "../components/ui";
import type { Language, Theme } from "../lib/backend";

export function AppearanceTab() {
  const t = useT();
  const { settings, update } = useAppSettings();
  return (
    <>
      <h1 className="mb-5 text-xl font-bold text-fg-strong">{t("settings.tab.appearance")}</h1>
      <Select label={t("appearance.theme")} name="theme" value={settings.theme} onChange={(e) => void update({ theme: e.target.value as Theme })}>
        <option value="dark">{t("appearance.dark")}</option>
        <option value="light">{t("appearance.light")}</option>
      </Select>
      <Toggle label={t("appearance.startMinimized")} checked={settings.start_minimized} onChange={(v) => void update({ start_minimized: v })} />
      <Toggle label={t("appearance.notifications")} checked={settings.notifications} onChange={(v) => void update({ notifications: v })} />
    </>
  );
}

export function LanguageTab() {
  const t = useT();
  const { settings, update } = useAppSettings();
  return (
    <>
      <h1 className="mb-2 text-xl font-bold text-fg-strong">{t("settings.tab.language")}</h1>
      <p className="mb-5 text-muted">{t("language.hint")}</p>
      <Select
        label={t("language.label")}
        name="language"
        value={settings.language}
        onChange={(e) => void update({ language: e.target.value as Language })}
      >
        <option value="en" lang="en">
          {t("language.en")}
        </option>
        <option value="de" lang="de">
          {t("language.de")}
        </option>
      </Select>
    </>
  );
}
