// `sophont mcp` as a real stdio server, driven by the official MCP SDK's client (not by what we
// wrote): after a real night in which the frontier judge (the Messages API stand-in) quoted the
// texts it was sent, the client lists the tools and calls every read tool. A secret planted in an
// input and a private input's text never reach it; the redacted derived text does.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSophont, sophontBin } from "../../support/cli.ts";
import { useTestLog } from "../../support/nats.ts";
import { startMessagesStandIn, type MessagesStandIn } from "../../support/anthropic-stand-in.ts";
import { sectionDescriptions } from "../../support/debian-corpus.ts";

const log = useTestLog();
const home = mkdtempSync(join(tmpdir(), "sophont-mcp-sdk-"));
const DAY = "2026-12-01";
const KEY = "sk-ant-test-mcp-0123456789abcdef";
const SECRET = "captain.hook@jolly-roger.example";
const TOKEN = "ghp_Zx9Yw8Vu7Ts6Rq5Po4NmLk3Jh2Gf1Ed0CbA9";
const PRIVATE_WORDS = "Marguerite confided the Thursday appointment";
let api: MessagesStandIn;

const env = (over: Record<string, string> = {}): Record<string, string> => ({
  ...(process.env as Record<string, string>), SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul,
  TEST_ANTHROPIC_KEY: KEY, OTEL_SDK_DISABLED: "true", ...over,
});
const sophont = async (...args: string[]) => {
  const r = await runSophont(args, { env: env(), timeoutMs: 240_000 });
  expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(0);
  return r;
};

beforeAll(async () => {
  api = await startMessagesStandIn(KEY);
  // A judge that quotes what it was sent, as a frontier model explaining its verdict may.
  api.answer = (asked) => {
    const at = asked.indexOf("[REDACTED");
    return { coherent: true, reason: at < 0 ? "reads as plain English prose" : `it names ${asked.slice(Math.max(0, at - 20), at + 60)}` };
  };
  writeFileSync(join(home, "config.json"), JSON.stringify({
    judge: { provider: "anthropic", model: "claude-test", apiKeyEnv: "TEST_ANTHROPIC_KEY", when: "always", baseUrl: api.url, timeoutMs: 5_000, retries: 1, prices: { "claude-test": { inputPerMTok: 3, outputPerMTok: 15 } } },
  }));
  const texts = sectionDescriptions("utils", 8).map((d) => d.text);
  writeFileSync(join(home, "questions.txt"), "How do command-line tools process text files?\nWhat does a utility do with its input?\n");
  writeFileSync(join(home, "day.txt"), [...texts.slice(0, 6), `${texts[6]} Support: write to ${SECRET}; the deploy token is ${TOKEN}.`].join("\n\n"));
  mkdirSync(join(home, "diary"));
  writeFileSync(join(home, "diary", "entry.md"), `${PRIVATE_WORDS}. ${texts[7]}`);
  await sophont("preoccupation", "seed", join(home, "questions.txt"));
  await sophont("ingest", join(home, "day.txt"), "--day", DAY);
  await sophont("ingest", join(home, "diary", "entry.md"), "--day", DAY, "--private");
  await sophont("night", "--day", DAY);
}, 600_000);
afterAll(async () => (await api?.stop(), rmSync(home, { recursive: true, force: true })));

describe("sophont mcp through the official MCP SDK client (stdio)", () => {
  it("lists the tools, answers every read tool, and hands out redacted derived text only", async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [sophontBin, "mcp"], env: env({ SOPHONT_NATS_USER: "mcp", SOPHONT_NATS_PASSWORD: log.nats.secrets.mcp }), stderr: "pipe" });
    let stderr = "";
    transport.stderr?.on("data", (d) => (stderr += d));
    const client = new Client({ name: "sophont-test", version: "1.0.0" });
    try {
      await client.connect(transport, { timeout: 120_000 });
      expect(client.getServerVersion()).toMatchObject({ name: "sophont" });
      expect(client.getServerCapabilities()?.tools).toBeDefined();
      expect(await client.ping()).toEqual({});
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["events_tail", "ledger", "centroids", "audit_input", "mitosis_approve", "mitosis_decline"]));
      for (const t of tools) expect(t.inputSchema.type).toBe("object");

      const text = (r: Awaited<ReturnType<typeof client.callTool>>): string => {
        expect(r.isError, JSON.stringify(r.content)).toBe(false);
        return (r.content as Array<{ type: string; text: string }>).map((c) => c.text).join("\n");
      };
      const tail = JSON.parse(text(await client.callTool({ name: "events_tail", arguments: { last: 500 } }))) as Array<{ type: string; data: Record<string, unknown> }>;
      const scored = tail.filter((e) => e.type === "InputScored") as unknown as Array<{ data: { inputId: string; coherence: { detail: string } } }>;
      expect(scored.length).toBe(tail.filter((e) => e.type === "InputReceived").length);
      const quoted = scored.find((e) => e.data.coherence.detail.includes("[REDACTED:email]"));
      expect(quoted, "the judge's quote of the planted input, redacted").toBeDefined();
      expect(quoted!.data.coherence.detail).toMatch(/^anthropic claude-test: it names/);
      const privateId = (tail.find((e) => e.type === "InputMarkedPrivate")!.data as { inputId: string }).inputId;
      expect(scored.find((e) => e.data.inputId === privateId)!.data.coherence.detail).toBe("[withheld by the airlock]");

      const reads = [
        JSON.stringify(tail),
        ...(await Promise.all(["sft", "shadow", "anchor"].map(async (which) => text(await client.callTool({ name: "ledger", arguments: { which } }))))),
        text(await client.callTool({ name: "centroids", arguments: {} })),
        text(await client.callTool({ name: "audit_input", arguments: { inputId: quoted!.data.inputId } })),
        text(await client.callTool({ name: "audit_input", arguments: { inputId: privateId } })),
      ].join("\n");
      expect(reads).toContain("[REDACTED:email]");
      for (const leak of [SECRET, "jolly-roger", TOKEN, KEY, "Marguerite", "Thursday appointment"]) expect(reads).not.toContain(leak);

      const missing = await client.callTool({ name: "audit_input", arguments: { inputId: "no-such-input" } });
      expect(missing.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect(stderr).toMatch(/serving on stdio/);
  }, 300_000);
});
