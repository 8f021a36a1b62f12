import { describe, expect, it } from "vitest";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { App, routerFuture } from "../App";
import { GatewayBuffer } from "../state/gatewayBuffer";
import { me, message, mockBasics, ready } from "../test/fixtures";
import { emit, mockCommand } from "../test/tauriMock";

describe("gateway buffer", () => {
  it("keeps Ready and later events until the store subscribes, then forwards live", () => {
    const b = new GatewayBuffer();
    b.handleEvent({ type: "typing_start", channel_id: "1", user_id: "2" });
    b.handleConnection({ state: "live", ready: ready() });
    const ev = { type: "message_create" as const, message: message("5", "x") };
    b.handleEvent(ev);
    const seen: unknown[] = [];
    const { snapshot } = b.subscribe((m) => seen.push(m));
    expect(snapshot.state).toBe("live");
    expect(snapshot.ready?.user.id).toBe(me.id);
    // Events from before the Ready are dropped with it: the snapshot already covers them.
    expect(snapshot.events).toEqual([ev]);
    b.handleEvent(ev);
    expect(seen).toEqual([{ kind: "event", event: ev }]);
    b.reset();
    expect(b.takeSnapshot()).toEqual({ state: "connecting", ready: null, events: [] });
  });
});

describe("login race", () => {
  it("does not lose a Ready that arrives while login is still returning", async () => {
    mockBasics();
    mockCommand("restore_session", null);
    mockCommand("login", async () => {
      await emit("connection-changed", { state: "live", ready: ready() });
      await emit("server-event", { event: { type: "server_update", server: { ...ready().servers[0].server, name: "Renamed" } } });
      return { server_url: "https://x", user: me };
    });
    render(
      <App router={({ children }) => <MemoryRouter future={routerFuture} initialEntries={["/login"]}>{children}</MemoryRouter>} />,
    );
    const user = userEvent.setup();
    await user.type(await screen.findByRole("textbox", { name: /Server address/ }), "x");
    await user.type(document.querySelector('input[name="login"]')!, "ann");
    await user.type(document.querySelector('input[name="password"]')!, "pw123456");
    await user.click(screen.getByRole("button", { name: "Log In" }));
    await screen.findByTestId("app-shell");
    await waitFor(() => expect(screen.getByTestId("server-10")).toHaveAttribute("aria-label", "Renamed"));
    expect(screen.queryByTestId("connection-banner")).toBeNull();
  });
});
