// A small Markdown subset for chat: **bold**, *italic* / _italic_, __underline__,
// ~~strike~~, `inline code`, ```code blocks```, [text](https://…) and bare links, and
// mentions (<@id>, <@&role>, @everyone). It builds React elements, never HTML strings,
// so user content can never inject markup; links are limited to http(s) and mailto.

import { useMemo, type ReactNode } from "react";

export type MdNode =
  | { t: "text"; v: string }
  | { t: "br" }
  | { t: "code"; v: string }
  | { t: "codeblock"; v: string; lang: string | null }
  | { t: "bold" | "italic" | "underline" | "strike"; c: MdNode[] }
  | { t: "link"; href: string; c: MdNode[] }
  | { t: "mention"; kind: "user" | "role"; id: string }
  | { t: "everyone" };

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

/** The URL when it is safe to link to, else null (javascript:, data:, file:, …). */
export function safeHref(raw: string): string | null {
  try {
    const u = new URL(raw);
    return SAFE_SCHEMES.has(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

const INLINE = new RegExp(
  [
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)", // 1,2 inline code
    "\\[([^\\]\\n]+)\\]\\(([^)\\s]+)\\)", // 3,4 [text](url)
    "((?:https?:\\/\\/|mailto:)[^\\s<]*[^\\s<.,:;\"')\\]!?])", // 5 bare link
    "<@(&?)(\\d{1,20})>", // 6,7 mention
    "(@everyone)", // 8
    "\\*\\*([\\s\\S]+?)\\*\\*(?!\\*)", // 9 bold
    "__([\\s\\S]+?)__(?!_)", // 10 underline
    "~~([\\s\\S]+?)~~", // 11 strike
    "\\*([^\\s*](?:[\\s\\S]*?[^\\s*])?)\\*", // 12 italic
    "_([^\\s_](?:[\\s\\S]*?[^\\s_])?)_", // 13 italic
  ].join("|"),
);

const WORD = /[\p{L}\p{N}_]/u;

function pushText(out: MdNode[], text: string) {
  const parts = text.split("\n");
  parts.forEach((p, i) => {
    if (i > 0) out.push({ t: "br" });
    if (!p) return;
    const last = out[out.length - 1];
    if (last && last.t === "text") last.v += p;
    else out.push({ t: "text", v: p });
  });
}

export function parseInline(src: string, depth = 0): MdNode[] {
  const out: MdNode[] = [];
  let rest = src;
  while (rest) {
    const m = depth > 8 ? null : INLINE.exec(rest);
    if (!m) {
      pushText(out, rest);
      break;
    }
    const before = rest.slice(0, m.index);
    const after = rest.slice(m.index + m[0].length);
    // `_x_` only counts as italic between non-word characters (snake_case stays as is).
    if (m[13] !== undefined && ((before && WORD.test(before.slice(-1))) || (after && WORD.test(after[0])))) {
      pushText(out, before + "_");
      rest = rest.slice(m.index + 1);
      continue;
    }
    pushText(out, before);
    if (m[2] !== undefined) out.push({ t: "code", v: m[2] });
    else if (m[3] !== undefined) {
      const href = safeHref(m[4]);
      if (href) out.push({ t: "link", href, c: parseInline(m[3], depth + 1).filter((n) => n.t !== "link") });
      else pushText(out, m[0]);
    } else if (m[5] !== undefined) {
      const href = safeHref(m[5]);
      if (href) out.push({ t: "link", href, c: [{ t: "text", v: m[5] }] });
      else pushText(out, m[5]);
    } else if (m[7] !== undefined) out.push({ t: "mention", kind: m[6] ? "role" : "user", id: m[7] });
    else if (m[8] !== undefined) out.push({ t: "everyone" });
    else if (m[9] !== undefined) out.push({ t: "bold", c: parseInline(m[9], depth + 1) });
    else if (m[10] !== undefined) out.push({ t: "underline", c: parseInline(m[10], depth + 1) });
    else if (m[11] !== undefined) out.push({ t: "strike", c: parseInline(m[11], depth + 1) });
    else out.push({ t: "italic", c: parseInline(m[12] ?? m[13], depth + 1) });
    rest = after;
  }
  return out;
}

/** Splits off ``` fenced blocks (an unclosed fence runs to the end), then parses inline. */
export function parseMarkdown(src: string): MdNode[] {
  const out: MdNode[] = [];
  const FENCE = /```(?:([\w+#-]{1,20})\n)?\n?([\s\S]*?)(?:```|$)/;
  let rest = src;
  while (rest) {
    const m = FENCE.exec(rest);
    if (!m || m[0].length === 0) {
      out.push(...parseInline(rest));
      break;
    }
    if (m.index > 0) out.push(...parseInline(rest.slice(0, m.index).replace(/\n$/, "")));
    out.push({ t: "codeblock", v: m[2].replace(/\n$/, ""), lang: m[1] ?? null });
    rest = rest.slice(m.index + m[0].length).replace(/^\n/, "");
  }
  return out;
}

export interface RenderContext {
  userName: (id: string) => string;
  roleName: (id: string) => string;
  myId: string | null;
}

export function renderNodes(nodes: MdNode[], ctx: RenderContext, keyPrefix = ""): ReactNode[] {
  return nodes.map((n, i) => {
    const key = `${keyPrefix}${i}`;
    switch (n.t) {
      case "text":
        return n.v;
      case "br":
        return <br key={key} />;
      case "code":
        return (
          <code key={key} className="rounded bg-s0 px-1 py-0.5 font-mono text-[0.85em]">
            {n.v}
          </code>
        );
      case "codeblock":
        return (
          <pre
            key={key}
            data-lang={n.lang ?? undefined}
            className="my-1 max-w-full overflow-x-auto whitespace-pre-wrap rounded border border-line bg-s1 p-2 font-mono text-[0.85em]"
          >
            <code>{n.v}</code>
          </pre>
        );
      case "bold":
        return <strong key={key}>{renderNodes(n.c, ctx, key + ".")}</strong>;
      case "italic":
        return <em key={key}>{renderNodes(n.c, ctx, key + ".")}</em>;
      case "underline":
        return <u key={key}>{renderNodes(n.c, ctx, key + ".")}</u>;
      case "strike":
        return <s key={key}>{renderNodes(n.c, ctx, key + ".")}</s>;
      case "link":
        return (
          <a key={key} href={n.href} target="_blank" rel="noopener noreferrer" className="text-[#00a8fc] hover:underline">
            {renderNodes(n.c, ctx, key + ".")}
          </a>
        );
      case "mention": {
        const me = n.kind === "user" && n.id === ctx.myId;
        const label = n.kind === "user" ? `@${ctx.userName(n.id)}` : `@${ctx.roleName(n.id)}`;
        return (
          <span
            key={key}
            className={`rounded px-0.5 font-medium ${me ? "bg-warn/30 text-fg-strong" : "bg-accent/20 text-accent dark:bg-accent/30 dark:text-[#c9cdfb]"}`}
          >
            {label}
          </span>
        );
      }
      case "everyone":
        return (
          <span key={key} className="rounded bg-accent/20 px-0.5 font-medium text-accent dark:bg-accent/30 dark:text-[#c9cdfb]">
            @everyone
          </span>
        );
    }
    return null;
  });
}

export function Markdown({ content, ctx }: { content: string; ctx: RenderContext }) {
  // Parsing is the costly part; re-renders of an unchanged message reuse it.
  const nodes = useMemo(() => parseMarkdown(content), [content]);
  return <>{renderNodes(nodes, ctx)}</>;
}
