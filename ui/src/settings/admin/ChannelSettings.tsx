// A channel's own settings: name, topic (text), bitrate and user limit (voice), its
// category and place in the list, and deleting it. Only changed fields are sent, so a
// concurrent edit of another field survives. Moving up or down applies at once, as the
// role list does; the other fields wait for Save.

import { useState, type FormEvent } from "react";
import { useT } from "../../i18n";
import { useApp } from "../../state/AppProvider";
import { commands, unwrap, type Channel, type UpdateChannelRequest } from "../../lib/backend";
import { errorText } from "../../lib/errors";
import { Button, ErrorText, Field } from "../../components/ui";
import { Icon } from "../../components/Icon";
import { CategorySelect, ConfirmDialog } from "../../layout/ServerHeader";
import { channelSiblings, moveChannel } from "./channelOrder";

// shared/src/v1/channels.rs: MIN_BITRATE_KBPS, MAX_BITRATE_KBPS, MAX_USER_LIMIT.
const MIN_BITRATE = 8;
const MAX_BITRATE = 510;
const MAX_USER_LIMIT = 99;

export function ChannelSettings({ channel, channels, canEdit }: { channel: Channel; channels: Channel[]; canEdit: boolean }) {
  const t = useT();
  const { dispatch } = useApp();
  const [name, setName] = useState(channel.name);
  const [topic, setTopic] = useState(channel.topic ?? "");
  const [bitrate, setBitrate] = useState(String(channel.bitrate_kbps ?? 64));
  const [limit, setLimit] = useState(String(channel.user_limit ?? 0));
  const categories = channels.filter((c) => c.kind === "category");
  const currentParent = channel.parent_id && categories.some((c) => c.id === channel.parent_id) ? channel.parent_id : "";
  const [parent, setParent] = useState(currentParent);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const voice = channel.kind === "voice";

  const req: UpdateChannelRequest = {};
  if (name.trim() !== channel.name) req.name = name.trim();
  if (channel.kind === "text" && topic.trim() !== (channel.topic ?? "")) req.topic = topic.trim();
  if (voice && Number(bitrate) !== (channel.bitrate_kbps ?? 64)) req.bitrate_kbps = Number(bitrate);
  if (voice && Number(limit) !== (channel.user_limit ?? 0)) req.user_limit = Number(limit);
  // "0" is how the API says "out of its category".
  if (channel.kind !== "category" && parent !== currentParent) req.parent_id = parent || "0";
  const bitrateOk = Number.isInteger(Number(bitrate)) && Number(bitrate) >= MIN_BITRATE && Number(bitrate) <= MAX_BITRATE;
  const limitOk = Number.isInteger(Number(limit)) && Number(limit) >= 0 && Number(limit) <= MAX_USER_LIMIT;
  const valid = !!name.trim() && (!voice || (bitrateOk && limitOk));
  const changed = Object.keys(req).length > 0;

  const siblings = channelSiblings(channels, channel);
  const index = siblings.findIndex((c) => c.id === channel.id);
  const move = async (dir: -1 | 1) => {
    setError(null);
    try {
      for (const { id, position } of moveChannel(siblings, index, dir)) {
        const updated = unwrap(await commands.updateChannel(id, { position }));
        dispatch({ type: "event", event: { type: "channel_update", channel: updated } });
      }
      // The button may have become disabled at the end of the list: keep focus nearby.
      requestAnimationFrame(() => {
        const btn = document.querySelector<HTMLButtonElement>(`[data-move-channel="${dir}"]`);
        (btn && !btn.disabled ? btn : document.querySelector<HTMLButtonElement>(`[data-move-channel="${-dir}"]`))?.focus();
      });
    } catch (err) {
      setError(errorText(t, err));
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const updated = unwrap(await commands.updateChannel(channel.id, req));
      dispatch({ type: "event", event: { type: "channel_update", channel: updated } });
      setSaved(true);
    } catch (err) {
      setError(errorText(t, err));
    }
  };

  return (
    <>
      <form onSubmit={submit} className="mb-6" aria-label={t("channelAdmin.overview")}>
        <ErrorText>{error}</ErrorText>
        <Field label={t("channel.create.name")} name="channel-name" value={name} maxLength={100} disabled={!canEdit} onChange={(e) => (setName(e.target.value), setSaved(false))} />
        {canEdit && siblings.length > 1 && (
          <div className="mb-4 flex items-center gap-2 text-sm text-muted" role="group" aria-label={t("channelAdmin.order")}>
            <span>{t("channelAdmin.orderPlace", { n: index + 1, total: siblings.length })}</span>
            {([-1, 1] as const).map((dir) => (
              <button
                key={dir}
                type="button"
                data-move-channel={dir}
                aria-label={t(dir < 0 ? "channelAdmin.moveUp" : "channelAdmin.moveDown", { name: channel.name })}
                disabled={index + dir < 0 || index + dir >= siblings.length}
                onClick={() => void move(dir)}
                className="rounded p-1 hover:bg-hover hover:text-fg disabled:opacity-40"
              >
                <Icon name={dir < 0 ? "chevronUp" : "chevron"} size={16} />
              </button>
            ))}
          </div>
        )}
        {channel.kind !== "category" && (categories.length > 0 || currentParent) && (
          <CategorySelect
            categories={categories}
            name="channel-category"
            value={parent}
            disabled={!canEdit}
            onChange={(id) => (setParent(id), setSaved(false))}
          />
        )}
        {channel.permissions_synced && parent !== currentParent && (
          // The server keeps what applied (a copy of the old category's overwrites), so a
          // move never opens a channel by itself.
          <p data-testid="move-keeps-permissions" className="-mt-2 mb-4 text-sm text-muted">
            {t("channelAdmin.moveKeeps", { category: categories.find((c) => c.id === currentParent)?.name ?? t("channelAdmin.itsCategory") })}
          </p>
        )}
        {channel.kind === "text" && (
          <Field label={t("channelAdmin.topic")} name="channel-topic" value={topic} maxLength={1024} disabled={!canEdit} onChange={(e) => (setTopic(e.target.value), setSaved(false))} />
        )}
        {voice && (
          <div className="flex gap-3">
            <Field
              className="flex-1"
              type="number"
              label={t("channelAdmin.bitrate")}
              name="channel-bitrate"
              min={MIN_BITRATE}
              max={MAX_BITRATE}
              value={bitrate}
              disabled={!canEdit}
              hint={t("channelAdmin.bitrateHint", { min: MIN_BITRATE, max: MAX_BITRATE })}
              error={bitrateOk ? undefined : t("channelAdmin.bitrateHint", { min: MIN_BITRATE, max: MAX_BITRATE })}
              onChange={(e) => (setBitrate(e.target.value), setSaved(false))}
            />
            <Field
              className="flex-1"
              type="number"
              label={t("channelAdmin.userLimit")}
              name="channel-user-limit"
              min={0}
              max={MAX_USER_LIMIT}
              value={limit}
              disabled={!canEdit}
              hint={t("channelAdmin.userLimitHint", { max: MAX_USER_LIMIT })}
              error={limitOk ? undefined : t("channelAdmin.userLimitHint", { max: MAX_USER_LIMIT })}
              onChange={(e) => (setLimit(e.target.value), setSaved(false))}
            />
          </div>
        )}
        {canEdit && (
          <div className="flex items-center gap-3">
            <Button type="submit" disabled={!changed || !valid}>
              {t("common.save")}
            </Button>
            {saved && !changed && (
              <span role="status" className="text-sm text-ok">
                {t("common.saved")}
              </span>
            )}
            <Button variant="danger" className="ml-auto" onClick={() => setDeleting(true)}>
              {t("channel.delete")}
            </Button>
          </div>
        )}
      </form>
      {deleting && (
        <ConfirmDialog
          title={t("channel.delete")}
          body={t("channel.deleteConfirm", { name: channel.name })}
          confirm={t("common.delete")}
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            unwrap(await commands.deleteChannel(channel.id));
            dispatch({ type: "event", event: { type: "channel_delete", server_id: channel.server_id, channel_id: channel.id } });
          }}
        />
      )}
    </>
  );
}
