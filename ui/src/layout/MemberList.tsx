import { useEffect, useMemo, useState } from "react";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { memberName } from "../state/app";
import { commands, unwrap, type Member, type PresenceStatus, type ServerDetail } from "../lib/backend";
import { canActOn, has, rankOf } from "../lib/permissions";
import { Avatar } from "../components/Avatar";
import { Menu, MenuItem, menuPositionFrom, type MenuPosition } from "../components/Menu";
import { ConfirmDialog } from "./ServerHeader";
import { Dialog } from "../components/Dialog";
import { ErrorText, Field, FormActions } from "../components/ui";
import { errorText } from "../lib/errors";

const ORDER: PresenceStatus[] = ["online", "idle", "do_not_disturb", "offline"];

/** Groups members by presence (invisible counts as offline), each group sorted by name. */
export function groupByPresence(members: Member[], presences: Record<string, PresenceStatus>) {
  const groups = new Map<PresenceStatus, Member[]>(ORDER.map((s) => [s, []]));
  for (const m of members) {
    let s = presences[m.user_id] ?? "offline";
    if (s === "invisible") s = "offline";
    groups.get(s)!.push(m);
  }
  for (const list of groups.values()) list.sort((a, b) => memberName(a).localeCompare(memberName(b)));
  return ORDER.map((status) => ({ status, members: groups.get(status)! })).filter((g) => g.members.length > 0);
}

/** Loads the member list of a server once it is opened (and again after a reconnect). */
export function useMembers(serverId: string | null): Member[] | undefined {
  const { state, dispatch } = useApp();
  const live = state.connection === "live";
  const list = serverId ? state.members[serverId] : undefined;
  useEffect(() => {
    if (!serverId || list || !live) return;
    commands.listMembers(serverId).then((r) => {
      if (r.status === "ok") dispatch({ type: "members", serverId, members: r.data });
    }).catch(() => {});
  }, [serverId, list, live, dispatch]);
  return list;
}

export function MemberList({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const { state } = useApp();
  const members = useMembers(detail.server.id) ?? [];
  const groups = useMemo(() => groupByPresence(members, state.presences), [members, state.presences]);
  const [menu, setMenu] = useState<{ at: MenuPosition; member: Member } | null>(null);
  const [action, setAction] = useState<{ kind: "kick" | "ban"; member: Member } | null>(null);
  const perms = detail.my_permissions;
  const canKick = has(perms, "KICK_MEMBERS");
  const canBan = has(perms, "BAN_MEMBERS");
  const rank = rankOf(detail);

  const roleColor = (m: Member) => {
    const top = detail.roles.filter((r) => m.roles.includes(r.id) && r.color).sort((a, b) => b.position - a.position)[0];
    return top ? `#${top.color.toString(16).padStart(6, "0")}` : undefined;
  };

  return (
    <aside aria-label={t("members.title")} className="scroll-thin hidden w-60 shrink-0 overflow-y-auto bg-s1 px-2 py-4 lg:block">
      {groups.map((g) => (
        <section key={g.status} className="mb-4">
          <h3 className="px-2 text-xs font-semibold uppercase tracking-wide text-muted">
            {t("members.group", { status: t(`presence.${g.status}`), count: g.members.length })}
          </h3>
          <ul className="mt-1">
            {g.members.map((m) => {
              const name = memberName(m);
              const offline = g.status === "offline";
              // Kicks and bans reach only members below one's highest role, never the owner.
              const manageable = (canKick || canBan) && canActOn(rank, m);
              const open = (e: React.MouseEvent<HTMLElement>) => {
                if (!manageable) return;
                e.preventDefault();
                setMenu({ at: menuPositionFrom(e), member: m });
              };
              return (
                <li key={m.user_id}>
                  <button
                    type="button"
                    onClick={open}
                    onContextMenu={open}
                    aria-haspopup={manageable ? "menu" : undefined}
                    aria-label={`${name}, ${t(`presence.${g.status}`)}${m.user_id === detail.server.owner_id ? `, ${t("members.owner")}` : ""}`}
                    className={`flex w-full items-center gap-3 rounded px-2 py-1.5 text-left hover:bg-hover ${offline ? "opacity-40" : ""}`}
                  >
                    <Avatar id={m.user_id} name={name} size={32} presence={g.status} />
                    <span className="truncate font-medium" style={{ color: roleColor(m) ?? undefined }}>
                      {name}
                    </span>
                    {m.user_id === detail.server.owner_id && (
                      <span aria-hidden="true" title={t("members.owner")} className="text-warn">
                        ♛
                      </span>
                    )}
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
      {menu && (
        <Menu at={menu.at} label={memberName(menu.member)} onClose={() => setMenu(null)}>
          {canKick && (
            <MenuItem danger onSelect={() => (setAction({ kind: "kick", member: menu.member }), setMenu(null))}>
              {t("members.kick", { name: memberName(menu.member) })}
            </MenuItem>
          )}
          {canBan && (
            <MenuItem danger onSelect={() => (setAction({ kind: "ban", member: menu.member }), setMenu(null))}>
              {t("members.ban", { name: memberName(menu.member) })}
            </MenuItem>
          )}
        </Menu>
      )}
      {action?.kind === "kick" && (
        <ConfirmDialog
          title={t("members.kick", { name: memberName(action.member) })}
          body={t("members.kickConfirm", { name: memberName(action.member) })}
          confirm={t("members.kick", { name: memberName(action.member) })}
          onClose={() => setAction(null)}
          onConfirm={async () => {
            unwrap(await commands.kickMember(detail.server.id, action.member.user_id, null));
          }}
        />
      )}
      {action?.kind === "ban" && (
        <BanDialog serverId={detail.server.id} member={action.member} onClose={() => setAction(null)} />
      )}
    </aside>
  );
}

function BanDialog({ serverId, member, onClose }: { serverId: string; member: Member; onClose: () => void }) {
  const t = useT();
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const name = memberName(member);
  return (
    <Dialog title={t("members.ban", { name })} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            unwrap(await commands.banMember(serverId, member.user_id, reason.trim() || null));
            onClose();
          } catch (err) {
            setError(errorText(t, err));
          }
        }}
      >
        <ErrorText>{error}</ErrorText>
        <Field label={t("members.banReason", { name })} name="ban-reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={512} autoFocus />
        <FormActions cancelLabel={t("common.cancel")} onCancel={onClose} submitLabel={t("members.ban", { name })} variant="danger" />
      </form>
    </Dialog>
  );
}
