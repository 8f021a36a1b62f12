import { useT } from "../i18n";

export function Splash() {
  const t = useT();
  return (
    <main className="flex h-full flex-col items-center justify-center gap-4 bg-s0" aria-busy="true">
      <div className="h-16 w-16 animate-pulse rounded-2xl bg-accent" aria-hidden="true" />
      <h1 className="text-xl font-bold text-fg-strong">{t("app.name")}</h1>
      <p className="text-muted" role="status">
        {t("app.loading")}
      </p>
    </main>
  );
}
