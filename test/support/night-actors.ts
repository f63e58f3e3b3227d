import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultClusteringParams } from "../../actors/antechamber/clustering.ts";
import { AntechamberWorker } from "../../actors/antechamber/worker.ts";
import { ActorHost } from "../../actors/host.ts";
import { defaultDriftThresholds } from "../../actors/mitosis/drift.ts";
import { mitosisDecider } from "../../actors/mitosis/mitosis.decider.ts";
import type { MitosisThresholds } from "../../events/antechamber.ts";
import type { SalienceModel } from "../../actors/salience/ports.ts";
import { SalienceWorker } from "../../actors/salience/worker.ts";
import { soulDecider } from "../../actors/soul/soul.decider.ts";
import { ObjectContentStore } from "../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { LanceRejectedVectors } from "../../adapters/vectors/antechamber-table.ts";
import type { PolicyValues } from "../../events/salience.ts";
import { collect } from "./events.ts";
import type { TestNats } from "./nats.ts";

export const waitUntil = async (pred: () => Promise<boolean>, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/**
 * The actors of a night on a real nats-server: the Soul, Salience (on the given models and policy), the
 * Antechamber (over a real LanceDB table, default clustering) and Mitosis. `night(day)` starts the night and
 * returns once it completed, the Antechamber is done with it and Mitosis has decided on everything in the log.
 */
export const startNightActors = async (nats: TestNats, opts: { readonly model: SalienceModel; readonly policy?: PolicyValues; readonly mitosis: MitosisThresholds; readonly batchSize?: number }) => {
  const store = new JetStreamEventStore(await nats.connect());
  const content = new ObjectContentStore(await nats.connect());
  const vectorsDir = mkdtempSync(join(tmpdir(), "sophont-vectors-"));
  const soul = new ActorHost(store, soulDecider);
  const salience = new SalienceWorker(store, content, opts.model, {
    batchSize: opts.batchSize ?? 16,
    ...(opts.policy ? { policy: opts.policy } : {}),
    // A failed batch is retried, then the night waits: say why, or a test only sees a timeout.
    onEvent: (e) => void (e.type === "failed" && console.error(`salience failed on night ${e.job.nightId}: ${String(e.error)}`)),
  });
  const mitosis = new ActorHost(store, mitosisDecider({ thresholds: opts.mitosis, drift: defaultDriftThresholds }));
  const antechamber = new AntechamberWorker(store, await LanceRejectedVectors.open(vectorsDir, store));
  for (const a of [soul, salience, mitosis, antechamber]) await a.start();
  /**
   * Whether the Antechamber is done with the night: it clustered it, or it had nothing to record (no
   * off-topic question in its window and no cluster living on, in which case it appends nothing).
   */
  const antechamberDone = async (day: string): Promise<boolean> => {
    const log = await collect(store.read({ types: new Set(["NightCompleted", "AntechamberClustered", "InputRejected"]) }));
    const completed = log.flatMap((e) => (e.type === "NightCompleted" ? [e.data.nightId] : []));
    if (!completed.includes(day)) return false;
    const clusterings = log.flatMap((e) => (e.type === "AntechamberClustered" ? [e.data] : []));
    if (clusterings.some((c) => c.nightId === day)) return true;
    const window = new Set(completed.slice(0, completed.indexOf(day) + 1).slice(-defaultClusteringParams.windowNights));
    const waiting = log.some((e) => e.type === "InputRejected" && e.data.cause === "off-topic" && window.has(e.data.nightId));
    return !waiting && (clusterings.at(-1)?.clusters.length ?? 0) === 0;
  };
  return {
    store,
    content,
    vectorsDir,
    soul,
    night: async (day: string, ms = 120_000): Promise<void> => {
      await soul.command({ id: `start-${day}`, actor: "test", command: { type: "StartNight", day, trigger: "cli" } });
      await waitUntil(() => antechamberDone(day), ms, `the Antechamber on night ${day}`);
      // Mitosis has decided on everything once it has folded the whole log (its own answers included).
      await waitUntil(async () => mitosis.position() >= (await store.lastSeq()), 30_000, "mitosis");
      await new Promise((r) => setTimeout(r, 200));
      await waitUntil(async () => mitosis.position() >= (await store.lastSeq()), 30_000, "mitosis");
    },
    stop: async (): Promise<void> => {
      for (const a of [salience, antechamber, mitosis, soul]) await a.stop().catch(() => undefined);
      store.close();
      rmSync(vectorsDir, { recursive: true, force: true });
    },
  };
};
