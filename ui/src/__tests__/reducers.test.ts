import { describe, expect, it } from "vitest";
import { readReducer, isUnread, mentionCount, type ReadStates } from "../state/readStates";
import { emptyVoiceStates, usersInChannel, voiceReducer } from "../state/voiceStates";
import { messagesReducer, applyReaction } from "../state/messages";
import { appReducer, channelPermissions, initialAppState, visibleChannels } from "../state/app";
import { carl, message, me, ready, server } from "../test/fixtures";
import type { VoiceState } from "../lib/backend";

const meRef = { id: "100", roleIds: ["11"] };

describe("read states", () => {
  const start = readReducer({}, {
    type: "ready",
    readStates: [{ channel_id: "20", last_read_id: "5", unread_count: 2, mention_count: 1 }],
  });

  it("seeds from Ready", () => {
    expect(isUnread(start, "20")).toBe(true);
    expect(mentionCount(start, "20")).toBe(1);
    expect(isUnread(start, "21")).toBe(false);
  });

  it("counts new messages and mentions of me, my role or everyone", () => {
    let s: ReadStates = start;
    s = readReducer(s, { type: "message", message: message("6", "hi"), me: meRef, viewing: false });
    expect(s["20"]).toEqual({ lastReadId: "5", unread: 3, mentions: 1 });
    s = readReducer(s, { type: "message", message: message("7", "<@100>", { mentions: ["100"] }), me: meRef, viewing: false });
    s = readReducer(s, { type: "message", message: message("8", "<@&11>", { mention_roles: ["11"] }), me: meRef, viewing: false });
    s = readReducer(s, { type: "message", message: message("9", "@everyone", { mention_everyone: true }), me: meRef, viewing: false });
    s = readReducer(s, { type: "message", message: message("10", "<@&99>", { mention_roles: ["99"] }), me: meRef, viewing: false });
    expect(s["20"]).toEqual({ lastReadId: "5", unread: 7, mentions: 4 });
  });

  it("my own messages and the viewed channel stay read", () => {
    let s = readReducer(start, { type: "message", message: message("6", "x", { author_id: "100" }), me: meRef, viewing: false });
    expect(s["20"]).toEqual({ lastReadId: "6", unread: 0, mentions: 0 });
    s = readReducer(s, { type: "message", message: message("7", "x", { channel_id: "21" }), me: meRef, viewing: true });
    expect(isUnread(s, "21")).toBe(false);
  });

  it("read_state_update clears, but an older one does not undo a newer read", () => {
    let s = readReducer(start, { type: "read", channelId: "20", lastReadId: "12" });
    expect(s["20"]).toEqual({ lastReadId: "12", unread: 0, mentions: 0 });
    const same = readReducer(s, { type: "read", channelId: "20", lastReadId: "9" });
    expect(same).toBe(s);
    // A message older than what was read does not count as unread.
    s = readReducer(s, { type: "message", message: message("11", "late"), me: meRef, viewing: false });
    expect(isUnread(s, "20")).toBe(false);
  });

  it("compares IDs numerically, not as text", () => {
    const s = readReducer({ "20": { lastReadId: "99", unread: 0, mentions: 0 } }, {
      type: "message",
      message: message("100", "x"),
      me: meRef,
      viewing: false,
    });
    expect(s["20"].unread).toBe(1);
  });
});

function vs(user: string, channel: string | null, extra: Partial<VoiceState> = {}): VoiceState {
  return { user_id: user, server_id: "10", channel_id: channel, self_mute: false, self_deaf: false, mute: false, deaf: false, ...extra };
}

describe("voice states", () => {
  it("join, speak, move and leave", () => {
    let s = voiceReducer(emptyVoiceStates, { type: "ready", states: [vs("1", "30"), vs("2", null)] });
    expect(usersInChannel(s, "30").map((v) => v.user_id)).toEqual(["1"]);
    s = voiceReducer(s, { type: "update", state: vs("2", "30") });
    expect(usersInChannel(s, "30").map((v) => v.user_id)).toEqual(["1", "2"]);
    s = voiceReducer(s, { type: "speaking", channelId: "30", userId: "2", speaking: true });
    expect(s.speaking["2"]).toBe(true);
    // Moving ends speaking and changes the channel.
    s = voiceReducer(s, { type: "update", state: vs("2", "31") });
    expect(s.speaking["2"]).toBeUndefined();
    expect(usersInChannel(s, "31").map((v) => v.user_id)).toEqual(["2"]);
    expect(usersInChannel(s, "30").map((v) => v.user_id)).toEqual(["1"]);
    // A late speaking report for the old channel is ignored.
    const late = voiceReducer(s, { type: "speaking", channelId: "30", userId: "2", speaking: true });
    expect(late).toBe(s);
    s = voiceReducer(s, { type: "update", state: vs("1", "30", { self_mute: true }) });
    expect(s.byUser["1"].self_mute).toBe(true);
    s = voiceReducer(s, { type: "speaking", channelId: "30", userId: "1", speaking: true });
    s = voiceReducer(s, { type: "update", state: vs("1", null) });
    expect(usersInChannel(s, "30")).toEqual([]);
    expect(s.speaking["1"]).toBeUndefined();
  });

  it("flows through the app reducer from gateway events", () => {
    let s = appReducer(initialAppState, { type: "connection", state: "live", ready: ready({ voice_states: [vs("200", "30")] }) });
    s = appReducer(s, { type: "event", event: { type: "voice_speaking", channel_id: "30", user_id: "200", speaking: true } });
    expect(s.voice.speaking["200"]).toBe(true);
    s = appReducer(s, { type: "event", event: { type: "voice_state_update", state: vs("200", null) } });
    expect(usersInChannel(s.voice, "30")).toEqual([]);
  });
});

describe("messages and reactions", () => {
  it("merges history and live messages in ID order without duplicates", () => {
    let s = messagesReducer({}, { type: "cached", channelId: "20", messages: [message("5", "a"), message("7", "c")] });
    s = messagesReducer(s, { type: "history", channelId: "20", messages: [message("6", "b"), message("7", "c2")], before: null, limit: 50 });
    s = messagesReducer(s, { type: "upsert", message: message("10", "d") });
    expect(s["20"].items.map((m) => `${m.id}:${m.content}`)).toEqual(["5:a", "6:b", "7:c2", "10:d"]);
    expect(s["20"].hasMore).toBe(false);
    expect(s["20"].fresh).toBe(true);
  });

  it("counts an optimistic own reaction once when its echo arrives", () => {
    let r = applyReaction([], "👍", true, true);
    expect(r).toEqual([{ emoji: "👍", count: 1, me: true }]);
    r = applyReaction(r, "👍", true, true); // echo
    expect(r).toEqual([{ emoji: "👍", count: 1, me: true }]);
    r = applyReaction(r, "👍", true, false); // someone else
    expect(r).toEqual([{ emoji: "👍", count: 2, me: true }]);
    r = applyReaction(r, "👍", false, true);
    r = applyReaction(r, "👍", false, false);
    expect(r).toEqual([]);
  });

  it("ready updates servers and the user", () => {
    const s = appReducer(initialAppState, { type: "connection", state: "live", ready: ready() });
    expect(s.user).toEqual(me);
    expect(s.serverOrder).toEqual(["10"]);
    expect(s.presences["200"]).toBe("idle");
  });

  it("we are online after ready even with no shared server yet, unless ready says otherwise", () => {
    const alone = appReducer(initialAppState, { type: "connection", state: "live", ready: ready({ presences: [] }) });
    expect(alone.presences[me.id]).toBe("online");
    const busy = appReducer(initialAppState, {
      type: "connection",
      state: "live",
      ready: ready({ presences: [{ user_id: me.id, status: "do_not_disturb" }] }),
    });
    expect(busy.presences[me.id]).toBe("do_not_disturb");
  });
});

describe("permissions from the server", () => {
  const SEND = 1 << 1;
  const notOwner = () => {
    const r = ready();
    r.servers[0] = { ...r.servers[0], server: { ...r.servers[0].server, owner_id: "999" }, my_permissions: "12859" };
    return appReducer(initialAppState, { type: "connection", state: "live", ready: r });
  };

  it("uses each channel's own numbers from Ready, not the server-wide ones", async () => {
    const { has } = await import("../lib/permissions");
    const r = ready();
    r.servers[0] = {
      ...r.servers[0],
      my_permissions: "12859",
      // An overwrite (or the category) denies SEND_MESSAGES in #general only.
      channel_permissions: [
        { channel_id: "20", permissions: String(12859 & ~SEND) },
        { channel_id: "21", permissions: "12859" },
        { channel_id: "30", permissions: "12859" },
        { channel_id: "31", permissions: "12859" },
      ],
    };
    const s = appReducer(initialAppState, { type: "connection", state: "live", ready: r });
    expect(has(s.servers["10"].my_permissions, "SEND_MESSAGES")).toBe(true);
    expect(has(channelPermissions(s, "10", "20"), "SEND_MESSAGES")).toBe(false);
    expect(has(channelPermissions(s, "10", "21"), "SEND_MESSAGES")).toBe(true);
    // A channel the server gave no numbers for grants nothing.
    expect(channelPermissions(s, "10", "99")).toBe("0");
    expect(channelPermissions(s, "77", "20")).toBe("0");
  });

  it("permissions_update replaces them, hides channels it leaves out and reloads for channels never sent", async () => {
    const { has } = await import("../lib/permissions");
    let s = notOwner();
    s = appReducer(s, {
      type: "event",
      event: {
        type: "permissions_update",
        server_id: "10",
        my_permissions: String(12859 | (1 << 14)),
        channel_permissions: [
          { channel_id: "20", permissions: String(12859 & ~SEND) },
          { channel_id: "30", permissions: "12859" },
        ],
      },
    });
    const d = s.servers["10"];
    expect(has(d.my_permissions, "MUTE_MEMBERS")).toBe(true);
    expect(d.channels.map((c) => c.id)).toEqual(["20", "30"]);
    expect(visibleChannels(d).map((c) => c.id)).toEqual(["20", "30"]);
    expect(has(channelPermissions(s, "10", "20"), "SEND_MESSAGES")).toBe(false);
    expect(channelPermissions(s, "10", "21")).toBe("0");
    expect(s.reloadServers).toEqual([]);

    // Channel 21 visible again: the client never kept it, so the server's detail is loaded.
    s = appReducer(s, {
      type: "event",
      event: {
        type: "permissions_update",
        server_id: "10",
        my_permissions: "12859",
        channel_permissions: ["20", "21", "30"].map((id) => ({ channel_id: id, permissions: "12859" })),
      },
    });
    expect(s.reloadServers).toEqual(["10"]);
    s = appReducer(s, { type: "serverDetail", detail: server });
    expect(s.reloadServers).toEqual([]);
    expect(s.servers["10"].channels.map((c) => c.id)).toEqual(["20", "21", "30", "31"]);
    // Another server's update changes nothing here.
    const other = appReducer(s, {
      type: "event",
      event: { type: "permissions_update", server_id: "77", my_permissions: "0", channel_permissions: [] },
    });
    expect(other.servers).toBe(s.servers);
  });

  it("my roles changing leaves the numbers to the server's permissions_update", () => {
    let s = notOwner();
    s = appReducer(s, {
      type: "event",
      event: { type: "member_update", server_id: "10", member: { ...s.servers["10"].me, roles: ["11"] } },
    });
    expect(s.servers["10"].me.roles).toEqual(["11"]);
    expect(s.servers["10"].my_permissions).toBe("12859");
  });
});

describe("role and channel administration events", () => {
  const live = () => {
    const r = ready();
    const d = r.servers[0];
    r.servers[0] = {
      ...d,
      server: { ...d.server, owner_id: "999" },
      me: { ...d.me, roles: ["11"] },
      channels: d.channels.map((c) =>
        c.id === "20"
          ? { ...c, overwrites: [{ kind: "role" as const, target_id: "11", allow: "2", deny: "0" }, { kind: "role" as const, target_id: "10", allow: "0", deny: "2" }] }
          : c,
      ),
    };
    let s = appReducer(initialAppState, { type: "connection", state: "live", ready: r });
    s = appReducer(s, { type: "members", serverId: "10", members: [{ ...d.me, roles: ["11"] }, { ...carl, roles: ["11", "12"] }] });
    return s;
  };

  it("role_delete also drops the role from members, from me and from channel overwrites", () => {
    let s = live();
    const before = s.servers["10"].my_permissions;
    s = appReducer(s, { type: "event", event: { type: "role_delete", server_id: "10", role_id: "11" } });
    const d = s.servers["10"];
    expect(d.roles.map((r) => r.id)).toEqual(["10"]);
    expect(d.me.roles).toEqual([]);
    expect(s.members["10"].map((m) => m.roles)).toEqual([[], ["12"]]);
    expect(d.channels.find((c) => c.id === "20")!.overwrites).toEqual([{ kind: "role", target_id: "10", allow: "0", deny: "2" }]);
    // What that means for us is the server's to say (permissions_update).
    expect(d.my_permissions).toBe(before);
    // Another server's delete changes nothing here.
    expect(appReducer(s, { type: "event", event: { type: "role_delete", server_id: "77", role_id: "10" } }).servers).toBe(s.servers);
  });

  it("role_create, role_update (reorder) and channel_update with new overwrites update the server", () => {
    let s = live();
    s = appReducer(s, { type: "event", event: { type: "role_create", server_id: "10", role: { id: "12", name: "VIP", permissions: "0", position: 2, color: 0 } } });
    s = appReducer(s, { type: "event", event: { type: "role_update", server_id: "10", role: { id: "11", name: "Mods", permissions: String(1 << 14), position: 3, color: 0 } } });
    expect(s.servers["10"].roles.map((r) => [r.id, r.position])).toEqual([["10", 0], ["11", 3], ["12", 2]]);
    const general = s.servers["10"].channels.find((c) => c.id === "20")!;
    const overwrites = [{ kind: "member" as const, target_id: "200", allow: "0", deny: "1" }];
    s = appReducer(s, { type: "event", event: { type: "channel_update", channel: { ...general, name: "chat", overwrites } } });
    const updated = s.servers["10"].channels.find((c) => c.id === "20")!;
    expect(updated.name).toBe("chat");
    expect(updated.overwrites).toEqual(overwrites);
    expect(s.servers["10"].channels).toHaveLength(4);
  });
});

describe("permission editing helpers", () => {
  it("tri-state overwrites keep a bit in at most one set", async () => {
    const { overwriteState, setOverwriteState } = await import("../lib/permissions");
    let ow = { allow: "0", deny: "0" };
    ow = setOverwriteState(ow, "SEND_MESSAGES", "deny");
    ow = setOverwriteState(ow, "VIEW_CHANNEL", "allow");
    expect(ow).toEqual({ allow: "1", deny: "2" });
    ow = setOverwriteState(ow, "SEND_MESSAGES", "allow");
    expect(ow).toEqual({ allow: "3", deny: "0" });
    expect(overwriteState(ow, "SEND_MESSAGES")).toBe("allow");
    ow = setOverwriteState(ow, "VIEW_CHANNEL", "inherit");
    expect(ow).toEqual({ allow: "2", deny: "0" });
    expect(overwriteState(ow, "VIEW_CHANNEL")).toBe("inherit");
  });

  it("keeps bits above 2^53 intact and lists kind-relevant channel permissions", async () => {
    const { withBit, hasBit, channelPermissionGroups } = await import("../lib/permissions");
    const high = ((1n << 60n) | 1n).toString();
    expect(withBit(high, "SEND_MESSAGES", true)).toBe(((1n << 60n) | 3n).toString());
    expect(hasBit(String(1 << 19), "KICK_MEMBERS")).toBe(false);
    const names = (k: "text" | "voice" | "category") => channelPermissionGroups(k).flatMap((g) => g.perms);
    expect(names("text")).toContain("SEND_MESSAGES");
    expect(names("text")).not.toContain("SPEAK");
    expect(names("voice")).toContain("CONNECT");
    expect(names("voice")).not.toContain("SEND_MESSAGES");
    expect(names("category")).toEqual(expect.arrayContaining(["SEND_MESSAGES", "SPEAK", "VIEW_CHANNEL"]));
    expect(names("category")).not.toContain("ADMINISTRATOR");
    const { PERMISSION_GROUPS, Perm } = await import("../lib/permissions");
    // The roles editor shows every defined bit exactly once.
    expect(PERMISSION_GROUPS.flatMap((g) => g.perms).sort()).toEqual(Object.keys(Perm).sort());
  });

  it("ranks by the highest role; owner and administrators outrank every role", async () => {
    const { rankOf, canManageRole } = await import("../lib/permissions");
    const role = (id: string, position: number, permissions = "0") => ({ id, position, permissions });
    const roles = [role("10", 0), role("11", 1), role("12", 2), role("13", 3)];
    const base = { server: { id: "10", owner_id: "999" }, roles, me: { user_id: "100", roles: ["12"] }, my_permissions: "128" };
    const rank = rankOf(base);
    expect(rank).toMatchObject({ outranksAll: false, top: 2 });
    expect(roles.map((r) => canManageRole(rank, r))).toEqual([true, true, false, false]);
    expect(rankOf({ ...base, server: { id: "10", owner_id: "100" } }).outranksAll).toBe(true);
    expect(rankOf({ ...base, my_permissions: String(1 << 19) }).outranksAll).toBe(true);
  });

  it("a lower role carrying ADMINISTRATOR (or any bit one lacks) is out of reach, as on the server", async () => {
    const { rankOf, canManageRole } = await import("../lib/permissions");
    const MANAGE_ROLES = 1 << 7;
    const roles = [
      { id: "10", position: 0, permissions: "12859" },
      // Made by the owner later: new roles land just above @everyone, below one's own.
      { id: "11", position: 1, permissions: String(1 << 19) },
      { id: "12", position: 2, permissions: String(MANAGE_ROLES) },
      { id: "13", position: 1, permissions: String(1 << 10) },
      { id: "14", position: 1, permissions: String(1 << 1) },
    ];
    const rank = rankOf({ server: { id: "10", owner_id: "999" }, roles, me: { user_id: "100", roles: ["12"] }, my_permissions: String(12859 | MANAGE_ROLES) });
    expect(canManageRole(rank, roles[1])).toBe(false);
    expect(canManageRole(rank, roles[3])).toBe(false);
    expect(canManageRole(rank, roles[4])).toBe(true);
    // @everyone too, only while one holds what it carries.
    expect(canManageRole(rank, roles[0])).toBe(true);
    expect(canManageRole(rank, { ...roles[0], permissions: String(12859 | (1 << 11)) })).toBe(false);
    // The owner may.
    expect(canManageRole(rankOf({ server: { id: "10", owner_id: "100" }, roles, me: { user_id: "100", roles: [] }, my_permissions: "0" }), roles[1])).toBe(true);
  });

  it("acts only on members below one's highest role, never the owner, an administrator or oneself", async () => {
    const { rankOf, canActOn, canOverwriteFor } = await import("../lib/permissions");
    const roles = [
      { id: "10", position: 0, permissions: "0" },
      { id: "11", position: 1, permissions: "0" },
      { id: "12", position: 2, permissions: String(1 << 7) },
      { id: "13", position: 1, permissions: String(1 << 19) },
    ];
    const rank = rankOf({ server: { id: "10", owner_id: "999" }, roles, me: { user_id: "100", roles: ["12"] }, my_permissions: "128" });
    const m = (user_id: string, r: string[]) => ({ user_id, roles: r });
    expect(canActOn(rank, m("200", []))).toBe(true);
    expect(canActOn(rank, m("200", ["11"]))).toBe(true);
    expect(canActOn(rank, m("200", ["12"]))).toBe(false);
    expect(canActOn(rank, m("200", ["13"]))).toBe(false);
    expect(canActOn(rank, m("999", []))).toBe(false);
    expect(canActOn(rank, m("100", ["12"]))).toBe(false);
    // Overwrites: @everyone and lower roles; oneself and members one outranks.
    expect(canOverwriteFor(rank, { kind: "role", role: roles[0] })).toBe(true);
    expect(canOverwriteFor(rank, { kind: "role", role: roles[2] })).toBe(false);
    expect(canOverwriteFor(rank, { kind: "member", member: m("100", ["12"]) })).toBe(true);
    expect(canOverwriteFor(rank, { kind: "member", member: m("200", ["12"]) })).toBe(false);
    const owner = rankOf({ server: { id: "10", owner_id: "100" }, roles, me: { user_id: "100", roles: [] }, my_permissions: "0" });
    expect(canActOn(owner, m("200", ["13"]))).toBe(true);
  });

  it("swaps positions, renumbering only when two roles share one", async () => {
    const { swapPositions } = await import("../settings/admin/RolesEditor");
    const r = (id: string, position: number) => ({ id, name: id, permissions: "0", position, color: 0 });
    expect(swapPositions([r("a", 5), r("b", 2)], 0, 1)).toEqual([{ id: "a", position: 2 }, { id: "b", position: 5 }]);
    expect(swapPositions([r("a", 3), r("b", 2), r("c", 2)], 1, 2)).toEqual([{ id: "b", position: 1 }]);
  });
});
