// The permission switches of one role, grouped as Discord groups them.

import { useId } from "react";
import { useT } from "../../i18n";
import { PERMISSION_GROUPS, canGrant, hasBit, withBit, type Rank } from "../../lib/permissions";
import { Toggle } from "../../components/ui";

export function RolePermissions({
  permissions,
  onChange,
  rank,
  disabled,
}: {
  permissions: string;
  onChange: (permissions: string) => void;
  rank: Rank;
  disabled: boolean;
}) {
  const t = useT();
  const id = useId();
  return (
    <div>
      {PERMISSION_GROUPS.map((g) => (
        <section key={g.id} aria-labelledby={`${id}-${g.id}`} className="mb-4">
          <h4 id={`${id}-${g.id}`} className="mb-3 border-b border-line pb-1 text-xs font-bold uppercase tracking-wide text-muted">
            {t(`perm.group.${g.id}`)}
          </h4>
          {g.perms.map((p) => (
            <Toggle
              key={p}
              name={`perm-${p}`}
              label={t(`perm.${p}`)}
              hint={t(`perm.${p}.desc`)}
              checked={hasBit(permissions, p)}
              // Nobody can hand out a permission they do not hold (the server refuses).
              disabled={disabled || !canGrant(rank, p)}
              onChange={(on) => onChange(withBit(permissions, p, on))}
            />
          ))}
        </section>
      ))}
    </div>
  );
}
