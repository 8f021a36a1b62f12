import { describe, expect, it, vi } from "vitest";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { keybindFromEvent, keybindFromMouse } from "../settings/keybind";
import { suppressionLevel } from "../settings/VoiceTab";
import { ready, renderLoggedIn, server, serverWith, voiceSettings } from "../test/fixtures";
import { emit, invokedWith, lastInvoke, mockCommand, mockCommandError } from "../test/tauriMock";
import type { VoiceState } from "../lib/backend";

const vs = (user: string, channel: string | null, extra: Partial<VoiceState> = {}): VoiceState => ({
  user_id: user, server_id: "10", channel_id: channel, self_mute: false, self_deaf: false, mute: false, deaf: false, ...extra,
});

const inCall = {
  channel_id: "30", server_id: "10", state: "connected", self_mute: false, self_deaf: false,
  transmitting: false, ping_ms: 42, loss_percent: 0.5, loss_up_percent: 1.5, jitter_ms: 4,
};

describe("keybind capture", () => {
  const key = (code: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean }> = {}) =>
    keybindFromEvent({ code, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods });

  it("formats combinations and waits for a non-modifier key", () => {
    expect(key("KeyM", { ctrlKey: true, shiftKey: true })).toBe("Ctrl+Shift+M");
    expect(key("ControlLeft", { ctrlKey: true })).toBeNull();
    expect(key("Digit4", { altKey: true })).toBe("Alt+4");
    expect(key("F13")).toBe("F13");
    expect(key("Backquote")).toBe("Backquote");
    expect(key("KeyV")).toBe("V");
    expect(key("CapsLock")).toBe("CapsLock");
  });

  it("binds the middle and side mouse buttons but never left or right", () => {
    const mouse = (button: number, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean }> = {}) =>
      keybindFromMouse({ button, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods });
    expect(mouse(3)).toBe("Mouse4");
    expect(mouse(4)).toBe("Mouse5");
    expect(mouse(1)).toBe("Mouse3");
    expect(mouse(4, { shiftKey: true })).toBe("Shift+Mouse5");
    expect(mouse(0)).toBeNull();
    expect(mouse(2)).toBeNull();
  });
});

describe("voice & audio settings", () => {
  it("refreshes devices on DevicesChanged and records a keybind", async () => {
    const user = userEvent.setup();
    mockCommand("voice_devices", { inputs: [{ id: "mic1", name: "USB Mic", is_default: true }], outputs: [] });
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    const input = screen.getByRole("combobox", { name: "Input device" });
    await waitFor(() => expect(within(input).getByRole("option", { name: "USB Mic" })).toBeInTheDocument());
    expect(within(input).getByRole("option", { name: "Default (USB Mic)" })).toBeInTheDocument();

    mockCommand("voice_devices", {
      inputs: [{ id: "mic1", name: "USB Mic", is_default: false }, { id: "mic2", name: "Headset Mic", is_default: true }],
      outputs: [{ id: "spk", name: "Speakers", is_default: true }],
    });
    await emit("devices-changed", {});
    await waitFor(() => expect(within(input).getByRole("option", { name: "Headset Mic" })).toBeInTheDocument());
    expect(within(screen.getByRole("combobox", { name: "Output device" })).getByRole("option", { name: "Speakers" })).toBeInTheDocument();

    await user.selectOptions(input, "mic2");
    expect(lastInvoke("set_voice_settings")).toEqual({ settings: { ...voiceSettings, input_device: "mic2" } });

    // Switch to push to talk, then record a new shortcut.
    await user.click(document.querySelector('input[name="input-mode"][value="push_to_talk"]')!);
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { input_mode: "push_to_talk" } });
    const capture = screen.getByTestId("ptt-keybind");
    expect(capture).toHaveTextContent("Ctrl+Shift+M");
    await user.click(capture);
    expect(capture).toHaveTextContent("Press keys…");
    fireEvent.keyDown(capture, { key: "Control", code: "ControlLeft", ctrlKey: true });
    expect(capture).toHaveTextContent("Press keys…");
    fireEvent.keyDown(capture, { key: "V", code: "KeyV", ctrlKey: true, altKey: true });
    expect(capture).toHaveTextContent("Ctrl+Alt+V");
    // Escape while recording cancels the recording, not the whole settings overlay.
    await user.click(capture);
    await user.keyboard("{Escape}");
    expect(capture).toHaveTextContent("Ctrl+Alt+V");
    expect(screen.getByTestId("close-settings")).toBeInTheDocument();
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { ptt_shortcut: "Ctrl+Alt+V", input_mode: "push_to_talk" } });
    // A mouse side button, as gamers bind it.
    await user.click(capture);
    fireEvent.mouseDown(capture, { button: 3 });
    expect(capture).toHaveTextContent("Mouse4");
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { ptt_shortcut: "Mouse4" } });
    // Push-to-mute on the other side button, toggle-mute on F8, and cleared again.
    const mute = screen.getByTestId("push-to-mute-keybind");
    expect(mute).toHaveTextContent("None");
    await user.click(mute);
    fireEvent.mouseDown(mute, { button: 4 });
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { push_to_mute_shortcut: "Mouse5", ptt_shortcut: "Mouse4" } });
    const toggle = screen.getByTestId("toggle-mute-keybind");
    await user.click(toggle);
    fireEvent.keyDown(toggle, { key: "F8", code: "F8" });
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { toggle_mute_shortcut: "F8" } });
    await user.click(screen.getByTestId("toggle-mute-clear"));
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { toggle_mute_shortcut: "", push_to_mute_shortcut: "Mouse5" } });
  });

  it("warns when the microphone has delivered only digital silence for 5 s, and stops warning when sound comes", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    const level = (silent: boolean) => ({ rms_dbfs: silent ? -100 : -30, peak_dbfs: -20, voice_probability: 0, transmitting: false, silent_input: silent });
    const clock = vi.spyOn(Date, "now");
    try {
      clock.mockReturnValue(1_000_000);
      await emit("input-level", level(true));
      clock.mockReturnValue(1_004_000);
      await emit("input-level", level(true));
      expect(screen.queryByTestId("silent-input")).toBeNull();
      clock.mockReturnValue(1_005_100);
      await emit("input-level", level(true));
      expect(screen.getByTestId("silent-input")).toHaveTextContent("We hear nothing from this microphone");
      clock.mockReturnValue(1_005_200);
      await emit("input-level", level(false));
      expect(screen.queryByTestId("silent-input")).toBeNull();
    } finally {
      clock.mockRestore();
    }
  });

  it("noise suppression offers Off, Standard and Strong and stores them as the engine's two switches", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    const group = screen.getByRole("group", { name: "Noise suppression" });
    expect(within(group).getByRole("radio", { name: /^Strong/ })).toBeChecked();

    await user.click(within(group).getByRole("radio", { name: /^Standard/ }));
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { noise_suppression: true, strong_suppression: false } });
    expect(within(group).getByRole("radio", { name: /^Standard/ })).toBeChecked();

    await user.click(within(group).getByRole("radio", { name: /^Off/ }));
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { noise_suppression: false, strong_suppression: false } });

    await user.click(within(group).getByRole("radio", { name: /^Strong/ }));
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { noise_suppression: true, strong_suppression: true } });
  });

  it("echo cancellation is on by default and switches off and on again", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    const toggle = screen.getByRole("switch", { name: "Echo cancellation" });
    expect(toggle).toBeChecked();

    await user.click(toggle);
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { echo_cancellation: false } });
    expect(toggle).not.toBeChecked();

    await user.click(toggle);
    expect(lastInvoke("set_voice_settings")).toMatchObject({ settings: { echo_cancellation: true } });
  });

  it("settings stored before the Strong choice existed show Strong, the engine's default", () => {
    expect(suppressionLevel({ noise_suppression: true })).toBe("strong");
    expect(suppressionLevel({ noise_suppression: true, strong_suppression: false })).toBe("standard");
    expect(suppressionLevel({ noise_suppression: false, strong_suppression: true })).toBe("off");
  });

  it("mic test toggles and the level meter follows InputLevel", async () => {
    const user = userEvent.setup();
    mockCommand("voice_devices", { inputs: [], outputs: [] });
    mockCommand("mic_test", null);
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    await user.click(screen.getByTestId("mic-test"));
    expect(invokedWith("mic_test")[0]).toEqual({ enabled: true });
    await emit("input-level", { rms_dbfs: -20, peak_dbfs: -10, voice_probability: 0.9, transmitting: true });
    expect(screen.getByTestId("input-level")).toHaveAttribute("aria-valuenow", "-20");
  });
});

describe("voice call UI", () => {
  it("joins by clicking a voice channel and shows the panel, ping and transmit state", async () => {
    const user = userEvent.setup();
    mockCommand("voice_join", null);
    mockCommand("voice_set_self_mute", null);
    await renderLoggedIn("/channels/10/20", ready({ voice_states: [vs("200", "30")] }));
    await user.click(screen.getByTestId("channel-30"));
    expect(invokedWith("voice_join")[0]).toEqual({ channelId: "30" });
    await emit("voice-status", inCall);
    const panel = screen.getByTestId("voice-panel");
    expect(panel).toHaveAttribute("data-state", "connected");
    expect(panel).toHaveTextContent("Ping: 42 ms");
    // The link as both reports see it: what reaches us, what reaches the relay, jitter.
    expect(panel).toHaveTextContent("Loss: 0.5 % · Sending loss: 1.5 % · Jitter: 4 ms");
    expect(panel).toHaveTextContent("Lounge");
    const tx = within(panel).getByTestId("transmit-indicator");
    expect(tx).toHaveAttribute("data-active", "false");
    await emit("input-level", { rms_dbfs: -20, peak_dbfs: -10, voice_probability: 0.9, transmitting: true });
    expect(tx).toHaveAttribute("data-active", "true");

    await user.click(screen.getByTestId("toggle-mute"));
    expect(invokedWith("voice_set_self_mute")[0]).toEqual({ muted: true });
    expect(screen.getByTestId("toggle-mute")).toHaveAttribute("aria-pressed", "true");

    // Speaking ring on the participant tile.
    await emit("server-event", { event: { type: "voice_speaking", channel_id: "30", user_id: "200", speaking: true } });
    expect(screen.getByTestId("participant-200")).toHaveAttribute("data-speaking", "true");
  });

  it("push to talk lights the transmit indicator while pressed", async () => {
    await renderLoggedIn("/channels/10/20", ready(), () =>
      mockCommand("voice_settings", { ...voiceSettings, input_mode: "push_to_talk" }),
    );
    await emit("voice-status", inCall);
    const tx = screen.getByTestId("transmit-indicator");
    await waitFor(() => expect(tx).toHaveTextContent("PTT"));
    expect(tx).toHaveAttribute("data-active", "false");
    await emit("push-to-talk", { pressed: true });
    expect(tx).toHaveAttribute("data-active", "true");
    await emit("push-to-talk", { pressed: false });
    expect(tx).toHaveAttribute("data-active", "false");
  });

  it("sets a participant's volume and local mute, and moderates with a translated refusal", async () => {
    const user = userEvent.setup();
    mockCommand("voice_set_user_volume", null);
    mockCommand("voice_set_user_muted", null);
    mockCommandError("moderate_voice", "forbidden");
    await renderLoggedIn("/channels/10/30", ready({ voice_states: [vs("200", "30")] }));
    await user.click(await screen.findByTestId("participant-200"));
    const menu = screen.getByRole("menu", { name: "Voice options for Bob" });
    const slider = within(menu).getByRole("slider", { name: "User volume" });
    fireEvent.change(slider, { target: { value: "150" } });
    await waitFor(() => expect(lastInvoke("voice_set_user_volume")).toEqual({ userId: "200", percent: 150 }));
    expect(within(menu).getByText("150 %")).toBeInTheDocument();

    await user.click(within(menu).getByRole("menuitem", { name: "Server mute" }));
    expect(invokedWith("moderate_voice")[0]).toEqual({ serverId: "10", userId: "200", mute: true, deaf: null, channelId: null });
    expect(await within(menu).findByRole("alert")).toHaveTextContent("You don't have permission to do that.");

    await user.click(within(menu).getByRole("menuitem", { name: "Mute for me" }));
    expect(invokedWith("voice_set_user_muted")[0]).toEqual({ userId: "200", muted: true });
    expect(screen.queryByRole("menu")).toBeNull();
  });

  it("starts each participant menu at the volume and mute remembered for this account", async () => {
    const user = userEvent.setup();
    await renderLoggedIn("/channels/10/30", ready({ voice_states: [vs("200", "30")] }), () =>
      mockCommand("voice_user_preferences", [{ user_id: "200", volume_percent: 35, muted: true }]),
    );
    await user.click(await screen.findByTestId("participant-200"));
    const menu = screen.getByRole("menu", { name: "Voice options for Bob" });
    await waitFor(() => expect(within(menu).getByText("35 %")).toBeInTheDocument());
    expect(within(menu).getByRole("slider", { name: "User volume" })).toHaveValue("35");
    expect(within(menu).getByRole("menuitem", { name: "Unmute for me" })).toBeInTheDocument();
  });

  it("offers no moderation without the permission, and nothing but moderation for myself", async () => {
    const user = userEvent.setup();
    const r = ready({ voice_states: [vs("200", "30"), vs("100", "30")] });
    r.servers[0] = serverWith({ server: { ...server.server, owner_id: "999" }, my_permissions: "12859" });
    await renderLoggedIn("/channels/10/30", r);
    await user.click(await screen.findByTestId("participant-200"));
    const menu = screen.getByRole("menu");
    expect(within(menu).getByRole("slider", { name: "User volume" })).toBeInTheDocument();
    expect(within(menu).queryByRole("menuitem", { name: "Server mute" })).toBeNull();
    expect(within(menu).queryByText("Move to")).toBeNull();
    await user.keyboard("{Escape}");
    // Nothing to offer about myself without moderation rights: no empty menu.
    await user.click(screen.getByTestId("participant-100"));
    expect(screen.queryByRole("menu")).toBeNull();
  });

  it("judges joining, speaking and moderation by the channel's own permissions", async () => {
    const user = userEvent.setup();
    const ALL = Number(server.my_permissions);
    const [CONNECT, SPEAK, MUTE] = [1 << 12, 1 << 13, 1 << 14];
    // Server-wide everything; the Lounge denies connecting and muting, the Raid speaking.
    const r = ready({ voice_states: [vs("200", "30")] });
    r.servers[0] = serverWith({}, { "30": String(ALL & ~CONNECT & ~MUTE), "31": String(ALL & ~SPEAK) });
    await renderLoggedIn("/channels/10/30", r);
    expect(screen.getByRole("button", { name: "Join Voice" })).toBeDisabled();
    expect(screen.getByText("You do not have permission to connect to this channel.")).toBeInTheDocument();
    expect(screen.getByTestId("channel-30")).toHaveAccessibleName("Voice channel Lounge, You do not have permission to connect to this channel.");
    await user.click(screen.getByTestId("channel-30"));
    expect(invokedWith("voice_join")).toHaveLength(0);

    await user.click(await screen.findByTestId("participant-200"));
    const menu = screen.getByRole("menu");
    expect(within(menu).queryByRole("menuitem", { name: "Server mute" })).toBeNull();
    expect(within(menu).getByRole("menuitem", { name: "Server deafen" })).toBeInTheDocument();
    expect(within(menu).getByRole("menuitem", { name: "Raid" })).toBeInTheDocument();
    await user.keyboard("{Escape}");

    // In the Raid one may connect but not speak: said so while in the call.
    mockCommand("voice_join", null);
    await user.click(screen.getByTestId("channel-31"));
    expect(lastInvoke("voice_join")).toEqual({ channelId: "31" });
    await emit("voice-status", { ...inCall, channel_id: "31" });
    expect(await screen.findByText("You do not have permission to speak in this channel: the others cannot hear you.")).toBeInTheDocument();
    expect(screen.getByTestId("voice-panel")).toHaveTextContent("You cannot speak here");
    // Moving someone needs MOVE_MEMBERS and CONNECT where they go: not into the Lounge.
    await emit("server-event", { event: { type: "voice_state_update", state: vs("200", "31") } });
    await user.click(await screen.findByTestId("participant-200"));
    expect(within(screen.getByRole("menu")).queryByText("Move to")).toBeNull();
  });

  it("moderates in voice only members below one's highest role", async () => {
    const user = userEvent.setup();
    const MUTE = 1 << 14;
    const r = ready({ voice_states: [vs("200", "30"), vs("300", "30")] });
    // Mods may mute; Carl holds Mods too (list_members), Bob nothing.
    r.servers[0] = serverWith({ server: { ...server.server, owner_id: "999" }, me: { ...server.me, roles: ["11"] }, my_permissions: String(12859 | MUTE) });
    await renderLoggedIn("/channels/10/30", r);
    // Ranks are judged once the member list is in (the tiles then show names).
    await screen.findAllByRole("button", { name: "Voice options for Carlos" });
    await user.click(screen.getByTestId("participant-200"));
    expect(within(screen.getByRole("menu")).getByRole("menuitem", { name: "Server mute" })).toBeInTheDocument();
    await user.keyboard("{Escape}");
    await user.click(screen.getByTestId("participant-300"));
    const menu = screen.getByRole("menu");
    expect(within(menu).getByRole("slider", { name: "User volume" })).toBeInTheDocument();
    expect(within(menu).queryByRole("menuitem", { name: "Server mute" })).toBeNull();
  });

  it("moves a member to another voice channel", async () => {
    const user = userEvent.setup();
    mockCommand("moderate_voice", null);
    await renderLoggedIn("/channels/10/30", ready({ voice_states: [vs("200", "30")] }));
    await user.click(await screen.findByTestId("participant-200"));
    await user.click(screen.getByRole("menuitem", { name: "Raid" }));
    expect(invokedWith("moderate_voice")[0]).toEqual({ serverId: "10", userId: "200", mute: null, deaf: null, channelId: "31" });
  });
});
