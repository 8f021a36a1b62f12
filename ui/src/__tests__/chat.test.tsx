import { describe, expect, it } from "vitest";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { me, message, ready, renderLoggedIn, server, serverWith } from "../test/fixtures";
import { emit, invokedWith, lastInvoke, mockCommand } from "../test/tauriMock";

describe("channel list unread state", () => {
  it("marks live messages unread, counts mentions, clears and acks when opened", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready({ read_states: [{ channel_id: "21", last_read_id: "1", unread_count: 0, mention_count: 0 }] }));
    const random = screen.getByTestId("channel-21");
    expect(random).toHaveAccessibleName("Text channel random");
    await emit("server-event", { event: { type: "message_create", message: message("60", "yo", { channel_id: "21" }) } });
    expect(random).toHaveAccessibleName("Text channel random, unread");
    await emit("server-event", {
      event: { type: "message_create", message: message("61", "<@100> look", { channel_id: "21", mentions: [me.id] }) },
    });
    expect(random).toHaveAccessibleName("Text channel random, unread, 1 mentions");
    expect(screen.getByTestId("server-10")).toHaveAccessibleName("Gamers, 1 mentions");
    // Messages in the channel on screen do not count.
    await emit("server-event", { event: { type: "message_create", message: message("62", "here") } });
    expect(screen.getByTestId("channel-20")).toHaveAccessibleName("Text channel general");

    mockCommand("history", [message("60", "yo", { channel_id: "21" }), message("61", "<@100> look", { channel_id: "21", mentions: [me.id] })]);
    await user.click(random);
    await waitFor(() => expect(lastInvoke("ack")).toEqual({ channelId: "21", messageId: "61" }));
    expect(random).toHaveAccessibleName("Text channel random");
    // The mention is highlighted in the chat.
    const mentioned = screen.getAllByTestId("message").find((m) => m.dataset.messageId === "61")!;
    expect(mentioned.className).toContain("bg-mention");
    expect(mentioned).toHaveTextContent("@Ann look");
  });

  it("read_state_update from another device clears the badge", async () => {
    await renderLoggedIn("/channels/10/20", ready({ read_states: [{ channel_id: "21", last_read_id: "1", unread_count: 4, mention_count: 2 }] }));
    expect(screen.getByTestId("channel-21")).toHaveAccessibleName("Text channel random, unread, 2 mentions");
    await emit("server-event", { event: { type: "read_state_update", channel_id: "21", last_read_id: "99" } });
    expect(screen.getByTestId("channel-21")).toHaveAccessibleName("Text channel random");
  });
});

describe("messages", () => {
  const history = [
    message("40", "first from bob"),
    message("41", "mine **bold**", { author_id: me.id, reactions: [{ emoji: "🔥", count: 2, me: true }] }),
  ];

  it("toggles reactions and adds one from the picker", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", history));
    mockCommand("remove_reaction", null);
    mockCommand("add_reaction", null);
    const fire = await screen.findByRole("button", { name: "🔥 reaction, 2. Click to toggle." });
    expect(fire).toHaveAttribute("aria-pressed", "true");
    await user.click(fire);
    expect(lastInvoke("remove_reaction")).toEqual({ channelId: "20", messageId: "41", emoji: "🔥" });
    expect(screen.getByRole("button", { name: "🔥 reaction, 1. Click to toggle." })).toHaveAttribute("aria-pressed", "false");
    // The gateway echo of our own removal does not count twice.
    await emit("server-event", { event: { type: "reaction_remove", channel_id: "20", message_id: "41", user_id: me.id, emoji: "🔥" } });
    expect(screen.getByRole("button", { name: "🔥 reaction, 1. Click to toggle." })).toBeInTheDocument();

    const bobs = screen.getAllByTestId("message")[0];
    await user.click(within(bobs).getByRole("button", { name: "Add reaction" }));
    await user.click(screen.getByRole("menuitem", { name: "🎉" }));
    expect(lastInvoke("add_reaction")).toEqual({ channelId: "20", messageId: "40", emoji: "🎉" });
    expect(within(bobs).getByRole("button", { name: "🎉 reaction, 1. Click to toggle." })).toBeInTheDocument();
  });

  it("edits own messages; deletes with confirmation", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", history));
    mockCommand("edit_message", (a: Record<string, unknown>) => message("41", String(a.content), { author_id: me.id, edited_at: 1 }));
    mockCommand("delete_message", null);
    const [bobs, mine] = await screen.findAllByTestId("message");
    // Someone else's message: no edit (deleting needs MANAGE_MESSAGES, which the owner has).
    expect(within(bobs).queryByRole("button", { name: "Edit" })).toBeNull();
    await user.click(within(mine).getByRole("button", { name: "Edit" }));
    const box = within(mine).getByRole("textbox", { name: "Edit message" });
    await user.clear(box);
    await user.type(box, "changed{Enter}");
    expect(lastInvoke("edit_message")).toEqual({ channelId: "20", messageId: "41", content: "changed" });
    await waitFor(() => expect(mine).toHaveTextContent("changed(edited)"));

    await user.click(within(mine).getByRole("button", { name: "Delete message" }));
    const dialog = screen.getByRole("dialog", { name: "Delete message" });
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(lastInvoke("delete_message")).toEqual({ channelId: "20", messageId: "41" });
    await waitFor(() => expect(screen.getAllByTestId("message")).toHaveLength(1));
  });

  it("refuses an over-long message instead of cutting it, with a counter near the limit", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", history));
    mockCommand("send_message", (a: Record<string, unknown>) => message("51", String(a.content), { author_id: me.id, nonce: String(a.nonce) }));
    const composer = screen.getByTestId("composer") as HTMLTextAreaElement;
    // Pasted, as long texts arrive: 4,100 characters, none cut off.
    composer.focus();
    await user.paste("x".repeat(4100));
    expect(composer.value).toHaveLength(4100);
    expect(screen.getByTestId("composer-count")).toHaveTextContent("-100");
    expect(screen.getByRole("alert")).toHaveTextContent("Your message is too long (4100 of 4000 characters)");
    await user.keyboard("{Enter}");
    expect(invokedWith("send_message")).toHaveLength(0);
    expect(composer.value).toHaveLength(4100);
    // Shortened to the limit: the counter stays, the warning goes, and it sends.
    await user.clear(composer);
    await user.paste("y".repeat(3950));
    expect(screen.getByTestId("composer-count")).toHaveTextContent("50");
    expect(screen.queryByRole("alert")).toBeNull();
    await user.keyboard("{Enter}");
    await waitFor(() => expect(lastInvoke("send_message")).toMatchObject({ content: "y".repeat(3950) }));
    expect(screen.queryByTestId("composer-count")).toBeNull();
  });

  it("replies with a quote and sends reply_to", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", history));
    mockCommand("send_message", (a: Record<string, unknown>) =>
      message("50", String(a.content), { author_id: me.id, nonce: String(a.nonce), reply_to: a.replyTo as string }),
    );
    const [bobs] = await screen.findAllByTestId("message");
    await user.click(within(bobs).getByRole("button", { name: "Reply" }));
    expect(screen.getByText("Replying to Bob")).toBeInTheDocument();
    expect(screen.getByTestId("composer")).toHaveFocus();
    await user.type(screen.getByTestId("composer"), "agreed{Enter}");
    await waitFor(() => expect(lastInvoke("send_message")).toMatchObject({ content: "agreed", replyTo: "40" }));
    const sent = await waitFor(() => {
      const el = screen.getAllByTestId("message").find((m) => m.dataset.messageId === "50");
      expect(el).toBeDefined();
      return el!;
    });
    expect(sent).toHaveTextContent("@Bobfirst from bob");
    expect(screen.queryByText("Replying to Bob")).toBeNull();
  });

  it("loads older history when scrolled to the top", async () => {
    const page = Array.from({ length: 50 }, (_, i) => message(String(100 + i), `m${100 + i}`));
    await renderLoggedIn("/channels/10/20", ready(), () =>
      mockCommand("history", (a: Record<string, unknown>) => (a.before ? [message("99", "the oldest")] : page)),
    );
    await screen.findByText("m149");
    fireEvent.scroll(screen.getByRole("log"));
    expect(await screen.findByText("the oldest")).toBeInTheDocument();
    expect(lastInvoke("history")).toEqual({ channelId: "20", before: "100", limit: 50 });
    // A short page means the beginning of the channel.
    expect(screen.getByText("Welcome to #general!")).toBeInTheDocument();
    expect(screen.getAllByTestId("message")[0]).toHaveAttribute("data-message-id", "99");
  });

  it("renders user HTML as text in the real message list", async () => {
    await renderLoggedIn("/channels/10/20", ready(), () =>
      mockCommand("history", [message("40", '<img src=x onerror="alert(1)">')]),
    );
    const el = await screen.findByTestId("message");
    expect(el.querySelector("img")).toBeNull();
    expect(el).toHaveTextContent('<img src=x onerror="alert(1)">');
  });
});

describe("channel permissions from the server", () => {
  const SEND = 1 << 1;
  const REACT = 1 << 5;
  const MANAGE_MESSAGES = 1 << 3;
  const history = [message("40", "from bob", { reactions: [{ emoji: "🔥", count: 1, me: false }] })];
  // A plain member: server-wide they may send, react and (with a role) manage messages.
  const member = (perChannel: Record<string, string> = {}) =>
    serverWith({ server: { ...server.server, owner_id: "999" }, my_permissions: String(12859 | MANAGE_MESSAGES) }, perChannel);

  it("makes the composer read-only where the channel denies SEND_MESSAGES, though the server-wide permissions grant it", async () => {
    const user = userEvent.setup();
    // #general's overwrite (or its category's) denies sending, reacting and managing messages.
    const general = String((12859 | MANAGE_MESSAGES) & ~SEND & ~REACT & ~MANAGE_MESSAGES);
    await renderLoggedIn("/channels/10/20", ready({ servers: [member({ "20": general })] }), () => mockCommand("history", history));
    const composer = screen.getByTestId("composer");
    expect(composer).toBeDisabled();
    expect(composer).toHaveAttribute("placeholder", "You do not have permission to send messages in this channel.");
    const bobs = await screen.findByTestId("message");
    expect(within(bobs).queryByRole("button", { name: "Add reaction" })).toBeNull();
    expect(within(bobs).queryByRole("button", { name: "Delete message" })).toBeNull();
    expect(within(bobs).getByRole("button", { name: "🔥 reaction, 1. Click to toggle." })).toBeDisabled();

    // #random has no such overwrite: everything the server-wide permissions allow.
    await user.click(screen.getByTestId("channel-21"));
    await waitFor(() => expect(screen.getByTestId("composer")).toBeEnabled());
  });

  it("follows permissions_update: the composer turns read-only and channels left out disappear", async () => {
    await renderLoggedIn("/channels/10/21", ready({ servers: [member()] }));
    expect(screen.getByTestId("composer")).toBeEnabled();
    expect(screen.getByTestId("channel-21")).toHaveAttribute("aria-current", "page");
    await emit("server-event", {
      event: {
        type: "permissions_update",
        server_id: "10",
        my_permissions: "12859",
        channel_permissions: [
          { channel_id: "20", permissions: String(12859 & ~SEND) },
          { channel_id: "30", permissions: "12859" },
        ],
      },
    });
    // The open channel is gone: as for a deleted one, the first visible text channel opens.
    expect(screen.queryByTestId("channel-21")).toBeNull();
    expect(screen.queryByTestId("channel-31")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("channel-20")).toHaveAttribute("aria-current", "page"));
    expect(screen.getByTestId("composer")).toBeDisabled();
  });

  it("loads the server again when permissions_update names a channel it never sent", async () => {
    const hidden = member();
    const withoutRandom = { ...hidden, channels: hidden.channels.filter((c) => c.id !== "21"), channel_permissions: hidden.channel_permissions!.filter((p) => p.channel_id !== "21") };
    await renderLoggedIn("/channels/10/20", ready({ servers: [withoutRandom] }), () => mockCommand("server_detail", hidden));
    expect(screen.queryByTestId("channel-21")).toBeNull();
    await emit("server-event", {
      event: { type: "permissions_update", server_id: "10", my_permissions: hidden.my_permissions, channel_permissions: hidden.channel_permissions! },
    });
    expect(lastInvoke("server_detail")).toEqual({ serverId: "10" });
    expect(await screen.findByTestId("channel-21")).toBeInTheDocument();
  });
});

describe("servers", () => {
  it("creates a server from the dialog and opens it", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/");
    const created = serverWith({ server: { ...server.server, id: "77", name: "New Place" }, channels: [{ ...server.channels[0], id: "78", server_id: "77" }] });
    mockCommand("create_server", created);
    mockCommand("server_detail", created);
    await user.click(screen.getByTestId("create-server"));
    const dialog = screen.getByRole("dialog", { name: "Create your server" });
    await user.type(dialog.querySelector('input[name="server-name"]')!, "New Place");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(lastInvoke("create_server")).toEqual({ name: "New Place" });
    expect(await screen.findByTestId("server-77")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("server-77")).toHaveAttribute("aria-current", "page"));
    await waitFor(() => expect(screen.getByTestId("channel-78")).toHaveAttribute("aria-current", "page"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("creates a channel from the server menu and opens it", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    mockCommand("create_channel", (a: Record<string, unknown>) => ({
      ...server.channels[0],
      id: "25",
      name: (a.request as { name: string }).name,
    }));
    await user.click(screen.getByRole("button", { name: "Server menu for Gamers" }));
    await user.click(screen.getByRole("menuitem", { name: "Create Channel" }));
    const dialog = screen.getByRole("dialog", { name: "Create channel" });
    await user.type(within(dialog).getByRole("textbox", { name: /Channel name/ }), "memes");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(lastInvoke("create_channel")).toMatchObject({ serverId: "10", request: { name: "memes", kind: "text", parent_id: null } });
    // The gateway follows the new channel with what we may do in it.
    await emit("server-event", {
      event: {
        type: "permissions_update",
        server_id: "10",
        my_permissions: server.my_permissions,
        channel_permissions: [...server.channel_permissions!, { channel_id: "25", permissions: server.my_permissions }],
      },
    });
    await waitFor(() => expect(screen.getByTestId("channel-25")).toHaveAttribute("aria-current", "page"));
  });

  it("shares an invite as a link to this server's invite page", async () => {
    const user = userEvent.setup();
    mockCommand("create_invite", { code: "hTKzmak", server_id: "10", creator_id: "100", uses: 0, max_uses: null, expires_at: null, created_at: 0 });
    await renderLoggedIn();
    await user.click(screen.getByRole("button", { name: /menu/i, expanded: false }));
    await user.click(await screen.findByRole("menuitem", { name: "Invite People" }));
    expect(await screen.findByTestId("invite-link")).toHaveValue("https://chat.example.com/invite/hTKzmak");
  });

  it("joins by invite and shows a translated refusal", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/");
    mockCommand("join_invite", () => {
      throw { code: "banned", message: "banned" };
    });
    await user.click(screen.getByTestId("join-server"));
    const input = document.querySelector('input[name="invite"]')!;
    await user.type(input, "https://chat.example.com/invite/abc{Enter}");
    expect(lastInvoke("join_invite")).toEqual({ codeOrLink: "https://chat.example.com/invite/abc" });
    expect(await screen.findByRole("alert")).toHaveTextContent("You are banned from this server.");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(invokedWith("server_detail")).toHaveLength(0);
  });
});

describe("dialogs", () => {
  it("focus the first field, trap Tab, and give focus back on close", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/");
    const opener = screen.getByTestId("create-server");
    await user.click(opener);
    const input = document.querySelector<HTMLInputElement>('input[name="server-name"]')!;
    expect(input).toHaveFocus();
    // Tab cycles inside the dialog: close, input, cancel, (disabled create skipped).
    await user.tab();
    await user.tab();
    await user.tab();
    expect(screen.getByRole("dialog")).toContainElement(document.activeElement as HTMLElement);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(opener).toHaveFocus();
  });
});

describe("context menus", () => {
  it("replaces the system menu with ours on messages and channels, and leaves text fields theirs", async () => {
    const user = userEvent.setup();
    const history = [message("40", "from bob")];
    await renderLoggedIn("/channels/10/20", ready(), () => mockCommand("history", history));
    const writes: string[] = [];
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void writes.push(t) }, configurable: true });

    // Anywhere without a menu of ours: nothing (no Back / Forward / Reload).
    const bare = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
    document.querySelector("main, body")!.dispatchEvent(bare);
    expect(bare.defaultPrevented).toBe(true);
    // In a text field the system's editing menu stays.
    const inField = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
    screen.getByTestId("composer").dispatchEvent(inField);
    expect(inField.defaultPrevented).toBe(false);

    const [bobs] = await screen.findAllByTestId("message");
    fireEvent.contextMenu(bobs);
    const menu = screen.getByRole("menu", { name: "Message options" });
    await user.click(within(menu).getByRole("menuitem", { name: "Copy ID" }));
    expect(writes).toEqual([bobs.dataset.messageId]);
    fireEvent.contextMenu(bobs);
    await user.click(within(screen.getByRole("menu", { name: "Message options" })).getByRole("menuitem", { name: "Reply" }));
    expect(screen.getByText("Replying to Bob")).toBeInTheDocument();
    expect(screen.getByTestId("composer")).toHaveFocus();

    fireEvent.contextMenu(screen.getByTestId("channel-20"));
    const channelMenu = screen.getByRole("menu", { name: /Channel options for #/ });
    expect(within(channelMenu).getByRole("menuitem", { name: "Mark as read" })).toBeDisabled();
    await user.click(within(channelMenu).getByRole("menuitem", { name: "Copy ID" }));
    expect(writes).toContain("20");
  });
});

describe("auraspeak:// invite links", () => {
  const link = "auraspeak://invite?server=https%3A%2F%2Fchat.example.com&code=hTKzmak";

  it("opens the join dialog with a link opened while the app runs", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    mockCommand("join_invite", () => server);
    await emit("invite-link-opened", { link });
    const input = await screen.findByRole("textbox", { name: /Invite link or code/ });
    expect(input).toHaveValue(link);
    await user.click(screen.getByRole("button", { name: "Join Server" }));
    expect(lastInvoke("join_invite")).toEqual({ codeOrLink: link });
  });
});
