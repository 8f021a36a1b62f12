import { describe, expect, it } from "vitest";
import { fireEvent, render } from "@testing-library/react";
import { Markdown, parseMarkdown, safeHref, type RenderContext } from "../chat/markdown";

const ctx: RenderContext = {
  userName: (id) => ({ "100": "Ann", "200": "Bob" })[id] ?? "unknown",
  roleName: () => "Mods",
  myId: "100",
};

function md(content: string) {
  const { container } = render(
    <div data-testid="root">
      <Markdown content={content} ctx={ctx} />
    </div>,
  );
  return container.firstElementChild as HTMLElement;
}

describe("markdown renderer", () => {
  it("renders HTML in content as text, never as markup", () => {
    const root = md('<img src=x onerror="alert(1)"><script>alert(2)</script> <b>bold?</b>');
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect(root.querySelector("b")).toBeNull();
    expect(root.textContent).toBe('<img src=x onerror="alert(1)"><script>alert(2)</script> <b>bold?</b>');
  });

  it("quotes lines starting with '> ' and everything after '>>> '", () => {
    const root = md("> first **quoted**\n> second\nnot quoted\n>>> all\nof this");
    const quotes = root.querySelectorAll("blockquote");
    expect(quotes).toHaveLength(2);
    expect(quotes[0].textContent).toBe("first quotedsecond");
    expect(quotes[0].querySelector("strong")?.textContent).toBe("quoted");
    expect(quotes[1].textContent).toBe("allof this");
    expect(root.textContent).toContain("not quoted");
    // Not a quote: no space after '>', or in the middle of a line.
    expect(md(">no space, a > b").querySelector("blockquote")).toBeNull();
  });

  it("hides spoilers until clicked", () => {
    const root = md("the boss is ||**Dad**|| and || no closer");
    const spoiler = root.querySelector("[data-spoiler]") as HTMLElement;
    expect(spoiler).not.toBeNull();
    expect(spoiler).toHaveAttribute("role", "button");
    expect(spoiler.className).toContain("text-transparent");
    fireEvent.click(spoiler);
    expect(root.querySelector("[data-spoiler]")).toBeNull();
    expect(root.querySelector("strong")?.textContent).toBe("Dad");
    expect(root.textContent).toContain("|| no closer");
  });

  it("renders bold, italic, underline and strike, nested", () => {
    const root = md("**bold *and italic*** _it_ __under__ ~~gone~~");
    expect(root.querySelector("strong")?.textContent).toBe("bold and italic");
    expect(root.querySelector("strong em")?.textContent).toBe("and italic");
    expect([...root.querySelectorAll("em")].map((e) => e.textContent)).toContain("it");
    expect(root.querySelector("u")?.textContent).toBe("under");
    expect(root.querySelector("s")?.textContent).toBe("gone");
  });

  it("leaves snake_case identifiers alone", () => {
    const root = md("call my_func_name now");
    expect(root.querySelector("em")).toBeNull();
    expect(root.textContent).toBe("call my_func_name now");
  });

  it("does not parse markdown inside inline code or code blocks", () => {
    const root = md("run `**not bold** <i>` then\n```js\nconst a = **b**;\n<div>\n```\nafter");
    const codes = root.querySelectorAll("code");
    expect(codes[0].textContent).toBe("**not bold** <i>");
    expect(root.querySelector("pre")?.getAttribute("data-lang")).toBe("js");
    expect(root.querySelector("pre code")?.textContent).toBe("const a = **b**;\n<div>");
    expect(root.querySelector("strong")).toBeNull();
    expect(root.textContent).toContain("after");
  });

  it("links http(s) URLs safely and refuses javascript: links", () => {
    const root = md("see https://example.com/a?b=1. and [docs](https://docs.example.com) or [evil](javascript:alert(1))");
    const links = [...root.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.com/a?b=1", "https://docs.example.com/"]);
    for (const a of links) {
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
      expect(a.getAttribute("target")).toBe("_blank");
    }
    expect(links[1].textContent).toBe("docs");
    expect(root.textContent).toContain("[evil](javascript:alert(1))");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,hi")).toBeNull();
  });

  it("renders mentions with names and keeps line breaks", () => {
    const root = md("hi <@100> and <@200>\n<@&11> @everyone");
    expect(root.textContent).toContain("@Ann");
    expect(root.textContent).toContain("@Bob");
    expect(root.textContent).toContain("@Mods");
    expect(root.querySelectorAll("br")).toHaveLength(1);
  });

  it("an unclosed fence runs to the end", () => {
    expect(parseMarkdown("```\nopen")).toEqual([{ t: "codeblock", v: "open", lang: null }]);
  });
});
