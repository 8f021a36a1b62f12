// Full-screen settings like Discord's: a sidebar of tabs on the left, the page on the
// right, a close button with "ESC" under it. Escape closes.

import { useEffect, useRef } from "react";
import { useT } from "../i18n";
import { useUi, type SettingsTab } from "../state/ui";
import { useApp } from "../state/AppProvider";
import { useSession } from "../state/session";
import { canAdminister } from "../lib/permissions";
import { managesSomeChannel } from "../state/app";
import { Icon } from "../components/Icon";
import { useFocusTrap } from "../components/Dialog";
import { AccountTab } from "./AccountTab";
import { VoiceTab } from "./VoiceTab";
import { AppearanceTab, LanguageTab } from "./AppearanceTab";
import { AdminTab } from "./AdminTab";
import type { TranslationKey } from "../i18n";

const USER_TABS: { id: SettingsTab; label: TranslationKey }[] = [
  { id: "account", label: "settings.tab.account" },
  { id: "voice", label: "settings.tab.voice" },
];
const APP_TABS: { id: SettingsTab; label: TranslationKey }[] = [
  { id: "appearance", label: "settings.tab.appearance" },
  { id: "language", label: "settings.tab.language" },
];

export function SettingsOverlay({ serverId }: { serverId: string | null }) {
  const t = useT();
  const ui = useUi();
  const { state } = useApp();
  const { logout } = useSession();
  const root = useRef<HTMLDivElement>(null);
  const detail = serverId ? state.servers[serverId] : undefined;
  const showAdmin = !!detail && (canAdminister(detail.my_permissions) || managesSomeChannel(detail));
  const tab = ui.settingsTab ?? "account";
  // Tab stays inside the overlay; Escape inside it closes it (nested dialogs and menus
  // are portals outside this element and handle their own Escape first).
  useFocusTrap(root, ui.closeSettings);

  useEffect(() => {
    // Escape with focus nowhere in particular (after a click on empty space) closes too.
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && (e.target === document.body || e.target === document.documentElement)) ui.closeSettings();
    };
    window.addEventListener("keydown", onKey);
    root.current?.querySelector<HTMLElement>('[aria-selected="true"]')?.focus();
    return () => window.removeEventListener("keydown", onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const tabButton = (id: SettingsTab, label: TranslationKey) => (
    <button
      key={id}
      type="button"
      role="tab"
      id={`settings-tab-${id}`}
      aria-selected={tab === id}
      aria-controls="settings-panel"
      data-testid={`settings-tab-${id}`}
      onClick={() => ui.openSettings(id)}
      className={`mb-0.5 w-full rounded px-2.5 py-1.5 text-left font-medium ${
        tab === id ? "bg-active text-fg-strong" : "text-muted hover:bg-hover hover:text-fg"
      }`}
    >
      {t(label)}
    </button>
  );

  return (
    <div ref={root} role="dialog" aria-modal="true" aria-label={t("settings.title")} className="fixed inset-0 z-40 flex bg-s2">
      <div className="flex flex-1 justify-end bg-s1">
        <nav
          role="tablist"
          aria-orientation="vertical"
          aria-label={t("settings.title")}
          onKeyDown={(e) => {
            // Arrow keys move between tabs, as in any tab list.
            if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
            const tabs = Array.from(e.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]'));
            const i = tabs.indexOf(document.activeElement as HTMLElement);
            if (i < 0) return;
            e.preventDefault();
            const next = tabs[(i + (e.key === "ArrowDown" ? 1 : tabs.length - 1)) % tabs.length];
            next.focus();
            next.click();
          }}
          className="scroll-thin w-56 overflow-y-auto px-2 py-14"
        >
          <h2 className="px-2.5 pb-1.5 text-xs font-bold uppercase text-muted">{t("settings.userSection")}</h2>
          {USER_TABS.map((x) => tabButton(x.id, x.label))}
          <div className="mx-2.5 my-2 h-px bg-line" />
          <h2 className="px-2.5 pb-1.5 text-xs font-bold uppercase text-muted">{t("settings.appSection")}</h2>
          {APP_TABS.map((x) => tabButton(x.id, x.label))}
          {showAdmin && (
            <>
              <div className="mx-2.5 my-2 h-px bg-line" />
              <h2 className="truncate px-2.5 pb-1.5 text-xs font-bold uppercase text-muted">{detail!.server.name}</h2>
              {tabButton("admin", "settings.tab.admin")}
            </>
          )}
          <div className="mx-2.5 my-2 h-px bg-line" />
          <button
            type="button"
            onClick={() => void logout()}
            className="flex w-full items-center justify-between rounded px-2.5 py-1.5 text-left font-medium text-danger hover:bg-hover"
          >
            {t("settings.logout")}
            <Icon name="logout" size={16} />
          </button>
        </nav>
      </div>
      <div className="flex flex-[1.6] overflow-hidden">
        <section
          // A fresh panel per tab: each tab opens at its top, not at the last one's scroll.
          key={tab}
          id="settings-panel"
          role="tabpanel"
          aria-labelledby={`settings-tab-${tab}`}
          className="scroll-thin w-full max-w-[740px] overflow-y-auto px-10 py-14"
        >
          {tab === "account" && <AccountTab />}
          {tab === "voice" && <VoiceTab />}
          {tab === "appearance" && <AppearanceTab />}
          {tab === "language" && <LanguageTab />}
          {tab === "admin" && (detail && showAdmin ? <AdminTab detail={detail} /> : <p className="text-muted">{t("admin.noServer")}</p>)}
        </section>
        <div className="shrink-0 pt-14">
          <button
            type="button"
            data-testid="close-settings"
            aria-label={t("settings.close")}
            onClick={ui.closeSettings}
            className="flex h-9 w-9 items-center justify-center rounded-full border-2 border-muted text-muted hover:border-fg hover:text-fg"
          >
            <Icon name="close" size={18} />
          </button>
          <div className="mt-1 text-center text-xs font-semibold text-muted" aria-hidden="true">
            {t("settings.escHint")}
          </div>
        </div>
      </div>
    </div>
  );
}
