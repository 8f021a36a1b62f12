// An `auraspeak://invite?...` link the desktop app was opened with (see src-tauri's
// deep_link.rs), held until the UI can act on it: the login page offers the link's server,
// and once logged in the join dialog opens with the link filled in.

import { useEffect, useState } from "react";

let pending: string | null = null;
const listeners = new Set<(link: string | null) => void>();

export function setPendingInvite(link: string | null): void {
  pending = link;
  for (const l of listeners) l(link);
}

export function usePendingInvite(): [string | null, () => void] {
  const [link, setLink] = useState(pending);
  useEffect(() => {
    listeners.add(setLink);
    setLink(pending);
    return () => void listeners.delete(setLink);
  }, []);
  return [link, () => setPendingInvite(null)];
}

/** The server an invite link points at (what the login page should offer), if any. */
export function serverOfInvite(link: string): string | null {
  const app = /^auraspeak:\/\/invite\?(.*)$/i.exec(link.trim());
  if (app) {
    const server = new URLSearchParams(app[1]).get("server");
    return server && /^https?:\/\//i.test(server) ? server : null;
  }
  const web = /^(https?:\/\/[^/]+)\/invite\/[\w-]+\/?$/i.exec(link.trim());
  return web ? web[1] : null;
}
