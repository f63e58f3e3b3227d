import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobStatus, RemoteHost } from "../../../actors/muscle/ports.ts";
import { SshRemoteHost } from "../../../adapters/ssh/client.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { eventually, hostEntryFor, processAlive } from "./fixtures.ts";

// A job that counts its own starts, then prints numbered lines slowly enough to be cut mid-way.
const countingJob = (lines: number, delay: string) =>
  `n=$(cat starts 2>/dev/null || echo 0); echo $((n + 1)) > starts
i=1; while [ "$i" -le ${lines} ]; do echo "line $i"; i=$((i + 1)); sleep ${delay}; done`;

const ended = (status: JobStatus): boolean => status.state !== "running";

/** Reads the whole log of a job until it has ended, from a given offset, through any reconnects. */
const drainLog = async (remote: RemoteHost, jobId: string, from: number): Promise<{ text: string; offset: number }> => {
  let text = "";
  let offset = from;
  for (;;) {
    const done = ended(await remote.jobStatus(jobId));
    const chunk = await remote.readLog(jobId, offset, { includePartialLine: done });
    text += chunk.text;
    offset = chunk.nextOffset;
    if (done && chunk.text === "") return { text, offset };
    if (chunk.text === "") await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe("SshRemoteHost detached jobs (real sshd)", () => {
  let sshd: Sshd;
  let remote: SshRemoteHost;
  let connects = 0;
  const entry = () => hostEntryFor(sshd, { workDir: workDirName });
  const workDirName = `sophont-jobs-${process.pid}`;

  beforeAll(async () => {
    sshd = await startSshd();
    remote = new SshRemoteHost(entry(), {
      retry: { attempts: 8, baseDelayMs: 50, maxDelayMs: 500 },
      onConnected: () => connects++,
    });
    await remote.connect();
  });

  afterAll(async () => {
    await remote?.close();
    if (remote?.workDirectory.startsWith("/")) rmSync(remote.workDirectory, { recursive: true, force: true });
    await sshd?.stop();
  });

  it("keeps running after the SSH session that started it is closed", async () => {
    const started = await remote.startDetached("survives-close", "sleep 1; echo finished");
    expect(started.outcome).toBe("started");
    await remote.close();
    // A fresh client (as after a restart of the Muscle) finds the job and its result.
    const again = new SshRemoteHost(entry());
    const status = await eventually(async () => {
      const s = await again.jobStatus("survives-close");
      return s.state === "running" ? undefined : s;
    });
    expect(status).toEqual({ state: "exited", code: 0 });
    expect((await again.readLog("survives-close", 0)).text).toBe("finished\n");
    await again.close();
  });

  it("resumes the log without gaps or repeats after the connection is killed, and never starts twice", async () => {
    const jobId = "cut-mid-job";
    const first = await remote.startDetached(jobId, countingJob(30, "0.05"));
    expect(first.outcome).toBe("started");
    let seen = "";
    let offset = 0;
    while (!seen.includes("line 5\n")) {
      const chunk = await remote.readLog(jobId, offset);
      seen += chunk.text;
      offset = chunk.nextOffset;
    }
    const connectsBefore = connects;
    sshd.killSessions();
    // The next calls reconnect by themselves; a second start of the same job only re-attaches.
    const second = await remote.startDetached(jobId, countingJob(30, "0.05"));
    expect(second).toEqual({ outcome: "attached", pid: first.pid });
    expect(connects).toBe(connectsBefore + 1);
    const restarted = await new SshRemoteHost(entry()).startDetached(jobId, "echo must not run");
    expect(restarted.outcome).toBe("attached");
    const rest = await drainLog(remote, jobId, offset);
    const expected = Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join("");
    expect(seen + rest.text).toBe(expected);
    expect(await remote.jobStatus(jobId)).toEqual({ state: "exited", code: 0 });
    expect(readFileSync(path.join(remote.jobDir(jobId), "starts"), "utf8").trim()).toBe("1");
  });

  it("starts a job once when two starts race", async () => {
    const results = await Promise.all([1, 2, 3].map(() => remote.startDetached("race", countingJob(1, "0"))));
    expect(results.map((r) => r.outcome).sort()).toEqual(["attached", "attached", "started"]);
    expect(new Set(results.map((r) => r.pid)).size).toBe(1);
    await eventually(async () => ((await remote.jobStatus("race")).state === "exited" ? true : undefined));
    expect(readFileSync(path.join(remote.jobDir("race"), "starts"), "utf8").trim()).toBe("1");
  });

  it("records a failing command's exit code, and its env and cwd", async () => {
    await remote.ensureDir("elsewhere");
    await remote.startDetached("fails", `echo "$GREETING from $(pwd)"; exit 3`, {
      cwd: "elsewhere",
      env: { GREETING: "it's $HOME `quoted`" },
    });
    const status = await eventually(async () => {
      const s = await remote.jobStatus("fails");
      return s.state === "running" ? undefined : s;
    });
    expect(status).toEqual({ state: "exited", code: 3 });
    const log = await remote.readLog("fails", 0);
    expect(log.text).toBe(`it's $HOME \`quoted\` from ${remote.workDirectory}/elsewhere\n`);
  });

  it("returns whole lines only unless asked for the partial last line", async () => {
    await remote.startDetached("partial", `printf 'one\\ntwo\\nthr'`);
    await eventually(async () => ((await remote.jobStatus("partial")).state === "exited" ? true : undefined));
    const whole = await remote.readLog("partial", 0);
    expect(whole).toEqual({ text: "one\ntwo\n", nextOffset: 8 });
    expect(await remote.readLog("partial", whole.nextOffset, { includePartialLine: true })).toEqual({ text: "thr", nextOffset: 11 });
    expect(await remote.readLog("partial", 0, { maxBytes: 5 })).toEqual({ text: "one\n", nextOffset: 4 });
  });

  it("cancel kills the whole process group, children included", async () => {
    const jobId = "to-cancel";
    await remote.startDetached(jobId, `sleep 300 & echo "child $!"; sh -c 'sleep 300 & echo "grandchild $!"; wait' & wait`);
    const pids = await eventually(async () => {
      const text = (await remote.readLog(jobId, 0)).text;
      const found = [...text.matchAll(/child (\d+)/g)].map((m) => Number(m[1]));
      return found.length === 2 ? found : undefined;
    });
    expect(pids.every(processAlive)).toBe(true);
    expect(await remote.cancel(jobId, { graceMs: 1_000 })).toEqual({ state: "cancelled" });
    await eventually(async () => (pids.some(processAlive) ? undefined : true), 5_000);
    // Cancelling again, or a job that is not there, is harmless.
    expect(await remote.cancel(jobId)).toEqual({ state: "cancelled" });
    expect(await remote.jobStatus("never-started")).toMatchObject({ state: "unknown" });
  });

  it("refuses job ids that are not safe directory names", () => {
    expect(() => remote.jobDir("../escape")).toThrow(/invalid job id/);
  });
});
