import { useState } from "react";
import { useLang, useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { commands, unwrap, type Invite } from "../../lib/backend";
import { errorText } from "../../lib/errors";
import { inviteLink } from "../../lib/invite";
import { memberName } from "../../state/app";
import { Button, ErrorText, SectionTitle, Select } from "../../components/ui";
import { useLoad } from "./useLoad";

export function Invites({ serverId }: { serverId: string }) {
  const t = useT();
  const lang = useLang();
  const { state, serverUrl } = useApp();
  const [copied, setCopied] = useState<string | null>(null);
  const revoke = async (code: string) => {
    try {
      unwrap(await commands.revokeInvite(code));
      reload();
    } catch (e) {
      setCreateError(errorText(t, e));
    }
  };
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
              <th>
                <span className="sr-only">{t("admin.actions")}</span>
              </th>
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
                <td className="whitespace-nowrap text-right">
                  <Button
                    variant="secondary"
                    className="mr-2 px-2 py-1 text-xs"
                    onClick={() => {
                      void navigator.clipboard?.writeText(inviteLink(serverUrl, i.code));
                      setCopied(i.code);
                    }}
                  >
                    {copied === i.code ? t("common.copied") : t("admin.copyLink")}
                  </Button>
                  <Button
                    variant="danger"
                    className="px-2 py-1 text-xs"
                    data-testid={`revoke-invite-${i.code}`}
                    onClick={() => void revoke(i.code)}
                  >
                    {t("admin.revoke")}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
