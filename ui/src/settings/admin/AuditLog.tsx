import { useLang, useT, hasKey } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { commands, unwrap, type AuditEntry } from "../../lib/backend";
import { memberName } from "../../state/app";
import { ErrorText, SectionTitle } from "../../components/ui";
import { useLoad } from "./useLoad";

export function Audit({ serverId }: { serverId: string }) {
  const t = useT();
  const lang = useLang();
  const { state } = useApp();
  const [list, error] = useLoad(async () => unwrap(await commands.auditLog(serverId)), [serverId]);
  const members = state.members[serverId] ?? [];
  const who = (id: string) => memberName(members.find((m) => m.user_id === id)) || id;
  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.audit")}</SectionTitle>
      <ErrorText>{error}</ErrorText>
      {list && list.length === 0 && <p className="text-sm text-muted">{t("admin.noAudit")}</p>}
      <ol className="flex flex-col gap-1">
        {list?.map((e: AuditEntry) => {
          const key = `audit.${e.action}`;
          return (
            <li key={e.id} className="rounded bg-s1 px-3 py-2 text-sm">
              <span className="font-medium text-fg-strong">{who(e.actor_id)}</span>{" "}
              <span>{hasKey(key) ? t(key) : e.action}</span>
              {e.target_id && <span className="text-muted"> · {who(e.target_id)}</span>}
              {e.reason && <span className="text-muted"> — {e.reason}</span>}
              <time className="float-right text-xs text-muted" dateTime={new Date(e.created_at).toISOString()}>
                {new Date(e.created_at).toLocaleString(lang)}
              </time>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
