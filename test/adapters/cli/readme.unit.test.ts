import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readmePath, renderReadme } from "../../../adapters/cli/docs.ts";
import { commands } from "../../../adapters/cli/commands/index.ts";

describe("README", () => {
  it("carries the current CLI reference and event catalogue (run `npm run docs` after changing them)", () => {
    const text = readFileSync(readmePath, "utf8");
    expect(renderReadme(text)).toBe(text);
  });

  it("documents every command, and every documented command exists", () => {
    const text = readFileSync(readmePath, "utf8");
    const documented = [...text.matchAll(/^### `sophont ([a-z -]+)`$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(commands.map((c) => c.path.join(" ")).sort());
  });

  it("keeps the quickstart to two commands: the main job and the tests", () => {
    const text = readFileSync(readmePath, "utf8");
    const quick = text.slice(text.indexOf("## Quickstart"), text.indexOf("## Architecture"));
    const block = /```sh\n([\s\S]*?)```/.exec(quick)![1]!.trim().split("\n");
    expect(block).toHaveLength(2);
    expect(block[0]).toMatch(/npx sophont /);
    expect(block[1]).toMatch(/^npm test/);
  });
});
