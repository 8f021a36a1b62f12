import { afterEach, describe, expect, it, vi } from "vitest";
import { act, screen } from "@testing-library/react";
import { typingReducer, typingUsers, shouldSendTyping, TYPING_TTL_MS } from "../state/typing";
import { message, renderLoggedIn } from "../test/fixtures";
import { emit } from "../test/tauriMock";

describe("typing reducer", () => {
  it("expires after the TTL and on the user's message", () => {
    let s = typingReducer({}, { type: "start", channelId: "20", userId: "200", now: 0 });
    s = typingReducer(s, { type: "start", channelId: "20", userId: "300", now: 5000 });
    expect(typingUsers(s, "20", 1000)).toEqual(["200", "300"]);
    expect(typingUsers(s, "20", TYPING_TTL_MS)).toEqual(["300"]);
    s = typingReducer(s, { type: "prune", now: TYPING_TTL_MS });
    expect(Object.keys(s["20"])).toEqual(["300"]);
    s = typingReducer(s, { type: "stop", channelId: "20", userId: "300" });
    expect(typingUsers(s, "20", 0)).toEqual([]);
  });

  it("throttles our own notifications to one per 8 s", () => {
    expect(shouldSendTyping(null, 0)).toBe(true);
    expect(shouldSendTyping(0, 7999)).toBe(false);
    expect(shouldSendTyping(0, 8000)).toBe(true);
  });
});

describe("typing indicator", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows 'X is typing…' and hides it after 10 s", async () => {
    await renderLoggedIn();
    vi.useFakeTimers({ shouldAdvanceTime: false, toFake: ["setTimeout", "clearTimeout", "Date"] });
    await emit("server-event", { event: { type: "typing_start", channel_id: "20", user_id: "200" } });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("Bob is typing…");
    await emit("server-event", { event: { type: "typing_start", channel_id: "20", user_id: "300" } });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("Bob and Carlos are typing…");
    await act(async () => {
      vi.advanceTimersByTime(9_000);
    });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("Bob and Carlos are typing…");
    // Carlos sends his message: he stops typing at once.
    await emit("server-event", { event: { type: "message_create", message: message("70", "hi", { author_id: "300" }) } });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("Bob is typing…");
    await act(async () => {
      vi.advanceTimersByTime(1_100);
    });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("");
  });

  it("ignores typing in other channels", async () => {
    await renderLoggedIn();
    await emit("server-event", { event: { type: "typing_start", channel_id: "21", user_id: "200" } });
    expect(screen.getByTestId("typing-indicator")).toHaveTextContent("");
  });
});
