import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { runSophont, startSophont, type CliResult, type CliRun } from "../../support/cli.ts";
import { eventually } from "../../support/disk.ts";
import { seeded } from "../../support/random.ts";
import { corpusLines, TOPICS } from "../llm/support.ts";

/**
 * Crashes at the process level, tested as processes: kill -9 of the `sophont night` process, of
 * `sophont up` and of the embedded nats-server, at seeded random points of the night's work, each
 * followed by what a user would run (`sophont night --day D` again; `sophont up` again).
 * Then, over the whole log: every input decided exactly once, no event id repeated, each
 * NightCompleted's counts equal to its decisions; and after each trial no nats-server of the home
 * left in the process table, no lock refusing the next start, no command that hangs.
 */
const SEED = 4_16_2026;
// Salience judges 16 inputs a batch and appends each batch's decisions together: 40 inputs make three
// batches, so a kill after the first or the second lands with the night half done.
const INPUTS = 40;
const LINES_PER_INPUT = 10;
const BATCH = 16;
// Far above what a command needs on an idle machine: a command still running then has hung.
const HANG_MS = 300_000;

type Target = "night" | "up" | "nats-server (night's)" | "nats-server (up's)";
const TARGETS: Target[] = ["night", "night", "night", "up", "up", "up", "nats-server (night's)", "nats-server (night's)", "nats-server (up's)", "nats-server (up's)"];

const home = mkdtempSync(join(tmpdir(), "sophont-crash-"));
const env = { SOPHONT_HOME: home, SOPHONT_NATS_URL: "" };
const stateFile = join(home, "nats", "server.json");
const started: CliRun[] = [];
const r = seeded(SEED);
const lines = TOPICS.flatMap((t) => corpusLines("heldout", t)).filter((l) => l.length > 40);

/** The home's nats-servers in the process table (their command line names the home's config). */
const serversOfHome = (): number[] =>
  readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
        return cmd[0]!.endsWith("nats-server") && cmd.some((a) => a.startsWith(home)) ? [Number(d)] : [];
      } catch {
        return []; // gone while read
      }
    });

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill("SIGKILL");
  for (const pid of serversOfHome()) process.kill(pid, "SIGKILL");
  rmSync(home, { recursive: true, force: true });
});

/** A started command with its output so far (stdout and stderr together). */
const start = (args: string[]): CliRun & { output(): string } => {
  const run = startSophont(args, { env, timeoutMs: HANG_MS });
  started.push(run);
  let output = "";
  run.child.stdout!.on("data", (d) => (output += d));
  run.child.stderr!.on("data", (d) => (output += d));
  return { ...run, output: () => output };
};

const exited = (run: CliRun) => run.child.exitCode !== null || run.child.signalCode !== null;

/** Waits until the output says `re` (or the process ended); fails the trial when it hangs. */
const until = async (run: ReturnType<typeof start>, re: RegExp): Promise<void> => {
  const o = await eventually(() => run.output(), (s) => re.test(s) || exited(run), HANG_MS);
  expect(o, `waited for ${re}`).toMatch(re);
};

const sophont = async (args: string[]): Promise<CliResult> => {
  const res = await runSophont(args, { env, timeoutMs: HANG_MS });
  expect(res.timedOut, `sophont ${args.join(" ")} hung\n${res.err.slice(-2000)}`).toBe(false);
  return res;
};

/** What a user runs to finish the night after a crash; a night already complete says so (rc 1, "completed"). */
const resumeNight = async (day: string): Promise<string> => {
  const res = await sophont(["night", "--day", day, "--json"]);
  if (res.code === 1 && /already started .*completed/.test(res.err)) return "already complete";
  expect(res.code, res.err.slice(-3000)).toBe(0);
  const summary = JSON.parse(res.out) as { completed: boolean; resumed: boolean };
  expect(summary.completed, res.err.slice(-2000)).toBe(true);
  return summary.resumed ? "resumed" : "ran";
};

const serverPid = (): number => (JSON.parse(readFileSync(stateFile, "utf8")) as { pid: number }).pid;

/** After a crash, the watchdog takes the home's server down with its owner: nothing is left running. */
const expectNoOrphan = async (what: string): Promise<void> => {
  const left = await eventually(serversOfHome, (pids) => pids.length === 0, 30_000);
  expect(left, `nats-server(s) left running after ${what}`).toEqual([]);
};

/** Stops an `up` as Ctrl-C does, and checks it went cleanly, its server and lock with it. */
const stopUp = async (run: ReturnType<typeof start>): Promise<void> => {
  run.child.kill("SIGINT");
  const res = await run.done;
  expect(res.timedOut, "up did not stop on SIGINT").toBe(false);
  expect(res.code, `signal ${res.signal}\n${run.output().slice(-2000)}`).toBe(0);
  await expectNoOrphan("up stopped");
  expect(existsSync(stateFile), "the server lock outlived a clean stop").toBe(false);
};

/**
 * A trial's random point: after about `afterDecisions` of the night's inputs were decided (seen as
 * the stream's growth: each input adds a score and a decision), then `jitterMs`. Counted in the
 * night's own progress, not in seconds, so the kill lands mid-night on a fast machine as on a slow one.
 */
interface Trial { readonly n: number; readonly target: Target; readonly day: string; readonly afterDecisions: number; readonly jitterMs: number; killedAt: number; then: string }

const NIGHT_BEGAN = /night \S+ (started|was started earlier|is open on the running Soul)/;

const lastSeq = async (jsm: JetStreamManager): Promise<number | undefined> => (await jsm.streams.info(EVENT_STREAM).catch(() => undefined))?.state.last_seq;

/** kill -9 `pid` at the trial's point, unless the process it belongs to already ended. */
const killAfter = async (t: Trial, pid: () => number, alive: () => boolean): Promise<void> => {
  const { url } = JSON.parse(readFileSync(stateFile, "utf8")) as { url: string };
  const secrets = JSON.parse(readFileSync(join(home, "secrets", "nats.json"), "utf8")) as { soul: string };
  const nc = await connect({ servers: url, user: "soul", pass: secrets.soul, reconnect: false, timeout: 10_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const from = (await lastSeq(jsm)) ?? 0;
    await eventually(() => lastSeq(jsm), (seq) => seq === undefined || seq >= from + 2 * t.afterDecisions || !alive(), HANG_MS);
  } finally {
    await nc.close().catch(() => undefined);
  }
  await new Promise((res) => setTimeout(res, t.jitterMs));
  t.killedAt = Date.now();
  if (!alive()) return;
  try {
    process.kill(pid(), "SIGKILL");
  } catch {
    // ended between the look and the kill (its server's lock already gone): the trial's night ran out first
  }
};

/** Starts the night of `day`, under a `sophont up` when `withUp`, and waits until its work began. */
const beginNight = async (day: string, withUp: boolean) => {
  const up = withUp ? start(["up"]) : undefined;
  if (up) await until(up, /Sophont is up/);
  const night = start(["night", "--day", day, "--json"]);
  await until(night, NIGHT_BEGAN);
  return { up: up!, night };
};

const runTrial = async (t: Trial): Promise<void> => {
  switch (t.target) {
    case "night": {
      const { night } = await beginNight(t.day, false);
      await killAfter(t, () => night.child.pid!, () => !exited(night));
      await night.done;
      await expectNoOrphan("kill -9 of night");
      t.then = `night again: ${await resumeNight(t.day)}`;
      return;
    }
    case "up": {
      const { up, night } = await beginNight(t.day, true);
      await killAfter(t, () => up.child.pid!, () => !exited(up));
      // The night following the dead up ends (saying how to resume) instead of waiting on it.
      const followed = await night.done;
      expect(followed.timedOut, "a night following a killed up hung").toBe(false);
      const complete = followed.code === 0 && (JSON.parse(followed.out) as { completed: boolean }).completed;
      if (!complete) expect(followed.err).toMatch(/stopped before its end[^]*sophont up/);
      await expectNoOrphan("kill -9 of up");
      const again = start(["up"]);
      await until(again, /Sophont is up/);
      t.then = `up again, night: ${await resumeNight(t.day)}`;
      await stopUp(again);
      return;
    }
    case "nats-server (night's)": {
      const { night } = await beginNight(t.day, false);
      await killAfter(t, serverPid, () => !exited(night));
      const res = await night.done;
      expect(res.timedOut, "a night whose server was killed hung").toBe(false);
      const restarted = /nats-server restarted on/.test(res.err);
      expect(res.code, res.err.slice(-2000)).toBe(0);
      t.then = restarted ? "night restarted its server and finished" : "night finished before the kill";
      await expectNoOrphan("night ended");
      return;
    }
    case "nats-server (up's)": {
      const { up, night } = await beginNight(t.day, true);
      await killAfter(t, serverPid, () => !exited(night));
      const res = await night.done;
      expect(res.timedOut, "a night on up's killed server hung").toBe(false);
      expect(res.code, res.err.slice(-2000)).toBe(0);
      expect((JSON.parse(res.out) as { completed: boolean }).completed).toBe(true);
      t.then = /nats-server restarted on/.test(up.output()) ? "up restarted its server; night finished" : "night finished before the kill";
      await stopUp(up);
      return;
    }
  }
};

interface Logged { readonly seq: number; readonly type: string; readonly id: string; readonly storedAt: string; readonly data: Record<string, unknown> & { inputId?: string; nightId?: string } }
const DECISIONS = new Map([["InputAccepted", "accepted"], ["InputRejected", "rejected"], ["ShadowRecorded", "shadow"], ["InputDropped", "dropped"]]);

describe("kill -9 trials: the night process, up and the embedded nats-server", () => {
  it(`${TARGETS.length} seeded trials lose no input, decide none twice, and leave no server behind`, async () => {
    const t0 = Date.now();
    const questions = join(home, "questions.txt");
    writeFileSync(questions, ["How do planets move in their orbits around a star?", "How should a wound be cleaned and dressed?", "How do you reef a sail in a strong wind?"].join("\n"));
    expect((await sophont(["preoccupation", "seed", questions])).code).toBe(0);

    const order = [...TARGETS];
    for (let i = order.length - 1; i > 0; i--) {
      const j = r.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const trials: Trial[] = order.map((target, i) => ({ n: i + 1, target, day: `2027-01-${String(i + 1).padStart(2, "0")}`, afterDecisions: r.int(0, INPUTS - BATCH - 1), jitterMs: r.int(0, 400), killedAt: 0, then: "" }));
    for (const t of trials) {
      // Inputs of ten real sentences each.
      const inputs = Array.from({ length: INPUTS }, () => Array.from({ length: LINES_PER_INPUT }, () => r.pick(lines)).join(" "));
      const file = join(home, `${t.day}.log`);
      writeFileSync(file, inputs.join("\n"));
      const ingested = await sophont(["ingest", file, "--day", t.day]);
      expect(ingested.code, ingested.err).toBe(0);
      await runTrial(t);
      console.log(`[crash] trial ${t.n}: kill -9 ${t.target} after ~${t.afterDecisions} decisions + ${t.jitterMs} ms; ${t.then}; at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }

    const tail = await sophont(["events", "tail", "--from", "1", "--json"]);
    expect(tail.code, tail.err).toBe(0);
    const log = tail.out.trim().split("\n").map((l) => JSON.parse(l) as Logged);
    await expectNoOrphan("the last command");
    expect(existsSync(stateFile), "the server lock outlived the last command").toBe(false);
    expect(readdirSync(join(home, "nats")).filter((f) => f.startsWith("server.json")), "stale lock files left").toEqual([]);

    const ids = log.map((e) => e.id);
    expect(ids.length - new Set(ids).size, "event ids repeated").toBe(0);
    const received = new Set(log.filter((e) => e.type === "InputReceived").map((e) => e.data.inputId!));
    const decisions = log.filter((e) => DECISIONS.has(e.type));
    const perInput = new Map<string, number>();
    for (const d of decisions) perInput.set(d.data.inputId!, (perInput.get(d.data.inputId!) ?? 0) + 1);
    const lost = [...received].filter((id) => !perInput.has(id));
    const twice = [...perInput].filter(([, k]) => k > 1).map(([id]) => id);
    const completed = log.filter((e) => e.type === "NightCompleted");

    const rows = trials.map((t) => {
      const mine = decisions.filter((d) => d.data.nightId === t.day);
      const before = mine.filter((d) => Date.parse(d.storedAt) <= t.killedAt).length;
      return { trial: t.n, target: t.target, killAfter: `~${t.afterDecisions} decided + ${t.jitterMs} ms`, decidedBeforeKill: before, decisions: mine.length, then: t.then };
    });
    console.log(`[crash] seed ${SEED}, ${received.size} inputs, ${log.length} events, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.table(rows);
    console.log(`[crash] lost ${lost.length}, decided twice ${twice.length}, nights completed ${completed.length}/${trials.length}`);

    expect(received.size).toBeGreaterThanOrEqual(trials.length * INPUTS * 0.9); // random picks may repeat an input, rarely
    expect(lost, "inputs never decided").toEqual([]);
    expect(twice, "inputs decided more than once").toEqual([]);
    for (const t of trials) {
      const nightEvents = log.filter((e) => (e.type === "NightStarted" || e.type === "NightCompleted") && e.data.nightId === t.day).map((e) => e.type);
      expect(nightEvents, `night ${t.day} (trial ${t.n}, ${t.target})`).toEqual(["NightStarted", "NightCompleted"]);
    }
    for (const c of completed) {
      const counts = c.data.counts as Record<string, number>;
      const mine = decisions.filter((d) => d.data.nightId === c.data.nightId);
      for (const kind of DECISIONS.values()) expect(counts[kind], `${c.data.nightId} ${kind}`).toBe(mine.filter((d) => DECISIONS.get(d.type) === kind).length);
    }
    // Each kind of kill happened while the night was at work at least once (else the trials prove little).
    for (const target of new Set(TARGETS)) {
      expect(rows.some((row) => row.target === target && row.decidedBeforeKill < INPUTS), `no ${target} kill landed before the night's end`).toBe(true);
    }
  }, 3_600_000);

  it("up stops cleanly, its lock released, when its killed server cannot come back on the same URL", async () => {
    const up = start(["up"]);
    await until(up, /Sophont is up/);
    const { url } = JSON.parse(readFileSync(stateFile, "utf8")) as { pid: number; url: string };
    const port = Number(new URL(url.replace(/^nats:/, "http:")).port);
    // The port is taken the moment the server dies (another program, another home's server). up restarts
    // its server at once, and may win the port back before the squatter binds it: then its new server is
    // killed too, until the squatter holds the port (up gives up by itself after its sixth death a minute).
    const squatter = createServer((c) => c.destroy());
    const squat = () => new Promise<boolean>((res, rej) => {
      const onError = (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? res(false) : rej(e));
      squatter.once("error", onError);
      squatter.listen(port, "127.0.0.1", () => (squatter.off("error", onError), res(true)));
    });
    let held = false;
    for (let attempt = 0; attempt < 6 && !held && !exited(up); attempt++) {
      const pid = existsSync(stateFile) ? serverPid() : undefined;
      if (pid !== undefined) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
        await eventually(() => existsSync(`/proc/${pid}`), (alive) => !alive, 10_000);
      }
      held = await squat();
      // Lost the race: wait for up's new server (its pid in the lock) before killing it again.
      if (!held) await eventually(() => (existsSync(stateFile) ? serverPid() : pid), (p) => p !== pid || exited(up), 30_000);
    }
    try {
      const res = await up.done;
      expect(res.timedOut, "up hung when its server could not come back").toBe(false);
      expect(res.code).toBe(1);
      // Either the new server lands on another port (not the URL its clients know) or cannot bind the
      // port at all (taken between the check and the start): both stop up, saying what to do.
      expect(up.output()).toMatch(/cannot restart the embedded nats-server: [^]*run `sophont up` again/);
      await expectNoOrphan("up gave up its server");
      expect(existsSync(stateFile), "the lock of an up that gave up").toBe(false);
    } finally {
      await new Promise((res) => squatter.close(res));
    }
    // The lock left no trace that refuses the next start.
    const again = start(["up"]);
    await until(again, /Sophont is up/);
    await stopUp(again);
  }, 900_000);
});
