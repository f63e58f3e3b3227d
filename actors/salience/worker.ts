import { createActor, fromPromise } from "xstate";
import type { Metadata, Recorded } from "../../events/envelope.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { PolicyValues } from "../../events/salience.ts";
import { ConcurrencyError, type Delivery, type EventStore, type Subscription } from "../../events/store.ts";
import type { Decision } from "../decider.ts";
import { derivedEventId } from "../ids.ts";
import type { CoherenceJudge, ContentStore, Measurement, SalienceModel } from "./ports.ts";
import { dropInput, evolveSalience, frameOf, initialSalienceState, judge, localCoherence, pendingInputs, scoredBy, unmeasurable, windowInputs, type InputRef, type NightFrame, type Reference, type SalienceState } from "./salience.decider.ts";
import { crossFitOf, crossFitReferences, crossFitScores, foldOf, type CrossFit } from "./cross-fit.ts";
import { PREOCCUPATION, prototypeSimilarity, seedPrototypes } from "../../projections/centroids.projection.ts";
import type { References } from "./calibration.ts";
import { fitDomainModel, heldOutBitsPerByte } from "./domain-model.ts";
import { eventSubject } from "../../events/subjects.ts";
import { norm } from "../../events/vectors.ts";
import { salienceMachine, type NightJob, type SalienceEmitted } from "./salience.machine.ts";
import { crossFitted, defaultPolicy } from "./salience.policy.ts";
import { inSpan, traceOf } from "../../events/tracing.ts";
import { eachDelivery } from "../deliveries.ts";
import { waitAtMost } from "../wait.ts";

export interface SalienceOptions {
  readonly policy?: PolicyValues;
  readonly batchSize?: number;
  readonly ackWaitMs?: number;
  readonly durable?: string;
  readonly clock?: () => Date;
  readonly onEvent?: (e: SalienceEmitted) => void;
  /** A frontier judge asked where the local coherence verdict is unsure (config `judge`); absent: the local verdict stands. */
  readonly judge?: CoherenceJudge;
}

/** How long stop() waits for the model calls under way (a model that never answers is not waited for longer). */
const STOP_WAIT_MS = 5_000;

/** salience-3 keeps at most this many references (the most recent clearly inside): each night scores them all. */
export const CROSS_FIT_REFERENCES = 96;

const bitsPerByteOf = (m: Measurement, text: string): number => (m.meanNll * m.tokenCount) / Math.LN2 / Math.max(1, Buffer.byteLength(text, "utf8"));

/** A deterministic order of inputs (the night's sample of itself): the fold hash over all 32 bits. */
const foldKey = (inputId: string): number => foldOf(inputId, 2 ** 32);

/** A text any working model measures: tells an input's fault from the models'. */
const CANARY = { text: "The river runs past the old mill and into the sea.", prompt: null };

const messageOf = (e: unknown): string => {
  const x = e as { reason?: unknown; message?: unknown };
  return String(x?.reason ?? x?.message ?? e).slice(0, 500);
};

export class MissingContentError extends Error {
  override readonly name = "MissingContentError";
}

/**
 * Runs Salience: a durable consumer of NightStarted events, each driving the night machine. The
 * NightStarted message is acked only when every input of the window is decided; meanwhile the worker
 * tells the server it is still working.
 */
export class SalienceWorker {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private readonly deliveries = new Map<string, { delivery: Delivery | undefined; correlationId: string; trace: Metadata["trace"]; heartbeat: NodeJS.Timeout | undefined; done: () => void }>();
  private readonly actor;
  private readonly clock: () => Date;

  constructor(private readonly store: EventStore, private readonly content: ContentStore, private readonly model: SalienceModel, private readonly options: SalienceOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
    this.actor = createActor(
      salienceMachine.provide({
        actors: {
          loadNight: fromPromise(async ({ input }) => this.load(input)),
          scoreBatch: fromPromise(async ({ input }) => this.score(input.frame, input.batch, input.next)),
          appendBatch: fromPromise(async ({ input }) => this.append(input.job, input.decisions)),
          ack: fromPromise(async ({ input }) => this.ack(input)),
        },
      }),
      { input: { batchSize: options.batchSize ?? 16 } },
    );
    this.actor.on("*", (e: SalienceEmitted) => options.onEvent?.(e));
    this.actor.start();
  }

  async start(): Promise<void> {
    const sub = this.store.subscribe({ durable: this.options.durable ?? "actor-salience", types: new Set(["NightStarted"]), ackWaitMs: this.options.ackWaitMs ?? 60_000 });
    this.subscription = sub;
    this.loop = eachDelivery(sub, async (d) => {
      if (d.event.type === "NightStarted") await this.runNight(d.event, d);
    });
    void this.resumeOpenNights().catch(() => undefined);
  }

  /**
   * Runs, from the log, every night started and not completed: a night that a killed or failed
   * Salience left open resumes where it stopped, without waiting for the server to redeliver its
   * NightStarted (that redelivery later finds nothing pending and is acked). Returns their ids.
   */
  async resumeOpenNights(): Promise<string[]> {
    const open = new Map<string, Recorded<DomainEvent>>();
    for await (const e of this.store.read({ types: new Set(["NightStarted", "NightCompleted"]) })) {
      if (e.type === "NightStarted") open.set(e.data.nightId, e);
      else if (e.type === "NightCompleted") open.delete(e.data.nightId); // completed, or cut off at its deadline
    }
    for (const e of open.values()) void this.runNight(e, undefined);
    return [...open.keys()];
  }

  /** Nights run one after another, whether a delivery or the log asked for them. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  private runNight(ev: Recorded<DomainEvent>, d: Delivery | undefined): Promise<void> {
    const run = this.queue.then(() => (this.stopped ? undefined : this.runNightNow(ev, d)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private runNightNow(ev: Recorded<DomainEvent>, d: Delivery | undefined): Promise<void> {
    const job: NightJob = { causeId: ev.metadata.id, nightId: (ev.data as { nightId: string }).nightId };
    const attributes = { "sophont.actor": "salience", "sophont.night": job.nightId, "sophont.event.id": ev.metadata.id };
    return inSpan("salience.night", ev.metadata.trace, attributes, (span) =>
      new Promise<void>((resolve) => {
        const heartbeat = d ? setInterval(() => d.working(), Math.max(1000, (this.options.ackWaitMs ?? 60_000) / 3)) : undefined;
        const done = () => {
          sub.unsubscribe();
          clearInterval(heartbeat);
          this.deliveries.delete(job.causeId);
          resolve();
        };
        const sub = this.actor.on("*", (e: SalienceEmitted) => {
          if (e.job.causeId !== job.causeId) return;
          if (e.type === "progress") span.setAttribute("sophont.decided", e.done);
          else if (e.type === "cut-off") (span.setAttribute("sophont.cut_off.left", e.left), done());
          else {
            // Given up after its retries: redelivered later, a bounded number of times, then quarantined.
            if (e.type === "failed") void d?.fail(e.error).catch(() => undefined);
            done();
          }
        });
        this.deliveries.set(job.causeId, { delivery: d, correlationId: ev.metadata.correlationId, trace: traceOf(span) ?? ev.metadata.trace, heartbeat, done });
        this.actor.send({ type: "NIGHT", job });
      }),
    );
  }

  /** Inputs forgotten as of the last load: dropped without fetching what is gone. */
  private forgotten: ReadonlySet<string> = new Set();

  private async load(job: NightJob) {
    this.prefetched.clear();
    let state = initialSalienceState();
    for await (const e of this.store.read()) state = evolveSalience(state, e);
    this.forgotten = state.forgotten;
    const policy = this.options.policy ?? defaultPolicy;
    this.fit = undefined;
    const pending = pendingInputs(state, job.nightId);
    // Nothing left to decide (a redelivery of a night already complete): no yardstick to measure.
    const calibration = !policy.calibrated || pending.length === 0
      ? null
      : await inSpan("salience.calibrate", this.deliveries.get(job.causeId)?.trace, { "sophont.actor": "salience", "sophont.night": job.nightId }, async (span) => {
          const c = crossFitted(policy) ? await this.crossFitCalibration(state, job.nightId, policy) : await this.calibration(state, policy.calibrated!.minReferences);
          span.setAttributes({ "sophont.references.source": c.similarity.source, "sophont.references": c.similarity.values.length, "sophont.domain.texts": c.domain.texts });
          return c;
        });
    return { frame: frameOf(state, job.nightId, policy, this.model.ids(), calibration), pending };
  }

  /**
   * The night's domain model (seeds and accepted texts still in the content store) and the references:
   * recent accepted inputs as they were scored, or while there are too few of them, the seeded
   * questions, each measured against the others (left out of the domain model and of the prototypes).
   */
  private async calibration(state: SalienceState, minReferences: number): Promise<NonNullable<NightFrame["calibration"]>> {
    const texts = await Promise.all(state.accepted.map((r) => this.content.get(r.contentSha256).then((b) => (b ? Buffer.from(b).toString("utf8") : null), () => null)));
    const domain = fitDomainModel([...state.seeds, ...texts.filter((t): t is string => t !== null)]);
    if (state.accepted.length >= minReferences) {
      const of = (f: (r: Reference) => number): References => ({ source: "accepted", values: state.accepted.map(f) });
      return { domain, coherence: of((r) => r.bitsPerByte), similarity: of((r) => r.similarity), domainGain: of((r) => r.gain) };
    }
    if (state.seeds.length === 0) {
      const none: References = { source: "none", values: [] };
      return { domain, coherence: none, similarity: none, domainGain: none };
    }
    const measured = await this.measure(state.seeds.map((text) => ({ text, prompt: null })));
    const bits = measured.map((m, k) => bitsPerByteOf(m, state.seeds[k]!));
    const pre = state.centroids[PREOCCUPATION];
    const k = (this.options.policy ?? defaultPolicy).calibrated?.topK ?? 3;
    return {
      domain,
      coherence: { source: "seeds", values: bits },
      similarity: { source: "seeds", values: pre ? measured.map((m, i) => prototypeSimilarity(pre, m.questionVector, k, i)) : [] },
      domainGain: { source: "seeds", values: state.seeds.map((q, i) => bits[i]! - heldOutBitsPerByte(domain, q)) },
    };
  }

  /** salience-3's models of the night (null before a calibrated night loads): inputs are scored against them. */
  private fit: CrossFit | undefined;

  private async texts(shas: ReadonlyArray<string>): Promise<Array<string | null>> {
    return Promise.all(shas.map((sha) => this.content.get(sha).then((b) => (b ? Buffer.from(b).toString("utf8") : null), () => null)));
  }

  /**
   * salience-3: the night's yardstick. References are the inputs accepted in earlier nights clearly inside
   * (topic >= coreTopic), the most recent CROSS_FIT_REFERENCES, measured again where the models changed since;
   * with fewer than minReferences, the half nearest the seeded questions of a sample of the night's own
   * inputs (by hash, at most referenceInputs).
   * Every reference is scored cross-fitted; the Antechamber's model holds the texts earlier nights turned away.
   */
  private async crossFitCalibration(state: SalienceState, nightId: string, policy: PolicyValues): Promise<NonNullable<NightFrame["calibration"]>> {
    const q = policy.calibrated!;
    const folds = q.folds!;
    if (state.seeds.length === 0) {
      // No preoccupation to measure against: nothing is on topic (the uncalibrated rule rejects it, saying so).
      const none: References = { source: "none", values: [] };
      return { domain: fitDomainModel([]), coherence: none, similarity: none, domainGain: none };
    }
    const pre = state.centroids[PREOCCUPATION];
    const seedsOnly = pre ? { vector: pre.vector, prototypes: seedPrototypes(pre) } : undefined;
    const similarity = (v: ReadonlyArray<number>) => (seedsOnly ? prototypeSimilarity(seedsOnly, v, q.topK) : 0);
    const core = state.accepted.filter((r) => r.nightId !== nightId && r.topic !== null && r.topic >= (q.coreTopic ?? 0)).slice(-CROSS_FIT_REFERENCES);
    const coreTexts = await this.texts(core.map((r) => r.contentSha256));
    const kept = core.flatMap((r, k) => (coreTexts[k] === null ? [] : [{ ref: r, text: coreTexts[k]! }]));
    const turnedAway = state.rejected.filter((r) => r.nightId !== nightId);
    const anteTexts = (q.weightAntechamber ?? 0) > 0 ? (await this.texts(turnedAway.map((r) => r.contentSha256))).filter((t): t is string => t !== null) : [];
    const fit = crossFitOf(folds, state.seeds, kept.map((k) => ({ inputId: k.ref.inputId, text: k.text })), anteTexts.length >= (q.minAntechamber ?? 8) ? anteTexts : null);
    this.fit = fit;
    const ids = this.model.ids();
    const now = scoredBy(ids);
    let refs: Array<{ inputId: string; text: string; bitsPerByte: number; similarity: number }>;
    let source: "accepted" | "night";
    // Coherence is about language: at the cold start it is measured against the whole sample, not only its on-topic half.
    let coherenceBits: number[] | undefined;
    if (kept.length >= q.minReferences) {
      source = "accepted";
      // Scored by other models (a promoted adapter, a new embedder): measured again, so both sides of the comparison are tonight's.
      const stale = kept.filter((k) => k.ref.scoredBy !== now);
      const again = stale.length ? await this.measure(stale.map((k) => ({ text: k.text, prompt: null, reference: true }))) : [];
      const fresh = new Map(stale.map((k, i) => [k.ref.inputId, again[i]!]));
      refs = kept.map(({ ref, text }) => {
        const m = fresh.get(ref.inputId);
        return m ? { inputId: ref.inputId, text, bitsPerByte: bitsPerByteOf(m, text), similarity: similarity(m.questionVector) } : { inputId: ref.inputId, text, bitsPerByte: ref.bitsPerByte, similarity: similarity(ref.vector) };
      });
    } else {
      source = "night";
      const sample = windowInputs(state, nightId).filter((i) => !state.forgotten.has(i.inputId)).sort((a, b) => foldKey(a.inputId) - foldKey(b.inputId)).slice(0, q.referenceInputs ?? 48);
      const texts = await this.texts(sample.map((i) => i.contentSha256));
      const usable = sample.flatMap((i, k) => (texts[k] === null ? [] : [{ inputId: i.inputId, text: texts[k]! }]));
      const measured = usable.length ? await this.measureEach(usable.map((u) => ({ text: u.text, prompt: null, reference: true }))) : [];
      // The half of the sample nearest the seeded questions: the night may hold other fields too.
      const all = usable.flatMap((u, k) => {
        const m = measured[k]!;
        return "error" in m || norm(m.questionVector) === 0 ? [] : [{ ...u, bitsPerByte: bitsPerByteOf(m, u.text), similarity: similarity(m.questionVector) }];
      });
      refs = [...all].sort((a, b) => b.similarity - a.similarity).slice(0, Math.max(1, Math.ceil(all.length / 2)));
      coherenceBits = all.map((x) => x.bitsPerByte);
    }
    const fitted = crossFitScores(fit, refs);
    return { domain: fit.domain, ...crossFitReferences(source, refs, fitted, coherenceBits) };
  }

  private async text(sha: string, what: string): Promise<string> {
    const bytes = await this.content.get(sha);
    if (!bytes) throw new MissingContentError(`the ${what} ${sha} is not in the content store (was it forgotten?)`);
    return Buffer.from(bytes).toString("utf8");
  }

  /** Texts fetched ahead, by input id: the content store's latency hides behind the model's work. */
  private readonly prefetched = new Map<string, Promise<{ text: string; prompt: string | null }>>();

  private fetch(i: InputRef): Promise<{ text: string; prompt: string | null }> {
    const ahead = this.prefetched.get(i.inputId);
    if (ahead) {
      this.prefetched.delete(i.inputId);
      return ahead;
    }
    if (this.forgotten.has(i.inputId)) return Promise.reject(new MissingContentError(`input ${i.inputId} was forgotten before it was scored`));
    return (async () => ({ text: await this.text(i.contentSha256, `text of input ${i.inputId}`), prompt: i.output ? await this.text(i.output.promptSha256, "prompt") : null }))();
  }

  /** What the input's own subject says now: forgotten, and whether some decision is already there. */
  private async inputInLog(inputId: string): Promise<{ forgotten: boolean; decided: boolean }> {
    const subject = eventSubject("input", inputId);
    const out = { forgotten: false, decided: false };
    for (let e = await this.store.nextOnSubject(subject); e; e = await this.store.nextOnSubject(subject, e.seq + 1)) {
      if (e.type === "InputForgotten") out.forgotten = true;
      if (e.type === "InputAccepted" || e.type === "InputRejected" || e.type === "ShadowRecorded" || e.type === "InputDropped") out.decided = true;
    }
    return out;
  }

  /**
   * An input whose text cannot be fetched is decided with the reason instead of failing the batch:
   * forgotten (the log says so) or missing from the content store.
   */
  private async dropped(input: InputRef, nightId: string, error: MissingContentError): Promise<Decision> {
    const forgotten = this.forgotten.has(input.inputId) || (await this.inputInLog(input.inputId)).forgotten;
    return forgotten
      ? dropInput(input, nightId, "forgotten", `forgotten before it was scored: ${error.message}`)
      : dropInput(input, nightId, "missing-content", error.message);
  }

  private async score(frame: Parameters<typeof judge>[2], batch: ReadonlyArray<InputRef>, next: ReadonlyArray<InputRef>): Promise<Decision[]> {
    const fetched = await Promise.allSettled(batch.map((i) => this.fetch(i)));
    const drops: Decision[] = [];
    const ready: InputRef[] = [];
    const items: Array<{ text: string; prompt: string | null; inputId?: string; nightId?: string }> = [];
    for (const [k, r] of fetched.entries()) {
      if (r.status === "fulfilled") (ready.push(batch[k]!), items.push({ ...r.value, inputId: batch[k]!.inputId, nightId: frame.nightId }));
      else if (r.reason instanceof MissingContentError) drops.push(await this.dropped(batch[k]!, frame.nightId, r.reason));
      else throw r.reason;
    }
    for (const i of next) {
      if (this.prefetched.has(i.inputId)) continue;
      const p = this.fetch(i);
      p.catch(() => undefined); // a failure surfaces when the batch is scored
      this.prefetched.set(i.inputId, p);
    }
    const night = this.deliveries.get(this.nightOf(frame))?.trace;
    if (items.length === 0) return drops;
    const measured = await inSpan("salience.score", night, { "sophont.actor": "salience", "sophont.batch.size": items.length }, () => this.measureEach(items));
    const fitted = this.fit ? crossFitScores(this.fit, items.map((it, k) => ({ inputId: ready[k]!.inputId, text: it.text }))) : undefined;
    const judged = await this.secondOpinions(frame, measured, items, fitted);
    return [
      ...drops,
      ...ready.flatMap((input, k) => {
        const m = judged[k]!;
        if ("error" in m) return unmeasurable(input, m.error, frame);
        // A vector of zeros points nowhere: it would score 0 against every centroid and poison means.
        if (norm(m.questionVector) === 0) return unmeasurable(input, "its vector came out all zeros: no piece of it carries meaning for the embedder", frame);
        return judge(input, m, frame, items[k]!.text, fitted?.[k]);
      }),
    ];
  }

  /**
   * The frontier judge's verdicts where the local one is unsure: the confidence is the local verdict's
   * as the decision would take it (calibrated: the text's bits per byte against the references' limit),
   * so the judge is asked about the texts near the bound the night actually applies.
   */
  private async secondOpinions(frame: NightFrame, measured: ReadonlyArray<Measurement | { error: string }>, items: ReadonlyArray<{ text: string; inputId?: string }>, fitted: ReturnType<typeof crossFitScores> | undefined): Promise<Array<Measurement | { error: string }>> {
    const j = this.options.judge;
    if (!j) return [...measured];
    return Promise.all(measured.map(async (m, k): Promise<Measurement | { error: string }> => {
      if ("error" in m || norm(m.questionVector) === 0) return m;
      const { confidence } = localCoherence(m, frame, items[k]!.text, fitted?.[k]);
      if (!j.asks(confidence)) return m;
      const v = await j.verdict(frame.nightId, items[k]!.inputId ?? null, items[k]!.text, confidence);
      return "coherent" in v ? { ...m, coherence: { coherent: v.coherent, detail: `${v.record.judge} ${v.record.model}: ${v.reason}` }, judge: v.record } : { ...m, judge: v.record };
    }));
  }

  /**
   * Measures a batch; when the batch fails, each input alone, so one input the models cannot take
   * never fails the others. An input that fails alone is unmeasurable only if the models still
   * measure a plain sentence: otherwise the models are at fault, and the batch fails (and is retried,
   * the night staying open) rather than rejecting inputs for the models' sake.
   */
  private async measureEach(items: ReadonlyArray<{ text: string; prompt: string | null; reference?: boolean }>): Promise<Array<Measurement | { error: string }>> {
    try {
      const all = await this.measure(items);
      if (all.length === items.length) return all;
    } catch (e) {
      if (items.length === 1) return this.blame(e);
    }
    const out: Array<Measurement | { error: string }> = [];
    for (const item of items) {
      try {
        out.push((await this.measure([item]))[0]!);
      } catch (e) {
        out.push(...(await this.blame(e)));
      }
    }
    return out;
  }

  /** The input's fault (with the error) when the models measure a plain sentence; else the error goes on. */
  private async blame(e: unknown): Promise<[{ error: string }]> {
    await this.measure([CANARY]).catch((canary: unknown) => {
      throw new Error(`the models fail on a plain sentence too (${messageOf(canary)}); first failure: ${messageOf(e)}`);
    });
    return [{ error: messageOf(e) }];
  }

  private nightOf(frame: { nightId: string }): string {
    for (const [causeId] of this.deliveries) return causeId;
    return frame.nightId;
  }

  private async append(job: NightJob, decisions: ReadonlyArray<Decision>): Promise<void> {
    const night = this.deliveries.get(job.causeId);
    await inSpan("salience.append", night?.trace, { "sophont.actor": "salience", "sophont.events": decisions.length }, (span) => this.appendIn(job, decisions, traceOf(span)));
  }

  private async appendIn(job: NightJob, decisions: ReadonlyArray<Decision>, trace: Metadata["trace"]): Promise<void> {
    const cause = this.deliveries.get(job.causeId);
    const time = this.clock().toISOString();
    // Two events per input (score, decision), appended per input: a conflict means it was decided already.
    const byInput = new Map<string, Decision[]>();
    for (const d of decisions) {
      const id = (d.event.data as { inputId: string }).inputId;
      byInput.set(id, [...(byInput.get(id) ?? []), d]);
    }
    await Promise.all(
      [...byInput.entries()].map(async ([inputId, ds]) => {
        const pending = ds.map((d, k) => {
          const metadata: Metadata = {
            // A drop has a key of its own: a score appended before a crash must not dedup it away.
            id: derivedEventId("salience", job.causeId, d.event.type === "InputDropped" ? `${inputId}:dropped` : `${inputId}:${k}`),
            time,
            actor: "salience",
            causationId: job.causeId,
            correlationId: cause?.correlationId ?? job.causeId,
            ...(trace ?? cause?.trace ? { trace: (trace ?? cause?.trace)! } : {}),
          };
          return d.expectedSubjectSeq === undefined ? { event: d.event, metadata } : { event: d.event, metadata, expectedSubjectSeq: d.expectedSubjectSeq };
        });
        try {
          await this.store.append(pending);
        } catch (e) {
          if (!(e instanceof ConcurrencyError)) throw e;
          // Decided already (another Salience), fine. Otherwise something else came on the input's
          // subject (forgotten, a repeat from another file): the window is loaded again and it is decided then.
          if (!(await this.inputInLog(inputId)).decided) throw e;
        }
      }),
    );
    // The Soul ends a night at its deadline: what this batch decided stands, the rest waits for the next night.
    if (await this.nightEnded(job.nightId)) this.actor.send({ type: "CUT_OFF", causeId: job.causeId });
  }

  /** Whether the night's subject holds its NightCompleted (here, while inputs remain: cut off at its deadline). */
  private async nightEnded(nightId: string): Promise<boolean> {
    const subject = eventSubject("night", nightId);
    for (let e = await this.store.nextOnSubject(subject); e; e = await this.store.nextOnSubject(subject, e.seq + 1)) if (e.type === "NightCompleted") return true;
    return false;
  }

  private async ack(job: NightJob): Promise<void> {
    await this.deliveries.get(job.causeId)?.delivery?.ack();
  }

  /** The model calls under way: stop() waits for them, so whoever owns the models may dispose of them after. */
  private readonly inFlight = new Set<Promise<unknown>>();

  /**
   * Every model call of this worker. None starts once it stopped: a night loading or scoring when the
   * process stops (a redelivery, an open night resumed) must never reach models that are being disposed
   * (node-llama-cpp crashes the process on a disposed context: SIGSEGV in GetEmbedding).
   */
  private measure(items: Parameters<SalienceModel["measure"]>[0]): Promise<Measurement[]> {
    if (this.stopped) return Promise.reject(new Error("Salience stopped: no more model calls"));
    const p = this.model.measure(items);
    this.inFlight.add(p);
    void p.then(() => this.inFlight.delete(p), () => this.inFlight.delete(p));
    return p;
  }

  /** Stops at once: a night in progress is left unacked, so the server hands it to the next Salience. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const d of [...this.deliveries.values()]) d.done();
    await this.subscription?.stop();
    this.actor.send({ type: "STOP" });
    this.actor.stop();
    await waitAtMost(Promise.allSettled([...this.inFlight]), STOP_WAIT_MS);
  }
}
