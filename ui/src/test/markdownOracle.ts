// The inline Markdown parser as it was before review L12: one regex alternation run from
// each position. Its time grows with the square of the input on some texts, so the app no
// longer uses it; the tests compare the linear parser against it on short texts, which
// shows the rewrite kept every rule.

import { safeHref, type MdNode } from "../chat/markdown";

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
    "\\|\\|([\\s\\S]+?)\\|\\|", // 14 spoiler
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

export function oracleParseInline(src: string, depth = 0): MdNode[] {
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
    if (m[13] !== undefined && ((before && WORD.test(before.slice(-1))) || (after && WORD.test(after[0])))) {
      pushText(out, before + "_");
      rest = rest.slice(m.index + 1);
      continue;
    }
    pushText(out, before);
    if (m[2] !== undefined) out.push({ t: "code", v: m[2] });
    else if (m[3] !== undefined) {
      const href = safeHref(m[4]);
      if (href) out.push({ t: "link", href, c: oracleParseInline(m[3], depth + 1).filter((n) => n.t !== "link") });
      else pushText(out, m[0]);
    } else if (m[5] !== undefined) {
      const href = safeHref(m[5]);
      if (href) out.push({ t: "link", href, c: [{ t: "text", v: m[5] }] });
      else pushText(out, m[5]);
    } else if (m[7] !== undefined) out.push({ t: "mention", kind: m[6] ? "role" : "user", id: m[7] });
    else if (m[8] !== undefined) out.push({ t: "everyone" });
    else if (m[9] !== undefined) out.push({ t: "bold", c: oracleParseInline(m[9], depth + 1) });
    else if (m[10] !== undefined) out.push({ t: "underline", c: oracleParseInline(m[10], depth + 1) });
    else if (m[11] !== undefined) out.push({ t: "strike", c: oracleParseInline(m[11], depth + 1) });
    else if (m[14] !== undefined) out.push({ t: "spoiler", c: oracleParseInline(m[14], depth + 1) });
    else out.push({ t: "italic", c: oracleParseInline(m[12] ?? m[13], depth + 1) });
    rest = after;
  }
  return out;
}
