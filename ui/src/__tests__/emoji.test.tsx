import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { loadEmojis, replaceShortcodes, searchEmojis, shortcodeMap } from "../chat/emojiData";
import { me, message, ready, renderLoggedIn } from "../test/fixtures";
import { lastInvoke, mockCommand } from "../test/tauriMock";

describe("emoji data", () => {
  it("has the full set with shortcodes, searchable by shortcode, name and keyword", async () => {
    const all = await loadEmojis("en");
    expect(all.length).toBeGreaterThan(1800);
    expect(searchEmojis(all, ":tada:")[0].emoji).toBe("🎉");
    expect(searchEmojis(all, "thumbsup")[0].emoji).toBe("👍");
    expect(searchEmojis(all, "party").map((e) => e.emoji)).toContain("🎉");
    expect(searchEmojis(all, "zzzznotanemoji")).toEqual([]);
  });

  it("finds German names when the app speaks German", async () => {
    const de = await loadEmojis("de");
    expect(searchEmojis(de, "daumen").map((e) => e.emoji)).toContain("👍");
    expect(searchEmojis(de, "thumbs").map((e) => e.emoji)).toContain("👍");
  });

  it("turns :shortcodes: into emoji, except in code and for unknown codes", async () => {
    const codes = shortcodeMap(await loadEmojis("en"));
    expect(replaceShortcodes(":+1: gg :Tada: `:smile:` :nope: 10:30:45", codes)).toBe("👍 gg 🎉 `:smile:` :nope: 10:30:45");
  });
});

describe("emoji picker and shortcodes in chat", () => {
  it("searches the full set in the picker and sends :shortcodes: as emoji", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", [message("40", "hi")]));
    mockCommand("add_reaction", null);
    const [msg] = await screen.findAllByTestId("message");
    await user.click(within(msg).getByRole("button", { name: "Add reaction" }));
    const search = await screen.findByTestId("emoji-search");
    await user.type(search, "rocket");
    await user.click(await screen.findByRole("menuitem", { name: /^rocket/ }));
    expect(lastInvoke("add_reaction")).toMatchObject({ emoji: "🚀" });

    mockCommand("send_message", (a: Record<string, unknown>) => message("51", String(a.content), { author_id: me.id, nonce: String(a.nonce) }));
    // The shortcode map arrives with the emoji data, a moment after the composer mounts.
    await loadEmojis("en");
    await user.type(screen.getByTestId("composer"), "gg :fire:{Enter}");
    await waitFor(() => expect(lastInvoke("send_message")).toMatchObject({ content: "gg 🔥" }));
  });
});
