import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useT } from "../i18n";
import { useSession } from "../state/session";
import { errorText, fieldErrors } from "../lib/errors";
import { AuthLayout, KnownServerPicker, ServerAddressField, useKnownServers } from "./AuthLayout";
import { Button, ErrorText, Field } from "../components/ui";

export function RegisterPage() {
  const t = useT();
  const { register } = useSession();
  const known = useKnownServers();
  const [server, setServer] = useState("");
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  // Prefill from the most recent remembered server, without fighting the user's edits.
  const [prefilled, setPrefilled] = useState(false);
  useEffect(() => {
    if (prefilled || !known.length) return;
    setPrefilled(true);
    setServer((cur) => cur || known[0].url);
  }, [known, prefilled]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!server.trim()) return setError(t("auth.missingServer"));
    // What the server requires, asked here first so nothing is sent half-filled.
    const missing: Record<string, string> = {};
    for (const [name, value] of [["email", email], ["username", username], ["password", password]] as const) {
      if (!value.trim()) missing[name] = t("field.required");
    }
    setFields(missing);
    if (Object.keys(missing).length) return setError(t("field.formInvalid"));
    setBusy(true);
    setError(null);
    try {
      await register(server, username, email, password);
    } catch (err) {
      const byField = fieldErrors(t, err);
      setFields(byField);
      setError(Object.keys(byField).length ? t("field.formInvalid") : errorText(t, err));
      setBusy(false);
    }
  };

  return (
    <AuthLayout>
      <h1 className="mb-5 text-center text-2xl font-bold text-fg-strong">{t("auth.createAccount")}</h1>
      <KnownServerPicker servers={known} onPick={(s) => setServer(s.url)} />
      <form onSubmit={submit} noValidate>
        <ErrorText testId="auth-error">{error}</ErrorText>
        <ServerAddressField value={server} onChange={setServer} />
        <Field
          label={t("auth.email")}
          name="email"
          error={fields.email}
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
        />
        <Field
          label={t("auth.username")}
          name="username"
          error={fields.username}
          autoComplete="username"
          hint={t("auth.usernameHint")}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
          autoFocus
        />
        <Field
          label={t("auth.password")}
          name="password"
          error={fields.password}
          type="password"
          autoComplete="new-password"
          hint={t("auth.passwordHint")}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <Button type="submit" disabled={busy} className="mt-2 w-full py-2.5 text-base">
          {busy ? t("auth.busy") : t("auth.submitRegister")}
        </Button>
        <p className="mt-3 text-sm text-muted">
          {t("auth.haveAccount")}{" "}
          <Link to="/login" data-testid="go-login" className="text-[#00a8fc] hover:underline">
            {t("auth.goLogin")}
          </Link>
        </p>
      </form>
    </AuthLayout>
  );
}
