import { useEffect, useState, type ReactNode } from "react";
import { commands, type KnownServer } from "../lib/backend";
import { useT } from "../i18n";
import { Field } from "../components/ui";

export function AuthLayout({ children }: { children: ReactNode }) {
  return (
    <main className="flex h-full items-center justify-center bg-gradient-to-br from-[#404eed] to-[#1e1f22] p-4">
      <div className="w-full max-w-[480px] rounded-lg bg-s2 p-8 text-fg shadow-2xl">{children}</div>
    </main>
  );
}

export function useKnownServers(): KnownServer[] {
  const [list, setList] = useState<KnownServer[]>([]);
  useEffect(() => {
    commands
      .knownServers()
      .then((r) => setList(r.status === "ok" ? r.data : []))
      .catch(() => {});
  }, []);
  return list;
}

/** The remembered servers as buttons: one click fills the address (and the login name). */
export function KnownServerPicker({
  servers,
  onPick,
}: {
  servers: KnownServer[];
  onPick: (s: KnownServer) => void;
}) {
  const t = useT();
  if (!servers.length) return null;
  return (
    <div className="mb-4">
      <h2 className="mb-2 text-xs font-bold uppercase tracking-wide text-muted">{t("auth.knownServers")}</h2>
      <ul className="flex flex-col gap-1">
        {servers.map((s) => (
          <li key={s.url}>
            <button
              type="button"
              onClick={() => onPick(s)}
              aria-label={t("auth.knownServerPick", { url: s.url })}
              className="flex w-full items-center justify-between rounded bg-s1 px-3 py-2 text-left text-sm hover:bg-hover"
            >
              <span className="truncate font-medium text-fg-strong">{s.url.replace(/^https?:\/\//, "")}</span>
              {s.username && <span className="ml-2 truncate text-muted">{s.username}</span>}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The self-hosted server's address, the first field of both login and register. */
export function ServerAddressField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const t = useT();
  return (
    <Field
      label={t("auth.server")}
      name="server"
      type="url"
      inputMode="url"
      autoComplete="url"
      placeholder={t("auth.serverPlaceholder")}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      required
    />
  );
}
