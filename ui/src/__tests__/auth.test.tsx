import { describe, expect, it } from "vitest";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { App, routerFuture } from "../App";
import { mockBasics, me } from "../test/fixtures";
import { invokedWith, mockCommand, mockCommandError } from "../test/tauriMock";

function renderOut(path = "/login") {
  mockBasics();
  mockCommand("restore_session", null);
  const Router = ({ children }: { children?: React.ReactNode }) => <MemoryRouter future={routerFuture} initialEntries={[path]}>{children}</MemoryRouter>;
  return render(<App router={Router} />);
}

async function fillLogin(server = "chat.example.com") {
  const user = userEvent.setup();
  const form = await screen.findByRole("button", { name: "Log In" });
  await user.type(document.querySelector('input[name="server"]')!, server);
  await user.type(document.querySelector('input[name="login"]')!, "ann");
  await user.type(document.querySelector('input[name="password"]')!, "hunter22");
  await user.click(form);
  return user;
}

describe("login", () => {
  it("maps invalid_credentials to a translated message", async () => {
    renderOut();
    mockCommandError("login", "invalid_credentials", "invalid username or password");
    await fillLogin();
    expect(await screen.findByTestId("auth-error")).toHaveTextContent("Wrong username or password.");
    // Sent as typed: the backend picks the scheme (https for a public name).
    expect(invokedWith("login")[0]).toEqual({ serverUrl: "chat.example.com", login: "ann", password: "hunter22" });
  });

  it("maps an unreachable server", async () => {
    renderOut();
    mockCommandError("login", "unreachable", "connection refused");
    await fillLogin();
    expect(await screen.findByTestId("auth-error")).toHaveTextContent(/Could not reach the server/);
  });

  it.each([
    ["unknown_host", /No server has that name/],
    ["connection_refused", /nothing answers on that port/],
    ["connect_timeout", /did not answer in time/],
    ["not_https", /Try the address with http:\/\//],
    ["not_auraspeak", /not an AuraSpeak server/],
  ])("says which failure happened: %s", async (code, text) => {
    renderOut();
    mockCommandError("login", code, "details for the log");
    await fillLogin();
    expect(await screen.findByTestId("auth-error")).toHaveTextContent(text);
  });

  it("falls back to the server's message for an unknown code", async () => {
    renderOut();
    mockCommandError("login", "code_from_the_future", "the moon is in the wrong phase");
    await fillLogin();
    expect(await screen.findByTestId("auth-error")).toHaveTextContent("the moon is in the wrong phase");
  });

  it("lands in the app shell on success and offers remembered servers", async () => {
    mockBasics();
    mockCommand("known_servers", [{ url: "https://old.example.org", username: "ann", last_used_ms: 1 }]);
    mockCommand("restore_session", null);
    mockCommand("login", { server_url: "https://old.example.org", user: me });
    render(<App router={({ children }) => <MemoryRouter future={routerFuture} initialEntries={["/login"]}>{children}</MemoryRouter>} />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Use https://old.example.org" }));
    expect(document.querySelector<HTMLInputElement>('input[name="server"]')!.value).toBe("https://old.example.org");
    expect(document.querySelector<HTMLInputElement>('input[name="login"]')!.value).toBe("ann");
    await user.type(document.querySelector('input[name="password"]')!, "hunter22");
    await user.click(screen.getByRole("button", { name: "Log In" }));
    expect(await screen.findByTestId("app-shell")).toBeInTheDocument();
  });

  it("restore_session shows the splash, then the app", async () => {
    mockBasics();
    let resolve!: (v: unknown) => void;
    mockCommand("restore_session", () => new Promise((r) => (resolve = r)));
    render(<App router={({ children }) => <MemoryRouter future={routerFuture}>{children}</MemoryRouter>} />);
    expect(await screen.findByText("Starting AuraSpeak…")).toBeInTheDocument();
    resolve({ server_url: "https://x", user: me });
    expect(await screen.findByTestId("app-shell")).toBeInTheDocument();
  });
});

describe("restore failure", () => {
  it("explains on the login page why the last session could not be restored", async () => {
    mockBasics();
    mockCommandError("restore_session", "session_revoked");
    render(<App router={({ children }) => <MemoryRouter future={routerFuture}>{children}</MemoryRouter>} />);
    const notice = await screen.findByText("Your session has ended. Please log in again.");
    expect(notice).toHaveAttribute("role", "status");
    expect(screen.queryByTestId("auth-error")).toBeNull();
  });
});

describe("register", () => {
  it("registers and enters the app", async () => {
    renderOut("/login");
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("go-register"));
    mockCommand("register", { server_url: "https://chat.example.com", user: me });
    await user.type(document.querySelector('input[name="server"]')!, "https://chat.example.com/");
    await user.type(document.querySelector('input[name="username"]')!, "ann");
    await user.type(document.querySelector('input[name="email"]')!, "ann@example.com");
    await user.type(document.querySelector('input[name="password"]')!, "correct horse");
    await user.click(document.querySelector('button[type="submit"]')!);
    expect(await screen.findByTestId("app-shell")).toBeInTheDocument();
    expect(invokedWith("register")[0]).toEqual({
      serverUrl: "https://chat.example.com",
      username: "ann",
      email: "ann@example.com",
      password: "correct horse",
    });
  });

  it("shows username_taken translated and can go back to login", async () => {
    renderOut("/register");
    const user = userEvent.setup();
    mockCommandError("register", "username_taken");
    await user.type(await screen.findByRole("textbox", { name: /Server address/ }), "h");
    await user.type(document.querySelector('input[name="username"]')!, "ann");
    await user.type(document.querySelector('input[name="email"]')!, "ann@example.com");
    await user.type(document.querySelector('input[name="password"]')!, "correct horse");
    await user.click(document.querySelector('button[type="submit"]')!);
    expect(await screen.findByTestId("auth-error")).toHaveTextContent("This username is already taken.");
    expect(invokedWith("register")[0]).toMatchObject({ email: "ann@example.com" });
    await user.click(screen.getByTestId("go-login"));
    expect(await screen.findByRole("button", { name: "Log In" })).toBeInTheDocument();
  });
});

describe("registration form", () => {
  it("requires what the server requires and shows the server's reasons next to each field", async () => {
    renderOut("/register");
    const user = userEvent.setup();
    await user.type(await screen.findByRole("textbox", { name: /Server address/ }), "127.0.0.1:8080");
    expect(screen.getByText("Email").textContent).not.toMatch(/optional/i);
    await user.type(document.querySelector('input[name="username"]')!, "a");
    await user.click(document.querySelector('button[type="submit"]')!);
    // Nothing sent while the email and password are empty.
    expect(await screen.findByTestId("auth-error")).toHaveTextContent("Check the marked fields.");
    expect(invokedWith("register")).toHaveLength(0);
    expect(document.querySelector('input[name="email"]')).toHaveAttribute("aria-invalid", "true");

    const { mockCommand: mock } = await import("../test/tauriMock");
    mock("register", () => {
      throw {
        code: "validation_failed",
        message: "some fields are invalid",
        fields: [
          { field: "username", message: "must be 2 to 32 characters long" },
          { field: "email", message: "must be an email address" },
          { field: "password", message: "a reason no client knows yet" },
        ],
      };
    });
    await user.type(document.querySelector('input[name="email"]')!, "not-an-address");
    await user.type(document.querySelector('input[name="password"]')!, "correct horse");
    await user.click(document.querySelector('button[type="submit"]')!);
    expect(await screen.findByText("Must be 2 to 32 characters long.")).toBeInTheDocument();
    expect(screen.getByText("This is not an email address.")).toBeInTheDocument();
    expect(screen.getByText("a reason no client knows yet")).toBeInTheDocument();
    expect(screen.getByTestId("auth-error")).toHaveTextContent("Check the marked fields.");
    expect(invokedWith("register")[0]).toMatchObject({ serverUrl: "127.0.0.1:8080", email: "not-an-address" });
  });
});

describe("started by an invite link", () => {
  it("offers the link's server on the login page", async () => {
    mockBasics();
    mockCommand("restore_session", null);
    mockCommand("take_invite_link", "auraspeak://invite?server=http%3A%2F%2F192.168.1.20%3A8080&code=hTKzmak");
    const Router = ({ children }: { children?: React.ReactNode }) => <MemoryRouter future={routerFuture} initialEntries={["/login"]}>{children}</MemoryRouter>;
    render(<App router={Router} />);
    await waitFor(() => expect(screen.getByRole("textbox", { name: /Server address/ })).toHaveValue("http://192.168.1.20:8080"));
  });
});
