import { createRoot } from "react-dom/client";
import { App } from "./App";
import "twemoji-colr-font/twemoji.css";
import "./index.css";

async function start() {
  // Sample data for a plain browser; the condition is constant at build time, so a
  // release build drops the demo module entirely.
  if (import.meta.env.VITE_DEMO === "1") await import("./dev/demoBackend");
  createRoot(document.getElementById("root")!).render(<App />);
}

void start();
