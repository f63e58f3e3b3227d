import { eachDelivery } from "../deliveries.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { EvaluationBounds } from "../../events/training.ts";
import type { Delivery, EventStore, Subscription } from "../../events/store.ts";
import { lineage } from "../../projections/lineage.projection.ts";
import { projectAt } from "../../projections/runner.ts";
import { derivedEventId } from "../ids.ts";
import type { ContentStore } from "../ports.ts";
import { restoreServing, type ServingModel } from "./serving.ts";
import { candidatesOf, chooseCandidate, type CandidateScores } from "./candidates.ts";
import { defaultBounds, pooled, type SetScore } from "./evaluation.ts";

/** What the evaluation needs of the serving model: scoring under the active adapter, and swapping it. */
export interface EvaluationModel extends ServingModel {
  /** Mean NLL and scored tokens per text, under the active adapter. */
  score(texts: readonly string[]): Promise<ReadonlyArray<{ readonly meanNll: number; readonly tokenCount: number }>>;
  active(): string | null;
}

export interface EvaluationOptions {
  readonly bounds?: EvaluationBounds;
  /** General texts outside every domain (the shipped probe set), with the share of their tokens the model does not know. */
  readonly probe?: { readonly texts: readonly string[]; readonly unknownShare: number | null };
  readonly durable?: string;
  readonly ackWaitMs?: number;
  readonly clock?: () => Date;
  readonly onDecided?: (events: ReadonlyArray<DomainEvent>) => void;
  readonly onError?: (error: unknown) => void;
}

/**
 * The Soul's evaluation of trained adapters: for each AdapterTrained, perplexity on the job's
 * trained and held-out SFT entries and on the Golden Anchor, with the serving adapter and with the
 * candidate; AdapterEvaluated, then AdapterPromoted (the candidate serves, live) or
 * AdapterRolledBack (the previous adapter keeps serving). On start the promoted adapter is restored.
 */
export class EvaluationWorker {
  private subscription: Subscription | undefined;

  constructor(private readonly store: EventStore, private readonly content: ContentStore, private readonly model: EvaluationModel, private readonly options: EvaluationOptions = {}) {}

  async start(): Promise<void> {
    await restoreServing(this.store, this.content, this.model);
    const sub = this.store.subscribe({ durable: this.options.durable ?? "actor-soul-evaluation", types: new Set(["AdapterTrained"]), ackWaitMs: this.options.ackWaitMs ?? 120_000 });
    this.subscription = sub;
    void eachDelivery(sub, (d) => this.evaluate(d));
  }

  private async bytes(sha: string): Promise<Uint8Array> {
    const b = await this.content.get(sha);
    if (!b) throw new Error(`${sha} is not in the content store`);
    return b;
  }

  private async ensure(sha: string): Promise<void> {
    await this.model.load(sha, await this.bytes(sha));
  }

  private async texts(refs: ReadonlyArray<{ readonly sha256: string }>): Promise<string[]> {
    return Promise.all(refs.map(async (r) => Buffer.from(await this.bytes(r.sha256)).toString("utf8")));
  }

  private async scoreAll(sets: ReadonlyArray<readonly string[]>): Promise<SetScore[]> {
    return Promise.all(sets.map(async (texts) => pooled(texts.length ? await this.model.score(texts) : [])));
  }

  private async evaluate(d: Delivery): Promise<void> {
    if (d.event.type !== "AdapterTrained") return void (await d.ack());
    const trainedEvent = d.event;
    const { jobId } = trainedEvent.data;
    const now = await projectAt(this.store, lineage, "now");
    const job = now.jobs.get(jobId);
    const request = await this.request(jobId);
    if (!job || !request || job.evaluation) return void (await d.ack()); // decided already (a redelivery)
    const baseline = now.serving?.sha256 ?? null;
    const heartbeat = setInterval(() => d.working(), 5_000);
    try {
      // Forgetting is measured on the anchor's evaluation part (jobs before the split had none: their replay part).
      const [trained, heldOut, anchor, probe] = [await this.texts(request.ledger.sft), await this.texts(request.ledger.heldOut), await this.texts(request.ledger.anchorEval ?? request.ledger.anchor), [...(this.options.probe?.texts ?? [])]];
      await this.model.use(baseline);
      const [t0, h0, a0, p0] = await this.scoreAll([trained, heldOut, anchor, probe]);
      const probeBase = this.options.probe ? (baseline === null ? p0! : await this.probeBase(probe)) : undefined;
      const before = { trained: t0!, heldOut: h0!, anchor: a0!, probe: this.options.probe ? p0! : undefined, unknownShare: this.options.probe?.unknownShare ?? null, ...(probeBase ? { probeBase } : {}) };
      // Every candidate on the same held-out sets; the trained set only for the one chosen.
      const scores: CandidateScores[] = [];
      for (const candidate of candidatesOf(trainedEvent.data)) {
        await this.ensure(candidate.sha256);
        await this.model.use(candidate.sha256);
        const [h, a, p] = await this.scoreAll([heldOut, anchor, probe]);
        scores.push({ candidate, heldOut: h!, anchor: a!, probe: this.options.probe ? p! : undefined });
      }
      const base = { jobId, baselineSha256: baseline };
      const bounds = this.options.bounds ?? defaultBounds;
      const { index } = chooseCandidate(base, before, scores, bounds);
      await this.model.use(scores[index]!.candidate.sha256);
      const [t] = await this.scoreAll([trained]);
      scores[index] = { ...scores[index]!, trained: t! };
      const { decisions, chosen } = chooseCandidate(base, before, scores, bounds);
      const adapterSha256 = chosen.sha256;
      const promoted = decisions.some((x) => x.event.type === "AdapterPromoted");
      // The serving model switches only once the decision is a fact in the log.
      await this.append(trainedEvent, decisions.map((x) => x.event));
      await this.model.use(promoted ? adapterSha256 : baseline);
      this.options.onDecided?.(decisions.map((x) => x.event));
      await d.ack();
    } catch (error) {
      await this.model.use(baseline).catch(() => undefined);
      // Left for a redelivery: a model or store failure is not a verdict on the adapter.
      this.options.onError?.(error);
      await d.fail(String((error as Error)?.message ?? error));
    } finally {
      clearInterval(heartbeat);
    }
  }

  private baseProbe: SetScore | undefined;

  /** The probe set under the base model (measured once: the base never changes); the serving adapter is restored after. */
  private async probeBase(texts: readonly string[]): Promise<SetScore> {
    if (this.baseProbe) return this.baseProbe;
    const serving = this.model.active();
    await this.model.use(null);
    const [score] = await this.scoreAll([texts]);
    await this.model.use(serving);
    this.baseProbe = score!;
    return score!;
  }

  private async request(jobId: string) {
    for await (const e of this.store.read({ types: new Set(["TrainingRequested"]) })) if (e.type === "TrainingRequested" && e.data.jobId === jobId) return e.data;
    return undefined;
  }

  private async append(cause: Recorded<DomainEvent>, events: ReadonlyArray<DomainEvent>): Promise<void> {
    const time = (this.options.clock?.() ?? new Date()).toISOString();
    await this.store.append(events.map((event, i) => ({
      event,
      metadata: {
        id: derivedEventId("soul-evaluation", cause.metadata.id, i), time, actor: "soul", causationId: cause.metadata.id, correlationId: cause.metadata.correlationId,
        ...(cause.metadata.trace ? { trace: cause.metadata.trace } : {}),
      },
    })));
  }

  /** The adapter serving now (null: the base model). */
  serving(): string | null {
    return this.model.active();
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}
