import type { PresenceStatus } from "../lib/backend";

const palette = ["#5865f2", "#3ba55c", "#faa61a", "#ed4245", "#eb459e", "#00a8fc", "#9b59b6", "#e67e22"];

/** A stable colour per user, from their ID. */
export function colorFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return palette[h % palette.length];
}

const presenceColor: Record<PresenceStatus, string> = {
  online: "bg-ok",
  idle: "bg-warn",
  do_not_disturb: "bg-danger",
  invisible: "bg-[#80848e]",
  offline: "bg-[#80848e]",
};

export function Avatar({
  id,
  name,
  size = 32,
  presence,
  speaking,
}: {
  id: string;
  name: string;
  size?: number;
  presence?: PresenceStatus;
  speaking?: boolean;
}) {
  const initial = (name.trim()[0] ?? "?").toUpperCase();
  return (
    <span className="relative inline-flex shrink-0" style={{ width: size, height: size }} aria-hidden="true">
      <span
        className={`flex h-full w-full items-center justify-center rounded-full font-semibold text-white transition-shadow ${
          speaking ? "ring-2 ring-ok ring-offset-2 ring-offset-s1" : ""
        }`}
        style={{ background: colorFor(id), fontSize: size * 0.42 }}
        data-speaking={speaking ? "true" : "false"}
      >
        {initial}
      </span>
      {presence && (
        <span
          className={`absolute -bottom-0.5 -right-0.5 rounded-full border-[3px] border-s1 ${presenceColor[presence]}`}
          style={{ width: size * 0.42, height: size * 0.42 }}
        />
      )}
    </span>
  );
}
