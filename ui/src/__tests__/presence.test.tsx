import { describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { renderLoggedIn } from "../test/fixtures";
import { invokedWith, mockCommand } from "../test/tauriMock";

describe("own status", () => {
  it("sets do not disturb from the user panel and shows it on the avatar", async () => {
    const user = userEvent.setup();
    mockCommand("set_presence", null);
    await renderLoggedIn();
    const button = screen.getByTestId("presence-menu");
    expect(button).toHaveAttribute("data-presence", "online");
    await user.click(button);
    await user.click(screen.getByTestId("presence-do_not_disturb"));
    expect(invokedWith("set_presence")).toEqual([{ status: "do_not_disturb" }]);
    await waitFor(() => expect(screen.getByTestId("presence-menu")).toHaveAttribute("data-presence", "do_not_disturb"));
    // Saved with the other app settings, so the next start (and every new session) keeps it.
    const saved = invokedWith("set_app_settings");
    expect(saved[saved.length - 1]).toMatchObject({ settings: { presence: "do_not_disturb" } });
  });

  it("is keyboard operable and labelled", async () => {
    const user = userEvent.setup();
    mockCommand("set_presence", null);
    await renderLoggedIn();
    screen.getByRole("button", { name: "Set status: Online" }).focus();
    await user.keyboard("{Enter}");
    expect(await screen.findByRole("menu", { name: "Set status" })).toBeInTheDocument();
  });
});
