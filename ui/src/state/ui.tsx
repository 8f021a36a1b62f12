import { createContext, useContext, useMemo, useState, type ReactNode } from "react";

export type SettingsTab = "account" | "voice" | "appearance" | "language" | "admin";

interface UiValue {
  settingsTab: SettingsTab | null;
  openSettings: (tab?: SettingsTab) => void;
  closeSettings: () => void;
  showMembers: boolean;
  toggleMembers: () => void;
}

const UiContext = createContext<UiValue | null>(null);

export function UiProvider({ children }: { children: ReactNode }) {
  const [settingsTab, setSettingsTab] = useState<SettingsTab | null>(null);
  const [showMembers, setShowMembers] = useState(true);
  const value = useMemo(
    () => ({
      settingsTab,
      openSettings: (tab: SettingsTab = "account") => setSettingsTab(tab),
      closeSettings: () => setSettingsTab(null),
      showMembers,
      toggleMembers: () => setShowMembers((v) => !v),
    }),
    [settingsTab, showMembers],
  );
  return <UiContext.Provider value={value}>{children}</UiContext.Provider>;
}

export function useUi(): UiValue {
  const v = useContext(UiContext);
  if (!v) throw new Error("useUi outside UiProvider");
  return v;
}
