// Who is logged in where. On start, `restore_session` decides between the splash turning
// into the app or into the login page.

import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { commands, unwrap, type AppSession, type CurrentUser } from "../lib/backend";
import { GatewayBuffer } from "./gatewayBuffer";

export type SessionState =
  | { status: "restoring" }
  /** `notice`: why an earlier session could not be restored (a CommandError code). */
  | { status: "out"; notice?: string }
  | { status: "in"; session: AppSession };

interface SessionValue {
  state: SessionState;
  login: (server: string, login: string, password: string) => Promise<void>;
  register: (server: string, username: string, email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  setUser: (user: CurrentUser) => void;
  gateway: GatewayBuffer;
}

const SessionContext = createContext<SessionValue | null>(null);

/** Adds https:// when the user typed only a host name. */
/** The address as typed, trimmed. The backend picks the scheme when none is given (plain
 * HTTP on this machine and private networks, HTTPS elsewhere): guessing https here turned
 * `127.0.0.1:8080` into a TLS failure. */
export function normalizeServerUrl(input: string): string {
  return input.trim().replace(/\/+$/, "");
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: "restoring" });
  const [gateway] = useState(() => new GatewayBuffer());

  useEffect(() => {
    let alive = true;
    // Listen before anything can start the gateway, so its Ready is never missed.
    gateway
      .start()
      .then(() => commands.restoreSession())
      .then((r) => {
        if (!alive) return;
        if (r.status === "ok" && r.data) setState({ status: "in", session: r.data });
        else setState({ status: "out", notice: r.status === "error" ? r.error.code : undefined });
      })
      .catch(() => alive && setState({ status: "out" }));
    return () => {
      alive = false;
      gateway.stop();
    };
  }, [gateway]);

  const login = useCallback(async (server: string, loginName: string, password: string) => {
    await gateway.start();
    const session = unwrap(await commands.login(normalizeServerUrl(server), loginName.trim(), password));
    setState({ status: "in", session });
  }, [gateway]);

  const register = useCallback(
    async (server: string, username: string, email: string, password: string) => {
      await gateway.start();
      const session = unwrap(
        await commands.register(normalizeServerUrl(server), username.trim(), email.trim(), password),
      );
      setState({ status: "in", session });
    },
    [gateway],
  );

  const logout = useCallback(async () => {
    try {
      await commands.logout();
    } finally {
      gateway.reset();
      setState({ status: "out" });
    }
  }, [gateway]);

  const setUser = useCallback((user: CurrentUser) => {
    setState((s) => (s.status === "in" ? { status: "in", session: { ...s.session, user } } : s));
  }, []);

  return (
    <SessionContext.Provider value={{ state, login, register, logout, setUser, gateway }}>
      {children}
    </SessionContext.Provider>
  );
}

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error("useSession outside SessionProvider");
  return v;
}
