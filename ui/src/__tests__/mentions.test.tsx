import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { encodeMentions, insertMention, mentionMatches, mentionQuery } from "../chat/mentions";
import { bob, carl, message, ready, renderLoggedIn } from "../test/fixtures";
import { lastInvoke, mockCommand } from "../test/tauriMock";

describe("mention helpers", () => {
  it("finds the query before the caret only after whitespace or at the start", () => {
    expect(mentionQuery("hi @bo", 6)).toBe("bo");
    expect(mentionQuery("@", 1)).toBe("");
    expect(mentionQuery("mail a@b", 8)).toBeNull();
    expect(mentionQuery("hi @bob there", 13)).toBeNull();
  });

  it("matches by username and shown name", () => {
    expect(mentionMatches([bob, carl], "car").map((m) => m.username)).toEqual(["carl"]);
    expect(mentionMatches([bob, carl], "CARLOS").map((m) => m.username)).toEqual(["carl"]);
    expect(mentionMatches([bob, carl], "").length).toBe(2);
  });

  it("inserts the username and encodes known names for the wire", () => {
    expect(insertMention("hey @bo and", 7, "bob")).toEqual({ text: "hey @bob  and", caret: 9 });
    expect(encodeMentions("@bob, ask @Carl. and @nobody or mail x@bob", [bob, carl])).toBe(
      "<@200>, ask <@300>. and @nobody or mail x@bob",
    );
    expect(encodeMentions("@everyone hi", [bob])).toBe("@everyone hi");
  });

  it("also takes the nickname or display name people type, when only one member has it", () => {
    expect(encodeMentions("gg @Carlos and @BOB", [bob, carl])).toBe("gg <@300> and <@200>");
    // Two members shown as "Ace": ambiguous, so neither is pinged.
    const ace1 = { ...bob, user_id: "401", username: "ace_one", display_name: "Ace" };
    const ace2 = { ...carl, user_id: "402", username: "ace_two", nickname: "Ace" };
    expect(encodeMentions("@Ace ready?", [ace1, ace2])).toBe("@Ace ready?");
    // A username always wins over someone else's nickname.
    const impostor = { ...carl, user_id: "403", username: "imp", nickname: "bob" };
    expect(encodeMentions("@bob", [bob, impostor])).toBe("<@200>");
  });
});

describe("composer mention autocomplete", () => {
  it("suggests members, completes with Enter and sends <@id>", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    mockCommand("send_message", (a: Record<string, unknown>) => message("90", String(a.content), { nonce: String(a.nonce) }));
    const composer = screen.getByTestId("composer");
    await waitFor(() => expect(screen.getByRole("complementary", { name: "Members" })).toHaveTextContent("Carlos"));
    await user.type(composer, "hi @ca");
    const list = screen.getByRole("listbox");
    const options = within(list).getAllByRole("option");
    expect(options).toHaveLength(1);
    expect(options[0]).toHaveTextContent("Carloscarl");
    expect(options[0]).toHaveAttribute("aria-selected", "true");
    await user.keyboard("{Enter}");
    expect(composer).toHaveValue("hi @carl ");
    expect(screen.queryByRole("listbox")).toBeNull();
    await user.type(composer, "gg{Enter}");
    await waitFor(() => expect(lastInvoke("send_message")).toMatchObject({ content: "hi <@300> gg" }));
  });
});

describe("new messages divider", () => {
  it("sits above the first message unread when the channel was opened", async () => {
    await renderLoggedIn(
      "/channels/10/20",
      ready({ read_states: [{ channel_id: "20", last_read_id: "41", unread_count: 1, mention_count: 0 }] }),
      () => mockCommand("history", [message("40", "old"), message("41", "read"), message("42", "unread one")]),
    );
    await screen.findByText("unread one");
    const divider = screen.getByRole("separator", { name: "New messages" });
    expect(divider.nextElementSibling).toHaveAttribute("data-message-id", "42");
  });
});
