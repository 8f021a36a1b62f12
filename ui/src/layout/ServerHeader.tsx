import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { useUi } from "../state/ui";
import { commands, unwrap, type Channel, type ChannelKind, type Invite, type ServerDetail } from "../lib/backend";
import { canAdminister, has } from "../lib/permissions";
import { managesSomeChannel } from "../state/app";
import { errorText } from "../lib/errors";
import { inviteLink } from "../lib/invite";
import { Icon } from "../components/Icon";
import { Menu, MenuItem, MenuSeparator, menuPositionFrom, type MenuPosition } from "../components/Menu";
import { Dialog } from "../components/Dialog";
import { Button, ErrorText, Field, Select, FormActions } from "../components/ui";

export function ServerHeader({ detail }: { detail: ServerDetail }) {
  const t = useT();
  const ui = useUi();
  const navigate = useNavigate();
  const { state, dispatch } = useApp();
  const [menu, setMenu] = useState<MenuPosition | null>(null);
  const [dialog, setDialog] = useState<"invite" | "channel" | "leave" | null>(null);
  const perms = detail.my_permissions;
  const isOwner = detail.server.owner_id === state.user?.id;

  return (
    <header className="relative flex h-12 shrink-0 items-center shadow-[0_1px_0_rgba(0,0,0,0.2)]">
      <button
        type="button"
        aria-haspopup="menu"
        aria-expanded={!!menu}
        aria-label={t("server.menu", { name: detail.server.name })}
        onClick={(e) => setMenu(menu ? null : menuPositionFrom({ currentTarget: e.currentTarget }))}
        className="flex h-full w-full items-center justify-between px-4 font-semibold text-fg-strong hover:bg-hover"
      >
        <span className="truncate">{detail.server.name}</span>
        <Icon name="chevron" size={18} />
      </button>
      {menu && (
        <Menu at={{ x: menu.x + 8, y: menu.y + 4 }} label={t("server.menu", { name: detail.server.name })} onClose={() => setMenu(null)}>
          {has(perms, "CREATE_INVITE") && (
            <MenuItem onSelect={() => (setMenu(null), setDialog("invite"))}>{t("server.invite")}</MenuItem>
          )}
          {(canAdminister(perms) || managesSomeChannel(detail)) && (
            <MenuItem onSelect={() => (setMenu(null), ui.openSettings("admin"))}>{t("server.settings")}</MenuItem>
          )}
          {has(perms, "MANAGE_CHANNELS") && (
            <MenuItem onSelect={() => (setMenu(null), setDialog("channel"))}>{t("server.createChannel")}</MenuItem>
          )}
          {!isOwner && (
            <>
              <MenuSeparator />
              <MenuItem danger onSelect={() => (setMenu(null), setDialog("leave"))}>
                {t("server.leave")}
              </MenuItem>
            </>
          )}
        </Menu>
      )}
      {dialog === "invite" && <InviteDialog serverId={detail.server.id} onClose={() => setDialog(null)} />}
      {dialog === "channel" && <CreateChannelDialog detail={detail} onClose={() => setDialog(null)} />}
      {dialog === "leave" && (
        <ConfirmDialog
          title={t("server.leave")}
          body={t("server.leaveConfirm", { name: detail.server.name })}
          confirm={t("server.leave")}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            unwrap(await commands.leaveServer(detail.server.id));
            // Do not wait for the gateway to say so.
            dispatch({ type: "event", event: { type: "server_delete", server_id: detail.server.id } });
            navigate("/");
          }}
        />
      )}
    </header>
  );
}

export function ConfirmDialog({
  title,
  body,
  confirm,
  onConfirm,
  onClose,
}: {
  title: string;
  body: string;
  confirm: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const t = useT();
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={title} description={body} onClose={onClose}>
      <ErrorText>{error}</ErrorText>
      <div className="flex justify-end gap-2">
        <Button variant="ghost" onClick={onClose}>
          {t("common.cancel")}
        </Button>
        <Button
          variant="danger"
          data-autofocus
          onClick={async () => {
            try {
              await onConfirm();
              onClose();
            } catch (e) {
              setError(errorText(t, e));
            }
          }}
        >
          {confirm}
        </Button>
      </div>
    </Dialog>
  );
}

export function InviteDialog({ serverId, onClose }: { serverId: string; onClose: () => void }) {
  const t = useT();
  const { serverUrl } = useApp();
  const [invite, setInvite] = useState<Invite | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    commands
      .createInvite(serverId, null, 7 * 24 * 3600)
      .then((r) => setInvite(unwrap(r)))
      .catch((e: unknown) => setError(errorText(t, e)));
  }, [serverId, t]);
  return (
    <Dialog title={t("server.invite")} description={t("server.inviteCreated")} onClose={onClose}>
      <ErrorText>{error}</ErrorText>
      {invite && (
        <div className="flex gap-2 rounded bg-s0 p-1.5">
          <input
            readOnly
            value={inviteLink(serverUrl, invite.code)}
            aria-label={t("admin.link")}
            data-testid="invite-link"
            onFocus={(e) => e.currentTarget.select()}
            className="min-w-0 flex-1 bg-transparent px-2 font-mono text-sm outline-none"
          />
          <Button
            onClick={() => {
              void navigator.clipboard?.writeText(inviteLink(serverUrl, invite.code));
              setCopied(true);
            }}
          >
            {copied ? t("common.copied") : t("common.copy")}
          </Button>
        </div>
      )}
    </Dialog>
  );
}

export function CreateChannelDialog({ detail, onClose }: { detail: ServerDetail; onClose: () => void }) {
  const t = useT();
  const { dispatch } = useApp();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ChannelKind>("text");
  const [parent, setParent] = useState("");
  const [error, setError] = useState<string | null>(null);
  const categories = detail.channels.filter((c) => c.kind === "category");
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const channel = unwrap(
        await commands.createChannel(detail.server.id, {
          name: name.trim(),
          kind,
          topic: null,
          parent_id: kind === "category" ? null : parent || null,
          position: null,
          bitrate_kbps: null,
          user_limit: null,
        }),
      );
      // Upserts by ID, so the gateway's own channel_create changes nothing.
      dispatch({ type: "event", event: { type: "channel_create", channel } });
      onClose();
      if (channel.kind === "text") navigate(`/channels/${channel.server_id}/${channel.id}`);
    } catch (err) {
      setError(errorText(t, err));
    }
  };
  return (
    <Dialog title={t("channel.create.title")} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorText>{error}</ErrorText>
        <fieldset className="mb-4">
          <legend className="mb-2 text-xs font-bold uppercase tracking-wide text-muted">{t("channel.create.kind")}</legend>
          {(["text", "voice", "category"] as const).map((k) => (
            <label key={k} className="mb-1 flex cursor-pointer items-center gap-2 rounded bg-s1 px-3 py-2">
              <input type="radio" name="channel-kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {t(`channel.kind.${k}`)}
            </label>
          ))}
        </fieldset>
        <Field label={t("channel.create.name")} name="channel-name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
        {kind !== "category" && categories.length > 0 && (
          <CategorySelect categories={categories} value={parent} onChange={setParent} />
        )}
        <FormActions cancelLabel={t("common.cancel")} onCancel={onClose} submitLabel={t("common.create")} disabled={!name.trim()} />
      </form>
    </Dialog>
  );
}

/** The category a channel sits in; "" is none. */
export function CategorySelect({
  categories,
  value,
  onChange,
  disabled,
  name,
}: {
  categories: Channel[];
  value: string;
  onChange: (id: string) => void;
  disabled?: boolean;
  name?: string;
}) {
  const t = useT();
  return (
    <Select label={t("channel.create.category")} name={name} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
      <option value="">{t("common.none")}</option>
      {categories.map((c) => (
        <option key={c.id} value={c.id}>
          {c.name}
        </option>
      ))}
    </Select>
  );
}
