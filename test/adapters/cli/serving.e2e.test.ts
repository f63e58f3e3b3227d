import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
import { readGguf } from "../../../adapters/llm/gguf/reader.ts";
import { boostTokensAdapter, writeLoraAdapter } from "../../../adapters/llm/tiny/lora.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import { collect, meta } from "../../support/events.ts";
import { useTestLog } from "../../support/nats.ts";
import { corpusLines, tinyModels } from "../llm/support.ts";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-serving-"));
const log = useTestLog();
afterAll(() => rmSync(home, { recursive: true, force: true }));

const sophont = (...args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
  const env = {
    ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul,
    SOPHONT_MODEL: tinyModels().lmPath, SOPHONT_EMBEDDER: tinyModels().embedderPath,
  };
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const t = Date.now();
  return new Promise((resolve) => child.on("close", (code) => (console.log(`[serving] sophont ${args[0]}: ${((Date.now() - t) / 1000).toFixed(1)} s, exit ${code}\n${err.slice(-600)}`), resolve({ code, out, err }))));
};

/** A promotion as the log holds it: the job, its adapter in the content store, the verdict. */
const promote = async (jobId: string, bytes: Uint8Array): Promise<string> => {
  const sha = createHash("sha256").update(bytes).digest("hex");
  expect(await log.content.put(bytes)).toBe(sha);
  const ledger = { atSeq: 0, sft: [], heldOut: [], anchor: [], shadow: [] };
  const merge = { method: "none" as const, mergedFrom: [], k: 0, lambda: 1, reconstructionError: 0, maxTensorReconstructionError: 0 };
  const events: DomainEvent[] = [
    { type: "TrainingRequested", data: { jobId, host: null, baseModelSha256: "b", recipe: tinyRecipe, ledger, mergeWith: [], deadlineMs: 60_000, requestedBy: "test" } },
    { type: "AdapterTrained", data: { jobId, adapterSha256: sha, microSha256: sha, bytes: bytes.length, rank: 4, alpha: 8, merge, before: { sftLoss: null, anchorLoss: null }, after: { sftLoss: null, anchorLoss: null }, seconds: 1 } },
    { type: "AdapterPromoted", data: { jobId, adapterSha256: sha, previousSha256: null } },
  ];
  await log.store.append(events.map((event) => ({ event, metadata: meta() })));
  return sha;
};

describe("every process that scores uses what serves", () => {
  it("a standalone night and replay --verify load the promoted adapter from the log; InputScored records its hash", async () => {
    const questions = join(home, "questions.txt");
    writeFileSync(questions, "How do you trim a sail as the wind rises?\nWhen should a crew reef the mainsail?\n");
    expect((await sophont("preoccupation", "seed", questions)).code).toBe(0);
    const day = join(home, "day.txt");
    writeFileSync(day, corpusLines("heldout", "sailing").slice(0, 6).join("\n\n"));
    expect((await sophont("ingest", day, "--day", "2026-11-20")).code).toBe(0);

    const vocab = readGguf(tinyModels().lmPath).metadata.get("tokenizer.ggml.tokens");
    const file = join(home, "boost.gguf");
    writeLoraAdapter(file, boostTokensAdapter(vocab?.kind === "array" ? vocab.value.length : 0, [5, 6], 1));
    const sha = await promote("job-serving-1", readFileSync(file));

    const night = await sophont("night", "--day", "2026-11-20", "--json");
    expect(night.code, night.err).toBe(0);
    expect(night.err).toContain(`scoring with the serving adapter ${sha.slice(0, 12)}`);
    const scored = await collect(log.store.read({ types: new Set(["InputScored"]) }));
    expect(scored.length).toBe(6);
    for (const e of scored) if (e.type === "InputScored") expect(e.data.models.adapter).toBe(sha);

    const verify = await sophont("replay", "--verify", "--json");
    expect(verify.err).toContain(`the serving adapter ${sha.slice(0, 12)}`);
    const findings = (JSON.parse(verify.out) as { findings: Array<{ why: string }> }).findings;
    expect(findings.filter((f) => f.why === "adapter")).toEqual([]);
    expect(verify.code).toBe(0);
  }, 400_000);
});
