// Property tests of the chat Markdown renderer (issue #16 item 9, review L12): for any
// text it neither throws nor links anywhere but http(s) and mailto, it parses exactly as
// the regex parser it replaced, and its work grows linearly with the length of the text.

import { describe, expect, it } from "vitest";
import { render } from "@testing-library/react";
import fc from "fast-check";
import { Markdown, parseInline, parseMarkdown, safeHref, takeParseSteps, type MdNode, type RenderContext } from "../chat/markdown";
import { oracleParseInline } from "../test/markdownOracle";

const ctx: RenderContext = { userName: (id) => `u${id}`, roleName: (id) => `r${id}`, myId: "1" };

/** Fixed seed: a failure reproduces; `FC_SEED`/`FC_RUNS` widen a local run. */
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const params = (numRuns: number) => ({
  seed: Number(env.FC_SEED ?? 0x5eed),
  numRuns: Number(env.FC_RUNS ?? numRuns),
});

// Pieces that make Markdown: every delimiter, schemes safe and not, mentions, spaces and
// line breaks, word characters (the `_` rule), and characters outside the BMP.
const PIECES = [
  "`", "``", "```", "*", "**", "_", "__", "~", "~~", "[", "]", "(", ")", "](", "<@", "<@&", ">",
  "@everyone", "http://", "https://", "mailto:", "javascript:", "data:", "JaVaScRiPt:", "//",
  "a", "b", "é", "1", "12", " ", "\n", "\t", ".", ",", "!", "?", "\"", "'", "<", "😀", "\u00a0",
  "\u2028", "x.y", "@", "|", "||", "> ", ">>> ",
];
const markdownish = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join(""));
const anyText = fc.oneof(markdownish, fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 200 }));

function links(nodes: MdNode[]): string[] {
  return nodes.flatMap((n) => ("c" in n ? [...(n.t === "link" ? [n.href] : []), ...links(n.c)] : []));
}

describe("markdown renderer under arbitrary input", () => {
  it("never throws and links only to http, https and mailto", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        for (const href of links(parseMarkdown(text))) {
          expect(["http:", "https:", "mailto:"]).toContain(new URL(href).protocol);
          expect(safeHref(href)).toBe(href);
        }
      }),
      params(3000),
    );
  });

  it("renders any text to the elements it knows, with safe links only", () => {
    const allowed = new Set(["DIV", "STRONG", "EM", "U", "S", "A", "CODE", "PRE", "BR", "SPAN", "BLOCKQUOTE"]);
    fc.assert(
      fc.property(anyText, (text) => {
        const { container, unmount } = render(
          <div>
            <Markdown content={text} ctx={ctx} />
          </div>,
        );
        for (const el of container.querySelectorAll("*")) {
          expect(allowed).toContain(el.tagName);
          for (const attr of el.getAttributeNames()) {
            expect(["class", "href", "target", "rel", "data-lang", "role", "tabindex", "data-spoiler", "aria-label"]).toContain(attr);
          }
        }
        for (const a of container.querySelectorAll("a")) {
          expect(["http:", "https:", "mailto:"]).toContain(new URL(a.getAttribute("href") ?? "").protocol);
          expect(a.getAttribute("rel")).toBe("noopener noreferrer");
        }
        unmount();
      }),
      params(300),
    );
  });

  it("parses exactly as the regex parser it replaced", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(parseInline(text)).toEqual(oracleParseInline(text));
      }),
      params(5000),
    );
  });

  it("keeps the rules the comparison found: a longer italic wins over a one-character one", () => {
    // Found by the property above (fast-check, seed 12345): the first rewrite closed
    // `*`…`*` at the first possible `*`, the regex at the first one after two characters.
    expect(parseInline("**`*`*")).toEqual([{ t: "text", v: "*" }, { t: "italic", c: [{ t: "code", v: "*" }] }]);
    expect(parseInline("*a*b*")).toEqual([{ t: "italic", c: [{ t: "text", v: "a*b" }] }]);
    expect(parseInline("_a_b_ *a*")).toEqual(oracleParseInline("_a_b_ *a*"));
  });

  it("a crafted link target is refused whatever its case, spaces or encoding", () => {
    for (const href of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "java\tscript:x", "vbscript:x", "data:text/html,x", "file:///etc/passwd", "blob:null/x", "\\u006aavascript:x"]) {
      expect(links(parseMarkdown(`[x](${href}) ${href}`))).toEqual([]);
    }
  });
});

describe("markdown parse time is linear in the text", () => {
  // 4,000 characters: the longest message the server accepts. The regex parser needed
  // tens of milliseconds for some of these (a quarter of a frame budget, per message).
  const adversarial: Record<string, string> = {
    backticks: "`".repeat(4000),
    "backticks and text": "``a".repeat(1333),
    "one backtick, one pair": "`a``".repeat(1000),
    stars: "*".repeat(4000),
    underscores: "_".repeat(4000),
    tildes: "~".repeat(4000),
    brackets: "[".repeat(4000),
    "open links": "[a](".repeat(1000),
    "bracket words": "[a".repeat(2000),
    "unclosed italics": "*a ".repeat(1333),
    "unclosed underscores": "_a ".repeat(1333),
    "snake case": "a_b ".repeat(1000),
    "bare link tails": "http://" + ".".repeat(3993),
    "mentions without end": "<@1".repeat(1333),
    mixed: "*_~[`".repeat(800),
    "mixed pairs": "**__~~[[``".repeat(400),
  };

  for (const [name, text] of Object.entries(adversarial)) {
    it(`${name}: at most 40 steps per character`, () => {
      takeParseSteps();
      parseMarkdown(text);
      const steps = takeParseSteps();
      expect(steps).toBeLessThanOrEqual(40 * text.length);
      // Twice the text, about twice the work: linear, not quadratic.
      parseMarkdown(text + text);
      expect(takeParseSteps()).toBeLessThanOrEqual(2.5 * steps + 100);
    });
  }

  it("five times the longest message, of every kind above, parses within a second", () => {
    // Wall time as a second witness, with a bound a loaded CI machine keeps: these take
    // ~60 ms together here; the regex parser took 3.4 s (0.74 s for the backticks alone).
    const t0 = performance.now();
    for (const text of Object.values(adversarial)) parseInline(text.repeat(5));
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
