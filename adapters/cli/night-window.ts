// When a night may run: config.json's `night` ({ at, deadline }, local times HH:MM), and the clock
// that ends a night at its deadline and stops the jobs still running past theirs.
import type { ActorHost } from "../../actors/host.ts";
import { nightsPastDeadline, type SoulCommand, type SoulState } from "../../actors/soul/soul.decider.ts";
import { lateJobs, type TrainingCommand, type TrainingState } from "../../actors/soul/training.decider.ts";
import { randomUUID } from "node:crypto";

export interface NightWindow {
  /** Local time the Soul starts a night every day under `sophont up` (HH:MM), if any. */
  readonly at: string | undefined;
  /** Local time by which a night must stop (HH:MM): the first such time after the night starts. */
  readonly deadline: string | undefined;
}

export const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const TIME = "a local time HH:MM (00:00 to 23:59)";

/** The first moment at local time `hhmm` strictly after `after`. */
export const nextLocal = (hhmm: string, after: Date): Date => {
  const [h, m] = hhmm.split(":").map(Number);
  const next = new Date(after);
  next.setHours(h!, m!, 0, 0);
  if (next <= after) next.setDate(next.getDate() + 1);
  return next;
};

/** The ISO deadline of a night started at `start` (undefined: the window sets none). */
export const deadlineFor = (w: NightWindow, start: Date): string | undefined => (w.deadline ? nextLocal(w.deadline, start).toISOString() : undefined);

/**
 * Reads `night` (and the older top-level `nightAt`, still honoured, with a note said once), then the
 * SOPHONT_NIGHT_AT / SOPHONT_NIGHT_DEADLINE variables over them. Each error names the key.
 */
export const nightWindowFrom = (file: Record<string, unknown>, env: NodeJS.ProcessEnv, fail: (msg: string) => Error): { window: NightWindow; notes: string[] } => {
  const notes: string[] = [];
  const raw = file.night;
  if (raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) throw fail(`"night" must be an object { "at": "HH:MM", "deadline": "HH:MM" }, got ${JSON.stringify(raw)}`);
  const o = (raw ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "at" && k !== "deadline") throw fail(`night.${k} is not a setting; known: at, deadline`);
  for (const k of ["at", "deadline"]) if (o[k] !== undefined && !(typeof o[k] === "string" && HHMM.test(o[k] as string))) throw fail(`night.${k} must be ${TIME}, got ${JSON.stringify(o[k])}`);
  let at = o.at as string | undefined;
  if (file.nightAt !== undefined) {
    if (at !== undefined && at !== file.nightAt) throw fail(`"nightAt" (${String(file.nightAt)}) and night.at (${at}) disagree: keep night.at and remove nightAt`);
    at ??= file.nightAt as string;
    notes.push(`config.json: "nightAt" is the old name of night.at; it still works, but write { "night": { "at": "${at}" } } instead`);
  }
  let deadline = o.deadline as string | undefined;
  if (env.SOPHONT_NIGHT_AT !== undefined && env.SOPHONT_NIGHT_AT !== "") at = env.SOPHONT_NIGHT_AT;
  if (env.SOPHONT_NIGHT_DEADLINE !== undefined && env.SOPHONT_NIGHT_DEADLINE !== "") deadline = env.SOPHONT_NIGHT_DEADLINE;
  if (at !== undefined && !HHMM.test(at)) throw fail(`${env.SOPHONT_NIGHT_AT ? "SOPHONT_NIGHT_AT" : "night.at"} must be ${TIME}, got ${at}`);
  if (deadline !== undefined && !HHMM.test(deadline)) throw fail(`${env.SOPHONT_NIGHT_DEADLINE ? "SOPHONT_NIGHT_DEADLINE" : "night.deadline"} must be ${TIME}, got ${deadline}`);
  if (at !== undefined && at === deadline) throw fail(`night.deadline (${deadline}) must differ from night.at: a night would have no time at all`);
  return { window: { at, deadline }, notes };
};

export interface DeadlineWatch {
  /** Ends what is due now (also done every `everyMs`); resolves when the commands are answered. */
  check(): Promise<void>;
  stop(): void;
}

/**
 * The Soul's clock: every `everyMs` it looks at the actors' own state, and when a night's deadline has
 * come (or a job runs past its own or its night's), it sends the command that decides it. The
 * decisions are the deciders'; this only says when to look. Checked once at start too: a Soul that was
 * down at a deadline ends that night when it comes back.
 */
export const startDeadlineWatch = (
  soul: ActorHost<SoulState, SoulCommand>,
  training: ActorHost<TrainingState, TrainingCommand> | undefined,
  clock: () => Date,
  onError: (e: Error) => void,
  everyMs = 5_000,
): DeadlineWatch => {
  let running: Promise<void> | undefined;
  const once = async () => {
    const now = clock().getTime();
    if (nightsPastDeadline(soul.current(), now).length > 0) await soul.command({ id: randomUUID(), actor: "clock", command: { type: "CutOffNights" } });
    if (training && lateJobs(training.current(), now).length > 0) await training.command({ id: randomUUID(), actor: "clock", command: { type: "CancelLateJobs" } });
  };
  const check = () => (running ??= once().catch((e: Error) => onError(e)).finally(() => (running = undefined)));
  const timer = setInterval(() => void check(), everyMs);
  timer.unref();
  void check();
  return { check, stop: () => clearInterval(timer) };
};
