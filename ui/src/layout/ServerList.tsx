import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { useT } from "../i18n";
import { useApp } from "../state/AppProvider";
import { commands, unwrap, type ServerDetail } from "../lib/backend";
import { usePendingInvite } from "../state/inviteLink";
import { errorText } from "../lib/errors";
import { Dialog } from "../components/Dialog";
import { Icon } from "../components/Icon";
import { ErrorText, Field, FormActions } from "../components/ui";
import { isUnread, mentionCount } from "../state/readStates";

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 3)
    .map((w) => w[0]!.toUpperCase())
    .join("");
}

/** Loads a server's detail after creating or joining it, unless the gateway was faster. */
async function openServer(
  id: string,
  have: Record<string, ServerDetail>,
  add: (d: ServerDetail) => void,
): Promise<void> {
  if (have[id]) return;
  const r = await commands.serverDetail(id);
  if (r.status === "ok") add(r.data);
}

function Pill({ state }: { state: "none" | "unread" | "hover" | "active" }) {
  const h = { none: "h-0", unread: "h-2", hover: "h-5", active: "h-10" }[state];
  return (
    <span
      aria-hidden="true"
      className={`absolute -left-3 top-1/2 w-1 -translate-y-1/2 rounded-r bg-fg-strong transition-all ${h}`}
    />
  );
}

export function ServerList() {
  const t = useT();
  const { state, dispatch } = useApp();
  const { serverId } = useParams();
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<"create" | "join" | null>(null);
  // An auraspeak:// link opened the app: the join dialog opens with it.
  const [invite, clearInvite] = usePendingInvite();
  useEffect(() => {
    if (invite) setDialog("join");
  }, [invite]);

  const addDetail = (d: ServerDetail) => dispatch({ type: "serverDetail", detail: d });
  const goTo = async (id: string) => {
    await openServer(id, state.servers, addDetail);
    navigate(`/channels/${id}`);
  };

  return (
    <nav aria-label={t("nav.servers")} className="scroll-thin flex w-[72px] shrink-0 flex-col items-center gap-2 overflow-y-auto bg-s0 py-3">
      <div className="relative">
        <Pill state={!serverId ? "active" : "none"} />
        <button
          type="button"
          aria-label={t("nav.home")}
          title={t("nav.home")}
          onClick={() => navigate("/")}
          className={`flex h-12 w-12 items-center justify-center transition-all ${
            !serverId ? "rounded-2xl bg-accent text-white" : "rounded-3xl bg-s2 text-fg hover:rounded-2xl hover:bg-accent hover:text-white"
          }`}
        >
          <Icon name="home" size={26} />
        </button>
      </div>
      <div className="mx-auto h-0.5 w-8 rounded bg-line" aria-hidden="true" />
      <ul className="flex flex-col items-center gap-2">
        {state.serverOrder.map((id) => {
          const d = state.servers[id];
          if (!d) return null;
          const active = id === serverId;
          const textIds = d.channels.filter((c) => c.kind === "text").map((c) => c.id);
          const unread = textIds.some((c) => isUnread(state.read, c));
          const mentions = textIds.reduce((n, c) => n + mentionCount(state.read, c), 0);
          return (
            <li key={id} className="group relative">
              <Pill state={active ? "active" : unread ? "unread" : "none"} />
              <button
                type="button"
                data-testid={`server-${id}`}
                aria-label={d.server.name + (mentions ? `, ${t("channel.mentions", { count: mentions })}` : "")}
                aria-current={active ? "page" : undefined}
                title={d.server.name}
                onClick={() => navigate(`/channels/${id}`)}
                className={`flex h-12 w-12 items-center justify-center overflow-hidden text-sm font-semibold transition-all ${
                  active ? "rounded-2xl bg-accent text-white" : "rounded-3xl bg-s2 text-fg hover:rounded-2xl hover:bg-accent hover:text-white"
                }`}
              >
                {initials(d.server.name)}
              </button>
              {mentions > 0 && (
                <span className="pointer-events-none absolute -bottom-0.5 -right-0.5 min-w-5 rounded-full border-4 border-s0 bg-danger px-1 text-center text-[11px] font-bold leading-3 text-white">
                  {mentions}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <button
        type="button"
        data-testid="create-server"
        aria-label={t("nav.createServer")}
        title={t("nav.createServer")}
        onClick={() => setDialog("create")}
        className="flex h-12 w-12 items-center justify-center rounded-3xl bg-s2 text-ok transition-all hover:rounded-2xl hover:bg-ok hover:text-white"
      >
        <Icon name="plus" size={24} />
      </button>
      <button
        type="button"
        data-testid="join-server"
        aria-label={t("nav.joinServer")}
        title={t("nav.joinServer")}
        onClick={() => setDialog("join")}
        className="flex h-12 w-12 items-center justify-center rounded-3xl bg-s2 text-ok transition-all hover:rounded-2xl hover:bg-ok hover:text-white"
      >
        <Icon name="compass" size={24} />
      </button>
      {dialog === "create" && <CreateServerDialog onClose={() => setDialog(null)} onDone={goTo} />}
      {dialog === "join" && <JoinServerDialog initial={invite ?? ""} onClose={() => (setDialog(null), clearInvite())} onDone={goTo} />}
    </nav>
  );
}

export function CreateServerDialog({ onClose, onDone }: { onClose: () => void; onDone: (id: string) => void }) {
  const t = useT();
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const server = unwrap(await commands.createServer(name.trim()));
      onClose();
      onDone(server.server.id);
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={t("server.create.title")} description={t("server.create.body")} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorText>{error}</ErrorText>
        <Field
          label={t("server.create.name")}
          name="server-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          minLength={2}
          maxLength={100}
          autoFocus
        />
        <FormActions cancelLabel={t("common.cancel")} onCancel={onClose} submitLabel={t("common.create")} disabled={busy || name.trim().length < 2} />
      </form>
    </Dialog>
  );
}

export function JoinServerDialog({ initial = "", onClose, onDone }: { initial?: string; onClose: () => void; onDone: (id: string) => void }) {
  const t = useT();
  const [invite, setInvite] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const server = unwrap(await commands.joinInvite(invite.trim()));
      onClose();
      onDone(server.id);
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={t("server.join.title")} description={t("server.join.body")} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorText>{error}</ErrorText>
        <Field
          label={t("server.join.invite")}
          name="invite"
          value={invite}
          onChange={(e) => setInvite(e.target.value)}
          placeholder="https://chat.example.com/invite/hTKzmak"
          required
          autoFocus
        />
        <FormActions cancelLabel={t("common.cancel")} onCancel={onClose} submitLabel={t("server.join.submit")} disabled={busy || !invite.trim()} />
      </form>
    </Dialog>
  );
}
