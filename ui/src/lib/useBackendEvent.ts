import { useEffect, useRef } from "react";

interface Listenable<T> {
  listen: (cb: (e: { payload: T }) => void) => Promise<() => void>;
}

/**
 * Subscribes to a Rust event for the life of the component. `listen` resolves
 * asynchronously, so an unmount before it resolves must still unlisten.
 */
export function useBackendEvent<T>(event: Listenable<T>, handler: (payload: T) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    let unlisten: (() => void) | null = null;
    let disposed = false;
    event
      .listen((e) => {
        if (!disposed) ref.current(e.payload);
      })
      .then((u) => {
        if (disposed) u();
        else unlisten = u;
      })
      .catch(() => {
        // Outside Tauri (plain browser preview) there is no event bus.
      });
    return () => {
      disposed = true;
      unlisten?.();
    };
    // The event object is a fresh proxy on every access; subscribe once.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
}
