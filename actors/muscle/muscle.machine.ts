import { assign, emit, fromPromise, setup } from "xstate";
import { backoffDelay } from "../machine.ts";
import { failureKindOf, isFatal, type FailureKind } from "./muscle.decider.ts";

/** One job in hand: the TrainingRequested id (the cause of every event of the job) and where to resume. */
export interface MuscleJob {
  readonly causeId: string;
  readonly jobId: string;
  /**
   * `provisioning` for a job with work left; `cancelled` for one cancelled before its trainer was
   * launched (reported, then released); `releasing` when only the release is missing; `done`.
   */
  readonly resume: "provisioning" | "cancelled" | "releasing" | "done";
  /** Milliseconds left before the deadline. */
  readonly remainingMs: number;
  /** For a job cancelled before its launch: who asked and why. */
  readonly cancelReason?: string;
}

export interface Failure {
  readonly stage: string;
  readonly kind: FailureKind;
  readonly error: string;
  readonly exitCode: number | null;
}

export type Ended = { readonly state: "exited"; readonly code: number } | { readonly state: "cancelled" } | { readonly state: "unknown"; readonly reason: string };

export interface MuscleContext {
  readonly job: MuscleJob | null;
  readonly step: Step;
  readonly attempt: number;
  readonly failure: Failure | null;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
}

type Step = "provisioning" | "uploading" | "starting" | "following" | "downloading" | "cleaning";
export type MuscleEvent = { type: "JOB"; job: MuscleJob } | { type: "CANCEL"; jobId: string; reason?: string } | { type: "PROGRESSED" } | { type: "STOP" };
export type MuscleEmitted =
  | { type: "step"; job: MuscleJob; step: string; attempt: number; lastError: string | null }
  | { type: "finished"; job: MuscleJob; failure: Failure | null; stalled: boolean };

const effect = <O, I>() => fromPromise<O, I>(async () => {
  throw new Error("provided by the worker");
});

const errorText = (e: unknown): string => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e));

/** A thrown failure; one that will be retried counts as a connection failure if it is reported at all. */
const thrownFailure = (stage: string, error: unknown, retried: boolean): Failure => {
  const kind = failureKindOf(error);
  return { stage, kind: retried && kind === "internal" ? "connection" : kind, error: errorText(error), exitCode: null };
};

/** How a trainer that ended without success is reported. */
const endedFailure = (ended: Ended): Failure => ({
  stage: "following",
  kind: ended.state === "cancelled" ? "cancelled" : "trainer",
  error: ended.state === "exited" ? `the trainer exited with ${ended.code}` : ended.state === "unknown" ? ended.reason : "cancelled on the host",
  exitCode: ended.state === "exited" ? ended.code : null,
});

/** One step of the lifecycle: on error, a fatal failure ends the job, anything else backs off and retries `retryFrom`. */
const stepState = <S extends Step>(src: S, next: string, retryFrom: Step = src) => ({
  entry: [{ type: "setStep", params: { step: retryFrom } }, { type: "announce", params: { step: src } }],
  invoke: {
    src,
    input: ({ context }: { context: MuscleContext }) => context.job!,
    onDone: { target: next, actions: "resetAttempts" },
    onError: [
      { guard: "fatal", target: "#muscle.recording", actions: { type: "fail", params: { stage: src } } },
      { target: "retrying", actions: { type: "setBack", params: { stage: src } } },
    ],
  },
}) as const;

/**
 * A training job on a host: provisioning -> uploading -> starting -> following -> downloading ->
 * cleaning -> releasing. Every step is idempotent by the job id, so a retry after a dropped link (or
 * a restarted Muscle) re-enters the failed step: a started trainer is re-attached, never started
 * twice. A deadline or a cancel kills the job's process group and reports it. Effects are named
 * actors the worker provides.
 */
export const muscleMachine = setup({
  types: { context: {} as MuscleContext, events: {} as MuscleEvent, emitted: {} as MuscleEmitted, input: {} as { maxAttempts?: number; retryBaseMs?: number } },
  actors: {
    provisioning: effect<void, MuscleJob>(),
    uploading: effect<void, MuscleJob>(),
    starting: effect<void, MuscleJob>(),
    following: effect<Ended, MuscleJob>(),
    downloading: effect<void, MuscleJob>(),
    cleaning: effect<void, MuscleJob>(),
    cancelling: effect<void, MuscleJob>(),
    recording: effect<void, { job: MuscleJob; failure: Failure }>(),
    releasing: effect<void, { job: MuscleJob; cleaned: boolean }>(),
  },
  actions: {
    setStep: assign((_, params: { step: Step }) => ({ step: params.step })),
    announce: emit(({ context }, params: { step: string }) => ({ type: "step" as const, job: context.job!, step: params.step, attempt: context.attempt, lastError: context.attempt > 0 ? context.failure?.error ?? null : null })),
    resetAttempts: assign({ attempt: 0, failure: null }),
    // A step that succeeds after retries leaves no failure behind; its retry budget is kept.
    recovered: assign({ failure: null }),
    fail: assign(({ event }, params: { stage: string }) => ({ failure: thrownFailure(params.stage, (event as { error?: unknown }).error, false) })),
    setBack: assign(({ event }, params: { stage: string }) => ({ failure: thrownFailure(params.stage, (event as { error?: unknown }).error, true) })),
  },
  delays: {
    retry: ({ context }) => backoffDelay(context.attempt, context.retryBaseMs),
    deadline: ({ context }) => Math.max(0, context.job?.remainingMs ?? 0),
  },
  guards: {
    fatal: ({ event }) => isFatal((event as { error?: unknown }).error),
    exitedOk: ({ event }) => {
      const ended = (event as unknown as { output?: Ended }).output;
      return ended?.state === "exited" && ended.code === 0;
    },
    spent: ({ context }) => context.attempt >= context.maxAttempts,
  },
}).createMachine({
  id: "muscle",
  initial: "idle",
  context: ({ input }) => ({ job: null, step: "provisioning", attempt: 0, failure: null, maxAttempts: input.maxAttempts ?? 8, retryBaseMs: input.retryBaseMs ?? 500 }),
  states: {
    idle: {
      on: {
        JOB: [
          { guard: ({ event }) => event.job.resume === "done", target: "finishing", actions: assign({ job: ({ event }) => event.job, failure: null }) },
          { guard: ({ event }) => event.job.resume === "releasing", target: "releasing", actions: assign({ job: ({ event }) => event.job, failure: null }) },
          {
            guard: ({ event }) => event.job.resume === "cancelled",
            target: "recording",
            actions: assign({ job: ({ event }) => event.job, failure: ({ event }) => ({ stage: "requested", kind: "cancelled" as FailureKind, error: `${event.job.cancelReason ?? "cancelled"}, before the trainer was launched`, exitCode: null }) }),
          },
          { target: "running", actions: assign({ job: ({ event }) => event.job, failure: null, attempt: 0 }) },
        ],
        STOP: "stopped",
      },
    },
    running: {
      initial: "provisioning",
      after: { deadline: { target: "cancelling", actions: assign({ failure: ({ context }) => ({ stage: context.step, kind: "deadline" as FailureKind, error: `the job ran past its deadline`, exitCode: null }) }) } },
      on: {
        CANCEL: { guard: ({ context, event }) => event.jobId === context.job?.jobId, target: "cancelling", actions: assign({ failure: ({ context, event }) => ({ stage: context.step, kind: "cancelled" as FailureKind, error: event.reason ?? "cancelled on request", exitCode: null }) }) },
        // New log lines prove the link works again: the retry budget starts over.
        PROGRESSED: { actions: "resetAttempts" },
        STOP: "stopped",
      },
      states: {
        provisioning: stepState("provisioning", "uploading"),
        uploading: stepState("uploading", "starting"),
        starting: { ...stepState("starting", "following"), invoke: { ...stepState("starting", "following").invoke, onDone: { target: "following", actions: "recovered" } } },
        following: {
          entry: [{ type: "setStep", params: { step: "starting" } }, { type: "announce", params: { step: "following" } }],
          invoke: {
            src: "following",
            input: ({ context }) => context.job!,
            onDone: [
              { guard: "exitedOk", target: "downloading", actions: "resetAttempts" },
              { target: "#muscle.recording", actions: assign({ failure: ({ event }) => endedFailure(event.output) }) },
            ],
            onError: [
              { guard: "fatal", target: "#muscle.recording", actions: { type: "fail", params: { stage: "following" } } },
              { target: "retrying", actions: { type: "setBack", params: { stage: "following" } } },
            ],
          },
        },
        downloading: stepState("downloading", "cleaning"),
        cleaning: stepState("cleaning", "#muscle.releasing"),
        retrying: {
          always: { guard: "spent", target: "#muscle.recording" },
          after: { retry: { target: "resume", actions: assign({ attempt: ({ context }) => context.attempt + 1 }) } },
        },
        resume: {
          always: [
            { guard: ({ context }) => context.step === "uploading", target: "uploading" },
            { guard: ({ context }) => context.step === "starting", target: "starting" },
            { guard: ({ context }) => context.step === "downloading", target: "downloading" },
            { guard: ({ context }) => context.step === "cleaning", target: "cleaning" },
            { target: "provisioning" },
          ],
        },
      },
    },
    cancelling: {
      invoke: { src: "cancelling", input: ({ context }) => context.job!, onDone: "recording", onError: "recording" },
    },
    recording: {
      invoke: {
        src: "recording",
        input: ({ context }) => ({ job: context.job!, failure: context.failure! }),
        onDone: "releasing",
        onError: "stalled",
      },
    },
    releasing: {
      invoke: {
        src: "releasing",
        input: ({ context }) => ({ job: context.job!, cleaned: context.failure === null }),
        onDone: "finishing",
        onError: "stalled",
      },
    },
    finishing: {
      always: { target: "idle", actions: emit(({ context }) => ({ type: "finished" as const, job: context.job!, failure: context.failure, stalled: false })) },
    },
    // The event log is out of reach: the TrainingRequested stays unacked and is redelivered later.
    stalled: {
      always: { target: "idle", actions: emit(({ context }) => ({ type: "finished" as const, job: context.job!, failure: { stage: "recording", kind: "internal" as FailureKind, error: "the event store could not be written", exitCode: null }, stalled: true })) },
    },
    stopped: { type: "final" },
  },
});
