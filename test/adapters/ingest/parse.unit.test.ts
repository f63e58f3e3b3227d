import { describe, expect, it } from "vitest";
import { formatOf, inputIdOf, normalise, parseInputs } from "../../../adapters/ingest/parse.ts";

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
});
