// Per-channel administration: pick a channel (categories too), edit its settings and its
// permission overwrites. Overwrite edits stay a draft until saved, as in Discord. A channel
// in a category without overwrites of its own is synced: its category's overwrites decide
// for it, shown here read-only; editing it for itself starts from a copy of them (the
// server makes that copy), and "Sync with category" drops its own again.

import { useMemo, useState } from "react";
import { useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { memberName, permissionsIn } from "../../state/app";
import { commands, unwrap, type Channel, type ServerDetail } from "../../lib/backend";
import { canOverwriteFor, has, rankOf, ungrantable, union, type OverwriteBits } from "../../lib/permissions";
import { useMembers } from "../../layout/MemberList";
import { groupChannels } from "../../layout/ChannelList";
import { errorText } from "../../lib/errors";
import { Button, ErrorText, SectionTitle, Select } from "../../components/ui";
import { ConfirmDialog } from "../../layout/ServerHeader";
import { ChannelSettings } from "./ChannelSettings";
import { PermissionGrid, TargetList, targetKey, type Target } from "./OverwriteEditor";
import { SaveBar } from "./SaveBar";
import { sortRoles } from "./RolesEditor";

const NONE: OverwriteBits = { allow: "0", deny: "0" };

/** Categories followed by their channels, as the sidebar shows them. */
function channelOrder(channels: Channel[]): { channel: Channel; nested: boolean }[] {
  return groupChannels(channels).flatMap((g) => [
    ...(g.category ? [{ channel: g.category, nested: false }] : []),
    ...g.channels.map((channel) => ({ channel, nested: !!g.category })),
  ]);
}

export function ChannelPermissions({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const { dispatch } = useApp();
  const serverId = detail.server.id;
  const rank = rankOf(detail);
  const members = useMembers(serverId);
  const order = useMemo(() => channelOrder(detail.channels), [detail.channels]);
  const [channelId, setChannelId] = useState<string | null>(null);
  const channel = detail.channels.find((c) => c.id === channelId) ?? order[0]?.channel;
  const [selected, setSelected] = useState<string>(`role:${serverId}`);
  // A role or member picked from "add" that has no overwrite on the server yet.
  const [added, setAdded] = useState<Target | null>(null);
  const [draft, setDraft] = useState<(OverwriteBits & { key: string }) | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The synced channel whose permissions are being made its own (until saved, a draft).
  const [ownOf, setOwnOf] = useState<string | null>(null);
  const [syncing, setSyncing] = useState(false);

  const roleTargets = useMemo(() => {
    const m = new Map<string, Target>();
    for (const r of sortRoles(detail.roles, serverId))
      m.set(r.id, { kind: "role", id: r.id, name: r.id === serverId ? t("admin.everyone") : r.name, color: r.color });
    return m;
  }, [detail.roles, serverId, t]);
  const memberTarget = (id: string): Target => {
    const m = members?.find((x) => x.user_id === id);
    return { kind: "member", id, name: m ? memberName(m) : t("chat.unknownUser"), color: 0 };
  };

  if (!channel) return <p className="text-sm text-muted">{t("channel.none")}</p>;

  // The server wants MANAGE_CHANNELS in the channel (its own numbers for us) and
  // MANAGE_ROLES for overwrites; a refusal is still shown translated.
  const canSettings = rank.outranksAll || has(permissionsIn(detail, channel.id), "MANAGE_CHANNELS");
  const canOverwrite = canSettings && (rank.outranksAll || has(detail.my_permissions, "MANAGE_ROLES"));
  const category =
    channel.kind !== "category" && channel.parent_id ? detail.channels.find((c) => c.id === channel.parent_id && c.kind === "category") : undefined;
  const inCategory = channel.kind !== "category" && !!channel.parent_id;
  const synced = inCategory && channel.permissions_synced === true;
  const categoryName = category?.name ?? t("channelAdmin.itsCategory");
  // While synced, what applies (and what the first own overwrite starts from) is the category's.
  const followsCategory = synced && ownOf !== channel.id;
  const applying = synced ? category?.overwrites ?? [] : channel.overwrites;

  const existing = (key: string) => applying.find((o) => targetKey({ kind: o.kind, id: o.target_id }) === key);
  // @everyone is always listed; others once they have an overwrite (or were just added).
  const everyone = roleTargets.get(serverId)!;
  const listed: (Target & { unsaved?: boolean })[] = [everyone];
  for (const r of roleTargets.values())
    if (r.id !== serverId && existing(targetKey(r))) listed.push(r);
  for (const o of applying) if (o.kind === "member") listed.push(memberTarget(o.target_id));
  const pendingAdd = added && !existing(targetKey(added)) && !listed.some((x) => targetKey(x) === targetKey(added)) ? added : null;
  if (pendingAdd) listed.push({ ...pendingAdd, unsaved: true });
  const target = listed.find((x) => targetKey(x) === selected) ?? everyone;
  const key = targetKey(target);
  const current = existing(key);
  const base: OverwriteBits = current ? { allow: current.allow, deny: current.deny } : NONE;
  const value = draft?.key === `${channel.id}|${key}` ? draft : base;
  const isPending = pendingAdd !== null && targetKey(pendingAdd) === key;
  // Whom one may write overwrites for: @everyone and roles below one's own, oneself and
  // members one outranks (a member list not loaded yet leaves it to the server).
  const mayTarget = (x: Target) => {
    if (x.kind === "role") {
      const role = detail.roles.find((r) => r.id === x.id);
      return !!role && canOverwriteFor(rank, { kind: "role", role });
    }
    const member = members?.find((m) => m.user_id === x.id);
    return !member || canOverwriteFor(rank, { kind: "member", member });
  };
  const targetOk = mayTarget(target);
  // The server checks allow and deny as a whole, with those of the entry replaced (the
  // category's while synced): one bit one lacks blocks every change, removal included.
  const locked = canOverwrite && targetOk && ungrantable(rank, union(base.allow, base.deny)).length > 0;
  const dirty = isPending || value.allow !== base.allow || value.deny !== base.deny;
  const editable = canOverwrite && !followsCategory;

  const addable: Target[] = [
    ...[...roleTargets.values()].filter((r) => !listed.some((x) => targetKey(x) === targetKey(r))),
    ...(members ?? [])
      .map((m) => memberTarget(m.user_id))
      .filter((m) => !listed.some((x) => targetKey(x) === targetKey(m)))
      .sort((a, b) => a.name.localeCompare(b.name)),
  ].filter(mayTarget);

  const reset = () => {
    setDraft(null);
    setAdded(null);
    setBlocked(false);
  };
  const guard = (f: () => void) => {
    if (dirty) return setBlocked(true);
    reset();
    f();
  };
  const save = async () => {
    const updated = unwrap(await commands.setOverwrite(channel.id, target.kind, target.id, { allow: value.allow, deny: value.deny }));
    dispatch({ type: "event", event: { type: "channel_update", channel: updated } });
    reset();
  };
  const remove = async () => {
    setError(null);
    if (!current) {
      // Added but never saved: nothing on the server to remove.
      reset();
      setSelected(targetKey(everyone));
      return;
    }
    try {
      unwrap(await commands.deleteOverwrite(channel.id, target.kind, target.id));
      const overwrites = channel.overwrites.filter((o) => o !== current);
      // Without overwrites of its own, a channel in a category follows it again (the
      // gateway's channel_update says so too).
      const permissions_synced = inCategory && overwrites.length === 0;
      dispatch({ type: "event", event: { type: "channel_update", channel: { ...channel, overwrites, permissions_synced } } });
      reset();
      setSelected(targetKey(everyone));
    } catch (e) {
      setError(errorText(t, e));
    }
  };

  const sync = async () => {
    const updated = unwrap(await commands.updateChannel(channel.id, { sync_permissions: true }));
    dispatch({ type: "event", event: { type: "channel_update", channel: updated } });
    reset();
    setOwnOf(null);
    setSelected(targetKey(everyone));
  };

  return (
    <section className="mb-8">
      <SectionTitle>{t("admin.channels")}</SectionTitle>
      <Select
        label={t("channelAdmin.pick")}
        name="admin-channel"
        value={channel.id}
        onChange={(e) => {
          const id = e.target.value;
          guard(() => setChannelId(id));
        }}
      >
        {order.map(({ channel: c, nested }) => (
          <option key={c.id} value={c.id}>
            {(nested ? "\u00a0\u00a0\u00a0" : "") + t("channelAdmin.option", { name: c.name, kind: t(`channel.kind.${c.kind}`) })}
          </option>
        ))}
      </Select>
      <h4 className="mb-3 mt-2 text-xs font-bold uppercase tracking-wide text-muted">{t("channelAdmin.overview")}</h4>
      {!canSettings && <p className="mb-3 text-sm text-muted">{t("channelAdmin.settingsReadOnly")}</p>}
      <ChannelSettings key={channel.id} channel={channel} channels={detail.channels} canEdit={canSettings} />
      <h4 className="mb-1 text-xs font-bold uppercase tracking-wide text-muted">{t("channelAdmin.permissions")}</h4>
      <p className="mb-3 text-sm text-muted">
        {channel.kind === "category" ? t("channelAdmin.categoryHint") : t("channelAdmin.permissionsHint")}
      </p>
      {inCategory && (
        <div data-testid="sync-status" className="mb-3 flex items-center gap-3 rounded bg-s1 px-3 py-2 text-sm">
          <div className="min-w-0 flex-1">
            <p className="font-semibold text-fg-strong">
              {synced ? t("channelAdmin.synced", { category: categoryName }) : t("channelAdmin.own")}
            </p>
            <p className="text-muted">
              {!synced
                ? t("channelAdmin.ownHint", { category: categoryName })
                : followsCategory
                  ? t("channelAdmin.syncedHint", { category: categoryName })
                  : t("channelAdmin.editOwnHint", { category: categoryName })}
            </p>
          </div>
          {canOverwrite && synced && followsCategory && (
            <Button variant="secondary" onClick={() => setOwnOf(channel.id)}>
              {t("channelAdmin.editOwn")}
            </Button>
          )}
          {canOverwrite && !synced && (
            <Button variant="secondary" onClick={() => guard(() => setSyncing(true))}>
              {t("channelAdmin.sync")}
            </Button>
          )}
        </div>
      )}
      {!canOverwrite && <p className="mb-3 text-sm text-warn">{t("channelAdmin.readOnly")}</p>}
      {editable && !targetOk && <p className="mb-3 text-sm text-warn">{t("channelAdmin.targetLocked", { name: target.name })}</p>}
      {editable && locked && <p className="mb-3 text-sm text-warn">{t("channelAdmin.locked", { name: target.name })}</p>}
      <ErrorText>{error}</ErrorText>
      <div className="flex gap-5">
        <TargetList
          targets={listed}
          selected={key}
          onSelect={(k) => k !== key && guard(() => setSelected(k))}
          addable={addable}
          canEdit={editable}
          onAdd={(x) =>
            guard(() => {
              setAdded(x);
              setSelected(targetKey(x));
            })
          }
        />
        <PermissionGrid
          key={`${channel.id}|${key}`}
          target={target}
          kind={channel.kind}
          value={value}
          rank={rank}
          canEdit={editable && targetOk && !locked}
          onChange={(v) => (setBlocked(false), setDraft({ ...v, key: `${channel.id}|${key}` }))}
          // A synced channel has no overwrite of its own to remove.
          onRemove={editable && !synced && targetOk && !locked && (current || isPending) ? () => void remove() : undefined}
        />
      </div>
      {dirty && editable && <SaveBar testId="overwrite-save-bar" blocked={blocked} onSave={save} onReset={reset} />}
      {syncing && (
        <ConfirmDialog
          title={t("channelAdmin.sync")}
          body={t("channelAdmin.syncConfirm", { name: channel.name, category: categoryName })}
          confirm={t("channelAdmin.syncConfirmButton")}
          onClose={() => setSyncing(false)}
          onConfirm={sync}
        />
      )}
    </section>
  );
}
