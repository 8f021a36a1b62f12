// A fake Tauri IPC for tests. `invoke` answers from per-command handlers (a handler that
// throws a plain object plays a Rust `Err(CommandError)`); `emit` delivers an event to
// whatever the UI listens to. The real bindings run on top, so argument names are tested too.

import { vi } from "vitest";

type Handler = (args: Record<string, unknown>) => unknown;
type Listener = (e: { event: string; id: number; payload: unknown }) => void;

const handlers = new Map<string, Handler>();
const listeners = new Map<string, Set<Listener>>();

export const invoke = vi.fn(async (cmd: string, args?: Record<string, unknown>) => {
  const h = handlers.get(cmd);
  if (!h) throw { code: "internal", message: `no mock for ${cmd}` };
  return h(args ?? {});
});

export function mockCommand(cmd: string, handler: Handler | unknown): void {
  handlers.set(cmd, typeof handler === "function" ? (handler as Handler) : () => handler);
}

/** Makes a command fail the way a Rust `Err(CommandError)` does. */
export function mockCommandError(cmd: string, code: string, message = code): void {
  handlers.set(cmd, () => {
    throw { code, message };
  });
}

export async function emit(event: string, payload: unknown): Promise<void> {
  const { act } = await import("@testing-library/react");
  await act(async () => {
    for (const l of listeners.get(event) ?? []) l({ event, id: 0, payload });
  });
}

export function listenerCount(event: string): number {
  return listeners.get(event)?.size ?? 0;
}

export function invokedWith(cmd: string): Record<string, unknown>[] {
  return invoke.mock.calls.filter((c) => c[0] === cmd).map((c) => (c[1] ?? {}) as Record<string, unknown>);
}

export function resetTauriMock(): void {
  handlers.clear();
  listeners.clear();
  invoke.mockClear();
}

class FakeChannel {
  id = 0;
  onmessage: (m: unknown) => void = () => {};
}

export const coreModule = { invoke, Channel: FakeChannel, transformCallback: () => 0 };

export const eventModule = {
  listen: vi.fn(async (event: string, cb: Listener) => {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(cb);
    return () => set!.delete(cb);
  }),
  once: vi.fn(async () => () => {}),
  emit: vi.fn(async () => {}),
};

/** The arguments of the latest call of `cmd`. */
export function lastInvoke(cmd: string): Record<string, unknown> | undefined {
  const all = invokedWith(cmd);
  return all[all.length - 1];
}
