// Per-channel administration: pick a channel (categories too), edit its settings and its
// permission overwrites. Overwrite edits stay a draft until saved, as in Discord.

import { useMemo, useState } from "react";
import { useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { memberName } from "../../state/app";
import { commands, unwrap, type Channel, type ServerDetail } from "../../lib/backend";
import { has, rankOf, ungrantable, union, type OverwriteBits } from "../../lib/permissions";
import { useMembers } from "../../layout/MemberList";
import { groupChannels } from "../../layout/ChannelList";
import { errorText } from "../../lib/errors";
import { ErrorText, SectionTitle, Select } from "../../components/ui";
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

  // The server wants MANAGE_CHANNELS in the channel and MANAGE_ROLES for overwrites;
  // this is the server-wide view of that, and a refusal is still shown translated.
  const canSettings = rank.outranksAll || has(detail.my_permissions, "MANAGE_CHANNELS");
  const canOverwrite = canSettings && (rank.outranksAll || has(detail.my_permissions, "MANAGE_ROLES"));

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

  const existing = (key: string) => channel.overwrites.find((o) => targetKey({ kind: o.kind, id: o.target_id }) === key);
  // @everyone is always listed; others once they have an overwrite (or were just added).
  const everyone = roleTargets.get(serverId)!;
  const listed: (Target & { unsaved?: boolean })[] = [everyone];
  for (const r of roleTargets.values())
    if (r.id !== serverId && existing(targetKey(r))) listed.push(r);
  for (const o of channel.overwrites) if (o.kind === "member") listed.push(memberTarget(o.target_id));
  const pendingAdd = added && !existing(targetKey(added)) && !listed.some((x) => targetKey(x) === targetKey(added)) ? added : null;
  if (pendingAdd) listed.push({ ...pendingAdd, unsaved: true });
  const target = listed.find((x) => targetKey(x) === selected) ?? everyone;
  const key = targetKey(target);
  const current = existing(key);
  const base: OverwriteBits = current ? { allow: current.allow, deny: current.deny } : NONE;
  const value = draft?.key === `${channel.id}|${key}` ? draft : base;
  const isPending = pendingAdd !== null && targetKey(pendingAdd) === key;
  // The server checks allow and deny as a whole: one bit one lacks blocks every change.
  const locked = canOverwrite && ungrantable(rank, union(base.allow, base.deny)).length > 0;
  const dirty = isPending || value.allow !== base.allow || value.deny !== base.deny;

  const addable: Target[] = [
    ...[...roleTargets.values()].filter((r) => !listed.some((x) => targetKey(x) === targetKey(r))),
    ...(members ?? [])
      .map((m) => memberTarget(m.user_id))
      .filter((m) => !listed.some((x) => targetKey(x) === targetKey(m)))
      .sort((a, b) => a.name.localeCompare(b.name)),
  ];

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
      dispatch({
        type: "event",
        event: { type: "channel_update", channel: { ...channel, overwrites: channel.overwrites.filter((o) => o !== current) } },
      });
      reset();
      setSelected(targetKey(everyone));
    } catch (e) {
      setError(errorText(t, e));
    }
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
      {!canOverwrite && <p className="mb-3 text-sm text-warn">{t("channelAdmin.readOnly")}</p>}
      {locked && <p className="mb-3 text-sm text-warn">{t("channelAdmin.locked", { name: target.name })}</p>}
      <ErrorText>{error}</ErrorText>
      <div className="flex gap-5">
        <TargetList
          targets={listed}
          selected={key}
          onSelect={(k) => k !== key && guard(() => setSelected(k))}
          addable={addable}
          canEdit={canOverwrite}
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
          canEdit={canOverwrite && !locked}
          onChange={(v) => (setBlocked(false), setDraft({ ...v, key: `${channel.id}|${key}` }))}
          onRemove={canOverwrite && (current || isPending) ? () => void remove() : undefined}
        />
      </div>
      {dirty && canOverwrite && <SaveBar testId="overwrite-save-bar" blocked={blocked} onSave={save} onReset={reset} />}
    </section>
  );
}
