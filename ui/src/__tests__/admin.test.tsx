import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { bob, carl, channel, ready, renderLoggedIn, server, serverWith } from "../test/fixtures";
import { emit, invokedWith, lastInvoke, mockCommand } from "../test/tauriMock";
import type { Channel, Role, ServerDetail } from "../lib/backend";
import { channelSiblings, moveChannel } from "../settings/admin/channelOrder";

type User = ReturnType<typeof userEvent.setup>;
type Args = Record<string, unknown>;

async function openAdmin(user: User, section: "roles" | "members" | "channels" | "invites" | "audit" | "bans", detail: ServerDetail = server) {
  await renderLoggedIn("/channels/10/20", ready({ servers: [detail] }));
  await user.click(screen.getByTestId("open-settings"));
  await user.click(screen.getByTestId("settings-tab-admin"));
  await user.click(screen.getByTestId(`admin-tab-${section}`));
}

const bit = (n: number) => 1 << n;

describe("roles editor", () => {
  it("saves a toggled permission as the new decimal bit set, only after Save", async () => {
    const user = userEvent.setup();
    mockCommand("update_role", (a: Args) => ({ ...server.roles[1], ...(a.request as Partial<Role>) }));
    await openAdmin(user, "roles");
    // Highest first, @everyone last.
    const list = screen.getByRole("list", { name: "Roles" });
    expect(within(list).getAllByTestId(/^role-/).map((b) => b.textContent)).toEqual(["Mods", "@everyone"]);

    await user.click(screen.getByTestId("role-11"));
    const kick = screen.getByRole("switch", { name: "Kick Members" });
    expect(kick).not.toBeChecked();
    await user.click(kick);
    expect(kick).toBeChecked();
    expect(invokedWith("update_role")).toHaveLength(0);

    // Another role cannot be picked while this one has unsaved changes.
    await user.click(screen.getByTestId("role-10"));
    const bar = screen.getByTestId("roles-save-bar");
    expect(bar).toHaveTextContent("Save or reset your changes first.");
    expect(screen.getByTestId("role-11")).toHaveAttribute("aria-current", "true");

    await user.click(within(bar).getByRole("button", { name: "Save Changes" }));
    // MUTE_MEMBERS (14) was there; KICK_MEMBERS (10) is added. Name and color did not change.
    expect(lastInvoke("update_role")).toEqual({
      serverId: "10",
      roleId: "11",
      request: { permissions: String(bit(14) | bit(10)) },
    });
    await waitFor(() => expect(screen.queryByTestId("roles-save-bar")).toBeNull());
    expect(screen.getByRole("switch", { name: "Kick Members" })).toBeChecked();
  });

  it("settings do not close over unsaved changes, as in Discord", async () => {
    const user = userEvent.setup();
    await openAdmin(user, "roles");
    await user.click(screen.getByTestId("role-11"));
    await user.click(screen.getByRole("switch", { name: "Kick Members" }));
    await user.click(screen.getByTestId("close-settings"));
    expect(screen.getByTestId("close-settings")).toBeInTheDocument();
    expect(screen.getByTestId("roles-save-bar")).toHaveTextContent("Save or reset your changes first.");
    await user.click(within(screen.getByTestId("roles-save-bar")).getByRole("button", { name: "Reset" }));
    await user.click(screen.getByTestId("close-settings"));
    await waitFor(() => expect(screen.queryByTestId("close-settings")).toBeNull());
  });

  it("Reset throws the draft away; name and color are sent only when changed", async () => {
    const user = userEvent.setup();
    mockCommand("update_role", (a: Args) => ({ ...server.roles[1], ...(a.request as Partial<Role>) }));
    await openAdmin(user, "roles");
    await user.click(screen.getByTestId("role-11"));
    await user.click(screen.getByRole("switch", { name: "Ban Members" }));
    await user.click(within(screen.getByTestId("roles-save-bar")).getByRole("button", { name: "Reset" }));
    expect(screen.getByRole("switch", { name: "Ban Members" })).not.toBeChecked();
    expect(screen.queryByTestId("roles-save-bar")).toBeNull();

    const name = screen.getByRole("textbox", { name: "Role name" });
    await user.clear(name);
    await user.type(name, "Moderators");
    await user.click(screen.getByRole("button", { name: "Color #E74C3C" }));
    await user.click(within(screen.getByTestId("roles-save-bar")).getByRole("button", { name: "Save Changes" }));
    expect(lastInvoke("update_role")).toEqual({ serverId: "10", roleId: "11", request: { name: "Moderators", color: 0xe74c3c } });
    await waitFor(() => expect(screen.getByTestId("role-11")).toHaveTextContent("Moderators"));
  });

  it("@everyone can get permissions but cannot be renamed or deleted", async () => {
    const user = userEvent.setup();
    await openAdmin(user, "roles");
    await user.click(screen.getByTestId("role-10"));
    const editor = screen.getByTestId("role-editor");
    expect(within(editor).queryByRole("textbox", { name: "Role name" })).toBeNull();
    expect(within(editor).queryByRole("button", { name: "Delete Role" })).toBeNull();
    expect(within(editor).getByRole("switch", { name: "Send Messages" })).toBeEnabled();
    expect(screen.queryByRole("button", { name: "Move @everyone up" })).toBeNull();
  });

  it("disables roles at or above one's own highest role or carrying permissions one lacks, and such grants, for a non-owner", async () => {
    const user = userEvent.setup();
    const manageRoles = bit(7);
    const detail: ServerDetail = serverWith({
      server: { ...server.server, owner_id: "999" },
      roles: [
        server.roles[0],
        { id: "11", name: "Mods", permissions: String(bit(1)), position: 1, color: 0 },
        { id: "14", name: "Muters", permissions: String(bit(14)), position: 1, color: 0 },
        { id: "12", name: "Helpers", permissions: String(manageRoles | bit(10)), position: 2, color: 0 },
        { id: "13", name: "Admins", permissions: String(bit(11)), position: 3, color: 0 },
      ],
      me: { ...server.me, roles: ["12"] },
      my_permissions: String(12859 | manageRoles | bit(10)),
    });
    await openAdmin(user, "roles", detail);
    for (const id of ["13", "12", "14"]) expect(screen.getByTestId(`role-${id}`)).toHaveTextContent("Locked");
    expect(screen.getByTestId("role-11")).not.toHaveTextContent("Locked");

    await user.click(screen.getByTestId("role-13"));
    let editor = screen.getByTestId("role-editor");
    expect(editor).toHaveTextContent("at or above your highest role");
    expect(within(editor).getByRole("textbox", { name: "Role name" })).toBeDisabled();
    expect(within(editor).getByRole("button", { name: "Delete Role" })).toBeDisabled();
    for (const s of within(editor).getAllByRole("switch")) expect(s).toBeDisabled();
    expect(screen.getByRole("button", { name: "Move Admins down" })).toBeDisabled();

    // Mods is below: editable, but only with permissions Helpers hold (KICK yes, BAN no).
    await user.click(screen.getByTestId("role-11"));
    editor = screen.getByTestId("role-editor");
    expect(within(editor).getByRole("textbox", { name: "Role name" })).toBeEnabled();
    expect(within(editor).getByRole("switch", { name: "Kick Members" })).toBeEnabled();
    expect(within(editor).getByRole("switch", { name: "Ban Members" })).toBeDisabled();
    expect(within(editor).getByRole("button", { name: "Delete Role" })).toBeEnabled();
    // Moving Mods up would swap it with one's own role.
    expect(screen.getByRole("button", { name: "Move Mods up" })).toBeDisabled();

    // A lower role holding a permission Helpers lack is out of reach altogether, as on the
    // server: no edit, no delete (and no giving it, see member roles).
    await user.click(screen.getByTestId("role-14"));
    editor = screen.getByTestId("role-editor");
    expect(editor).toHaveTextContent("This role has permissions you do not have");
    expect(within(editor).getByRole("textbox", { name: "Role name" })).toBeDisabled();
    expect(within(editor).getByRole("button", { name: "Delete Role" })).toBeDisabled();
    expect(within(editor).getByRole("switch", { name: "Kick Members" })).toBeDisabled();
  });

  it("the owner may edit every role", async () => {
    const user = userEvent.setup();
    const detail: ServerDetail = serverWith({
      roles: [...server.roles, { id: "13", name: "Admins", permissions: String(bit(19)), position: 3, color: 0 }],
    });
    await openAdmin(user, "roles", detail);
    await user.click(screen.getByTestId("role-13"));
    expect(screen.getByTestId("role-13")).not.toHaveTextContent("Locked");
    expect(within(screen.getByTestId("role-editor")).getByRole("textbox", { name: "Role name" })).toBeEnabled();
  });

  it("asks before deleting a role, and deletes only on confirmation", async () => {
    const user = userEvent.setup();
    mockCommand("delete_role", null);
    await openAdmin(user, "roles");
    await user.click(screen.getByTestId("role-11"));
    await user.click(screen.getByRole("button", { name: "Delete Role" }));
    let dialog = screen.getByRole("dialog", { name: "Delete Role" });
    expect(dialog).toHaveTextContent("Delete the role Mods?");
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog", { name: "Delete Role" })).toBeNull();
    expect(invokedWith("delete_role")).toHaveLength(0);

    await user.click(screen.getByRole("button", { name: "Delete Role" }));
    dialog = screen.getByRole("dialog", { name: "Delete Role" });
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(lastInvoke("delete_role")).toEqual({ serverId: "10", roleId: "11" });
    await waitFor(() => expect(screen.queryByTestId("role-11")).toBeNull());
  });

  it("creates a role and moves roles by swapping positions", async () => {
    const user = userEvent.setup();
    const helpers: Role = { id: "12", name: "Helpers", permissions: "0", position: 2, color: 0 };
    mockCommand("create_role", helpers);
    mockCommand("reorder_roles", () => [server.roles[0], { ...server.roles[1], position: 2 }, { ...helpers, position: 1 }]);
    await openAdmin(user, "roles");
    await user.click(screen.getByRole("button", { name: "Create Role" }));
    const dialog = screen.getByRole("dialog", { name: "Create a role" });
    const name = within(dialog).getByRole("textbox", { name: /Role name/ });
    await user.clear(name);
    await user.type(name, "Helpers{Enter}");
    expect(lastInvoke("create_role")).toEqual({ serverId: "10", request: { name: "Helpers" } });
    await waitFor(() => expect(screen.getByTestId("role-12")).toHaveAttribute("aria-current", "true"));

    await user.click(screen.getByRole("button", { name: "Move Mods up" }));
    expect(lastInvoke("reorder_roles")).toEqual({
      serverId: "10",
      positions: [
        { id: "11", position: 2 },
        { id: "12", position: 1 },
      ],
    });
    const list = screen.getByRole("list", { name: "Roles" });
    await waitFor(() =>
      expect(within(list).getAllByTestId(/^role-/).map((b) => b.textContent)).toEqual([
        "Mods",
        "Helpers",
        "@everyone",
      ]),
    );
  });

  it("follows role events from the gateway", async () => {
    const user = userEvent.setup();
    await openAdmin(user, "roles");
    await emit("server-event", { event: { type: "role_create", server_id: "10", role: { id: "14", name: "VIP", permissions: "0", position: 5, color: 0 } } });
    expect(screen.getByTestId("role-14")).toHaveTextContent("VIP");
    await emit("server-event", { event: { type: "role_update", server_id: "10", role: { ...server.roles[1], name: "Wardens" } } });
    expect(screen.getByTestId("role-11")).toHaveTextContent("Wardens");
    await emit("server-event", { event: { type: "role_delete", server_id: "10", role_id: "14" } });
    expect(screen.queryByTestId("role-14")).toBeNull();
  });
});

describe("member roles", () => {
  it("gives and takes a role with set_member_role", async () => {
    const user = userEvent.setup();
    mockCommand("set_member_role", null);
    await openAdmin(user, "members");
    const row = await screen.findByTestId(`member-roles-${bob.user_id}`);
    expect(row).toHaveTextContent("No roles");
    await user.click(within(row).getByRole("button", { name: "Add a role to Bob" }));
    const menu = screen.getByRole("menu", { name: "Add a role to Bob" });
    // @everyone is never given; Mods is.
    expect(within(menu).getAllByRole("menuitem").map((m) => m.textContent)).toEqual(["Mods"]);
    await user.click(within(menu).getByRole("menuitem", { name: "Mods" }));
    expect(lastInvoke("set_member_role")).toEqual({ serverId: "10", userId: "200", roleId: "11", granted: true });

    const remove = await within(row).findByRole("button", { name: "Remove the role Mods from Bob" });
    await user.click(remove);
    expect(lastInvoke("set_member_role")).toEqual({ serverId: "10", userId: "200", roleId: "11", granted: false });
    await waitFor(() => expect(row).toHaveTextContent("No roles"));
  });

  it("changes the roles of members below oneself only, and never gives a role carrying a permission one lacks", async () => {
    const user = userEvent.setup();
    const detail = serverWith({
      server: { ...server.server, owner_id: "999" },
      roles: [
        server.roles[0],
        // Mods carry MUTE_MEMBERS, which Helpers lack; Greeters nothing.
        { id: "11", name: "Mods", permissions: String(bit(14)), position: 1, color: 0 },
        { id: "14", name: "Greeters", permissions: "0", position: 1, color: 0 },
        { id: "12", name: "Helpers", permissions: String(bit(7)), position: 2, color: 0 },
      ],
      me: { ...server.me, roles: ["12"] },
      my_permissions: String(12859 | bit(7)),
    });
    await openAdmin(user, "members", detail);
    const bobs = await screen.findByTestId(`member-roles-${bob.user_id}`);
    // Carl holds Helpers too: not below.
    await emit("server-event", { event: { type: "member_update", server_id: "10", member: { ...carl, roles: ["12"] } } });
    await user.click(within(bobs).getByRole("button", { name: "Add a role to Bob" }));
    expect(within(screen.getByRole("menu")).getAllByRole("menuitem").map((m) => m.textContent)).toEqual(["Greeters"]);
    await user.keyboard("{Escape}");
    expect(within(screen.getByTestId(`member-roles-${carl.user_id}`)).getByRole("button", { name: "Add a role to Carlos" })).toBeDisabled();
  });
});

describe("channel permissions", () => {
  const withOverwrite = (c: Channel, request: { allow?: string; deny?: string }, kind = "role", target = "10"): Channel => ({
    ...c,
    overwrites: [
      ...c.overwrites.filter((o) => !(o.kind === kind && o.target_id === target)),
      { kind: kind as "role" | "member", target_id: target, allow: request.allow ?? "0", deny: request.deny ?? "0" },
    ],
  });

  it("tri-state Allow / Deny become the allow and deny bits of set_overwrite", async () => {
    const user = userEvent.setup();
    mockCommand("set_overwrite", (a: Args) => withOverwrite(server.channels[0], a.request as { allow: string; deny: string }));
    await openAdmin(user, "channels");
    expect(screen.getByRole("combobox", { name: "Channel" })).toHaveValue("20");
    expect(screen.getByTestId("target-role:10")).toHaveAttribute("aria-current", "true");
    // A text channel shows text permissions, not voice ones.
    expect(screen.queryByRole("radiogroup", { name: "Speak" })).toBeNull();

    const send = screen.getByRole("radiogroup", { name: "Send Messages" });
    expect(within(send).getByRole("radio", { name: "Inherit" })).toBeChecked();
    await user.click(within(send).getByRole("radio", { name: "Deny" }));
    await user.click(within(screen.getByRole("radiogroup", { name: "View Channels" })).getByRole("radio", { name: "Allow" }));
    expect(invokedWith("set_overwrite")).toHaveLength(0);
    await user.click(within(screen.getByTestId("overwrite-save-bar")).getByRole("button", { name: "Save Changes" }));
    expect(lastInvoke("set_overwrite")).toEqual({
      channelId: "20",
      kind: "role",
      targetId: "10",
      request: { allow: String(bit(0)), deny: String(bit(1)) },
    });
    await waitFor(() => expect(screen.queryByTestId("overwrite-save-bar")).toBeNull());
    expect(within(screen.getByRole("radiogroup", { name: "Send Messages" })).getByRole("radio", { name: "Deny" })).toBeChecked();

    // Deny → Allow moves the bit from one set to the other; Inherit clears it.
    await user.click(within(screen.getByRole("radiogroup", { name: "Send Messages" })).getByRole("radio", { name: "Allow" }));
    await user.click(within(screen.getByRole("radiogroup", { name: "View Channels" })).getByRole("radio", { name: "Inherit" }));
    await user.click(within(screen.getByTestId("overwrite-save-bar")).getByRole("button", { name: "Save Changes" }));
    expect(lastInvoke("set_overwrite")).toMatchObject({ request: { allow: String(bit(1)), deny: "0" } });
  });

  it("adds an overwrite for a member, shows voice permissions on voice channels, and removes overwrites", async () => {
    const user = userEvent.setup();
    const lounge = { ...server.channels[2], overwrites: [{ kind: "role" as const, target_id: "11", allow: String(bit(13)), deny: "0" }] };
    const detail: ServerDetail = serverWith({ channels: [server.channels[0], server.channels[1], lounge, server.channels[3]] });
    mockCommand("set_overwrite", (a: Args) => withOverwrite(server.channels[0], a.request as { deny: string }, String(a.kind), String(a.targetId)));
    mockCommand("delete_overwrite", null);
    await openAdmin(user, "channels", detail);

    await user.click(screen.getByRole("button", { name: "Add a role or member" }));
    await user.click(within(screen.getByRole("menu")).getByRole("menuitem", { name: /Bob/ }));
    expect(screen.getByTestId("target-member:200")).toHaveAttribute("aria-current", "true");
    await user.click(within(screen.getByRole("radiogroup", { name: "View Channels" })).getByRole("radio", { name: "Deny" }));
    await user.click(within(screen.getByTestId("overwrite-save-bar")).getByRole("button", { name: "Save Changes" }));
    expect(lastInvoke("set_overwrite")).toEqual({ channelId: "20", kind: "member", targetId: "200", request: { allow: "0", deny: "1" } });

    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "30");
    expect(screen.getByRole("radiogroup", { name: "Speak" })).toBeInTheDocument();
    expect(screen.queryByRole("radiogroup", { name: "Send Messages" })).toBeNull();
    await user.click(screen.getByTestId("target-role:11"));
    expect(within(screen.getByRole("radiogroup", { name: "Speak" })).getByRole("radio", { name: "Allow" })).toBeChecked();
    await user.click(screen.getByRole("button", { name: "Remove the overwrite for Mods" }));
    expect(lastInvoke("delete_overwrite")).toEqual({ channelId: "30", kind: "role", targetId: "11" });
    await waitFor(() => expect(screen.queryByTestId("target-role:11")).toBeNull());
  });

  it("renames a channel and sets a voice channel's bitrate and user limit with update_channel", async () => {
    const user = userEvent.setup();
    mockCommand("update_channel", (a: Args) => ({ ...channel(String(a.channelId), "x"), ...(a.request as object) }));
    await openAdmin(user, "channels");
    const name = screen.getByRole("textbox", { name: "Channel name" });
    await user.clear(name);
    await user.type(name, "chat");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(lastInvoke("update_channel")).toEqual({ channelId: "20", request: { name: "chat" } });

    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "30");
    const bitrate = screen.getByRole("spinbutton", { name: "Bitrate (kbps)" });
    await user.clear(bitrate);
    await user.type(bitrate, "600");
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
    await user.clear(bitrate);
    await user.type(bitrate, "96");
    const limit = screen.getByRole("spinbutton", { name: "User limit" });
    await user.clear(limit);
    await user.type(limit, "5");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(lastInvoke("update_channel")).toEqual({ channelId: "30", request: { bitrate_kbps: 96, user_limit: 5 } });
  });

  it("lets a non-owner set only permissions they hold, and leaves overwrites holding others alone", async () => {
    const user = userEvent.setup();
    const general = { ...server.channels[0], overwrites: [{ kind: "role" as const, target_id: "11", allow: String(bit(16)), deny: "0" }] };
    const detail: ServerDetail = serverWith({
      server: { ...server.server, owner_id: "999" },
      roles: [...server.roles, { id: "12", name: "Helpers", permissions: String(bit(6) | bit(7)), position: 2, color: 0 }],
      me: { ...server.me, roles: ["12"] },
      channels: [general, ...server.channels.slice(1)],
      // 12859 has SEND_MESSAGES but not READ_HISTORY or MOVE_MEMBERS.
      my_permissions: String(12859 | bit(6) | bit(7)),
    });
    await openAdmin(user, "channels", detail);
    const radios = (name: string) => within(screen.getByRole("radiogroup", { name })).getAllByRole("radio");
    for (const r of radios("Send Messages")) expect(r).toBeEnabled();
    for (const r of radios("Read Message History")) expect(r).toBeDisabled();

    // Changing or removing it would change MOVE_MEMBERS, which one lacks: the server refuses both.
    await user.click(screen.getByTestId("target-role:11"));
    expect(screen.getByText(/The overwrite for Mods includes permissions you do not have/)).toBeInTheDocument();
    for (const r of radios("Send Messages")) expect(r).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Remove the overwrite for Mods" })).toBeNull();

    // Overwrites only for @everyone, lower roles, oneself and members below: not one's own role.
    await user.click(screen.getByRole("button", { name: "Add a role or member" }));
    const menu = screen.getByRole("menu");
    expect(within(menu).queryByRole("menuitem", { name: /Helpers/ })).toBeNull();
    expect(within(menu).getByRole("menuitem", { name: /Bob/ })).toBeInTheDocument();
    // Carl holds Mods (position 1), below Helpers.
    expect(within(menu).getByRole("menuitem", { name: /Carlos/ })).toBeInTheDocument();
  });

  it("is read-only for overwrites without Manage Roles", async () => {
    const user = userEvent.setup();
    const detail: ServerDetail = serverWith({
      server: { ...server.server, owner_id: "999" },
      my_permissions: String(12859 | bit(6)),
    });
    await openAdmin(user, "channels", detail);
    expect(screen.getByText("Changing channel permissions needs Manage Channels in the channel and Manage Roles.")).toBeInTheDocument();
    for (const r of within(screen.getByTestId("overwrite-editor")).getAllByRole("radio")) expect(r).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Add a role or member" })).toBeNull();
    expect(screen.getByRole("textbox", { name: "Channel name" })).toBeEnabled();
  });
});

describe("channels synced with their category", () => {
  const VIEW = String(bit(0));
  const staff = channel("40", "Staff", "category", { overwrites: [{ kind: "role", target_id: "10", allow: "0", deny: VIEW }] });
  const chat = channel("22", "staff-chat", "text", { parent_id: "40", permissions_synced: true });
  const notes = channel("23", "notes", "text", {
    parent_id: "40",
    overwrites: [{ kind: "role", target_id: "10", allow: String(bit(1)), deny: "0" }],
  });
  const detail = serverWith({ channels: [...server.channels, staff, chat, notes] });

  it("shows the category's overwrites read-only while synced; the first change is the channel's own", async () => {
    const user = userEvent.setup();
    const own = { ...chat, permissions_synced: false, overwrites: [{ kind: "role" as const, target_id: "10", allow: "0", deny: String(bit(0) | bit(1)) }] };
    mockCommand("set_overwrite", own);
    await openAdmin(user, "channels", detail);
    // A channel outside any category has nothing to sync with.
    expect(screen.queryByTestId("sync-status")).toBeNull();
    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "22");
    expect(screen.getByTestId("sync-status")).toHaveTextContent("Synced with Staff");
    expect(screen.queryByRole("button", { name: "Sync with category" })).toBeNull();
    // Moving it out keeps what applied, and the settings say so before saving.
    await user.selectOptions(screen.getByRole("combobox", { name: "Category" }), "");
    expect(screen.getByTestId("move-keeps-permissions")).toHaveTextContent("keeps the permissions of Staff");
    await user.selectOptions(screen.getByRole("combobox", { name: "Category" }), "40");
    expect(screen.queryByTestId("move-keeps-permissions")).toBeNull();
    const view = () => within(screen.getByRole("radiogroup", { name: "View Channels" }));
    expect(view().getByRole("radio", { name: "Deny" })).toBeChecked();
    for (const r of view().getAllByRole("radio")) expect(r).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Add a role or member" })).toBeNull();

    await user.click(screen.getByRole("button", { name: "Edit for this channel only" }));
    expect(screen.getByTestId("sync-status")).toHaveTextContent("starting from a copy of those of Staff");
    await user.click(within(screen.getByRole("radiogroup", { name: "Send Messages" })).getByRole("radio", { name: "Deny" }));
    await user.click(within(screen.getByTestId("overwrite-save-bar")).getByRole("button", { name: "Save Changes" }));
    // Sent for the channel itself, starting from the category's entry (the server copies the rest).
    expect(lastInvoke("set_overwrite")).toEqual({ channelId: "22", kind: "role", targetId: "10", request: { allow: "0", deny: String(bit(0) | bit(1)) } });
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent("Own permissions"));
    expect(screen.getByRole("button", { name: "Sync with category" })).toBeInTheDocument();
  });

  it("syncs a channel with its category again with update_channel's sync_permissions", async () => {
    const user = userEvent.setup();
    mockCommand("update_channel", { ...notes, overwrites: [], permissions_synced: true });
    await openAdmin(user, "channels", detail);
    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "23");
    expect(screen.getByTestId("sync-status")).toHaveTextContent("Own permissions");
    expect(within(screen.getByRole("radiogroup", { name: "Send Messages" })).getByRole("radio", { name: "Allow" })).toBeChecked();
    await user.click(screen.getByRole("button", { name: "Sync with category" }));
    const dialog = screen.getByRole("dialog", { name: "Sync with category" });
    expect(dialog).toHaveTextContent("Remove the overwrites of notes so that it follows Staff again?");
    await user.click(within(dialog).getByRole("button", { name: "Sync" }));
    expect(lastInvoke("update_channel")).toEqual({ channelId: "23", request: { sync_permissions: true } });
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent("Synced with Staff"));
    // Now the category's overwrites show.
    expect(within(screen.getByRole("radiogroup", { name: "View Channels" })).getByRole("radio", { name: "Deny" })).toBeChecked();
    expect(within(screen.getByRole("radiogroup", { name: "Send Messages" })).getByRole("radio", { name: "Inherit" })).toBeChecked();
  });

  it("explains on a category that synced channels follow it", async () => {
    const user = userEvent.setup();
    await openAdmin(user, "channels", detail);
    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "40");
    expect(screen.getByText(/Channels in this category that are synced with it follow these overwrites/)).toBeInTheDocument();
    expect(screen.queryByTestId("sync-status")).toBeNull();
  });

  it("edits a channel's settings only with Manage Channels in that channel", async () => {
    const user = userEvent.setup();
    const member = serverWith(
      { server: { ...server.server, owner_id: "999" }, my_permissions: "12859", channels: [...server.channels, staff, chat, notes] },
      // An overwrite grants Manage Channels in #notes only.
      { "23": String(12859 | bit(6)) },
    );
    await openAdmin(user, "channels", member);
    expect(screen.getByText("Editing this channel needs the Manage Channels permission in it.")).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Channel name" })).toBeDisabled();
    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "23");
    expect(screen.getByRole("textbox", { name: "Channel name" })).toBeEnabled();
  });
});

describe("channel order and category", () => {
  const cat = (id: string, name: string, position: number) => channel(id, name, "category", { position });
  const channels: Channel[] = [
    channel("20", "general", "text", { position: 0 }),
    channel("21", "random", "text", { position: 1 }),
    channel("30", "Lounge", "voice", { position: 2 }),
    cat("40", "Raids", 3),
    cat("41", "Archive", 4),
    channel("22", "strats", "text", { position: 5, parent_id: "40" }),
    channel("23", "loot", "text", { position: 6, parent_id: "40" }),
    channel("31", "Raid 1", "voice", { position: 7, parent_id: "40" }),
  ];

  it("moves among the channels the sidebar orders it with: same category, same kind", () => {
    const strats = channels.find((c) => c.id === "22")!;
    expect(channelSiblings(channels, strats).map((c) => c.name)).toEqual(["strats", "loot"]);
    expect(channelSiblings(channels, channels[2]).map((c) => c.name)).toEqual(["Lounge"]);
    expect(channelSiblings(channels, channels[4]).map((c) => c.name)).toEqual(["Raids", "Archive"]);
    // Distinct positions are swapped: two updates.
    expect(moveChannel(channelSiblings(channels, strats), 0, 1)).toEqual([
      { id: "22", position: 6 },
      { id: "23", position: 5 },
    ]);
    expect(moveChannel(channelSiblings(channels, strats), 0, -1)).toEqual([]);
    // Shared positions are numbered again from the lowest, in the order the user asked for.
    const tied = [channel("50", "a", "text", { position: 3 }), channel("51", "b", "text", { position: 3 }), channel("52", "c", "text", { position: 3 })];
    expect(moveChannel(tied, 2, -1)).toEqual([
      { id: "52", position: 4 },
      { id: "51", position: 5 },
    ]);
  });

  it("moves a channel up at once and saves a new category with the other fields", async () => {
    const user = userEvent.setup();
    const detail: ServerDetail = serverWith({ channels });
    mockCommand("update_channel", (a: Args) => ({ ...channels.find((c) => c.id === a.channelId)!, ...(a.request as object) }));
    await openAdmin(user, "channels", detail);
    await user.selectOptions(screen.getByRole("combobox", { name: "Channel" }), "23");
    const order = screen.getByRole("group", { name: "Place in the channel list" });
    expect(order).toHaveTextContent("Place 2 of 2");
    expect(within(order).getByRole("button", { name: "Move loot down" })).toBeDisabled();
    await user.click(within(order).getByRole("button", { name: "Move loot up" }));
    expect(invokedWith("update_channel")).toEqual([
      { channelId: "23", request: { position: 5 } },
      { channelId: "22", request: { position: 6 } },
    ]);
    await waitFor(() => expect(screen.getByRole("group", { name: "Place in the channel list" })).toHaveTextContent("Place 1 of 2"));
    // The sidebar follows: loot now above strats.
    const follows = screen.getByTestId("channel-23").compareDocumentPosition(screen.getByTestId("channel-22"));
    expect(follows & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();

    const category = screen.getByRole("combobox", { name: "Category" });
    expect(category).toHaveValue("40");
    await user.selectOptions(category, "41");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(lastInvoke("update_channel")).toEqual({ channelId: "23", request: { parent_id: "41" } });
    await user.selectOptions(screen.getByRole("combobox", { name: "Category" }), "");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(lastInvoke("update_channel")).toEqual({ channelId: "23", request: { parent_id: "0" } });
  });
});

describe("invites", () => {
  it("lists invites as links to copy, and revokes one", async () => {
    const user = userEvent.setup();
    const invite = { code: "hTKzmak", server_id: "10", creator_id: "100", uses: 3, max_uses: null, expires_at: null, created_at: 0 };
    let list = [invite, { ...invite, code: "other1" }];
    mockCommand("list_invites", () => list);
    mockCommand("revoke_invite", (args: Args) => {
      list = list.filter((i) => i.code !== args.code);
      return null;
    });
    const writes: string[] = [];
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void writes.push(t) }, configurable: true });
    await openAdmin(user, "invites");
    const row = (await screen.findByText("hTKzmak")).closest("tr")!;
    await user.click(within(row).getByRole("button", { name: "Copy link" }));
    expect(writes).toEqual(["https://chat.example.com/invite/hTKzmak"]);
    await user.click(screen.getByTestId("revoke-invite-hTKzmak"));
    expect(lastInvoke("revoke_invite")).toEqual({ code: "hTKzmak" });
    await waitFor(() => expect(screen.queryByText("hTKzmak")).not.toBeInTheDocument());
    expect(screen.getByText("other1")).toBeInTheDocument();
  });
});

describe("audit log and bans", () => {
  it("names actors and targets (members, roles, channels, people who left) and dates bans", async () => {
    const user = userEvent.setup();
    const at = Date.UTC(2026, 11, 1, 12, 0);
    mockCommand("audit_log", [
      { id: "1", action: "member_ban", actor_id: "100", target_id: "900", reason: "spam", created_at: at, actor_name: "me", target_user_name: "griefer" },
      { id: "2", action: "role_update", actor_id: "100", target_id: "11", reason: null, created_at: at, actor_name: "me", target_user_name: null },
      { id: "3", action: "channel_update", actor_id: "100", target_id: "20", reason: null, created_at: at, actor_name: "me", target_user_name: null },
      { id: "4", action: "invite_create", actor_id: "777", target_id: null, reason: "hTKzmak", created_at: at, actor_name: "gone-mod", target_user_name: null },
    ]);
    mockCommand("list_bans", [{ user_id: "900", username: "griefer", reason: "spam", moderator_id: "100", created_at: at }]);
    await openAdmin(user, "audit");
    const entries = await screen.findAllByRole("listitem");
    const text = entries.map((e) => e.textContent ?? "");
    expect(text.some((t) => t.includes("griefer") && !t.includes("900"))).toBe(true);
    expect(text.some((t) => t.includes(`@${server.roles.find((r) => r.id === "11")!.name}`))).toBe(true);
    expect(text.some((t) => t.includes(`#${server.channels.find((c) => c.id === "20")!.name}`))).toBe(true);
    expect(text.some((t) => t.startsWith("gone-mod") && t.includes("created an invite") && t.includes("hTKzmak"))).toBe(true);

    await user.click(screen.getByTestId("admin-tab-bans"));
    expect(await screen.findByText(/^Banned /)).toHaveTextContent(new Date(at).toLocaleString("en"));
  });
});
