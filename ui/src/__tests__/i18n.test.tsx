import { describe, expect, it } from "vitest";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { en } from "../i18n/en";
import { de } from "../i18n/de";
import { translate } from "../i18n";
import { renderLoggedIn } from "../test/fixtures";
import { lastInvoke } from "../test/tauriMock";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("i18n dictionaries", () => {
  it("German has exactly the English keys, none empty", () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
    for (const [k, v] of Object.entries(de)) expect(v.trim(), k).not.toBe("");
  });

  it("German settings tabs cannot be mistaken for each other, and the voice state fits the user panel", () => {
    const tabs = Object.entries(de).filter(([k]) => k.startsWith("settings.tab."));
    for (const [k, v] of tabs) {
      for (const [k2, v2] of tabs) if (k !== k2) expect(v.split(/[\s&-]/)[0], `${k} vs ${k2}`).not.toBe(v2.split(/[\s&-]/)[0]);
    }
    // The panel shows about 18 characters before it cuts the line.
    for (const key of ["voice.state.connected", "voice.state.connecting", "voice.state.reconnecting"] as const) {
      expect(de[key].length, key).toBeLessThanOrEqual(18);
      expect(en[key].length, key).toBeLessThanOrEqual(18);
    }
  });

  it("every translation keeps the placeholders of the English text", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(de[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(translate("de", "chat.typing.two", { a: "Ann", b: "Bob" })).toBe("Ann und Bob schreiben…");
    expect(translate("en", "chat.typing.one", {})).toBe("{a} is typing…");
  });
});

describe("language switch", () => {
  it("changes rendered text and the html lang attribute, and persists the choice", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    expect(document.documentElement.lang).toBe("en");
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-language"));
    const select = document.querySelector('select[name="language"]') as HTMLSelectElement;
    await user.selectOptions(select, "de");
    expect(document.documentElement.lang).toBe("de");
    expect(screen.getByTestId("settings-tab-account")).toHaveTextContent("Mein Konto");
    expect(lastInvoke("set_app_settings")).toMatchObject({ settings: { language: "de" } });
    await user.click(screen.getByTestId("close-settings"));
    const composer = screen.getByTestId("composer");
    expect(composer).toHaveAttribute("placeholder", "Nachricht an #general");
  });

  it("theme select switches the class on <html>", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    expect(document.documentElement).toHaveClass("dark");
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-appearance"));
    await user.selectOptions(document.querySelector('select[name="theme"]') as HTMLSelectElement, "light");
    expect(document.documentElement).toHaveClass("light");
    expect(document.documentElement).not.toHaveClass("dark");
    // Escape closes the settings overlay.
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("close-settings")).toBeNull();
  });
});

describe("settings panel", () => {
  it("opens every tab at its top, whatever the last tab was scrolled to", async () => {
    const user = userEvent.setup();
    await renderLoggedIn();
    await user.click(screen.getByTestId("open-settings"));
    await user.click(screen.getByTestId("settings-tab-voice"));
    const voicePanel = document.getElementById("settings-panel")!;
    voicePanel.scrollTop = 600;
    await user.click(screen.getByTestId("settings-tab-appearance"));
    const appearancePanel = document.getElementById("settings-panel")!;
    expect(appearancePanel).not.toBe(voicePanel);
    expect(appearancePanel.scrollTop).toBe(0);
  });
});
