import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useT } from "../i18n";
import { useSession } from "../state/session";
import { errorText } from "../lib/errors";
import { AuthLayout, KnownServerPicker, ServerAddressField, useKnownServers } from "./AuthLayout";
import { serverOfInvite, usePendingInvite } from "../state/inviteLink";
import { Button, ErrorText, Field } from "../components/ui";

export function LoginPage() {
  const t = useT();
  const { login, state: session } = useSession();
  const notice = session.status === "out" && session.notice ? errorText(t, { code: session.notice, message: "" }) : null;
  const known = useKnownServers();
  const [server, setServer] = useState("");
  const [loginName, setLoginName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // An invite link opened the app: its server first (the join dialog follows the login).
  const [invite] = usePendingInvite();
  const invited = invite ? serverOfInvite(invite) : null;
  useEffect(() => {
    if (invited) setServer(invited);
  }, [invited]);
  // Prefill from the most recent remembered server, without fighting the user's edits.
  const [prefilled, setPrefilled] = useState(false);
  useEffect(() => {
    if (invited || prefilled || !known.length) return;
    setPrefilled(true);
    setServer((cur) => cur || known[0].url);
    if (known[0].username) setLoginName((cur) => cur || known[0].username!);
  }, [known, prefilled, invited]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!server.trim()) return setError(t("auth.missingServer"));
    setBusy(true);
    setError(null);
    try {
      await login(server, loginName, password);
    } catch (err) {
      setError(errorText(t, err));
      setBusy(false);
    }
  };

  return (
    <AuthLayout>
      <h1 className="text-center text-2xl font-bold text-fg-strong">{t("auth.welcome")}</h1>
      <p className="mb-5 text-center text-muted">{t("auth.welcomeSub")}</p>
      <KnownServerPicker
        servers={known}
        onPick={(s) => {
          setServer(s.url);
          if (s.username) setLoginName(s.username);
        }}
      />
      <form onSubmit={submit} noValidate>
        {notice && !error && (
          <p role="status" className="mb-3 rounded bg-warn/10 px-3 py-2 text-sm text-warn">
            {notice}
          </p>
        )}
        <ErrorText testId="auth-error">{error}</ErrorText>
        <ServerAddressField value={server} onChange={setServer} />
        <Field
          label={t("auth.login")}
          name="login"
          autoComplete="username"
          value={loginName}
          onChange={(e) => setLoginName(e.target.value)}
          required
          autoFocus
        />
        <Field
          label={t("auth.password")}
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <Button type="submit" disabled={busy} className="mt-2 w-full py-2.5 text-base">
          {busy ? t("auth.busy") : t("auth.submitLogin")}
        </Button>
        <p className="mt-3 text-sm text-muted">
          {t("auth.needAccount")}{" "}
          <Link to="/register" data-testid="go-register" className="text-[#00a8fc] hover:underline">
            {t("auth.goRegister")}
          </Link>
        </p>
      </form>
    </AuthLayout>
  );
}
