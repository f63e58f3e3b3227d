import { describe, expect, it } from "vitest";
import { formatOf, inputIdOf, normalise, parseInputs, parseStream } from "../../../adapters/ingest/parse.ts";

const b = (s: string) => Buffer.from(s, "utf8");
const max = 1000;

describe("ingest parsing", () => {
  it("normalises before hashing: line ends, trailing spaces, NFC, outer blank lines", () => {
    expect(normalise("  \r\nCafe\u0301 au lait  \r\n\r\n")).toBe("Café au lait");
    expect(inputIdOf(normalise("a\r\nb"))).toBe(inputIdOf(normalise("a\nb  ")));
  });

  it("cuts text into paragraphs, logs into lines, Markdown as one input, by default", () => {
    expect(parseInputs(b("one\n\n two \n\n\nthree"), { format: "text", maxBytes: max }).map((p) => ("text" in p ? p.text : p.refusal))).toEqual(["one", "two", "three"]);
    expect(parseInputs(b("l1\nl2\n\nl3\n"), { format: "log", maxBytes: max })).toHaveLength(3);
    expect(parseInputs(b("l1\nl2\n\nl3\n"), { format: "log", split: "paragraph", maxBytes: max })).toHaveLength(2);
    expect(parseInputs(b("# T\n\nbody\n\nmore"), { format: "markdown", maxBytes: max })).toHaveLength(1);
  });

  it("reads JSON Lines: the text field is the input, the other fields its metadata; bad lines are refused", () => {
    const pieces = parseInputs(b('{"text":"a","tag":1}\n\n{"nope":2}\nnot json\n'), { format: "jsonl", maxBytes: max });
    expect(pieces[0]).toEqual({ index: 0, text: "a", bytes: 1, metadata: { tag: 1 } });
    expect(pieces.slice(1).map((p) => ("refusal" in p ? p.refusal : "?"))).toEqual(["malformed", "malformed"]);
  });

  it("refuses binary data, invalid UTF-8, empty inputs and inputs over the hard maximum, naming why", () => {
    const reason = (bytes: Uint8Array, maxBytes = max) => parseInputs(bytes, { format: "text", maxBytes }).map((p) => ("refusal" in p ? p.refusal : "ok"));
    expect(reason(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 1]))).toEqual(["binary"]);
    expect(reason(new Uint8Array([0x68, 0xc3, 0x28, 0x69]))).toEqual(["invalid-utf8"]);
    expect(reason(new Uint8Array())).toEqual(["empty"]);
    expect(reason(b("   \n\n  "))).toEqual(["empty"]);
    expect(reason(b("x".repeat(50)), 10)).toEqual(["too-large"]);
  });

  it("guesses the format from the file name", () => {
    expect(["a.md", "b.jsonl", "c.log", "d.log.1", "e.txt", "f"].map(formatOf)).toEqual(["markdown", "jsonl", "log", "log", "text", "text"]);
  });

  it("refuses a bad paragraph or line, not the whole file", () => {
    const bytes = Buffer.concat([b("good one\n\n"), Buffer.from([0x62, 0xff, 0x0a, 0x0a]), b("good two")]);
    expect(parseInputs(bytes, { format: "text", maxBytes: max }).map((p) => ("text" in p ? p.text : `${p.index}:${p.refusal}`))).toEqual(["good one", "1:invalid-utf8", "good two"]);
    const jsonl = Buffer.concat([b('{"text":"a"}\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), b('{"text":"c"}\n')]);
    expect(parseInputs(jsonl, { format: "jsonl", maxBytes: max }).map((p) => ("text" in p ? p.text : `${p.index}:${p.refusal}`))).toEqual(["a", "1:invalid-utf8", "c"]);
  });

  it("refuses NULs anywhere, invisible-only and binary-looking texts, and lone surrogates", () => {
    const reasons = (s: string | Buffer, format: "text" | "jsonl" = "text") => parseInputs(typeof s === "string" ? b(s) : s, { format, maxBytes: 100_000 }).map((p) => ("refusal" in p ? p.refusal : "ok"));
    // A NUL past the first 8 KiB, where the file-level sniff does not look.
    expect(reasons(`${"plain words ".repeat(1000)}\n\nhidden\u0000nul\n\nfine`)).toEqual(["ok", "binary", "ok"]);
    expect(reasons("\u200b\u200d\u2060\ufeff\u00ad")).toEqual(["empty"]);
    expect(reasons("\u0001\u0002\u0003xy")).toEqual(["binary"]);
    expect(reasons('{"text":"broken \\ud800 pair"}', "jsonl")).toEqual(["invalid-utf8"]);
    expect(reasons('{"text":"ok","note":"a\\u0000b"}', "jsonl")).toEqual(["binary"]);
    // Log colours are text.
    expect(reasons("\u001b[31mERROR\u001b[0m disk full on /var")).toEqual(["ok"]);
  });

  it("bounds JSON Lines metadata: size, depth (no stack overflow), and the texts' own checks", () => {
    const refusal = (line: string, maxBytes = 100_000) => parseInputs(b(line), { format: "jsonl", maxBytes })[0]!;
    expect(refusal(JSON.stringify({ text: "t", blob: "x".repeat(20_000) }))).toMatchObject({ refusal: "too-large", detail: expect.stringMatching(/metadata of \d+ bytes, over the bound of 16384/) });
    expect(refusal(`{"text":"t","m":${"[".repeat(100_000)}${"]".repeat(100_000)}}`)).toMatchObject({ refusal: "malformed", detail: expect.stringMatching(/nested deeper than 16/) });
    expect(refusal(JSON.stringify({ text: "t", prompt: 3 }))).toMatchObject({ refusal: "malformed" });
    expect(refusal(JSON.stringify({ text: "t", prompt: "p".repeat(200) }), 100)).toMatchObject({ refusal: "too-large" });
    // A long prompt is a text, not metadata: held to the input maximum, not to 16 KiB.
    expect(refusal(JSON.stringify({ text: "t", prompt: "p ".repeat(20_000) }))).toMatchObject({ text: "t" });
  });

  it("streams: a piece far over the limit is refused while it passes, never held; the rest goes on", async () => {
    async function* huge() {
      yield b("first paragraph\n\n");
      for (let i = 0; i < 40; i++) yield b("z".repeat(64 * 1024));
      yield b("\n\nlast paragraph\n");
    }
    const pieces = [];
    for await (const p of parseStream(huge(), { format: "text", maxBytes: 1000 })) pieces.push(p);
    expect(pieces.map((p) => ("text" in p ? p.text : `${p.index}:${p.refusal}:${p.bytes}`))).toEqual(["first paragraph", `1:too-large:${40 * 64 * 1024}`, "last paragraph"]);
  });
});
