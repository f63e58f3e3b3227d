import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The README's quickstart, as a new user runs it: in a fresh clone, through npx, then the demo's own
// "look next" lines pasted one by one. npm ci runs offline from the npm cache (the packages are the
// lockfile's; the network is not what this test is about) and without audit or funding requests.
const repo = fileURLToPath(new URL("../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sophont-quickstart-"));
const clone = join(dir, "sophont");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, SOPHONT_HOME: join(dir, "home"), SOPHONT_NATS_URL: "", npm_config_offline: "true", npm_config_audit: "false", npm_config_fund: "false" };
  for (const k of Object.keys(e)) if (k.startsWith("OTEL_") || k.startsWith("VITEST") || k === "NODE_OPTIONS") delete e[k];
  return e;
};
const sh = (line: string) => spawnSync("bash", ["-c", line], { cwd: clone, env: env(), encoding: "utf8", timeout: 1_500_000 }); // npm ci takes minutes on a loaded machine

describe("the README's quickstart", () => {
  it("works as written in a fresh clone: npm ci && npx sophont demo, the test script, and each look-next line", () => {
    const readme = readFileSync(join(repo, "README.md"), "utf8");
    const quick = readme.slice(readme.indexOf("## Quickstart"), readme.indexOf("## Architecture"));
    const lines = /```sh\n([\s\S]*?)```/.exec(quick)![1]!.trim().split("\n").map((l) => l.replace(/\s+#.*$/, "").trim());
    expect(lines[0]).toMatch(/^npm ci && npx sophont demo/);

    const cloned = spawnSync("git", ["clone", "--quiet", repo, clone], { encoding: "utf8" });
    expect(cloned.status, cloned.stderr).toBe(0);
    const demo = sh(lines[0]!);
    expect(demo.status, `${demo.stdout.slice(-3000)}\n${demo.stderr.slice(-3000)}`).toBe(0);
    expect(demo.stdout).toMatch(/summary \(read from the events\)/);

    // `npm test`: the script exists and the config it names is in the clone.
    const [npmTest] = lines.slice(1);
    expect(npmTest).toMatch(/^npm test/);
    const pkg = JSON.parse(readFileSync(join(clone, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toBeDefined();
    const config = /--config (\S+)/.exec(pkg.scripts.test!)?.[1];
    if (config) expect(existsSync(join(clone, config))).toBe(true);

    // Each "look next" line runs as printed, one per line, on the demo's home.
    const next = demo.stdout.slice(demo.stdout.indexOf("look next")).split("\n").slice(1).map((l) => l.trim()).filter((l) => l.startsWith("SOPHONT_HOME="));
    expect(next.length).toBeGreaterThanOrEqual(6);
    for (const l of next) {
      const r = sh(l);
      expect(r.status, `${l}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`).toBe(0);
      expect(r.stdout.trim().length, l).toBeGreaterThan(0);
    }
    // The trace line finds the demo's own spans.
    const trace = next.find((l) => / trace /.test(l));
    expect(trace).toBeDefined();
    expect(sh(trace!).stdout).toMatch(/night|Night/);
  }, 1_800_000);
});
