// Shared set-up of the Muscle's integration tests: a real nats-server, the tiny models, ledgers
// seeded through the real ingest path, and a hosts file for the test sshd.
import { Effect } from "effect";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MuscleWorker, type MuscleOptions } from "../../../actors/muscle/worker.ts";
import { defaultPolicy } from "../../../actors/salience/salience.policy.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";
import { addAnchors } from "../../../adapters/ingest/anchor.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { openLanguageModel, type OpenLanguageModel } from "../../../adapters/llm/model.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { trainingMaterials } from "../../../adapters/training/materials.ts";
import { projectAt } from "../../../projections/runner.ts";
import { trainerDir } from "../../../adapters/training/materials.ts";
import { corpusLines, tinyCacheDir, tinyModels } from "../../adapters/llm/support.ts";
import { collect } from "../../support/events.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { startGpuCloudStandIn, type GpuCloudStandIn } from "../../support/gpu-cloud-stand-in.ts";

export interface World {
  readonly nats: TestNats;
  readonly store: JetStreamEventStore;
  readonly content: ObjectContentStore;
  readonly lm: OpenLanguageModel;
  readonly lmPath: string;
  readonly scratch: string;
  close(): Promise<void>;
}

// The project's tiny bigram LM declares attention heads of 8 (attention.key_length) in a model of
// width 856; the trainer's forward takes the head size as width / heads and refuses it. Its attention
// weights are all zero (the block only passes the residual through), so the same model laid out with
// one head of 856 zero weights computes exactly the same logits: that copy is what the tests serve
// and train. (The trainer should read attention.key_length; see the Muscle's report.)
const RELAYOUT = `
import sys
import numpy as np
from sophont_trainer import gguf
f = gguf.read_gguf(sys.argv[1])
a = "llama."
d = int(f.require(a + "embedding_length"))
tensors = dict(f.tensors)
for name, t in f.tensors.items():
    if ".attn_" in name and name.split(".")[-2] in ("attn_q", "attn_k", "attn_v", "attn_output"):
        if np.any(t.data != 0):
            raise SystemExit(name + " is not zero: a re-layout would change the model")
        tensors[name] = gguf.Tensor(name, np.zeros((d, d), dtype=np.float32))
meta = {k: v for k, v in f.metadata.items() if k not in (a + "attention.key_length", a + "attention.value_length")}
meta[a + "attention.head_count"] = gguf.u32(1)
meta[a + "attention.head_count_kv"] = gguf.u32(1)
meta[a + "rope.dimension_count"] = gguf.u32(d)
gguf.write_gguf(sys.argv[2], meta, tensors, f.alignment)
`;

/** The project's tiny LM, laid out for the trainer (one attention head; the same logits). */
export const tinyBase = (): { path: string; original: string } => {
  const { lmPath, hash } = tinyModels();
  const file = path.join(tinyCacheDir, "muscle", `${hash}-lm-one-head.gguf`);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    execFileSync("/usr/bin/python3", ["-c", RELAYOUT, lmPath, temp], { env: { ...process.env, PYTHONPATH: trainerDir } });
    renameSync(temp, file);
  }
  return { path: file, original: lmPath };
};

/** Sailing texts the model has not seen are accepted; other topics are the Golden Anchor. The model: the tiny LM laid out for the trainer, or `lmPath`. */
export const startWorld = async (o: { lmPath?: string } = {}): Promise<World> => {
  const nats = await startTestNats();
  const nc = await nats.connect();
  const store = new JetStreamEventStore(nc);
  const content = new ObjectContentStore(nc);
  const lmPath = o.lmPath ?? tinyBase().path;
  const lm = await Effect.runPromise(openLanguageModel({ modelPath: lmPath, threads: 1, probe: false, contextSize: 512 }));
  const scratch = mkdtempSync(path.join(os.tmpdir(), "sophont-muscle-"));
  return { nats, store, content, lm, lmPath, scratch, close: async () => (await lm.dispose(), store.close(), await nats.stop()) };
};

/** Ingests `n` held-out sailing lines and accepts them (as a Salience night would), and adds anchors. */
export const seedLedgers = async (w: World, n = 16, from = 0): Promise<void> => {
  const text = corpusLines("heldout", "sailing").slice(from, from + n).join("\n");
  await ingestFiles({ store: w.store, content: w.content }, [{ path: `sailing-${from}.log`, bytes: Buffer.from(text) }], { day: "2026-11-24", maxBytes: 10_000, correlationId: "seed" });
  // Only what this call ingested: a later call adds to the ledger (a later day's inputs).
  const accepted = new Set((await collect(w.store.read({ types: new Set(["InputAccepted"]) }))).map((e) => (e.data as { inputId: string }).inputId));
  const received = (await collect(w.store.read({ types: new Set(["InputReceived"]) }))).filter((e) => !accepted.has((e.data as { inputId: string }).inputId));
  const models = { model: w.lm.identity.sha256, adapter: null, embedder: "none" };
  await w.store.append(received.map((e, i) => ({
    event: {
      type: "InputAccepted" as const,
      data: { inputId: (e.data as { inputId: string }).inputId, nightId: "2026-11-24", reason: "seeded for the Muscle's test", policy: defaultPolicy, models, nearest: "preoccupation", similarity: 0.9, surprise: 1, questionVector: [1, 0] },
    },
    metadata: { id: `accept-${from}-${i}`, time: new Date().toISOString(), actor: "salience", causationId: e.metadata.id, correlationId: "seed" },
  })));
  if (from > 0) return;
  const anchors = ["cooking", "medicine", "astronomy"].flatMap((t) => corpusLines("heldout", t).slice(0, 3)).join("\n\n");
  await addAnchors({ store: w.store, content: w.content, known: new Set() }, "anchor.txt", Buffer.from(anchors), "seed");
};

/** A hosts file naming the test sshd `loopback`, pinned to its current key. */
export const hostsFileFor = (w: World, sshd: Sshd, workDir: string): string => {
  const file = path.join(w.scratch, "hosts.json");
  writeFileSync(file, JSON.stringify({ hosts: [{ name: "loopback", host: sshd.host, port: sshd.port, user: sshd.user, keyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir }] }));
  return file;
};

/** A Muscle on the test world; providers as given. */
export const muscle = (w: World, options: Partial<MuscleOptions> & Pick<MuscleOptions, "providers">): MuscleWorker =>
  new MuscleWorker(w.store, {
    materials: trainingMaterials(w.content, w.lm, w.lmPath),
    scratchDir: w.scratch,
    pollMs: 200,
    progressEveryMs: 500,
    ackWaitMs: 4_000,
    retryBaseMs: 200,
    ...options,
  });

/** The events of one job, in order. */
export const jobEvents = async (w: World, jobId: string): Promise<Recorded<DomainEvent>[]> =>
  (await collect(w.store.read())).filter((e) => (e.data as { jobId?: string }).jobId === jobId);

export const waitFor = async <T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** A cloud test's world: the Muscle's world with seeded ledgers, the GPU cloud's stand-in (its API key in `apiKeyEnv`), and a real sshd for the key pair the instances are given. */
export const startCloudWorld = async (apiKeyEnv: string): Promise<{ w: World; cloud: GpuCloudStandIn; keys: Sshd }> => {
  const [w, cloud, keys] = await Promise.all([startWorld(), startGpuCloudStandIn(), startSshd()]);
  process.env[apiKeyEnv] = cloud.apiKey;
  await seedLedgers(w);
  return { w, cloud, keys };
};

export const stopCloudWorld = async (c: { w?: World; cloud?: GpuCloudStandIn; keys?: Sshd }): Promise<void> => {
  await c.cloud?.stop();
  await c.keys?.stop();
  await c.w?.close();
};
