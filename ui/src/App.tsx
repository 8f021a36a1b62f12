import { useEffect, type ComponentType, type ReactNode } from "react";
import { HashRouter, Navigate, Route, Routes } from "react-router-dom";
import { SettingsProvider } from "./state/settings";
import { SessionProvider, useSession } from "./state/session";
import { AppProvider } from "./state/AppProvider";
import { VoiceProvider } from "./state/VoiceProvider";
import { UiProvider } from "./state/ui";
import { Splash } from "./pages/Splash";
import { LoginPage } from "./pages/Login";
import { RegisterPage } from "./pages/Register";
import { AppShell } from "./layout/AppShell";
import { suppressSystemContextMenu } from "./components/contextMenu";
import { commands, events } from "./lib/backend";
import { useBackendEvent } from "./lib/useBackendEvent";
import { setPendingInvite } from "./state/inviteLink";

function Root() {
  const { state } = useSession();
  if (state.status === "restoring") return <Splash />;
  if (state.status === "out") {
    return (
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/register" element={<RegisterPage />} />
        <Route path="*" element={<Navigate to="/login" replace />} />
      </Routes>
    );
  }
  const { session } = state;
  return (
    <AppProvider key={`${session.server_url}|${session.user.id}`} user={session.user} serverUrl={session.server_url}>
      <VoiceProvider>
        <UiProvider>
          <Routes>
            <Route path="/channels/:serverId/:channelId?" element={<AppShell />} />
            <Route path="/" element={<AppShell />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </UiProvider>
      </VoiceProvider>
    </AppProvider>
  );
}

/** The whole app; `Router` is swappable so tests can use a MemoryRouter. */
/** Opt in to React Router v7 behaviour now (and silence its warnings). */
export const routerFuture = { v7_startTransition: true, v7_relativeSplatPath: true } as const;

function DefaultRouter({ children }: { children?: ReactNode }) {
  return <HashRouter future={routerFuture}>{children}</HashRouter>;
}

/** Invite links the app was started with, or opened while it runs. */
function InviteLinks() {
  useEffect(() => {
    commands
      .takeInviteLink()
      .then((link) => link && setPendingInvite(link))
      .catch(() => {});
  }, []);
  useBackendEvent(events.inviteLinkOpened, (e) => setPendingInvite(e.link));
  return null;
}

export function App({ router: Router = DefaultRouter }: { router?: ComponentType<{ children?: ReactNode }> }) {
  useEffect(suppressSystemContextMenu, []);
  return (
    <Router>
      <SettingsProvider>
        <SessionProvider>
          <InviteLinks />
          <Root />
        </SessionProvider>
      </SettingsProvider>
    </Router>
  );
}
