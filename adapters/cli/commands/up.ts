import { defineCommand } from "../command.ts";
import { antechamberSettings } from "./antechamber-settings.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { narrateTraining } from "../training-narration.ts";
import { newCommandId, startActors, today } from "../actors.ts";
import { openModels } from "../models.ts";
import { ProjectionRunner } from "../../../projections/runner.ts";
import { allProjections } from "../../../projections/index.ts";
import { markUp } from "../running.ts";
import { bounded, superviseServer } from "../supervise.ts";
import { deadlineFor, HHMM, nextLocal } from "../night-window.ts";
import { UsageError } from "../format.ts";
import { DASHBOARD_OPTIONS, dashboardSettings, serveDashboard } from "./dashboard.ts";
import { describeHeal, healCopies } from "../heal-copies.ts";
import { staleCopies, type StaleCopies } from "../../../projections/stale-copies.projection.ts";

const TRAINING_LINES = new Set(["NightCompleted", "TrainingRequested", "TrainingDeferred", "TrainingCancelRequested", "TrainingProgressed", "AdapterEvaluated", "AdapterPromoted", "AdapterRolledBack", "TrainingFailed"]);

/** Prints the training loop's events as they come: the Soul's requests and deferrals, progress, verdicts. */
const narrate = async (rt: Runtime, after: number, out: (s: string) => void, signal: AbortSignal): Promise<void> => {
  try {
    for await (const e of rt.store.read({ from: { seq: after + 1 }, follow: true, types: TRAINING_LINES, signal })) {
      const line = narrateTraining(e);
      if (line) out(line);
    }
  } catch {
    // Stopping: the follow ends with the signal.
  }
};

/** How often `up` looks for copies of the content store to rebuild (and once at start). */
const HEAL_EVERY_MS = 60_000;

/**
 * Rebuilds the copies of the content store that missed a forget, once their node is back: the
 * pending set is the runner's stale-copies projection. A node still down waits for the next look;
 * a failure is recorded once per reason, not every minute.
 */
const healStale = async (rt: Runtime, runner: ProjectionRunner, ctx: { out: (s: string) => void; err: (s: string) => void }): Promise<void> => {
  try {
    const pending = Object.values(runner.state<StaleCopies>(staleCopies.name).pending);
    for (const o of await healCopies(rt.nc, rt.store, pending, { by: "up", actor: "up", quietRepeats: true })) {
      if (o.outcome === "rebuilt") ctx.out(`content store: ${describeHeal(o)}`);
      else if (o.outcome === "failed") ctx.err(`content store: ${describeHeal(o)}`);
    }
  } catch (e) {
    ctx.err(`content store: the stale copies were not looked at: ${(e as Error).message}`);
  }
};

export const up = defineCommand({
  path: ["up"],
  summary: "run the server, the actors and the projections in the foreground (Ctrl-C stops cleanly)",
  usage: "sophont up [--night-at HH:MM] [--night-deadline HH:MM] [--dashboard [--host H] [--port N] [--token T]]",
  details: [
    "Without SOPHONT_NATS_URL, starts the embedded nats-server on this home. Other `sophont` commands",
    "on the same home talk to it. --night-at (or night.at in config.json, SOPHONT_NIGHT_AT) makes the",
    "Soul start a night every day at that local time. --night-deadline (night.deadline, SOPHONT_NIGHT_DEADLINE):",
    "a night still working at that local time stops there; what it did not decide waits for the next",
    "night (its NightCompleted says how many, with cutOff), no training starts after it, and a job",
    "still running then is cancelled with the reason. --dashboard (or `dashboard.up` in config.json,",
    "SOPHONT_DASHBOARD=1) serves the read-only dashboard too, as `sophont dashboard` does.",
    "SOPHONT_TEST_CLOCK=START[,xRATE][,@ANCHOR] runs up on a test clock (time-travel testing): its time starts at START",
    "(ISO 8601) and runs RATE times the wall clock, for the schedule, the deadlines and the events' times;",
    "@ANCHOR (an ISO wall-clock time) says when the clock read START, so a `sophont train` beside it shares the clock.",
    "On a cluster, at start and every minute, up rebuilds each copy of the content store that missed a forget",
    "(its node was down or behind) once the node is back, as `sophont cluster heal` does.",
  ].join("\n"),
  options: { "night-at": { type: "string" }, "night-deadline": { type: "string" }, dashboard: { type: "boolean" }, ...DASHBOARD_OPTIONS },
  run: async (ctx, v): Promise<number> => {
    const nightAt = (v["night-at"] as string | undefined) ?? ctx.config.night.at;
    const deadline = (v["night-deadline"] as string | undefined) ?? ctx.config.night.deadline;
    for (const [flag, value] of [["--night-at", nightAt], ["--night-deadline", deadline]] as const) {
      if (value !== undefined && !HHMM.test(value)) throw new UsageError(`${flag} takes a local time HH:MM (00:00 to 23:59), got ${value}`);
    }
    const withDashboard = v.dashboard === true || ctx.config.dashboard.withUp;
    if (withDashboard) dashboardSettings(ctx, v); // a refusal comes before anything starts
    const rt = await openRuntime(ctx.config, ctx.err);
    const models = await openModels(ctx.config, ctx.err);
    const clock = ctx.config.clock;
    const actors = await startActors(rt, {
      models,
      ...(clock.description ? { clock: () => clock.now() } : {}),
      policy: ctx.config.policy,
      airlock: ctx.config.airlock,
      ...(ctx.config.judge ? { judge: ctx.config.judge } : {}),
      antechamber: antechamberSettings(ctx.config),
      trainingHome: ctx.config.home,
      bounds: ctx.config.training.bounds,
      ...(ctx.config.training.auto ? { trainingRule: { ...ctx.config.training, baseModelSha256: models.lm.identity.sha256 } } : {}),
      onSalience: (e) => ctx.out(
        e.type === "progress" ? `night ${e.job.nightId}: ${e.done}/${e.total} inputs judged`
          : e.type === "finished" ? `night ${e.job.nightId}: Salience done`
          : e.type === "cut-off" ? `night ${e.job.nightId}: Salience stopped at the night's deadline, ${e.left} input(s) left for the next night`
          : `night ${e.job.nightId}: Salience stopped: ${e.error}`,
      ),
    });
    const runner = new ProjectionRunner(rt.store, rt.checkpoints, allProjections);
    const unmark = markUp(ctx.config.home, { url: rt.server.url });
    ctx.out(`Sophont is up: NATS ${rt.server.url} (${rt.server.embedded ? "embedded" : "external"}), actors: soul, salience, antechamber, mitosis; model: ${models.description}`);
    if (clock.description) ctx.out(`${clock.description}; now ${clock.now().toISOString()}`);
    ctx.out(nightAt ? `the Soul starts a night every day at ${nightAt}${deadline ? `, to stop by ${deadline}` : ""}` : `no night schedule (use --night-at HH:MM, or \`sophont night\`)${deadline ? `; nights stop by ${deadline}` : ""}`);
    const dash = withDashboard ? await serveDashboard(ctx, rt, v).catch((e: Error) => (ctx.err(`dashboard not served: ${e.message}`), undefined)) : undefined;
    if (dash) ctx.out(`dashboard: ${dash.url}`);
    ctx.out("Ctrl-C to stop");
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      if (!nightAt) return;
      timer = setTimeout(async () => {
        // A night before noon closes the previous day; a night in the evening closes today.
        const d = clock.now();
        if (d.getHours() < 12) d.setDate(d.getDate() - 1);
        const day = today(d);
        const deadlineAt = deadlineFor({ at: nightAt, deadline }, clock.now());
        await actors.soul
          .command({ id: newCommandId(), actor: "schedule", command: { type: "StartNight", day, trigger: "schedule", ...(deadlineAt ? { deadlineAt } : {}) } })
          .then(() => ctx.out(`night ${day} started by the schedule${deadlineAt ? ` (deadline ${deadlineAt})` : ""}`))
          .catch((e: Error) => ctx.err(`scheduled night ${day} not started: ${e.message}`));
        schedule();
      }, clock.wallMs(nextLocal(nightAt, clock.now()).getTime() - clock.now().getTime()));
    };
    schedule();
    void narrate(rt, await rt.store.lastSeq(), ctx.out, ctx.signal);
    // The embedded server is supervised: when it dies, it is started again on the same URL (the
    // connection and the actors' consumers come back by themselves); if that fails, up stops cleanly.
    const supervisor = superviseServer(rt, ctx.signal, {
      restarting: () => ctx.err("the embedded nats-server is gone: starting it again"),
      restarted: (url) => ctx.out(`nats-server restarted on ${url}`),
    });
    let code = 0;
    void supervisor.gaveUp.then((why) => {
      ctx.err(`cannot restart the embedded nats-server: ${why}. Stopping; see the server log, then run \`sophont up\` again.`);
      code = 1;
    });
    let healing: Promise<void> | undefined;
    let healedAt = 0;
    while (!ctx.signal.aborted && code === 0) {
      await runner.catchUp().catch((e: Error) => ctx.err(`projections: ${e.message}`));
      if (!healing && Date.now() - healedAt >= HEAL_EVERY_MS) {
        healedAt = Date.now();
        healing = healStale(rt, runner, ctx).finally(() => (healing = undefined));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    await bounded(healing ?? Promise.resolve());
    supervisor.stop();
    ctx.out("stopping: actors, projections, server");
    clearTimeout(timer);
    unmark();
    await dash?.close();
    // Bounded: with the server gone for good, a clean stop must not wait on it forever.
    await bounded(actors.stop());
    await bounded(models.close());
    await bounded(rt.close());
    return code;
  },
});
