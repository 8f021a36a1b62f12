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
  const detail = state.servers[serverId];
  const member = (id: string) => memberName(members.find((m) => m.user_id === id));
  // IDs are unique across kinds: a target is a member, a role, a channel or a user who
  // left (named by the server); only a deleted one stays an ID.
  const target = (e: AuditEntry, id: string) => {
    const role = detail?.roles.find((r) => r.id === id);
    const channel = detail?.channels.find((c) => c.id === id);
    return member(id) || e.target_user_name || (role && `@${role.name}`) || (channel && `#${channel.name}`) || id;
  };
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
              <span className="font-medium text-fg-strong">{member(e.actor_id) || e.actor_name || e.actor_id}</span>{" "}
              <span>{hasKey(key) ? t(key) : e.action}</span>
              {e.target_id && <span className="text-muted"> · {target(e, e.target_id)}</span>}
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
