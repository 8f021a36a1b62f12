import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";

export type SettingsTab = "account" | "voice" | "appearance" | "language" | "admin";

interface UiValue {
  settingsTab: SettingsTab | null;
  openSettings: (tab?: SettingsTab) => void;
  /** Closes settings, unless an editor there holds unsaved changes (see `markUnsaved`). */
  closeSettings: () => void;
  /** An editor with unsaved changes registers here while it has them. */
  markUnsaved: (id: string, unsaved: boolean) => void;
  /** Counts refused closes, so editors can say why settings stayed open. */
  closeRefusals: number;
  showMembers: boolean;
  toggleMembers: () => void;
}

const UiContext = createContext<UiValue | null>(null);

export function UiProvider({ children }: { children: ReactNode }) {
  const [settingsTab, setSettingsTab] = useState<SettingsTab | null>(null);
  const [showMembers, setShowMembers] = useState(true);
  const [closeRefusals, setCloseRefusals] = useState(0);
  // A ref, not state: registering must not re-render every consumer of this context.
  const unsaved = useRef(new Set<string>());
  const markUnsaved = useCallback((id: string, on: boolean) => {
    if (on) unsaved.current.add(id);
    else unsaved.current.delete(id);
  }, []);
  const value = useMemo(
    () => ({
      settingsTab,
      openSettings: (tab: SettingsTab = "account") => setSettingsTab(tab),
      // Like Discord: leaving with unsaved changes is refused, and the save bar says so.
      closeSettings: () => (unsaved.current.size > 0 ? setCloseRefusals((n) => n + 1) : setSettingsTab(null)),
      markUnsaved,
      closeRefusals,
      showMembers,
      toggleMembers: () => setShowMembers((v) => !v),
    }),
    [settingsTab, showMembers, closeRefusals, markUnsaved],
  );
  return <UiContext.Provider value={value}>{children}</UiContext.Provider>;
}

export function useUi(): UiValue {
  const v = useContext(UiContext);
  if (!v) throw new Error("useUi outside UiProvider");
  return v;
}
