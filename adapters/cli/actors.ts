import { randomUUID } from "node:crypto";
import type { Subscription } from "@nats-io/transport-node";
import { ActorHost } from "../../actors/host.ts";
import { waitAtMost } from "../../actors/wait.ts";
import { soulDecider, type SoulCommand } from "../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../actors/salience/worker.ts";
import { ForgetReactor } from "../../actors/soul/forget.reactor.ts";
import type { SalienceEmitted } from "../../actors/salience/salience.machine.ts";
import type { PolicyValues } from "../../events/salience.ts";
import { AntechamberWorker } from "../../actors/antechamber/worker.ts";
import { defaultMitosisConfig, mitosisDecider, type MitosisCommand, type MitosisState } from "../../actors/mitosis/mitosis.decider.ts";
import { ApproveMitosis, DeclineMitosis, ForgetInput, StartNight } from "../../events/commands.ts";
import type { AntechamberSettings } from "./commands/antechamber-settings.ts";
import { serveCommands, type CommandHandler } from "../nats/commands.ts";
import { ObjectContentStore } from "../nats/content-store.ts";
import type { OpenModels } from "./models.ts";
import type { Runtime } from "./runtime.ts";
import { serveFromLog, startTraining } from "./training.ts";
import { startDeadlineWatch, type DeadlineWatch } from "./night-window.ts";
import { trainingDecider } from "../../actors/soul/training.decider.ts";
import type { EvaluationBounds } from "../../events/training.ts";
import type { TrainingRuleSettings } from "../../actors/soul/training.rule.ts";
import { defaultAirlock, type AirlockPolicy } from "../egress/policy.ts";
import { Egress } from "../egress/egress.ts";
import { sealedStore } from "../egress/derived.ts";
import { isRemoteNats } from "../egress/ingest.ts";
import { AnthropicJudge } from "../judge/anthropic.ts";
import type { JudgeConfig } from "../judge/config.ts";

/** The actors of this process, wired to the runtime's store, and the command subjects they answer. */
export interface RunningActors {
  readonly soul: ActorHost<ReturnType<typeof soulDecider.initialState>, SoulCommand>;
  readonly salience: SalienceWorker | undefined;
  readonly mitosis: ActorHost<MitosisState, MitosisCommand>;
  readonly antechamber: AntechamberWorker | undefined;
  /** The Soul's clock: ends nights at their deadline, stops jobs past theirs. */
  readonly deadlines: DeadlineWatch;
  stop(): Promise<void>;
}

export interface ActorOptions {
  /** Without models, Salience does not run here (another process may run it). */
  readonly models?: OpenModels;
  readonly onSalience?: (e: SalienceEmitted) => void;
  /** Salience's thresholds (config.json `salience`). */
  readonly policy?: PolicyValues;
  /** Without settings, the Antechamber does not run here; Mitosis always does (with its defaults). */
  readonly antechamber?: AntechamberSettings;
  /** With models and a home, the Muscle and the Soul's evaluation run here too (files under `<home>/muscle`). */
  readonly trainingHome?: string;
  /** With settings, the Soul requests training by itself after each night (on its own durable consumer). */
  readonly trainingRule?: TrainingRuleSettings;
  /** The evaluation's gate (config.json `training.bounds`). */
  readonly bounds?: EvaluationBounds;
  /** The Sophont home: with models, the serving adapter is loaded from the log before anything is scored. */
  readonly home?: string;
  /** The actors' clock (a test clock in tests; default: the system's). */
  readonly clock?: () => Date;
  /** How often the Soul's clock looks for a deadline that came (default 5 s). */
  readonly deadlineCheckMs?: number;
  /** Where the clock's own failures are said (default: stderr). */
  readonly onDeadlineError?: (e: Error) => void;
  /** The privacy airlock (config.json `airlock`; default: redacted everywhere). */
  readonly airlock?: AirlockPolicy;
  /** The frontier judge (config.json `judge`); absent: the local verdict stands. */
  readonly judge?: JudgeConfig;
}

export const startActors = async (rt: Runtime, opts: ActorOptions = {}): Promise<RunningActors> => {
  const clock = opts.clock ? { clock: opts.clock } : {};
  const soul = new ActorHost(rt.store, soulDecider, clock);
  await soul.start();
  const trainingRule = opts.trainingRule ? new ActorHost(rt.store, trainingDecider(opts.trainingRule), { durable: "actor-soul-training", ...clock }) : undefined;
  await trainingRule?.start();
  const deadlines = startDeadlineWatch(soul, trainingRule, opts.clock ?? (() => new Date()), opts.onDeadlineError ?? ((e) => process.stderr.write(`the Soul's clock: ${e.message}\n`)), opts.deadlineCheckMs);
  const forget = new ForgetReactor(rt.store, new ObjectContentStore(rt.nc));
  await forget.start();
  const home = opts.trainingHome ?? opts.home;
  if (opts.models && home) await serveFromLog(rt, opts.models.lm, home);
  const egress = new Egress(rt.store, opts.airlock ?? defaultAirlock, { actor: "salience" });
  const model = opts.models?.salience;
  const salience = model
    ? new SalienceWorker(sealedStore(rt.store, egress, { remote: !rt.server.embedded && isRemoteNats(rt.server.url) }), new ObjectContentStore(rt.nc), model, {
        ...(opts.policy ? { policy: opts.policy } : {}),
        ...(opts.onSalience ? { onEvent: opts.onSalience } : {}),
        ...(opts.judge ? { judge: new AnthropicJudge(opts.judge, egress) } : {}),
      })
    : undefined;
  await salience?.start();
  const mitosis = new ActorHost(rt.store, mitosisDecider(opts.antechamber?.mitosis ?? defaultMitosisConfig));
  await mitosis.start();
  const antechamber = opts.antechamber
    ? new AntechamberWorker(rt.store, await (await import("../vectors/antechamber-table.ts")).LanceRejectedVectors.open(opts.antechamber.dir, rt.store), { params: opts.antechamber.clustering })
    : undefined;
  await antechamber?.start();
  const training = opts.models && opts.trainingHome ? await startTraining(rt, opts.models.lm, opts.trainingHome, { ...(opts.airlock ? { airlock: opts.airlock } : {}), ...(opts.bounds ? { evaluation: { bounds: opts.bounds } } : {}), ...clock }) : undefined;
  const toMitosis: CommandHandler = (req) =>
    mitosis.command({
      id: req.id,
      actor: req.sender,
      ...(req.correlationId ? { correlationId: req.correlationId } : {}),
      ...(req.trace ? { trace: req.trace } : {}),
      command: req.command as MitosisCommand,
    });
  const toSoul: CommandHandler = (req) =>
    soul.command({
      id: req.id,
      actor: req.sender,
      ...(req.correlationId ? { correlationId: req.correlationId } : {}),
      ...(req.trace ? { trace: req.trace } : {}),
      command: req.command as SoulCommand,
    });
  const subs: Subscription[] = serveCommands(rt.nc, [
    { def: StartNight, handle: toSoul },
    { def: ForgetInput, handle: toSoul },
    { def: ApproveMitosis, handle: toMitosis },
    { def: DeclineMitosis, handle: toMitosis },
  ]);
  return {
    soul,
    salience,
    mitosis,
    antechamber,
    deadlines,
    // Each actor gets a bounded time to stop: one stuck on a message never keeps the process up.
    stop: async () => {
      subs.forEach((s) => s.unsubscribe());
      deadlines.stop();
      await within(training?.stop());
      await within(salience?.stop());
      await within(antechamber?.stop());
      await within(mitosis.stop());
      await within(forget.stop());
      await within(trainingRule?.stop());
      await within(soul.stop());
    },
  };
};

const STOP_MS = 10_000;
const within = (p: Promise<void> | undefined): Promise<void> => waitAtMost(p, STOP_MS);

/** A fresh command id (commands come from outside, so a random id is right here). */
export const newCommandId = (): string => randomUUID();

/** Today's date in local time, as nights are named. */
export const today = (d = new Date()): string =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
