// Server administration: invites, bans, audit log, and read-only lists of roles and
// channels. Each section shows only with the permission it needs; the server still has
// the last word, and a refusal appears translated.

import { useEffect, useState } from "react";
import { useLang, useT, hasKey } from "../i18n";
import { useApp } from "../state/AppProvider";
import { commands, unwrap, type AuditEntry, type Ban, type Invite, type ServerDetail } from "../lib/backend";
import { countPermissions, has } from "../lib/permissions";
import { errorText } from "../lib/errors";
import { memberName, sortChannels } from "../state/app";
import { Button, ErrorText, SectionTitle, Select } from "../components/ui";
import { Icon } from "../components/Icon";
import { ConfirmDialog } from "../layout/ServerHeader";

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | null, string | null, () => void] {
  const t = useT();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    load()
      .then((d) => alive && setData(d))
      .catch((e: unknown) => alive && setError(errorText(t, e)));
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return [data, error, () => setN((x) => x + 1)];
}

export function AdminTab({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const perms = detail.my_permissions;
  return (
    <>
      <h1 className="mb-5 text-xl font-bold text-fg-strong">{t("admin.server", { name: detail.server.name })}</h1>
      {has(perms, "CREATE_INVITE") && <Invites serverId={detail.server.id} />}
      {has(perms, "BAN_MEMBERS") && <Bans serverId={detail.server.id} />}
      {has(perms, "VIEW_AUDIT_LOG") && <Audit serverId={detail.server.id} />}
      <Roles detail={detail} />
      <Channels detail={detail} />
    </>
  );
}

function Invites({ serverId }: { serverId: string }) {
  const t = useT();
  const lang = useLang();
  const { state } = useApp();
  const [list, error, reload] = useLoad(async () => unwrap(await commands.listInvites(serverId)), [serverId]);
  const [maxUses, setMaxUses] = useState("0");
  const [maxAge, setMaxAge] = useState(String(7 * 86400));
  const [createError, setCreateError] = useState<string | null>(null);
  const members = state.members[serverId] ?? [];
  const create = async () => {
    try {
      unwrap(await commands.createInvite(serverId, Number(maxUses) || null, Number(maxAge) || null));
      reload();
    } catch (e) {
      setCreateError(errorText(t, e));
    }
  };
  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.invites")}</SectionTitle>
      <ErrorText>{error ?? createError}</ErrorText>
      <div className="flex items-end gap-3">
        <Select label={t("admin.expiresAfter")} value={maxAge} onChange={(e) => setMaxAge(e.target.value)} className="flex-1">
          <option value="0">{t("admin.expire.never")}</option>
          <option value="3600">{t("admin.expire.hour")}</option>
          <option value="86400">{t("admin.expire.day")}</option>
          <option value={String(7 * 86400)}>{t("admin.expire.week")}</option>
        </Select>
        <Select label={t("admin.maxUses")} value={maxUses} onChange={(e) => setMaxUses(e.target.value)} className="flex-1">
          <option value="0">{t("common.unlimited")}</option>
          {[1, 5, 10, 25, 50, 100].map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </Select>
        <Button className="mb-4" onClick={() => void create()}>
          {t("admin.createInvite")}
        </Button>
      </div>
      {list && list.length === 0 && <p className="text-sm text-muted">{t("admin.noInvites")}</p>}
      {list && list.length > 0 && (
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-muted">
            <tr>
              <th className="py-1">{t("admin.code")}</th>
              <th>{t("admin.creator")}</th>
              <th>{t("admin.uses")}</th>
              <th>{t("admin.expires")}</th>
            </tr>
          </thead>
          <tbody>
            {list.map((i: Invite) => (
              <tr key={i.code} className="border-t border-line">
                <td className="py-2 font-mono text-fg-strong">{i.code}</td>
                <td>{memberName(members.find((m) => m.user_id === i.creator_id)) || i.creator_id}</td>
                <td>
                  {i.uses}
                  {i.max_uses ? ` / ${i.max_uses}` : ""}
                </td>
                <td>{i.expires_at ? new Date(i.expires_at).toLocaleString(lang) : t("common.never")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Bans({ serverId }: { serverId: string }) {
  const t = useT();
  const [list, error, reload] = useLoad(async () => unwrap(await commands.listBans(serverId)), [serverId]);
  const [unbanning, setUnbanning] = useState<Ban | null>(null);
  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.bans")}</SectionTitle>
      <ErrorText>{error}</ErrorText>
      {list && list.length === 0 && <p className="text-sm text-muted">{t("admin.noBans")}</p>}
      <ul className="flex flex-col gap-1">
        {list?.map((b) => (
          <li key={b.user_id} className="flex items-center justify-between rounded bg-s1 px-3 py-2">
            <div>
              <div className="font-medium text-fg-strong">{b.username}</div>
              {b.reason && (
                <div className="text-xs text-muted">
                  {t("admin.reason")}: {b.reason}
                </div>
              )}
            </div>
            <Button variant="secondary" aria-label={t("admin.unbanLabel", { name: b.username })} onClick={() => setUnbanning(b)}>
              {t("admin.unban")}
            </Button>
          </li>
        ))}
      </ul>
      {unbanning && (
        <ConfirmDialog
          title={t("admin.unbanLabel", { name: unbanning.username })}
          body={unbanning.reason ?? ""}
          confirm={t("admin.unban")}
          onClose={() => setUnbanning(null)}
          onConfirm={async () => {
            unwrap(await commands.unbanMember(serverId, unbanning.user_id));
            reload();
          }}
        />
      )}
    </section>
  );
}

function Audit({ serverId }: { serverId: string }) {
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

function Roles({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const roles = [...detail.roles].sort((a, b) => b.position - a.position);
  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.roles")}</SectionTitle>
      <ul className="flex flex-col gap-1">
        {roles.map((r) => (
          <li key={r.id} className="flex items-center justify-between rounded bg-s1 px-3 py-2 text-sm">
            <span className="flex items-center gap-2 font-medium text-fg-strong">
              <span className="h-3 w-3 rounded-full" style={{ background: r.color ? `#${r.color.toString(16).padStart(6, "0")}` : "#80848e" }} aria-hidden="true" />
              {r.id === detail.server.id ? t("admin.everyone") : r.name}
            </span>
            <span className="text-muted">
              {has(r.permissions, "ADMINISTRATOR") ? t("admin.administrator") : t("admin.permissions", { count: countPermissions(r.permissions) })}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Channels({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const { dispatch } = useApp();
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  const canManage = has(detail.my_permissions, "MANAGE_CHANNELS");
  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.channels")}</SectionTitle>
      <ul className="flex flex-col gap-1">
        {sortChannels(detail.channels).map((c) => (
          <li key={c.id} className="flex items-center justify-between rounded bg-s1 px-3 py-1.5 text-sm">
            <span className="flex items-center gap-2">
              {c.kind !== "category" && <Icon name={c.kind === "voice" ? "speaker" : "hash"} size={16} className="text-muted" />}
              <span className={c.kind === "category" ? "text-xs font-bold uppercase text-muted" : "text-fg-strong"}>{c.name}</span>
              <span className="text-xs text-muted">{t(`channel.kind.${c.kind}`)}</span>
            </span>
            {canManage && (
              <button
                type="button"
                aria-label={`${t("channel.delete")}: ${c.name}`}
                onClick={() => setDeleting(c)}
                className="rounded p-1 text-muted hover:text-danger"
              >
                <Icon name="trash" size={16} />
              </button>
            )}
          </li>
        ))}
      </ul>
      {deleting && (
        <ConfirmDialog
          title={t("channel.delete")}
          body={t("channel.deleteConfirm", { name: deleting.name })}
          confirm={t("common.delete")}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            unwrap(await commands.deleteChannel(deleting.id));
            dispatch({ type: "event", event: { type: "channel_delete", server_id: detail.server.id, channel_id: deleting.id } });
          }}
        />
      )}
    </section>
  );
}
