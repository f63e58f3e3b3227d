// The airlock between the ledgers and a GPU host: the Muscle's real upload step over a real sshd,
// the host's files read back, their token ids decoded with the model's own vocabulary, and the
// planted secret and the private input looked for in the decoded text.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Effect } from "effect";
import { requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import { JobSteps } from "../../../actors/muscle/steps.ts";
import { initialJobState } from "../../../actors/muscle/muscle.decider.ts";
import { defaultPolicy } from "../../../actors/salience/salience.policy.ts";
import { derivedEventId } from "../../../actors/ids.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { readGguf } from "../../../adapters/llm/gguf/reader.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { Egress } from "../../../adapters/egress/egress.ts";
import { ingestPrivacy } from "../../../adapters/egress/ingest.ts";
import { airlockFrom } from "../../../adapters/egress/policy.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { trainingMaterials } from "../../../adapters/training/materials.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { corpusLines } from "../llm/support.ts";
import { collect } from "../../support/events.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostsFileFor, startWorld, type World } from "../../actors/muscle/support.ts";

let w: World;
let sshd: Sshd;
let provider: StaticSshProvider;
let vocab: readonly string[];
const workDir = `sophont-airlock-${process.pid}`;

/** An e-mail address made of words the tiny model knows, so that it survives tokenization unredacted. */
let secret: string;
let privateLine: string;
const sailing = corpusLines("heldout", "sailing");

const decode = (ids: readonly number[]): string => ids.map((i) => vocab[i] ?? "").map((t) => (t.startsWith("\u2581") ? ` ${t.slice(1)}` : t)).join("").replace(/\s+/g, " ").trim();
const tokenIdsOf = async (text: string) => (await Effect.runPromise(w.lm.tokenize(text))).slice(1);

/** Every row of every .jsonl file under the host user's work directory, decoded. */
const hostText = (jobId: string): string => {
  const dir = path.join(sshd.home, workDir, "jobs", jobId);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".jsonl")) {
        for (const line of readFileSync(p, "utf8").split("\n").filter(Boolean)) {
          const row = JSON.parse(line) as Record<string, number[]>;
          for (const ids of Object.values(row)) out.push(decode(ids));
        }
      }
    }
  };
  walk(dir);
  return out.join("\n");
};

beforeAll(async () => {
  [w, sshd] = await Promise.all([startWorld(), startSshd()]);
  const tokens = readGguf(w.lmPath).metadata.get("tokenizer.ggml.tokens");
  vocab = tokens?.kind === "array" ? (tokens.value as string[]) : [];
  const known = (word: string) => vocab.includes(`\u2581${word}`);
  const words = [...new Set(sailing.join(" ").toLowerCase().match(/[a-z]{4,}/g) ?? [])].filter(known);
  expect(words.length).toBeGreaterThan(4);
  secret = `${words[0]}.${words[1]}@${words[2]}.${words[3]}`;
  privateLine = sailing[7]!;
  const lines = sailing.slice(0, 7).map((l, i) => (i === 2 ? `${l} Write to ${secret} for the charts.` : l));
  const day = "2026-11-24";
  const egress = new Egress(w.store, airlockFrom(undefined));
  await ingestFiles({ store: w.store, content: w.content }, [{ path: "log/sailing.log", bytes: Buffer.from(lines.join("\n")) }], { day, maxBytes: 10_000, correlationId: "seed" });
  await ingestFiles({ store: w.store, content: w.content }, [{ path: "log/diary.log", bytes: Buffer.from(privateLine) }], { day, maxBytes: 10_000, correlationId: "seed-private", privacy: ingestPrivacy(egress, { flag: true, correlationId: "seed-private" }) });
  const received = await collect(w.store.read({ types: new Set(["InputReceived"]) }));
  const models = { model: w.lm.identity.sha256, adapter: null, embedder: "none" };
  await w.store.append(received.map((e, i) => ({
    event: { type: "InputAccepted" as const, data: { inputId: (e.data as { inputId: string }).inputId, nightId: day, reason: "seeded", policy: defaultPolicy, models, nearest: "preoccupation", similarity: 0.9, surprise: 1, questionVector: [1, 0] } },
    metadata: { id: `accept-${i}`, time: new Date().toISOString(), actor: "salience", causationId: e.metadata.id, correlationId: "seed" },
  })));
  provider = new StaticSshProvider(hostsFileFor(w, sshd, workDir), { retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 } });
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  await w?.close();
});

/** Provisions the loopback host and runs the Muscle's upload step for a job under `airlock` (a config object). */
const upload = async (jobId: string, airlock: unknown) => {
  const data = requestTraining(await projectAt(w.store, ledgers, "now"), await projectAt(w.store, lineage, "now"), {
    jobId, host: "loopback", recipe: tinyRecipe, baseModelSha256: w.lm.identity.sha256, atSeq: await w.store.lastSeq(), deadlineMs: 120_000, requestedBy: "test",
  });
  const egress = new Egress(w.store, airlockFrom(airlock), { actor: "muscle" });
  const record = async (key: string, event: Parameters<ConstructorParameters<typeof JobSteps>[3]>[1]) =>
    void (await w.store.append([{ event, metadata: { id: derivedEventId("muscle", jobId, key), time: new Date().toISOString(), actor: "muscle", causationId: null, correlationId: jobId } }]));
  const steps = new JobSteps({ ...data, ledger: { ...data.ledger, sft: [...data.ledger.sft, ...data.ledger.heldOut] } }, initialJobState(), { providers: { ssh: provider }, materials: trainingMaterials(w.content, w.lm, w.lmPath), scratchDir: w.scratch, airlock: egress, cleanRemote: false }, record, () => Date.now());
  await steps.provision();
  await steps.upload();
  await steps.release(false);
  const events = await collect(w.store.read({ types: new Set(["EgressRecorded", "DatasetUploaded", "AirlockPolicySet"]) }));
  const egressed = events.filter((e) => e.type === "EgressRecorded" && e.data.purpose.includes(jobId)).map((e) => e.data as EventData<"EgressRecorded">);
  expect(egressed).toHaveLength(1);
  return { text: hostText(jobId), egress: egressed[0]!, version: egress.policyVersion, events };
};

describe("the airlock between the ledgers and the GPU host (a real sshd)", () => {
  it("sends redacted texts by default: the decoded host files hold neither the e-mail address nor the private input", async () => {
    const secretDecoded = decode(await tokenIdsOf(secret));
    const privateDecoded = decode(await tokenIdsOf(privateLine));
    // "@" is no piece of the tiny vocabulary ([UNK]); the words around it are, so the address stays recognisable.
    expect(secretDecoded.split(" ").length).toBeGreaterThanOrEqual(5);
    const r = await upload("job-redacted", undefined);
    expect(r.text).not.toContain(secretDecoded);
    expect(r.text).not.toContain(privateDecoded);
    expect(r.text).toContain(decode(await tokenIdsOf(sailing[0]!)));
    expect(r.egress).toMatchObject({ destination: "gpu-host", target: "loopback", mode: "redacted", policyVersion: r.version, withheld: 1 });
    expect(r.egress.redactions.email).toBeGreaterThanOrEqual(1);
    const sent = readFileSync(path.join(sshd.home, workDir, "jobs", "job-redacted", "sft.jsonl"), "utf8") + readFileSync(path.join(sshd.home, workDir, "jobs", "job-redacted", "anchor.jsonl"), "utf8") + readFileSync(path.join(sshd.home, workDir, "jobs", "job-redacted", "dpo.jsonl"), "utf8");
    expect(r.egress.bytes).toBe(Buffer.byteLength(sent));
    expect(r.events.some((e) => e.type === "AirlockPolicySet" && e.data.version === r.version)).toBe(true);
  }, 120_000);

  it("changing the policy to raw changes what leaves (the address arrives; the private input still does not), and both policies are in the log", async () => {
    const r = await upload("job-raw", { destinations: { "gpu-host": "raw" } });
    expect(r.text).toContain(decode(await tokenIdsOf(secret)));
    expect(r.text).not.toContain(decode(await tokenIdsOf(privateLine)));
    expect(r.egress).toMatchObject({ mode: "raw", withheld: 1, redactions: {} });
    const versions = r.events.filter((e) => e.type === "AirlockPolicySet").map((e) => (e.data as EventData<"AirlockPolicySet">).destinations["gpu-host"]);
    expect(versions).toEqual(["redacted", "raw"]);
  }, 120_000);

  it("\"nothing\" for the GPU host sends no text at all: every input trains only on the Soul", async () => {
    const r = await upload("job-nothing", { destinations: { "gpu-host": "nothing" } });
    expect(r.text.trim()).toBe("");
    expect(r.egress).toMatchObject({ mode: "nothing", texts: 0 });
    expect(r.egress.withheld).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
