import { eachDelivery } from "../deliveries.ts";
import { createActor, fromPromise } from "xstate";
import type { ClusteringParams } from "../../events/antechamber.ts";
import type { EventData } from "../../events/catalogue.ts";
import type { Metadata } from "../../events/envelope.ts";
import { ConcurrencyError, type Delivery, type EventStore, type Subscription } from "../../events/store.ts";
import { eventSubject } from "../../events/subjects.ts";
import { inSpan, traceOf } from "../../events/tracing.ts";
import { derivedEventId } from "../ids.ts";
import { antechamberMachine, type AntechamberEmitted, type NightJob } from "./antechamber.machine.ts";
import { antechamberTypes, decideClustering, evolveAntechamber, initialAntechamberState, rememberClustering } from "./antechamber.state.ts";
import { defaultClusteringParams } from "./clustering.ts";
import type { RejectedVectors } from "./ports.ts";

export interface AntechamberOptions {
  readonly params?: ClusteringParams;
  readonly durable?: string;
  readonly ackWaitMs?: number;
  readonly clock?: () => Date;
  readonly onEvent?: (e: AntechamberEmitted) => void;
}

interface InHand {
  readonly delivery: Delivery;
  readonly metadata: Metadata;
  readonly trace: Metadata["trace"];
  readonly done: () => void;
}

/**
 * Runs the Antechamber: a durable consumer of NightCompleted, each night driving the machine. The
 * clustering is appended once per night (the subject `antechamber.<night>` must be empty), and only
 * then is the NightCompleted acked.
 */
export class AntechamberWorker {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private readonly inHand = new Map<string, InHand>();
  private readonly actor;

  constructor(private readonly store: EventStore, private readonly vectors: RejectedVectors, private readonly options: AntechamberOptions = {}) {
    this.actor = createActor(
      antechamberMachine.provide({
        actors: {
          load: fromPromise(async ({ input }) => this.load(input)),
          append: fromPromise(async ({ input }) => this.append(input.job, input.data)),
          ack: fromPromise(async ({ input }) => this.inHand.get(input.causeId)?.delivery.ack()),
        },
      }),
      { input: { params: options.params ?? defaultClusteringParams } },
    );
    this.actor.on("*", (e: AntechamberEmitted) => options.onEvent?.(e));
    this.actor.start();
  }

  async start(): Promise<void> {
    const sub = this.store.subscribe({ durable: this.options.durable ?? "actor-antechamber", types: new Set(["NightCompleted"]), ackWaitMs: this.options.ackWaitMs ?? 60_000 });
    this.subscription = sub;
    this.loop = eachDelivery(sub, async (d) => {
      if (d.event.type === "NightCompleted") await this.runNight(d);
    });
  }

  private runNight(d: Delivery): Promise<void> {
    const ev = d.event;
    const job: NightJob = { causeId: ev.metadata.id, seq: ev.seq, nightId: (ev.data as { nightId: string }).nightId };
    return inSpan("antechamber.night", ev.metadata.trace, { "sophont.actor": "antechamber", "sophont.night": job.nightId, "sophont.event.id": job.causeId }, (span) =>
      new Promise<void>((resolve) => {
        const done = () => {
          sub.unsubscribe();
          this.inHand.delete(job.causeId);
          resolve();
        };
        const sub = this.actor.on("*", (e: AntechamberEmitted) => {
          if (e.job.causeId !== job.causeId) return;
          if (e.type === "clustered" && e.data) span.setAttributes({ "sophont.points": e.data.points, "sophont.clusters": e.data.clusters.length });
          // Given up after its retries: redelivered later, a bounded number of times, then quarantined.
          if (e.type === "failed") void d.fail(e.error).catch(() => undefined);
          done();
        });
        this.inHand.set(job.causeId, { delivery: d, metadata: ev.metadata, trace: traceOf(span) ?? ev.metadata.trace, done });
        this.actor.send({ type: "NIGHT", job });
      }),
    );
  }

  private async load(job: NightJob) {
    // A clustering appended after this night's completion (a redelivery) is found on its own subject.
    if ((await this.store.lastSubjectSeq(eventSubject("antechamber", job.nightId))) > 0) return null;
    let state = initialAntechamberState();
    for await (const e of this.store.read({ until: { seq: job.seq }, types: antechamberTypes })) state = evolveAntechamber(state, e);
    return { state, rows: await this.vectors.upTo(job.seq) };
  }

  private async append(job: NightJob, data: EventData<"AntechamberClustered">): Promise<void> {
    const cause = this.inHand.get(job.causeId);
    const metadata: Metadata = {
      id: derivedEventId("antechamber", job.causeId, 0),
      time: (this.options.clock?.() ?? new Date()).toISOString(),
      actor: "antechamber",
      causationId: job.causeId,
      correlationId: cause?.metadata.correlationId ?? job.causeId,
      ...(cause?.trace ? { trace: cause.trace } : {}),
    };
    try {
      await this.store.append([{ event: { type: "AntechamberClustered", data }, metadata, expectedSubjectSeq: 0 }]);
    } catch (e) {
      // Another Antechamber clustered this night first: its event stands.
      if (!(e instanceof ConcurrencyError)) throw e;
    }
  }

  /** Stops taking deliveries; a night in hand is left unacked for the next Antechamber. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.actor.send({ type: "STOP" });
    this.actor.stop();
    for (const { delivery, done } of [...this.inHand.values()]) {
      delivery.nak();
      done();
    }
    await this.loop?.catch(() => undefined);
  }
}

/**
 * Every night's clustering computed again from the log and the vector table (rebuilt if dropped),
 * each night matched against the previous recomputed one: what replay must agree with.
 */
export const reclusterAll = async (store: EventStore, vectors: RejectedVectors, params: ClusteringParams = defaultClusteringParams): Promise<Array<EventData<"AntechamberClustered">>> => {
  const out: Array<EventData<"AntechamberClustered">> = [];
  const state = initialAntechamberState();
  for await (const e of store.read({ types: new Set(["NightCompleted"]) })) {
    if (e.type !== "NightCompleted") continue;
    evolveAntechamber(state, e);
    const data = decideClustering(state, e.data.nightId, await vectors.upTo(e.seq), params);
    if (!data) continue;
    rememberClustering(state, data);
    out.push(data);
  }
  return out;
};
