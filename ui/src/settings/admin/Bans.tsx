import { useState } from "react";
import { useLang, useT } from "../../i18n";
import { commands, unwrap, type Ban } from "../../lib/backend";
import { Button, ErrorText, SectionTitle } from "../../components/ui";
import { ConfirmDialog } from "../../layout/ServerHeader";
import { useLoad } from "./useLoad";

export function Bans({ serverId }: { serverId: string }) {
  const t = useT();
  const lang = useLang();
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
              <div className="text-xs text-muted">
                {t("admin.bannedOn", { date: new Date(b.created_at).toLocaleString(lang) })}
              </div>
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
