// The two halves of a channel's permission screen: whom the channel has overwrites for
// (roles, then members), and the Deny / Inherit / Allow grid for the one chosen.

import { useState } from "react";
import { useT } from "../../i18n";
import type { ChannelKind, OverwriteKind } from "../../lib/backend";
import {
  canGrant,
  channelPermissionGroups,
  colorHex,
  overwriteState,
  setOverwriteState,
  type OverwriteBits,
  type Rank,
} from "../../lib/permissions";
import { Icon } from "../../components/Icon";
import { Menu, MenuItem, menuPositionFrom, type MenuPosition } from "../../components/Menu";
import { Button } from "../../components/ui";
import { TriState } from "./TriState";

export interface Target {
  kind: OverwriteKind;
  id: string;
  name: string;
  /** Role color, 0 for none or a member. */
  color: number;
}

export const targetKey = (t: { kind: OverwriteKind; id: string }) => `${t.kind}:${t.id}`;

export function TargetList({
  targets,
  selected,
  onSelect,
  addable,
  onAdd,
  canEdit,
}: {
  targets: (Target & { unsaved?: boolean })[];
  selected: string;
  onSelect: (key: string) => void;
  /** Roles and members without an overwrite yet. */
  addable: Target[];
  onAdd: (target: Target) => void;
  canEdit: boolean;
}) {
  const t = useT();
  const [menu, setMenu] = useState<MenuPosition | null>(null);
  return (
    <div className="w-52 shrink-0">
      <div className="mb-2 flex items-center justify-between">
        <h4 className="text-xs font-bold uppercase tracking-wide text-muted">{t("channelAdmin.targets")}</h4>
        {canEdit && (
          <button
            type="button"
            aria-haspopup="menu"
            aria-label={t("channelAdmin.add")}
            title={t("channelAdmin.add")}
            onClick={(e) => setMenu(menuPositionFrom({ currentTarget: e.currentTarget }))}
            className="rounded p-1 text-muted hover:bg-hover hover:text-fg"
          >
            <Icon name="plus" size={18} />
          </button>
        )}
      </div>
      <ul aria-label={t("channelAdmin.targets")} className="flex flex-col gap-0.5">
        {targets.map((x) => {
          const key = targetKey(x);
          return (
            <li key={key}>
              <button
                type="button"
                data-testid={`target-${key}`}
                aria-current={key === selected ? "true" : undefined}
                onClick={() => onSelect(key)}
                className={`flex w-full items-center gap-2 rounded px-2 py-1.5 text-left text-sm ${
                  key === selected ? "bg-active text-fg-strong" : "text-fg hover:bg-hover"
                }`}
              >
                {x.kind === "role" ? (
                  <span className="h-3 w-3 shrink-0 rounded-full" style={{ background: x.color ? colorHex(x.color) : "#99aab5" }} aria-hidden="true" />
                ) : (
                  <Icon name="users" size={14} className="shrink-0 text-muted" />
                )}
                <span className="truncate">{x.name}</span>
                <span className="sr-only">{t(`channelAdmin.kind.${x.kind}`)}</span>
                {x.unsaved && <span className="ml-auto text-xs text-warn">{t("channelAdmin.unsaved")}</span>}
              </button>
            </li>
          );
        })}
      </ul>
      {menu && (
        <Menu at={menu} label={t("channelAdmin.add")} onClose={() => setMenu(null)}>
          {addable.length === 0 && (
            <MenuItem disabled onSelect={() => {}}>
              {t("channelAdmin.nothingToAdd")}
            </MenuItem>
          )}
          {addable.map((x) => (
            <MenuItem key={targetKey(x)} onSelect={() => (setMenu(null), onAdd(x))}>
              <span className="truncate">{x.name}</span>
              <span className="ml-3 text-xs opacity-70">{t(`channelAdmin.kind.${x.kind}`)}</span>
            </MenuItem>
          ))}
        </Menu>
      )}
    </div>
  );
}

export function PermissionGrid({
  target,
  kind,
  value,
  onChange,
  rank,
  canEdit,
  onRemove,
}: {
  target: Target;
  kind: ChannelKind;
  value: OverwriteBits;
  onChange: (v: OverwriteBits) => void;
  rank: Rank;
  canEdit: boolean;
  /** Absent when there is nothing to remove (@everyone without an overwrite) or no right to. */
  onRemove?: () => void;
}) {
  const t = useT();
  return (
    <div className="min-w-0 flex-1" data-testid="overwrite-editor">
      <div className="mb-2 flex items-center justify-between gap-2">
        <h4 className="font-semibold text-fg-strong">{t("channelAdmin.editing", { name: target.name })}</h4>
        {onRemove && (
          <Button variant="ghost" className="text-danger!" onClick={onRemove} aria-label={t("channelAdmin.removeLabel", { name: target.name })}>
            {t("channelAdmin.remove")}
          </Button>
        )}
      </div>
      {channelPermissionGroups(kind).map((g) => (
        <section key={g.id} className="mb-4">
          <h5 className="mb-1 mt-3 text-xs font-bold uppercase tracking-wide text-muted">{t(`perm.group.${g.id}`)}</h5>
          {g.perms.map((p) => (
            <TriState
              key={p}
              testId={`tristate-${p}`}
              label={t(`perm.${p}`)}
              description={t(`perm.${p}.desc`)}
              value={overwriteState(value, p)}
              // Allowing or denying a permission one lacks is refused, like granting it.
              disabled={!canEdit || !canGrant(rank, p)}
              onChange={(s) => onChange(setOverwriteState(value, p, s))}
            />
          ))}
        </section>
      ))}
    </div>
  );
}
