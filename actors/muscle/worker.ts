import { eachDelivery } from "../deliveries.ts";
import { createActor, fromPromise } from "xstate";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { Delivery, EventStore, Subscription } from "../../events/store.ts";
import { derivedEventId } from "../ids.ts";
import { inSpan } from "../../events/tracing.ts";
import { cancelReasonOf, evolveJob, initialJobState, type JobState } from "./muscle.decider.ts";
import { muscleMachine, type MuscleEmitted, type MuscleJob } from "./muscle.machine.ts";
import { JobSteps, type StepOptions } from "./steps.ts";
import { volumeHolds } from "./volume.ts";

export interface MuscleOptions extends StepOptions {
  readonly durable?: string;
  readonly ackWaitMs?: number;
  /** Tries per step before the job fails (default 8), and the first backoff delay (default 500 ms). */
  readonly maxAttempts?: number;
  readonly retryBaseMs?: number;
  readonly clock?: () => Date;
  readonly onEvent?: (e: MuscleEmitted) => void;
}

const TRAINING = new Set(["TrainingRequested", "TrainingCancelRequested", "HostProvisioned", "DatasetUploaded", "TrainingStarted", "TrainingProgressed", "TrainingFailed", "AdapterTrained", "HostReleased", "InstanceCreated", "TrainingPlanned", "ProviderChosen", "InstanceTerminated", "BaseStaged", "VolumeKept", "VolumeDeleted"]);

/**
 * Runs the Muscle: a durable consumer of TrainingRequested, one job at a time, each driven through
 * the lifecycle machine. The request is acked only when the host is released; a Muscle that dies
 * before leaves it unacked, and the next one resumes the job from its events (re-attaching to the
 * trainer if it was launched). Cancel requests reach the job in hand through a second consumer.
 */
export class MuscleWorker {
  private subscriptions: Subscription[] = [];
  private readonly actor;
  private readonly clock: () => Date;
  private current: { job: MuscleJob; steps: JobSteps; delivery: Delivery; heartbeat: NodeJS.Timeout; drop: () => void } | undefined;

  constructor(private readonly store: EventStore, private readonly options: MuscleOptions) {
    this.clock = options.clock ?? (() => new Date());
    const steps = () => this.current!.steps;
    const beat = (progressed: boolean) => {
      this.current?.delivery.working();
      if (progressed) this.actor.send({ type: "PROGRESSED" });
    };
    this.actor = createActor(
      muscleMachine.provide({
        actors: {
          provisioning: fromPromise(() => this.step("provision", () => steps().provision())),
          uploading: fromPromise(() => this.step("upload", () => steps().upload())),
          starting: fromPromise(() => this.step("start", () => steps().start())),
          following: fromPromise(() => this.step("follow", () => steps().follow(beat))),
          downloading: fromPromise(() => this.step("download", () => steps().download())),
          cleaning: fromPromise(() => this.step("clean", () => steps().clean())),
          cancelling: fromPromise(() => this.step("cancel", () => steps().cancel())),
          recording: fromPromise(({ input }) => this.step("record-failure", () => steps().fail(input.failure))),
          releasing: fromPromise(({ input }) => this.step("release", () => steps().release(input.cleaned))),
        },
      }),
      { input: { ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}), ...(options.retryBaseMs ? { retryBaseMs: options.retryBaseMs } : {}) } },
    );
    this.actor.on("*", (e: MuscleEmitted) => options.onEvent?.(e));
    this.actor.start();
  }

  /** Each step of a job is a span, a child of the trace that requested the job. */
  private step<T>(name: string, f: () => Promise<T>): Promise<T> {
    const job = this.current?.delivery.event;
    const attributes = { "sophont.actor": "muscle", "sophont.job": job ? (job.data as { jobId: string }).jobId : "unknown" };
    return inSpan(`muscle.${name}`, job?.metadata.trace, attributes, f);
  }

  /**
   * Terminates rented instances whose job is over or unknown to the log (a Soul that crashed after
   * renting); each is reported on its job's subject. Jobs still live keep theirs: they resume on it.
   */
  async reconcile(): Promise<number> {
    const cloud = this.options.providers.cloud;
    if (!cloud?.strays || !cloud.releaseById) return 0;
    const states = new Map<string, JobState>();
    for await (const e of this.store.read({ types: TRAINING })) {
      const id = (e.data as { jobId?: string }).jobId;
      if (id) states.set(id, evolveJob(states.get(id) ?? initialJobState(), e));
    }
    const live = new Set([...states].filter(([, s]) => s.request && !s.released && !s.failed).map(([id]) => id));
    const strays = await cloud.strays(live);
    for (const stray of strays) {
      const { failedTries } = await cloud.releaseById(stray.leaseId);
      const s = states.get(stray.jobId);
      const known = stray.purpose === "staging" ? s?.staging : s?.instance;
      const at = known?.at;
      const seconds = at ? Math.max(0, (this.clock().getTime() - at) / 1000) : 0;
      const event = {
        type: "InstanceTerminated" as const,
        data: {
          jobId: stray.jobId, provider: cloud.kind, instanceId: stray.leaseId, seconds, cost: (seconds / 3600) * (known?.pricePerHour ?? 0), reason: "reconciled: no live job", failedTries,
          ...(stray.purpose ? { purpose: stray.purpose } : {}), ...(known?.volume ? { volume: { ...known.volume } } : {}),
        },
      };
      await this.store.append([{ event, metadata: { id: derivedEventId("muscle", stray.leaseId, "reconciled"), time: this.clock().toISOString(), actor: "muscle", causationId: null, correlationId: stray.jobId } }]);
    }
    return strays.length;
  }

  async start(): Promise<void> {
    await this.reconcile();
    const ackWaitMs = this.options.ackWaitMs ?? 60_000;
    const durable = this.options.durable ?? "actor-muscle";
    const jobs = this.store.subscribe({ durable, types: new Set(["TrainingRequested"]), ackWaitMs });
    const cancels = this.store.subscribe({ durable: `${durable}-cancel`, types: new Set(["TrainingCancelRequested"]), ackWaitMs: 10_000 });
    this.subscriptions = [jobs, cancels];
    void eachDelivery(jobs, async (d) => {
      if (d.event.type === "TrainingRequested") await this.runJob(d);
    });
    void eachDelivery(cancels, async (d) => {
      if (d.event.type === "TrainingCancelRequested") this.actor.send({ type: "CANCEL", jobId: d.event.data.jobId, reason: cancelReasonOf(d.event.data) });
      await d.ack();
    });
  }

  private async jobState(jobId: string): Promise<JobState> {
    let state = initialJobState();
    for await (const e of this.store.read({ types: TRAINING })) if ((e.data as { jobId?: string }).jobId === jobId) state = evolveJob(state, e);
    return state;
  }

  private async runJob(d: Delivery): Promise<void> {
    if (d.event.type !== "TrainingRequested") return;
    const request = d.event.data;
    const state = await this.jobState(request.jobId);
    const started = d.event.storedAt;
    const job: MuscleJob = {
      causeId: d.event.metadata.id,
      jobId: request.jobId,
      resume: state.released ? "done" : state.failed ? "releasing" : state.cancelRequested && !state.started ? "cancelled" : "provisioning",
      ...(state.cancelReason ? { cancelReason: state.cancelReason } : {}),
      remainingMs: started + request.deadlineMs - this.clock().getTime(),
    };
    const record = (key: string, event: DomainEvent) => this.append(d.event, key, event);
    const steps = new JobSteps(request, state, { ...this.options, volumeHolds: this.options.volumeHolds ?? ((id, sha) => this.volumeHolds(id, sha)) }, record, () => this.clock().getTime());
    const heartbeat = setInterval(() => d.working(), Math.max(1_000, (this.options.ackWaitMs ?? 60_000) / 3));
    try {
      const finished = await new Promise<{ stalled: boolean }>((resolve) => {
        const sub = this.actor.on("*", (e: MuscleEmitted) => {
          if (e.type === "finished" && e.job.causeId === job.causeId) (sub.unsubscribe(), resolve(e));
        });
        // On stop the job is dropped unacked, as if this Muscle had died.
        const drop = () => (sub.unsubscribe(), resolve({ stalled: true }));
        this.current = { job, steps, delivery: d, heartbeat, drop };
        this.actor.send({ type: "JOB", job });
        // Cancelled while no Muscle had it in hand, after its launch: the trainer may still run on its host.
        if (state.cancelRequested && state.started && !state.failed) this.actor.send({ type: "CANCEL", jobId: job.jobId, ...(state.cancelReason ? { reason: state.cancelReason } : {}) });
      });
      if (!finished.stalled) await d.ack();
    } finally {
      clearInterval(heartbeat);
      this.current = undefined;
    }
  }

  /** Whether the log says the volume holds the file: a BaseStaged on it, and no VolumeDeleted since. */
  private async volumeHolds(volumeId: string, sha256: string): Promise<boolean> {
    const events: Recorded<DomainEvent>[] = [];
    for await (const e of this.store.read({ types: new Set(["BaseStaged", "VolumeDeleted"]) })) events.push(e);
    return volumeHolds(events, volumeId, sha256);
  }

  private async append(cause: Recorded<DomainEvent>, key: string, event: DomainEvent): Promise<void> {
    await this.store.append([{
      event,
      metadata: {
        id: derivedEventId("muscle", cause.metadata.id, key),
        time: this.clock().toISOString(),
        actor: "muscle",
        causationId: cause.metadata.id,
        correlationId: cause.metadata.correlationId,
        ...(cause.metadata.trace ? { trace: cause.metadata.trace } : {}),
      },
    }]);
  }

  /** Stops at once: a job in hand stays unacked and running on its host, for the next Muscle to re-attach. */
  async stop(): Promise<void> {
    // The job in hand is left unacked and no longer kept alive: the server redelivers it after ackWait.
    if (this.current) (clearInterval(this.current.heartbeat), this.current.steps.abort(), this.current.drop());
    this.actor.send({ type: "STOP" });
    this.actor.stop();
    await Promise.all(this.subscriptions.map((s) => s.stop()));
  }
}
