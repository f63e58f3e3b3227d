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
import { inputsIndex } from "../../../projections/inputs.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { trainerDir } from "../../../adapters/training/materials.ts";
import { corpusLines, tinyCacheDir } from "../../adapters/llm/support.ts";
import { collect } from "../../support/events.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import type { Sshd } from "../../support/sshd.ts";

export interface World {
  readonly nats: TestNats;
  readonly store: JetStreamEventStore;
  readonly content: ObjectContentStore;
  readonly lm: OpenLanguageModel;
  readonly lmPath: string;
  readonly scratch: string;
  close(): Promise<void>;
}

/**
 * The base model: a tiny random llama written by the trainer payload itself (byte-level SPM
 * vocabulary, so any text tokenizes). The project's bigram tiny LM is refused by the trainer today
 * (its attention head size comes from attention.key_length, which the trainer's forward ignores).
 */
export const tinyBase = (): string => {
  const file = path.join(tinyCacheDir, "muscle", "base-v1.gguf");
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  execFileSync("/usr/bin/python3", ["-m", "sophont_trainer", "tiny-model", temp, "--vocab", "288", "--embd", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ff", "64", "--ctx", "512", "--seed", "3"], { env: { ...process.env, PYTHONPATH: trainerDir } });
  renameSync(temp, file);
  return file;
};

/** Sailing texts the model has not seen are accepted; other topics are the Golden Anchor. */
export const startWorld = async (): Promise<World> => {
  const nats = await startTestNats();
  const nc = await nats.connect();
  const store = new JetStreamEventStore(nc);
  const content = new ObjectContentStore(nc);
  const lmPath = tinyBase();
  const lm = await Effect.runPromise(openLanguageModel({ modelPath: lmPath, threads: 1, probe: false, contextSize: 512 }));
  const scratch = mkdtempSync(path.join(os.tmpdir(), "sophont-muscle-"));
  return { nats, store, content, lm, lmPath, scratch, close: async () => (await lm.dispose(), store.close(), await nats.stop()) };
};

/** Ingests `n` held-out sailing lines and accepts them (as a Salience night would), and adds anchors. */
export const seedLedgers = async (w: World, n = 16): Promise<void> => {
  const text = corpusLines("heldout", "sailing").slice(0, n).join("\n");
  await ingestFiles({ store: w.store, content: w.content, known: await projectAt(w.store, inputsIndex, "now") }, [{ path: "sailing.log", bytes: Buffer.from(text) }], { day: "2026-11-24", maxBytes: 10_000, correlationId: "seed" });
  const received = await collect(w.store.read({ types: new Set(["InputReceived"]) }));
  const models = { model: w.lm.identity.sha256, adapter: null, embedder: "none" };
  await w.store.append(received.map((e, i) => ({
    event: {
      type: "InputAccepted" as const,
      data: { inputId: (e.data as { inputId: string }).inputId, nightId: "2026-11-24", reason: "seeded for the Muscle's test", policy: defaultPolicy, models, nearest: "preoccupation", similarity: 0.9, surprise: 1, questionVector: [1, 0] },
    },
    metadata: { id: `accept-${i}`, time: new Date().toISOString(), actor: "salience", causationId: e.metadata.id, correlationId: "seed" },
  })));
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
