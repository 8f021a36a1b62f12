/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// Tauri loads the UI from disk, so every asset URL must be relative (`base: './'`).
export default defineConfig({
  base: "./",
  plugins: [react(), tailwindcss()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    target: "es2021",
    sourcemap: false,
    // The app's own chunk stays under 400 kB; the emoji data (names and keywords, loaded
    // when a picker or composer first needs it) is about 600 kB of JSON per language.
    chunkSizeWarningLimit: 650,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    globals: true,
    testTimeout: 20_000,
  },
});
