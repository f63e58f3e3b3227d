import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands } from "../../../adapters/cli/commands/index.ts";
import { loadConfig } from "../../../adapters/cli/config.ts";
import { percent, readable, resolveId } from "../../../adapters/cli/format.ts";
import { main } from "../../../adapters/cli/main.ts";
import { openRuntime, type Runtime } from "../../../adapters/cli/runtime.ts";

// What a user hits in the first hour, on the log of a real demo run (three simulated days, no training).
const home = mkdtempSync(join(tmpdir(), "sophont-first-hour-"));
const demoHome = join(home, "demo");
let rt: Runtime | undefined;

/** Runs `sophont ARGS` in this process on the demo's home. */
const sophont = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, "--home", demoHome], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
};
const json = async (...args: string[]) => {
  const r = await sophont(...args, "--json");
  expect(r.code, `${r.err}\n${r.out}`).toBe(0);
  return JSON.parse(r.out);
};
const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");

beforeAll(async () => {
  process.env.OTEL_SDK_DISABLED = "true";
  const out: string[] = [];
  const code = await main(["demo", "--nights", "3", "--no-train", "--home", home], { out: (s) => out.push(s), err: (s) => out.push(s) });
  expect(code, out.join("\n")).toBe(0);
  // Keep the demo home's server up for the commands below, as `sophont up` would.
  rt = await openRuntime(loadConfig({ home: demoHome }));
}, 300_000);

afterAll(async () => {
  await rt?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("the first hour", () => {
  it("--json on every command that prints a result; servers and data writers say why not", async () => {
    const noResult: Record<string, string> = { up: "a server in the foreground", mcp: "a server on stdio", "ledger export": "prints JSON Lines already", completion: "prints a shell script", dashboard: "a server in the foreground" };
    for (const c of commands) {
      const name = c.path.join(" ");
      if (name in noResult) continue;
      expect(c.options, `sophont ${name} has no --json`).toHaveProperty("json");
      expect(c.usage, name).toContain("--json");
    }
    const report = await json("report", "--out", join(home, "r.html"));
    expect(report).toMatchObject({ out: join(home, "r.html"), nights: 3 });
    const hosts = await json("host", "list");
    expect(hosts).toEqual({ hosts: [] });
    const declined = await sophont("mitosis", "decline", "no-such-proposal", "--json");
    expect(declined.code).toBe(1);
    expect(declined.err).toMatch(/refused/);
  });

  it("events tail filters by type before it keeps the last N", async () => {
    const all = lines((await sophont("events", "tail", "--type", "InputRejected", "--last", "100000", "--json")).out).map((l) => JSON.parse(l));
    expect(all.length).toBeGreaterThan(5);
    const two = lines((await sophont("events", "tail", "--type", "InputRejected", "--last", "2", "--json")).out).map((l) => JSON.parse(l));
    expect(two.map((e) => e.seq)).toEqual(all.slice(-2).map((e) => e.seq));
    const none = await sophont("events", "tail", "--type", "InputRejected", "--last", "0");
    expect(none.out).toBe("");
  });

  it("the human event line shows a decision's cause and reason and short ids, never a 64-hex id", async () => {
    const [rejected] = lines((await sophont("events", "tail", "--type", "InputRejected", "--last", "1", "--json")).out).map((l) => JSON.parse(l));
    const line = (await sophont("events", "tail", "--type", "InputRejected", "--last", "1")).out;
    expect(line).toContain(rejected.data.inputId.slice(0, 12));
    expect(line).toContain(`${rejected.data.cause}:`);
    expect(line).toContain(rejected.data.reason.slice(0, 30).replace(/[0-9a-f]{64}/g, (h: string) => h.slice(0, 12)));
    const many = (await sophont("events", "tail", "--last", "200")).out;
    expect(many).not.toMatch(/[0-9a-f]{64}/);
  });

  it("short ids work wherever an id does; audit input shows the text until it is forgotten", async () => {
    const [accepted] = lines((await sophont("events", "tail", "--type", "InputAccepted", "--last", "1", "--json")).out).map((l) => JSON.parse(l));
    const id: string = accepted.data.inputId;
    const audit = await sophont("audit", "input", id.slice(0, 12));
    expect(audit.code, audit.err).toBe(0);
    expect(audit.out).toContain(`input ${id}`);
    // The text shown is the one the demo wrote into its inbox.
    const text = /^ {2}text: (.*)$/m.exec(audit.out)![1]!;
    const inbox = readdirSync(join(demoHome, "inbox")).map((f) => readFileSync(join(demoHome, "inbox", f), "utf8")).join("\n");
    expect(text.length).toBeGreaterThan(10);
    expect(inbox).toContain(text.split("\n")[0]);
    expect((await json("audit", "input", id.slice(0, 12))).text).toBeTruthy();

    const tooShort = await sophont("audit", "input", id.slice(0, 3));
    expect(tooShort.code).toBe(2);
    expect(tooShort.err).toMatch(/at least its first 6 characters/);
    const unknown = await sophont("audit", "input", "ffffff0000");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no input ffffff0000/);

    const forgotten = await json("forget", id.slice(0, 12));
    expect(forgotten).toMatchObject({ inputId: id, pending: 0 });
    const after = await sophont("audit", "input", id.slice(0, 12));
    expect(after.out).toMatch(/text: forgotten/);
    expect(after.out).not.toContain(text);
  });

  it("an ambiguous prefix is refused with the candidates", () => {
    const known = ["abcdef0123456789", "abcdef9876543210", "123456abcdef0000"];
    expect(resolveId("123456", known, "input")).toBe("123456abcdef0000");
    expect(() => resolveId("abcdef", known, "input")).toThrow(/ambiguous: 2 match[\s\S]*abcdef0123456789[\s\S]*abcdef9876543210/);
  });

  it("status says nothing is running instead of showing every projection lagging", async () => {
    const s = await sophont("status");
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/^running {5}nothing: `sophont up` is not running/m);
    expect(s.out).not.toMatch(/\blag\b/);
    expect((await json("status")).running).toBeNull();
  });

  it("numbers print as people read them", () => {
    expect(percent(-Infinity)).toBe("-∞%");
    expect(percent(1.63e264)).toBe("over +10000%");
    expect(percent(-0.1234)).toBe("-12.3%");
    expect(percent(undefined)).toBe("-");
    expect(readable(1e308)).toBe("∞");
    expect(readable(3.14159)).toBe("3.14");
    expect(`${percent(1.63e264)} ${readable(Infinity)}`).not.toMatch(/e\+|Infinity|NaN/);
  });

  it("report --out into a missing folder says what to do", async () => {
    const missing = join(home, "no", "such", "folder", "report.html");
    const r = await sophont("report", "--out", missing);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`the folder ${join(home, "no", "such", "folder")} does not exist`);
    expect(r.err).toMatch(/mkdir -p/);
    expect(r.err).not.toMatch(/ENOENT/);
  });

  it("completion scripts load in bash and zsh and complete command words and flags", async () => {
    const bash = (await sophont("completion", "bash")).out;
    const zsh = (await sophont("completion", "zsh")).out;
    writeFileSync(join(home, "c.bash"), bash);
    writeFileSync(join(home, "c.zsh"), zsh);
    const inBash = (words: string[]) =>
      execFileSync("bash", ["-c", `source ${join(home, "c.bash")} && COMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}) && COMP_CWORD=${words.length - 1} && _sophont && printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" }).trim().split("\n");
    expect(inBash(["sophont", "ev"])).toEqual(["events"]);
    expect(inBash(["sophont", "events", "tail", "--l"])).toEqual(["--last"]);
    expect(inBash(["sophont", "audit", ""]).sort()).toEqual(["adapter", "egress", "input"]);
    // zsh: the real completer, inside compinit, with compadd standing for the completion widget's.
    const inZsh = (words: string[]) =>
      execFileSync("zsh", ["-f", "-c", `source ${join(home, "c.zsh")} && [[ $_comps[sophont] == _sophont ]] && compadd() { print -rl -- "\${(@P)2}" } && words=(${words.map((w) => `"${w}"`).join(" ")}) && CURRENT=${words.length} && _sophont`], { encoding: "utf8", env: { ...process.env, HOME: home } }).trim().split("\n");
    expect(inZsh(["sophont", ""])).toContain("events");
    expect(inZsh(["sophont", "events", ""])).toEqual(["tail"]);
    expect(inZsh(["sophont", "events", "tail", ""])).toContain("--last");
  });
});
