// Roles like Discord's: the list on the left (highest first, @everyone last), the chosen
// role's name, color and permissions on the right, saved explicitly. What the server
// would refuse (roles at or above one's own or carrying a permission one lacks, granting
// permissions one lacks) is disabled up front.

import { useState, type FormEvent } from "react";
import { useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { commands, unwrap, type Role, type RolePosition, type ServerDetail, type UpdateRoleRequest } from "../../lib/backend";
import { canManageRole, colorHex, rankOf } from "../../lib/permissions";
import { errorText } from "../../lib/errors";
import { Button, ErrorText, Field, SectionTitle, FormActions } from "../../components/ui";
import { Dialog } from "../../components/Dialog";
import { Icon } from "../../components/Icon";
import { ConfirmDialog } from "../../layout/ServerHeader";
import { ColorPicker } from "./ColorPicker";
import { RolePermissions } from "./RolePermissions";
import { SaveBar } from "./SaveBar";

/** Highest first; @everyone (position 0) last; ties by age like the server lists them. */
export function sortRoles(roles: Role[], everyoneId: string): Role[] {
  const byId = (a: Role, b: Role) => (a.id.length - b.id.length) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return [...roles].sort((a, b) => Number(a.id === everyoneId) - Number(b.id === everyoneId) || b.position - a.position || byId(a, b));
}

/**
 * New positions after swapping the roles at `i` and `j` of `list` (sorted highest first,
 * without @everyone). Only roles whose position changes are sent: the server refuses to
 * move roles at or above one's own, even to where they already are.
 */
export function swapPositions(list: Role[], i: number, j: number): RolePosition[] {
  const a = list[i];
  const b = list[j];
  if (a.position !== b.position) return [{ id: a.id, position: b.position }, { id: b.id, position: a.position }];
  // Equal positions cannot be swapped: number the roles again, 1 just above @everyone.
  const order = [...list];
  [order[i], order[j]] = [order[j], order[i]];
  return order
    .map((r, k) => ({ id: r.id, position: order.length - k }))
    .filter((p) => p.position !== list.find((r) => r.id === p.id)!.position);
}

interface Draft {
  roleId: string;
  name: string;
  color: number;
  permissions: string;
}

export function RolesEditor({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const { dispatch } = useApp();
  const serverId = detail.server.id;
  const rank = rankOf(detail);
  const roles = sortRoles(detail.roles, serverId);
  const movable = roles.filter((r) => r.id !== serverId);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const role = roles.find((r) => r.id === selectedId) ?? roles[0];
  const [draft, setDraft] = useState<Draft | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [colorValid, setColorValid] = useState(true);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Role | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!role) return null;

  const isEveryone = role.id === serverId;
  const editable = canManageRole(rank, role);
  const current = draft?.roleId === role.id ? draft : null;
  const values = current ?? { roleId: role.id, name: role.name, color: role.color, permissions: role.permissions };
  const dirty =
    !!current && (current.name !== role.name || current.color !== role.color || current.permissions !== role.permissions);
  // Why a role is out of reach: its place, or a permission it carries that one lacks.
  const above = !rank.outranksAll && !isEveryone && role.position >= rank.top;
  const label = (r: Role) => (r.id === serverId ? t("admin.everyone") : r.name);

  const edit = (patch: Partial<Draft>) => {
    setBlocked(false);
    setDraft({ ...values, ...patch });
  };
  const select = (id: string) => {
    if (id === role.id) return;
    if (dirty) return setBlocked(true);
    setDraft(null);
    setSelectedId(id);
  };
  const save = async () => {
    const req: UpdateRoleRequest = {};
    if (!isEveryone && values.name.trim() !== role.name) req.name = values.name.trim();
    if (values.color !== role.color) req.color = values.color;
    if (values.permissions !== role.permissions) req.permissions = values.permissions;
    const updated = unwrap(await commands.updateRole(serverId, role.id, req));
    // The gateway echoes this as role_update too; applying it now avoids a stale flash.
    dispatch({ type: "event", event: { type: "role_update", server_id: serverId, role: updated } });
    setDraft(null);
    setBlocked(false);
  };
  const canMove = (i: number, j: number) =>
    j >= 0 && j < movable.length && canManageRole(rank, movable[i]) && canManageRole(rank, movable[j]);
  const move = async (i: number, dir: -1 | 1) => {
    setError(null);
    const id = movable[i].id;
    try {
      const all = unwrap(await commands.reorderRoles(serverId, swapPositions(movable, i, i + dir)));
      for (const r of all) dispatch({ type: "event", event: { type: "role_update", server_id: serverId, role: r } });
      // The row moved under the keyboard: keep focus on the button that moved it.
      requestAnimationFrame(() => {
        const btn = document.querySelector<HTMLButtonElement>(`[data-move="${id}:${dir}"]`);
        (btn && !btn.disabled ? btn : document.querySelector<HTMLElement>(`[data-testid="role-${id}"]`))?.focus();
      });
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.roles")}</SectionTitle>
      <p className="mb-3 text-sm text-muted">{t("roles.intro")}</p>
      <ErrorText>{error}</ErrorText>
      <div className="flex gap-5">
        <div className="w-52 shrink-0">
          <Button className="mb-2 w-full" onClick={() => (dirty ? setBlocked(true) : setCreating(true))}>
            {t("roles.create")}
          </Button>
          <ul aria-label={t("admin.roles")} className="flex flex-col gap-0.5">
            {roles.map((r) => {
              const i = movable.indexOf(r);
              const locked = !canManageRole(rank, r);
              return (
                <li key={r.id} className="flex items-center">
                  <button
                    type="button"
                    data-testid={`role-${r.id}`}
                    aria-current={r.id === role.id ? "true" : undefined}
                    onClick={() => select(r.id)}
                    className={`flex min-w-0 flex-1 items-center gap-2 rounded px-2 py-1.5 text-left text-sm ${
                      r.id === role.id ? "bg-active text-fg-strong" : "text-fg hover:bg-hover"
                    }`}
                  >
                    <span className="h-3 w-3 shrink-0 rounded-full" style={{ background: r.color ? colorHex(r.color) : "#99aab5" }} aria-hidden="true" />
                    <span className="truncate">{label(r)}</span>
                    {locked && (
                      <span className="ml-auto text-muted" title={t("roles.lockedShort")}>
                        <Icon name="lock" size={14} />
                        <span className="sr-only">{t("roles.lockedShort")}</span>
                      </span>
                    )}
                  </button>
                  {i >= 0 && (
                    <>
                      <MoveButton id={r.id} dir={-1} label={t("roles.moveUp", { name: r.name })} disabled={!canMove(i, i - 1)} onClick={() => void move(i, -1)} />
                      <MoveButton id={r.id} dir={1} label={t("roles.moveDown", { name: r.name })} disabled={!canMove(i, i + 1)} onClick={() => void move(i, 1)} />
                    </>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
        <div className="min-w-0 flex-1" data-testid="role-editor">
          <h4 className="mb-3 font-semibold text-fg-strong">{t("roles.editing", { name: label(role) })}</h4>
          {!editable && <Note>{above ? t("roles.locked") : t("roles.hasUngrantable")}</Note>}
          {isEveryone ? (
            <p className="mb-4 text-sm text-muted">{t("roles.everyoneHint")}</p>
          ) : (
            <>
              <Field
                label={t("roles.name")}
                name="role-name"
                value={values.name}
                maxLength={100}
                disabled={!editable}
                error={values.name.trim() ? undefined : t("roles.nameRequired")}
                onChange={(e) => edit({ name: e.target.value })}
              />
              <ColorPicker key={role.id} value={values.color} onChange={(color) => edit({ color })} onValidChange={setColorValid} disabled={!editable} />
            </>
          )}
          <h4 className="mb-1 mt-2 text-xs font-bold uppercase tracking-wide text-muted">{t("roles.permissions")}</h4>
          {editable && !rank.outranksAll && <p className="mb-3 text-sm text-muted">{t("roles.cannotGrant")}</p>}
          <RolePermissions permissions={values.permissions} onChange={(permissions) => edit({ permissions })} rank={rank} disabled={!editable} />
          {!isEveryone && (
            <Button variant="danger" disabled={!editable} onClick={() => setDeleting(role)}>
              {t("roles.delete")}
            </Button>
          )}
        </div>
      </div>
      {dirty && (
        <SaveBar
          testId="roles-save-bar"
          blocked={blocked}
          canSave={colorValid && (isEveryone || !!values.name.trim())}
          onSave={save}
          onReset={() => (setDraft(null), setBlocked(false))}
        />
      )}
      {creating && (
        <CreateRoleDialog serverId={serverId} onClose={() => setCreating(false)} onCreated={(id) => (setDraft(null), setSelectedId(id))} />
      )}
      {deleting && (
        <ConfirmDialog
          title={t("roles.delete")}
          body={t("roles.deleteConfirm", { name: deleting.name })}
          confirm={t("common.delete")}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            unwrap(await commands.deleteRole(serverId, deleting.id));
            dispatch({ type: "event", event: { type: "role_delete", server_id: serverId, role_id: deleting.id } });
            setDraft(null);
            setSelectedId(null);
          }}
        />
      )}
    </section>
  );
}

function MoveButton({ id, dir, label, disabled, onClick }: { id: string; dir: -1 | 1; label: string; disabled: boolean; onClick: () => void }) {
  return (
    <button
      type="button"
      data-move={`${id}:${dir}`}
      aria-label={label}
      disabled={disabled}
      onClick={onClick}
      className="rounded p-1 text-muted hover:bg-hover hover:text-fg disabled:invisible"
    >
      <Icon name={dir < 0 ? "chevronUp" : "chevron"} size={16} />
    </button>
  );
}

function Note({ children }: { children: string }) {
  return <p className="mb-4 rounded bg-warn/10 px-3 py-2 text-sm text-warn">{children}</p>;
}

function CreateRoleDialog({
  serverId,
  onClose,
  onCreated,
}: {
  serverId: string;
  onClose: () => void;
  onCreated: (id: string) => void;
}) {
  const t = useT();
  const { dispatch } = useApp();
  const [name, setName] = useState(t("roles.newName"));
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const role = unwrap(await commands.createRole(serverId, { name: name.trim() }));
      dispatch({ type: "event", event: { type: "role_create", server_id: serverId, role } });
      onCreated(role.id);
      onClose();
    } catch (err) {
      setError(errorText(t, err));
    }
  };
  return (
    <Dialog title={t("roles.createTitle")} description={t("roles.createHint")} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorText>{error}</ErrorText>
        <Field label={t("roles.name")} name="new-role-name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} required autoFocus />
        <FormActions cancelLabel={t("common.cancel")} onCancel={onClose} submitLabel={t("common.create")} disabled={!name.trim()} />
      </form>
    </Dialog>
  );
}
