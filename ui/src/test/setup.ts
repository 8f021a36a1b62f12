import "@testing-library/jest-dom/vitest";
import { afterEach, vi } from "vitest";
import { cleanup, configure } from "@testing-library/react";
import { resetTauriMock } from "./tauriMock";

// Every test talks to a fake Tauri IPC: commands answer from handlers a test installs,
// events are emitted by the test (see tauriMock.ts).
vi.mock("@tauri-apps/api/core", async () => (await import("./tauriMock")).coreModule);
vi.mock("@tauri-apps/api/event", async () => (await import("./tauriMock")).eventModule);

// The machine is shared with Rust builds: give async UI assertions room under load.
configure({ asyncUtilTimeout: 4000 });

afterEach(() => {
  cleanup();
  resetTauriMock();
  localStorage.clear();
});
