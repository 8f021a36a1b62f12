import { useEffect, useState, type FormEvent } from "react";
import { useLang, useT } from "../i18n";
import { useSession } from "../state/session";
import { useApp } from "../state/AppProvider";
import { commands, unwrap, type SessionInfo } from "../lib/backend";
import { errorText } from "../lib/errors";
import { Avatar } from "../components/Avatar";
import { Button, ErrorText, Field, SectionTitle } from "../components/ui";
import { memberName } from "../state/app";

export function AccountTab() {
  const t = useT();
  const lang = useLang();
  const { state } = useApp();
  const { setUser } = useSession();
  const user = state.user;
  const [displayName, setDisplayName] = useState(user?.display_name ?? "");
  const [profileMsg, setProfileMsg] = useState<{ ok: boolean; text: string } | null>(null);
  if (!user) return null;

  const saveProfile = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const updated = unwrap(await commands.updateProfile({ display_name: displayName.trim() }));
      setUser(updated);
      setProfileMsg({ ok: true, text: t("common.saved") });
    } catch (err) {
      setProfileMsg({ ok: false, text: errorText(t, err) });
    }
  };

  return (
    <>
      <h1 className="mb-5 text-xl font-bold text-fg-strong">{t("settings.tab.account")}</h1>
      <div className="mb-6 overflow-hidden rounded-lg bg-s0">
        <div className="h-20 bg-accent" />
        <div className="flex items-end gap-4 px-4 pb-4">
          <div className="-mt-8 rounded-full border-[6px] border-s0">
            <Avatar id={user.id} name={memberName(user)} size={72} />
          </div>
          <div>
            <div className="text-lg font-bold text-fg-strong">{memberName(user)}</div>
            <div className="text-sm text-muted">
              {t("account.memberSince", { date: new Date(user.created_at).toLocaleDateString(lang) })}
            </div>
          </div>
        </div>
        <dl className="mx-4 mb-4 grid grid-cols-[auto_1fr] gap-x-6 gap-y-2 rounded bg-s1 p-4 text-sm">
          <dt className="font-bold uppercase text-muted">{t("account.username")}</dt>
          <dd className="text-fg-strong">{user.username}</dd>
          <dt className="font-bold uppercase text-muted">{t("account.email")}</dt>
          <dd className="text-fg-strong">{user.email}</dd>
        </dl>
      </div>

      <SectionTitle>{t("account.profile")}</SectionTitle>
      <form onSubmit={saveProfile} className="flex items-start gap-2">
        <Field
          className="flex-1"
          label={t("account.displayName")}
          name="display-name"
          maxLength={32}
          value={displayName}
          onChange={(e) => setDisplayName(e.target.value)}
          hint={profileMsg?.ok ? profileMsg.text : undefined}
          error={profileMsg && !profileMsg.ok ? profileMsg.text : undefined}
        />
        <Button type="submit" className="mt-6">
          {t("common.save")}
        </Button>
      </form>

      <PasswordForm />
      <Sessions />
    </>
  );
}

function PasswordForm() {
  const t = useT();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next !== confirm) return setMsg({ ok: false, text: t("account.passwordMismatch") });
    try {
      unwrap(await commands.changePassword(current, next));
      setMsg({ ok: true, text: t("account.passwordChanged") });
      setCurrent("");
      setNext("");
      setConfirm("");
    } catch (err) {
      setMsg({ ok: false, text: errorText(t, err) });
    }
  };
  return (
    <form onSubmit={submit}>
      <SectionTitle>{t("account.password")}</SectionTitle>
      {msg && !msg.ok && <ErrorText>{msg.text}</ErrorText>}
      {msg?.ok && (
        <p role="status" className="mb-3 text-sm text-ok">
          {msg.text}
        </p>
      )}
      <Field label={t("account.currentPassword")} name="current-password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
      <div className="grid grid-cols-2 gap-3">
        <Field label={t("account.newPassword")} name="new-password" type="password" autoComplete="new-password" minLength={8} value={next} onChange={(e) => setNext(e.target.value)} required />
        <Field label={t("account.confirmPassword")} name="confirm-password" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
      </div>
      <Button type="submit" disabled={!current || next.length < 8}>
        {t("account.changePassword")}
      </Button>
    </form>
  );
}

function Sessions() {
  const t = useT();
  const lang = useLang();
  const [list, setList] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    commands
      .listSessions()
      .then((r) => setList(unwrap(r)))
      .catch((e: unknown) => setError(errorText(t, e)));
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <section>
      <SectionTitle>{t("account.sessions")}</SectionTitle>
      <p className="mb-3 text-sm text-muted">{t("account.sessionsBody")}</p>
      <ErrorText>{error}</ErrorText>
      {!list && !error && <p className="text-muted">{t("common.loading")}</p>}
      <ul className="flex flex-col gap-2">
        {list?.map((s) => (
          <li key={s.id} className="flex items-center justify-between rounded bg-s1 px-4 py-3">
            <div>
              <div className="font-medium text-fg-strong">
                {s.device_name}
                {s.current && <span className="ml-2 rounded bg-ok/20 px-1.5 text-xs text-ok">{t("account.currentSession")}</span>}
              </div>
              <div className="text-xs text-muted">
                {t("account.lastUsed", { date: new Date(s.last_used_at).toLocaleString(lang) })}
                {s.ip ? ` · ${s.ip}` : ""}
              </div>
            </div>
            {!s.current && (
              <Button
                variant="secondary"
                aria-label={t("account.revokeLabel", { device: s.device_name })}
                onClick={async () => {
                  try {
                    unwrap(await commands.revokeSession(s.id));
                    setList((l) => l?.filter((x) => x.id !== s.id) ?? null);
                  } catch (e) {
                    setError(errorText(t, e));
                  }
                }}
              >
                {t("account.revoke")}
              </Button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
