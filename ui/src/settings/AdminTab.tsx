// Server administration, split like Discord's server settings: roles, members, channels,
// invites, bans and the audit log. Each section shows only with the permission it needs;
// the server still has the last word, and a refusal appears translated.

import { useState, type KeyboardEvent } from "react";
import { useT, type TranslationKey } from "../i18n";
import type { ServerDetail } from "../lib/backend";
import { has } from "../lib/permissions";
import { managesSomeChannel } from "../state/app";
import { RolesEditor } from "./admin/RolesEditor";
import { MemberRoles } from "./admin/MemberRoles";
import { ChannelPermissions } from "./admin/ChannelPermissions";
import { Invites } from "./admin/Invites";
import { Bans } from "./admin/Bans";
import { Audit } from "./admin/AuditLog";

type SectionId = "roles" | "members" | "channels" | "invites" | "bans" | "audit";

const SECTIONS: { id: SectionId; label: TranslationKey; allowed: (perms: string, detail: ServerDetail) => boolean }[] = [
  { id: "roles", label: "admin.roles", allowed: (p) => has(p, "MANAGE_ROLES") },
  { id: "members", label: "admin.members", allowed: (p) => has(p, "MANAGE_ROLES") },
  // Channel settings need MANAGE_CHANNELS in the channel, which an overwrite may grant.
  { id: "channels", label: "admin.channels", allowed: (p, d) => managesSomeChannel(d) || has(p, "MANAGE_ROLES") },
  { id: "invites", label: "admin.invites", allowed: (p) => has(p, "CREATE_INVITE") },
  { id: "bans", label: "admin.bans", allowed: (p) => has(p, "BAN_MEMBERS") },
  { id: "audit", label: "admin.audit", allowed: (p) => has(p, "VIEW_AUDIT_LOG") },
];

export function AdminTab({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const sections = SECTIONS.filter((s) => s.allowed(detail.my_permissions, detail));
  const [picked, setPicked] = useState<SectionId | null>(null);
  const active = sections.find((s) => s.id === picked) ?? sections[0];
  // Sections stay mounted once opened, so unsaved role or overwrite edits survive a look
  // at another section.
  const [visited, setVisited] = useState<Set<SectionId>>(() => new Set());
  if (active && !visited.has(active.id)) setVisited(new Set(visited).add(active.id));

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const i = sections.indexOf(active!);
    const next = sections[(i + (e.key === "ArrowRight" ? 1 : sections.length - 1)) % sections.length];
    setPicked(next.id);
    document.getElementById(`admin-tab-${next.id}`)?.focus();
  };

  return (
    <>
      <h1 className="mb-4 text-xl font-bold text-fg-strong">{t("admin.server", { name: detail.server.name })}</h1>
      {!active && <p className="text-muted">{t("admin.nothing")}</p>}
      {active && (
        <div role="tablist" aria-label={t("admin.sections")} onKeyDown={onKeyDown} className="mb-5 flex flex-wrap gap-1 border-b border-line pb-2">
          {sections.map((s) => (
            <button
              key={s.id}
              type="button"
              role="tab"
              id={`admin-tab-${s.id}`}
              data-testid={`admin-tab-${s.id}`}
              aria-selected={s.id === active.id}
              aria-controls={`admin-panel-${s.id}`}
              tabIndex={s.id === active.id ? 0 : -1}
              onClick={() => setPicked(s.id)}
              className={`rounded px-3 py-1.5 text-sm font-medium ${
                s.id === active.id ? "bg-active text-fg-strong" : "text-muted hover:bg-hover hover:text-fg"
              }`}
            >
              {t(s.label)}
            </button>
          ))}
        </div>
      )}
      {sections
        .filter((s) => visited.has(s.id) || s.id === active?.id)
        .map((s) => (
          <div key={s.id} role="tabpanel" id={`admin-panel-${s.id}`} aria-labelledby={`admin-tab-${s.id}`} hidden={s.id !== active?.id}>
            {s.id === "roles" && <RolesEditor detail={detail} />}
            {s.id === "members" && <MemberRoles detail={detail} />}
            {s.id === "channels" && <ChannelPermissions detail={detail} />}
            {s.id === "invites" && <Invites serverId={detail.server.id} />}
            {s.id === "bans" && <Bans serverId={detail.server.id} />}
            {s.id === "audit" && <Audit serverId={detail.server.id} />}
          </div>
        ))}
    </>
  );
}
