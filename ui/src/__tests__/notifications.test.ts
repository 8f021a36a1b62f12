import { describe, expect, it } from "vitest";
import { appReducer, initialAppState, type AppState } from "../state/app";
import { mentionNotice, plainMentions } from "../state/notifications";
import { bob, carl, me, message, ready, server } from "../test/fixtures";

function loggedIn(myRoles: string[] = []): AppState {
  let s = appReducer(initialAppState, {
    type: "connection",
    state: "live",
    ready: ready({ servers: [{ ...server, me: { ...server.me, roles: myRoles } }] }),
  });
  s = appReducer(s, { type: "members", serverId: "10", members: [bob, carl] });
  return s;
}

describe("mention notifications", () => {
  it("names the author, channel and server, and shows mentions as names", () => {
    const notice = mentionNotice(loggedIn(), message("50", "<@100> and <@300>, ready? <@&11>", { mentions: [me.id, carl.user_id] }));
    expect(notice).toEqual({
      serverId: "10",
      channelId: "20",
      title: "Bob (#general, Gamers)",
      body: "@Ann and @Carlos, ready? @Mods",
    });
  });

  it("only for messages that mention me, my role or everyone, never my own", () => {
    const s = loggedIn(["11"]);
    expect(mentionNotice(s, message("51", "hello all"))).toBeNull();
    expect(mentionNotice(s, message("52", "<@&11>", { mention_roles: ["11"] }))?.body).toBe("@Mods");
    expect(mentionNotice(s, message("53", "@everyone", { mention_everyone: true }))).not.toBeNull();
    expect(mentionNotice(s, message("54", "<@100>", { mentions: [me.id], author_id: me.id }))).toBeNull();
    expect(mentionNotice(s, message("55", "<@100>", { mentions: [me.id], channel_id: "999" }))).toBeNull();
  });

  it("leaves unknown ids as they are", () => {
    expect(plainMentions("<@1> <@&2> x", () => undefined)).toBe("<@1> <@&2> x");
    expect(plainMentions("<@1>", (id, role) => (role ? undefined : `u${id}`))).toBe("@u1");
  });
});
