// The logged-in store: gateway snapshot and events (app reducer), the outbox and typing.
// Split into contexts by how often they change, so the 10 s typing clock or a pending
// message does not re-render the whole window.

import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
  type Dispatch,
  type ReactNode,
} from "react";
import {
  commands,
  isTransient,
  normalizeError,
  type ConnectionChanged,
  type CurrentUser,
  type GatewayEvent,
  type Message,
  type Ready,
} from "../lib/backend";
import { useSession } from "./session";
import { newNonce } from "../lib/ids";
import { appReducer, initialAppState, type AppAction, type AppState } from "./app";
import { nextRetry, outboxReducer, sendable, type OutboxState } from "./outbox";
import { nextExpiry, typingReducer, type TypingState } from "./typing";

export const HISTORY_PAGE = 50;

interface AppValue {
  state: AppState;
  dispatch: Dispatch<AppAction>;
  /** The server this session is logged in to (`https://host:port`), for invite links. */
  serverUrl: string;
}
interface OutboxValue {
  entries: OutboxState;
  send: (channelId: string, content: string, replyTo: string | null) => string;
  retry: (nonce: string) => void;
  discard: (nonce: string) => void;
}

const AppContext = createContext<AppValue | null>(null);
const OutboxContext = createContext<OutboxValue | null>(null);
const TypingContext = createContext<TypingState>({});

function outboxKey(user: CurrentUser | null, serverUrl: string): string {
  return `auraspeak.outbox.${serverUrl}.${user?.id ?? ""}`;
}

function loadOutbox(key: string): OutboxState {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return [];
    // Whatever was in flight when the app closed is sent again with the same nonce.
    return (JSON.parse(raw) as OutboxState).map((e) =>
      e.status === "sending" ? { ...e, status: "queued" as const, retryAt: 0 } : e,
    );
  } catch {
    return [];
  }
}

export function AppProvider({
  user,
  serverUrl,
  children,
}: {
  user: CurrentUser;
  serverUrl: string;
  children: ReactNode;
}) {
  const { gateway } = useSession();
  // Start from what the gateway said before this store existed (see gatewayBuffer.ts).
  const initialReady = useRef<Ready | null>(null);
  const [state, dispatch] = useReducer(appReducer, null, () => {
    const snap = gateway.takeSnapshot();
    initialReady.current = snap.ready;
    let s: AppState = { ...initialAppState, user, connection: snap.state };
    if (snap.ready) s = appReducer(s, { type: "connection", state: snap.state, ready: snap.ready });
    for (const event of snap.events) s = appReducer(s, { type: "event", event });
    return s;
  });
  const key = outboxKey(user, serverUrl);
  const [outbox, outboxDispatch] = useReducer(outboxReducer, key, loadOutbox);
  const [typing, typingDispatch] = useReducer(typingReducer, {} as TypingState);
  const live = state.connection === "live";

  // Gateway events feed all three stores.
  const onConnection = (p: ConnectionChanged) => {
    dispatch({ type: "connection", state: p.state, ready: p.ready });
    if (p.state === "live") outboxDispatch({ type: "online", now: Date.now() });
  };
  const onEvent = (event: GatewayEvent) => {
    dispatch({ type: "event", event });
    if (event.type === "typing_start") {
      if (event.user_id !== user.id)
        typingDispatch({ type: "start", channelId: event.channel_id, userId: event.user_id, now: Date.now() });
    } else if (event.type === "message_create") {
      typingDispatch({ type: "stop", channelId: event.message.channel_id, userId: event.message.author_id });
      if (event.message.nonce) outboxDispatch({ type: "delivered", nonce: event.message.nonce });
    }
  };
  const handlers = useRef({ onConnection, onEvent });
  handlers.current = { onConnection, onEvent };
  useEffect(() => {
    const { snapshot, unsubscribe } = gateway.subscribe((m) =>
      m.kind === "connection" ? handlers.current.onConnection(m.payload) : handlers.current.onEvent(m.event),
    );
    // Whatever arrived between the first render and this effect (a Ready too).
    const ready = snapshot.ready !== initialReady.current ? snapshot.ready : null;
    handlers.current.onConnection({ state: snapshot.state, ready });
    for (const event of snapshot.events) handlers.current.onEvent(event);
    return unsubscribe;
  }, [gateway]);

  // Channels the server says we may now see but never sent: load the server again.
  const reloading = useRef(new Set<string>());
  useEffect(() => {
    for (const serverId of state.reloadServers) {
      if (reloading.current.has(serverId)) continue;
      reloading.current.add(serverId);
      commands
        .serverDetail(serverId)
        .then((r) =>
          dispatch(r.status === "ok" ? { type: "serverDetail", detail: r.data } : { type: "reloadFailed", serverId }),
        )
        .catch(() => dispatch({ type: "reloadFailed", serverId }))
        .finally(() => reloading.current.delete(serverId));
    }
  }, [state.reloadServers]);

  // Keep the user in sync when the profile changes elsewhere.
  useEffect(() => dispatch({ type: "user", user }), [user]);

  // Persist the outbox so even a crash loses nothing typed.
  useEffect(() => {
    try {
      if (outbox.length) localStorage.setItem(key, JSON.stringify(outbox));
      else localStorage.removeItem(key);
    } catch {
      // Storage unavailable: the in-memory outbox still works.
    }
  }, [key, outbox]);

  // Drive the outbox: send what is due, schedule a wake-up for backed-off entries.
  const [tick, setTick] = useState(0);
  const inFlight = useRef(new Set<string>());
  useEffect(() => {
    const now = Date.now();
    for (const e of sendable(outbox, live, now)) {
      // Guards against a second effect run before the "sending" state has rendered.
      if (inFlight.current.has(e.nonce)) continue;
      inFlight.current.add(e.nonce);
      outboxDispatch({ type: "sending", nonce: e.nonce });
      commands
        .sendMessage(e.channelId, e.content, e.replyTo, e.nonce)
        .then((r) => {
          if (r.status === "ok") {
            outboxDispatch({ type: "delivered", nonce: e.nonce });
            dispatch({ type: "messages", action: { type: "upsert", message: r.data } });
            dispatch({ type: "read", channelId: r.data.channel_id, lastReadId: r.data.id });
          } else {
            outboxDispatch({
              type: "failed",
              nonce: e.nonce,
              code: r.error.code,
              transient: isTransient(r.error.code),
              now: Date.now(),
            });
          }
        })
        .catch((err: unknown) => {
          const code = normalizeError(err).code;
          outboxDispatch({ type: "failed", nonce: e.nonce, code, transient: true, now: Date.now() });
        })
        .finally(() => inFlight.current.delete(e.nonce));
    }
    const wake = live ? nextRetry(outbox, now) : null;
    if (wake === null) return;
    const t = setTimeout(() => setTick((x) => x + 1), Math.max(0, wake - now));
    return () => clearTimeout(t);
  }, [outbox, live, tick]);

  // Expire typing indicators exactly when the earliest one runs out.
  useEffect(() => {
    const at = nextExpiry(typing);
    if (at === null) return;
    const t = setTimeout(() => typingDispatch({ type: "prune", now: Date.now() }), Math.max(0, at - Date.now()) + 5);
    return () => clearTimeout(t);
  }, [typing]);

  const send = useCallback((channelId: string, content: string, replyTo: string | null) => {
    const nonce = newNonce();
    outboxDispatch({ type: "enqueue", nonce, channelId, content, replyTo, now: Date.now() });
    return nonce;
  }, []);
  const retry = useCallback((nonce: string) => outboxDispatch({ type: "retry", nonce, now: Date.now() }), []);
  const discard = useCallback((nonce: string) => outboxDispatch({ type: "discard", nonce }), []);

  const appValue = useMemo(() => ({ state, dispatch, serverUrl }), [state, serverUrl]);
  const outboxValue = useMemo(() => ({ entries: outbox, send, retry, discard }), [outbox, send, retry, discard]);

  return (
    <AppContext.Provider value={appValue}>
      <OutboxContext.Provider value={outboxValue}>
        <TypingContext.Provider value={typing}>{children}</TypingContext.Provider>
      </OutboxContext.Provider>
    </AppContext.Provider>
  );
}

export function useApp(): AppValue {
  const v = useContext(AppContext);
  if (!v) throw new Error("useApp outside AppProvider");
  return v;
}

export function useOutbox(): OutboxValue {
  const v = useContext(OutboxContext);
  if (!v) throw new Error("useOutbox outside AppProvider");
  return v;
}

export function useTypingState(): TypingState {
  return useContext(TypingContext);
}

/** Loads a channel: the local cache first (instant paint), then the newest history page. */
export function useChannelLoader(channelId: string | null) {
  const { state, dispatch } = useApp();
  const ch = channelId ? state.messages[channelId] : undefined;
  const fresh = ch?.fresh ?? false;
  const live = state.connection === "live";
  const [loadingOlder, setLoadingOlder] = useState(false);
  const loadingRef = useRef(false);

  useEffect(() => {
    if (!channelId || ch) return;
    commands
      .cachedMessages(channelId)
      .then((r) =>
        r.status === "ok"
          ? dispatch({ type: "messages", action: { type: "cached", channelId, messages: r.data } })
          : undefined,
      )
      .catch(() => dispatch({ type: "messages", action: { type: "cached", channelId, messages: [] } }));
  }, [channelId, ch, dispatch]);

  useEffect(() => {
    if (!channelId || fresh || !live) return;
    let alive = true;
    commands.history(channelId, null, HISTORY_PAGE).then((r) => {
      if (alive && r.status === "ok")
        dispatch({
          type: "messages",
          action: { type: "history", channelId, messages: r.data, before: null, limit: HISTORY_PAGE },
        });
    }).catch(() => {});
    return () => {
      alive = false;
    };
  }, [channelId, fresh, live, dispatch]);

  const loadOlder = useCallback(
    async (oldest: Message | undefined) => {
      if (!channelId || !oldest || loadingRef.current) return;
      loadingRef.current = true;
      setLoadingOlder(true);
      try {
        const r = await commands.history(channelId, oldest.id, HISTORY_PAGE);
        if (r.status === "ok")
          dispatch({
            type: "messages",
            action: { type: "history", channelId, messages: r.data, before: oldest.id, limit: HISTORY_PAGE },
          });
      } finally {
        loadingRef.current = false;
        setLoadingOlder(false);
      }
    },
    [channelId, dispatch],
  );

  return { channel: ch, loadingOlder, loadOlder };
}
