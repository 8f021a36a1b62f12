// Giving and taking roles, member by member. Each change is one request and shows at
// once; the gateway's member_update confirms it for everyone else.

import { useMemo, useState } from "react";
import { useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { memberName } from "../../state/app";
import { commands, unwrap, type Member, type Role, type ServerDetail } from "../../lib/backend";
import { canActOn, canManageRole, colorHex, rankOf } from "../../lib/permissions";
import { errorText } from "../../lib/errors";
import { useMembers } from "../../layout/MemberList";
import { Avatar } from "../../components/Avatar";
import { Icon } from "../../components/Icon";
import { Menu, MenuItem, menuPositionFrom, type MenuPosition } from "../../components/Menu";
import { ErrorText, Field, SectionTitle } from "../../components/ui";
import { sortRoles } from "./RolesEditor";

export function MemberRoles({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const { dispatch } = useApp();
  const serverId = detail.server.id;
  const members = useMembers(serverId);
  const rank = rankOf(detail);
  const roles = useMemo(() => sortRoles(detail.roles, serverId).filter((r) => r.id !== serverId), [detail.roles, serverId]);
  const [query, setQuery] = useState("");
  const [menu, setMenu] = useState<{ at: MenuPosition; member: Member } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return [...(members ?? [])]
      .filter((m) => !q || [m.username, m.display_name, m.nickname].some((s) => s?.toLowerCase().includes(q)))
      .sort((a, b) => memberName(a).localeCompare(memberName(b)));
  }, [members, query]);

  const setRole = async (member: Member, role: Role, granted: boolean) => {
    setError(null);
    setBusy(true);
    try {
      unwrap(await commands.setMemberRole(serverId, member.user_id, role.id, granted));
      const next = granted ? [...member.roles.filter((r) => r !== role.id), role.id] : member.roles.filter((r) => r !== role.id);
      dispatch({ type: "event", event: { type: "member_update", server_id: serverId, member: { ...member, roles: next } } });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  // Roles of others only below oneself (never the owner's or an administrator's); one's
  // own freely, as long as the role itself is manageable.
  const mayChange = (m: Member) => m.user_id === rank.userId || canActOn(rank, m);
  const assignable = (m: Member) => (mayChange(m) ? roles.filter((r) => !m.roles.includes(r.id) && canManageRole(rank, r)) : []);

  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.members")}</SectionTitle>
      <p className="mb-3 text-sm text-muted">{t("memberRoles.hint")}</p>
      <ErrorText>{error}</ErrorText>
      <Field label={t("memberRoles.search")} type="search" name="member-search" value={query} onChange={(e) => setQuery(e.target.value)} />
      {!members && <p className="text-sm text-muted">{t("common.loading")}</p>}
      {members && shown.length === 0 && <p className="text-sm text-muted">{t("memberRoles.noMatch")}</p>}
      <ul className="flex flex-col gap-1" aria-label={t("admin.members")}>
        {shown.map((m) => {
          const name = memberName(m);
          const held = roles.filter((r) => m.roles.includes(r.id));
          const changeable = mayChange(m);
          return (
            <li key={m.user_id} data-testid={`member-roles-${m.user_id}`} className="flex items-start gap-3 rounded bg-s1 px-3 py-2">
              <Avatar id={m.user_id} name={name} size={32} />
              <div className="min-w-0 flex-1">
                <div className="font-medium text-fg-strong">
                  {name} <span className="text-xs font-normal text-muted">{m.username}</span>
                </div>
                <ul className="mt-1 flex flex-wrap gap-1" aria-label={t("memberRoles.rolesOf", { name })}>
                  {held.length === 0 && <li className="text-xs text-muted">{t("memberRoles.noRoles")}</li>}
                  {held.map((r) => (
                    <li key={r.id} className="flex items-center gap-1 rounded bg-s3 py-0.5 pl-2 pr-1 text-xs">
                      <span className="h-2.5 w-2.5 rounded-full" style={{ background: r.color ? colorHex(r.color) : "#99aab5" }} aria-hidden="true" />
                      {r.name}
                      <button
                        type="button"
                        aria-label={t("memberRoles.removeRole", { role: r.name, name })}
                        disabled={busy || !changeable || !canManageRole(rank, r)}
                        onClick={() => void setRole(m, r, false)}
                        className="rounded p-0.5 text-muted hover:text-danger disabled:invisible"
                      >
                        <Icon name="close" size={12} />
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
              <button
                type="button"
                aria-haspopup="menu"
                aria-label={t("memberRoles.addRole", { name })}
                title={changeable ? undefined : t("memberRoles.outranked", { name })}
                disabled={busy || !changeable}
                onClick={(e) => setMenu({ at: menuPositionFrom({ currentTarget: e.currentTarget }), member: m })}
                className="rounded p-1 text-muted hover:bg-hover hover:text-fg disabled:opacity-50"
              >
                <Icon name="plus" size={18} />
              </button>
            </li>
          );
        })}
      </ul>
      {menu && (
        <Menu at={menu.at} label={t("memberRoles.addRole", { name: memberName(menu.member) })} onClose={() => setMenu(null)}>
          {assignable(menu.member).length === 0 && (
            <MenuItem disabled onSelect={() => {}}>
              {t("memberRoles.nothingToGive")}
            </MenuItem>
          )}
          {assignable(menu.member).map((r) => (
            <MenuItem key={r.id} onSelect={() => (setMenu(null), void setRole(menu.member, r, true))}>
              <span className="flex items-center gap-2">
                <span className="h-2.5 w-2.5 rounded-full" style={{ background: r.color ? colorHex(r.color) : "#99aab5" }} aria-hidden="true" />
                {r.name}
              </span>
            </MenuItem>
          ))}
        </Menu>
      )}
    </section>
  );
}
