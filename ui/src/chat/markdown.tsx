// A small Markdown subset for chat: **bold**, *italic* / _italic_, __underline__,
// ~~strike~~, ||spoilers||, `inline code`, ```code blocks```, > quotes (and >>> for the
// rest of the message), [text](https://…) and bare links, and mentions (<@id>, <@&role>,
// @everyone), as Discord has them. It builds React elements, never HTML strings,
// so user content can never inject markup; links are limited to http(s) and mailto.

import { useMemo, useState, type ReactNode } from "react";
import { useT } from "../i18n";

export type MdNode =
  | { t: "text"; v: string }
  | { t: "br" }
  | { t: "code"; v: string }
  | { t: "codeblock"; v: string; lang: string | null }
  | { t: "bold" | "italic" | "underline" | "strike" | "spoiler" | "quote"; c: MdNode[] }
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

const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/;
/** Characters a bare link may not end with (sentence punctuation around a URL). */
const LINK_TAIL = new Set([".", ",", ":", ";", '"', "'", ")", "]", "!", "?"]);
const SCHEMES = ["https://", "http://", "mailto:"];
/** Deeper nesting is shown as text: bounds recursion and the work per message. */
const MAX_DEPTH = 8;

// Work counter for tests: characters looked at, summed over every parse. Each character
// costs a bounded number of steps, so a message costs O(length × nesting depth).
let steps = 0;
/** Steps taken since the last call (for the linear-time tests). */
export function takeParseSteps(): number {
  const s = steps;
  steps = 0;
  return s;
}

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

/**
 * For every position, where the nearest closer of each kind starts (-1: none). Built once
 * per string from right to left, so finding a construct's end is a lookup instead of a
 * scan: a regex that scans ahead from every opener took time quadratic in the length
 * ("`" or "[" repeated 4,000 times: tens of milliseconds per message, review L12).
 */
class Closers {
  readonly space: Uint8Array;
  /** `*xy` ends at a `*` after a non-space, non-`*` (the same for `_`). */
  readonly italicStar: Int32Array;
  readonly italicUnder: Int32Array;
  /** `**x` ends at `**` not followed by a third `*` (the same for `__`). */
  readonly bold: Int32Array;
  readonly underline: Int32Array;
  readonly strike: Int32Array;
  readonly spoiler: Int32Array;
  /** Link text runs to the first `]`, unless a line break comes first. */
  readonly bracketOrBreak: Int32Array;
  /** A link's URL runs to the first `)`, unless a space comes first. */
  readonly parenOrSpace: Int32Array;
  /** Inline code: the end of the backtick run at each position, and for a run's first
   * backtick the code span it opens (offset into the run, closing run), if any. */
  readonly runEnd: Int32Array;
  readonly codeOffset: Int32Array;
  readonly codeCloser: Int32Array;

  constructor(src: string) {
    const n = src.length;
    steps += n;
    const table = () => new Int32Array(n + 3).fill(-1);
    this.space = new Uint8Array(n + 1);
    for (let k = 0; k < n; k++) this.space[k] = SPACE.test(src[k]) ? 1 : 0;
    this.italicStar = table();
    this.italicUnder = table();
    this.bold = table();
    this.underline = table();
    this.strike = table();
    this.spoiler = table();
    this.bracketOrBreak = table();
    this.parenOrSpace = table();
    this.runEnd = table();
    this.codeOffset = table();
    this.codeCloser = table();
    // Nearest maximal backtick run of each length to the right of the current position.
    const runOfLength = new Map<number, number>();
    for (let k = n - 1; k >= 0; k--) {
      steps++;
      const c = src[k];
      const prev = k > 0 ? src[k - 1] : "";
      const prevPlain = k > 0 && !this.space[k - 1] && prev !== c;
      this.italicStar[k] = c === "*" && prevPlain ? k : this.italicStar[k + 1];
      this.italicUnder[k] = c === "_" && prevPlain ? k : this.italicUnder[k + 1];
      this.bold[k] = c === "*" && src[k + 1] === "*" && src[k + 2] !== "*" ? k : this.bold[k + 1];
      this.underline[k] = c === "_" && src[k + 1] === "_" && src[k + 2] !== "_" ? k : this.underline[k + 1];
      this.strike[k] = c === "~" && src[k + 1] === "~" ? k : this.strike[k + 1];
      this.spoiler[k] = c === "|" && src[k + 1] === "|" ? k : this.spoiler[k + 1];
      this.bracketOrBreak[k] = c === "]" || c === "\n" ? k : this.bracketOrBreak[k + 1];
      this.parenOrSpace[k] = c === ")" || this.space[k] ? k : this.parenOrSpace[k + 1];
      if (c !== "`") continue;
      this.runEnd[k] = src[k + 1] === "`" ? this.runEnd[k + 1] : k + 1;
      if (prev === "`") continue;
      // A run of L backticks opens code closed by the next run of exactly L; failing
      // that, its last L-1, L-2, … backticks may open code closed by a shorter run.
      const length = this.runEnd[k] - k;
      for (let off = 0; off < length; off++) {
        steps++;
        const closer = runOfLength.get(length - off);
        if (closer !== undefined) {
          this.codeOffset[k] = off;
          this.codeCloser[k] = closer;
          break;
        }
      }
      runOfLength.set(length, k);
    }
  }
}

/** A construct found at one position: its end and what it becomes. */
type Found = { start: number; end: number; node: MdNode | null; literal?: string } | { skipTo: number };

/** What starts at `j`, if anything; the same rules, in the same order of preference, as
 * one alternation of regexes would apply, each decided in constant time or by a scan that
 * never covers the same characters twice. */
function constructAt(src: string, t: Closers, j: number, depth: number): Found | null {
  const n = src.length;
  switch (src[j]) {
    case "`": {
      const runEnd = t.runEnd[j];
      const isRunStart = j === 0 || src[j - 1] !== "`";
      let off = isRunStart ? t.codeOffset[j] : -1;
      let closer = isRunStart ? t.codeCloser[j] : -1;
      if (!isRunStart) {
        // Only reachable when a construct ends inside a backtick run (none does today):
        // look for a closing run of this remainder's length the slow way.
        for (let k = runEnd; k < n && closer < 0; k++) {
          steps++;
          if (src[k] === "`" && src[k - 1] !== "`" && t.runEnd[k] - k === runEnd - j) closer = k;
        }
        off = closer < 0 ? -1 : 0;
      }
      // No code here: the whole run is plain text.
      if (off < 0) return { skipTo: runEnd };
      const length = runEnd - j - off;
      return { start: j + off, end: closer + length, node: { t: "code", v: src.slice(runEnd, closer) } };
    }
    case "[": {
      const close = t.bracketOrBreak[j + 1];
      if (close < j + 2 || src[close] !== "]" || src[close + 1] !== "(") return null;
      const end = t.parenOrSpace[close + 2];
      if (end < close + 3 || src[end] !== ")") return null;
      const href = safeHref(src.slice(close + 2, end));
      const node: MdNode | null = href
        ? { t: "link", href, c: parseInline(src.slice(j + 1, close), depth + 1).filter((x) => x.t !== "link") }
        : null;
      return { start: j, end: end + 1, node, literal: src.slice(j, end + 1) };
    }
    case "h":
    case "m": {
      const scheme = SCHEMES.find((s) => src.startsWith(s, j));
      if (!scheme) return null;
      const from = j + scheme.length;
      let k = from;
      while (k < n && !t.space[k] && src[k] !== "<") {
        steps++;
        k++;
      }
      while (k > from && LINK_TAIL.has(src[k - 1])) {
        steps++;
        k--;
      }
      if (k === from) return null;
      const url = src.slice(j, k);
      const href = safeHref(url);
      return { start: j, end: k, node: href ? { t: "link", href, c: [{ t: "text", v: url }] } : null, literal: url };
    }
    case "<": {
      if (src[j + 1] !== "@") return null;
      const role = src[j + 2] === "&";
      const from = j + (role ? 3 : 2);
      let k = from;
      while (k < n && k - from < 20 && src[k] >= "0" && src[k] <= "9") k++;
      if (k === from || src[k] !== ">") return null;
      return { start: j, end: k + 1, node: { t: "mention", kind: role ? "role" : "user", id: src.slice(from, k) } };
    }
    case "@":
      return src.startsWith("@everyone", j) ? { start: j, end: j + 9, node: { t: "everyone" } } : null;
    case "*":
    case "_": {
      const c = src[j];
      const double = c === "*" ? t.bold : t.underline;
      if (src[j + 1] === c && j + 3 <= n) {
        const close = double[j + 3];
        if (close >= 0) {
          const inner = parseInline(src.slice(j + 2, close), depth + 1);
          return { start: j, end: close + 2, node: { t: c === "*" ? "bold" : "underline", c: inner } };
        }
      }
      if (j + 1 >= n || t.space[j + 1] || src[j + 1] === c) return null;
      // The regex this replaces preferred a content of two or more characters (its
      // optional group was greedy): `*a*b*` closes at the last `*`. One character only
      // when nothing longer closes.
      let close = (c === "*" ? t.italicStar : t.italicUnder)[j + 3];
      if (close < 0 && src[j + 2] === c) close = j + 2;
      if (close < 0) return null;
      return { start: j, end: close + 1, node: { t: "italic", c: parseInline(src.slice(j + 1, close), depth + 1) } };
    }
    case "|": {
      if (src[j + 1] !== "|" || j + 3 > n) return null;
      const close = t.spoiler[j + 3];
      if (close < 0) return null;
      return { start: j, end: close + 2, node: { t: "spoiler", c: parseInline(src.slice(j + 2, close), depth + 1) } };
    }
    case "~": {
      if (src[j + 1] !== "~" || j + 3 > n) return null;
      const close = t.strike[j + 3];
      if (close < 0) return null;
      return { start: j, end: close + 2, node: { t: "strike", c: parseInline(src.slice(j + 2, close), depth + 1) } };
    }
  }
  return null;
}

/** Inline Markdown in linear time: one pass over `src`, with closers looked up in tables. */
export function parseInline(src: string, depth = 0): MdNode[] {
  const out: MdNode[] = [];
  if (depth > MAX_DEPTH) {
    pushText(out, src);
    return out;
  }
  const closers = new Closers(src);
  let text = 0; // start of text not yet emitted
  let rest = 0; // where the last construct (or refused `_`) ended: "before" starts here
  let j = 0;
  while (j < src.length) {
    steps++;
    const found = constructAt(src, closers, j, depth);
    if (!found) {
      j++;
      continue;
    }
    if ("skipTo" in found) {
      j = found.skipTo;
      continue;
    }
    const at = found.start;
    // `_x_` only counts as italic between non-word characters (snake_case stays as is).
    if (src[at] === "_" && found.node?.t === "italic") {
      const before = at > rest ? src[at - 1] : "";
      const after = src[found.end] ?? "";
      if ((before && WORD.test(before)) || (after && WORD.test(after))) {
        j = rest = at + 1;
        continue;
      }
    }
    pushText(out, src.slice(text, at));
    if (found.node) out.push(found.node);
    else pushText(out, found.literal ?? "");
    j = text = rest = found.end;
  }
  pushText(out, src.slice(text));
  return out;
}

/** Text outside code blocks: lines starting with "> " are quoted (a run of them is one
 * quote), and ">>> " quotes everything after it, as in Discord. */
function parseBlocks(src: string): MdNode[] {
  const out: MdNode[] = [];
  const lines = src.split("\n");
  let plain: string[] = [];
  let quoted: string[] = [];
  const flushPlain = () => {
    if (plain.length) out.push(...parseInline(plain.join("\n")));
    plain = [];
  };
  const flushQuote = () => {
    if (quoted.length) out.push({ t: "quote", c: parseInline(quoted.join("\n")) });
    quoted = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith(">>> ")) {
      flushPlain();
      quoted.push(line.slice(4), ...lines.slice(i + 1));
      break;
    }
    if (line.startsWith("> ") || line === ">") {
      flushPlain();
      quoted.push(line.slice(2));
    } else {
      flushQuote();
      plain.push(line);
    }
  }
  flushPlain();
  flushQuote();
  return out;
}

/** Splits off ``` fenced blocks (an unclosed fence runs to the end), then quotes, then
 * parses inline. */
export function parseMarkdown(src: string): MdNode[] {
  const out: MdNode[] = [];
  const FENCE = /```(?:([\w+#-]{1,20})\n)?\n?([\s\S]*?)(?:```|$)/;
  let rest = src;
  while (rest) {
    const m = FENCE.exec(rest);
    if (!m || m[0].length === 0) {
      out.push(...parseBlocks(rest));
      break;
    }
    if (m.index > 0) out.push(...parseBlocks(rest.slice(0, m.index).replace(/\n$/, "")));
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
      case "spoiler":
        return <Spoiler key={key}>{renderNodes(n.c, ctx, key + ".")}</Spoiler>;
      case "quote":
        return (
          <blockquote key={key} className="my-0.5 border-l-4 border-line pl-3">
            {renderNodes(n.c, ctx, key + ".")}
          </blockquote>
        );
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

/** Hidden until clicked (or Enter/Space on it), like Discord's; revealed stays revealed. */
function Spoiler({ children }: { children: ReactNode }) {
  const t = useT();
  const [shown, setShown] = useState(false);
  if (shown) return <span className="rounded bg-black/10 px-0.5 dark:bg-white/10">{children}</span>;
  return (
    <span
      role="button"
      tabIndex={0}
      data-spoiler=""
      aria-label={t("chat.spoiler")}
      onClick={() => setShown(true)}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), setShown(true))}
      className="cursor-pointer rounded bg-fg-strong/80 px-0.5 text-transparent select-none [&_*]:invisible"
    >
      {children}
    </span>
  );
}

export function Markdown({ content, ctx }: { content: string; ctx: RenderContext }) {
  // Parsing is the costly part; re-renders of an unchanged message reuse it.
  const nodes = useMemo(() => parseMarkdown(content), [content]);
  return <>{renderNodes(nodes, ctx)}</>;
}
