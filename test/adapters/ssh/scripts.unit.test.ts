import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { meets } from "../../../adapters/ssh/provider.ts";
import { assertJobId, parseGpus, shQuote } from "../../../adapters/ssh/scripts.ts";
import { utf8Boundary } from "../../../adapters/ssh/transfer.ts";

describe("shell quoting", () => {
  it("gives /bin/sh exactly the original word, whatever it holds", () => {
    for (const value of ["plain", "it's", "$HOME `id` \\ \"x\"", "a\nb", "", "'''", "-n"]) {
      expect(execFileSync("/bin/sh", ["-c", `printf '%s' ${shQuote(value)}`]).toString()).toBe(value);
    }
  });

  it("accepts only safe job ids", () => {
    expect(() => assertJobId("job-2026.11.25_a")).not.toThrow();
    for (const bad of ["", "../x", "a/b", ".hidden", "a b", "x".repeat(129)]) expect(() => assertJobId(bad)).toThrow(/invalid job id/);
  });
});

describe("utf8Boundary", () => {
  it("never cuts a character in two", () => {
    const bytes = Buffer.from("aé€😀");
    for (let n = 0; n <= bytes.length; n++) {
      const end = utf8Boundary(bytes.subarray(0, n));
      expect(end).toBeLessThanOrEqual(n);
      expect(Buffer.from(bytes.subarray(0, end).toString("utf8")).equals(bytes.subarray(0, end))).toBe(true);
    }
    expect(utf8Boundary(bytes)).toBe(bytes.length);
    expect(utf8Boundary(bytes.subarray(0, bytes.length - 1))).toBe(bytes.length - 4);
  });
});

describe("GPU expectations", () => {
  const h100 = parseGpus("NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n");

  it("parses nvidia-smi's csv", () => {
    expect(h100).toEqual([{ name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559 }, { name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559 }]);
    expect(parseGpus("")).toEqual([]);
  });

  it("matches model by substring and memory with a little slack", () => {
    expect(meets(h100, { kind: "cuda", model: "h100", minMemoryGiB: 80 })).toBe(true);
    expect(meets(h100, { kind: "cuda", model: "A100" })).toBe(false);
    expect(meets(h100, { kind: "cuda", minMemoryGiB: 141 })).toBe(false);
    expect(meets([], { kind: "cuda" })).toBe(false);
    expect(meets([], { kind: "none" })).toBe(true);
  });
});
