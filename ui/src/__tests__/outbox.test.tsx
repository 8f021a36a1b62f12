import { describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { outboxReducer, sendable, type OutboxState } from "../state/outbox";
import { message, me, ready, renderLoggedIn } from "../test/fixtures";
import { emit, invokedWith, lastInvoke, mockCommand } from "../test/tauriMock";

describe("outbox reducer", () => {
  const q = (s: OutboxState, nonce: string, channelId = "20") =>
    outboxReducer(s, { type: "enqueue", nonce, channelId, content: nonce, replyTo: null, now: 0 });

  it("sends nothing while offline, one per channel in order while live", () => {
    let s = q(q(q([], "a"), "b"), "c", "21");
    expect(sendable(s, false, 0)).toEqual([]);
    expect(sendable(s, true, 0).map((e) => e.nonce)).toEqual(["a", "c"]);
    s = outboxReducer(s, { type: "sending", nonce: "a" });
    expect(sendable(s, true, 0).map((e) => e.nonce)).toEqual(["c"]);
    s = outboxReducer(s, { type: "delivered", nonce: "a" });
    expect(sendable(s, true, 0).map((e) => e.nonce)).toEqual(["b", "c"]);
  });

  it("backs off after a transient failure, keeps permanent failures out", () => {
    let s = q([], "a");
    s = outboxReducer(s, { type: "sending", nonce: "a" });
    s = outboxReducer(s, { type: "failed", nonce: "a", code: "unreachable", transient: true, now: 1000 });
    expect(s[0]).toMatchObject({ status: "queued", retryAt: 2000, attempts: 1 });
    expect(sendable(s, true, 1500)).toEqual([]);
    expect(sendable(s, true, 2000).map((e) => e.nonce)).toEqual(["a"]);
    // The connection coming back skips the wait.
    expect(sendable(outboxReducer(s, { type: "online", now: 1500 }), true, 1500)).toHaveLength(1);
    s = outboxReducer(s, { type: "sending", nonce: "a" });
    s = outboxReducer(s, { type: "failed", nonce: "a", code: "forbidden", transient: false, now: 3000 });
    expect(s[0]).toMatchObject({ status: "failed", error: "forbidden" });
    expect(sendable(s, true, 10_000)).toEqual([]);
  });
});

describe("outbox in the chat", () => {
  it("queues while offline, retries with the same nonce, drops on echo", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    await emit("connection-changed", { state: "reconnecting", ready: null });
    expect(screen.getByTestId("connection-banner")).toHaveTextContent(/Reconnecting/);

    let attempt = 0;
    mockCommand("send_message", () => {
      attempt++;
      // First try fails like a dropped connection; the second never answers (slow network),
      // so only the gateway echo can clear the pending message.
      if (attempt === 1) throw { code: "unreachable", message: "down" };
      return new Promise(() => {});
    });

    await user.type(screen.getByTestId("composer"), "hello world{Enter}");
    const pending = await screen.findByText("hello world");
    const el = pending.closest('[data-testid="message"]')!;
    expect(el).toHaveAttribute("data-pending", "true");
    expect(invokedWith("send_message")).toHaveLength(0);

    await emit("connection-changed", { state: "live", ready: null });
    await waitFor(() => expect(invokedWith("send_message")).toHaveLength(1));
    const nonce = invokedWith("send_message")[0].nonce as string;
    expect(invokedWith("send_message")[0]).toMatchObject({ channelId: "20", content: "hello world", replyTo: null });

    // Transient failure: retried (the connection flapping back to live skips the backoff).
    await emit("connection-changed", { state: "live", ready: null });
    await waitFor(() => expect(invokedWith("send_message")).toHaveLength(2));
    expect(invokedWith("send_message")[1].nonce).toBe(nonce);

    // The echo with the same nonce replaces the pending copy: one message, not pending.
    await emit("server-event", {
      event: { type: "message_create", message: message("900", "hello world", { author_id: me.id, nonce }) },
    });
    const all = screen.getAllByTestId("message");
    expect(all).toHaveLength(1);
    expect(all[0]).toHaveAttribute("data-pending", "false");
    expect(all[0]).toHaveAttribute("data-message-id", "900");
    expect(screen.queryByTestId("connection-banner")).toBeNull();
  });

  it("the command result clears the outbox even before the echo", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    mockCommand("send_message", (a: Record<string, unknown>) =>
      message("901", String(a.content), { author_id: me.id, nonce: String(a.nonce) }),
    );
    await user.type(screen.getByTestId("composer"), "line one{Shift>}{Enter}{/Shift}line two{Enter}");
    await waitFor(() => expect(screen.getByTestId("message")).toHaveAttribute("data-message-id", "901"));
    expect(invokedWith("send_message")[0].content).toBe("line one\nline two");
    // The late echo does not duplicate it.
    const nonce = invokedWith("send_message")[0].nonce as string;
    await emit("server-event", { event: { type: "message_create", message: message("901", "line one\nline two", { author_id: me.id, nonce }) } });
    expect(screen.getAllByTestId("message")).toHaveLength(1);
  });

  it("paints cached messages first, acks the newest, loads history", async () => {
    const history = new Promise<unknown>((r) => setTimeout(() => r([message("50", "from cache"), message("51", "from server")]), 20));
    const { findByText } = await renderLoggedIn(
      "/channels/10/20",
      ready({ read_states: [{ channel_id: "20", last_read_id: "10", unread_count: 2, mention_count: 0 }] }),
      () => {
        mockCommand("cached_messages", [message("50", "from cache")]);
        mockCommand("history", () => history);
      },
    );
    expect(await findByText("from cache")).toBeInTheDocument();
    expect(await findByText("from server")).toBeInTheDocument();
    await waitFor(() => expect(lastInvoke("ack")).toEqual({ channelId: "20", messageId: "51" }));
  });
});
