import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { runSophont, startSophont, type CliRun } from "../../support/cli.ts";

/** Debian's Chromium (`apt-get install chromium`): never a downloaded browser. */
const CHROMIUM = "/usr/bin/chromium";
/** Where the screenshots go (kept after the run, for people to look at). */
const OUT = process.env.SOPHONT_TEST_OUTPUT ?? fileURLToPath(new URL("../../output/dashboard/", import.meta.url));

const root = mkdtempSync(join(tmpdir(), "sophont-dashboard-"));
// The demo writes a real log with its own embedded nats-server and real actors: nights, a satellite's
// birth, two training jobs. The dashboard then reads that home (and starts its server again).
const home = join(root, "demo");
const env = { SOPHONT_HOME: home, SOPHONT_NATS_URL: "", OTEL_SDK_DISABLED: "true" };
const sophont = async (...args: string[]) => {
  const r = await runSophont(args, { env, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`sophont ${args.join(" ")} failed (${r.code}): ${r.err}`);
  return r.out;
};

let dash: CliRun;
let url = "";
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  expect(existsSync(CHROMIUM), "install Debian's chromium (apt-get install chromium): .ci/run does").toBe(true);
  mkdirSync(OUT, { recursive: true });
  const demo = await runSophont(["demo"], { env: { ...env, SOPHONT_HOME: root }, timeoutMs: 400_000 });
  if (demo.code !== 0) throw new Error(`the demo failed: ${demo.err}`);
  dash = startSophont(["dashboard", "--port", "0", "--json"], { env });
  url = await printedUrl(dash, 90_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
}, 600_000);

/** The URL `--json` prints (a JSON object on stdout), once it is all there. */
const printedUrl = (run: CliRun, timeoutMs: number): Promise<string> =>
  new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`the dashboard printed no URL within ${timeoutMs} ms`)), timeoutMs);
    run.child.stdout!.on("data", (d) => {
      buf += d;
      try {
        resolve((JSON.parse(buf) as { url: string }).url);
        clearTimeout(timer);
      } catch {
        // not all of it yet
      }
    });
    void run.done.then((r) => reject(new Error(`the dashboard exited (${r.code}): ${r.err}`)));
  });

afterAll(async () => {
  await browser?.close();
  dash?.child.kill("SIGTERM");
  await dash?.done;
  rmSync(root, { recursive: true, force: true });
});

const lastSeqOf = async (type: string): Promise<number> => {
  const line = (await sophont("events", "tail", "--json", "--last", "1", "--type", type)).trim().split("\n").at(-1)!;
  return (JSON.parse(line) as { seq: number }).seq;
};

const showAt = async (seq: number) => {
  await page.locator("#slider").fill(String(seq));
  await page.waitForSelector(`body[data-until="${seq}"]`, { timeout: 30_000 });
};

describe("the dashboard", () => {
  it("refuses another address without a token, before anything starts (dashboard and up --dashboard)", async () => {
    for (const args of [["dashboard", "--host", "0.0.0.0"], ["up", "--dashboard", "--host", "0.0.0.0"]]) {
      const r = await runSophont(args, { env: { ...env, SOPHONT_DASHBOARD_TOKEN: "" }, timeoutMs: 60_000 });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/refusing to serve the dashboard on 0\.0\.0\.0 without a token.*SOPHONT_DASHBOARD_TOKEN/s);
      expect(r.err).not.toMatch(/starting the embedded nats-server/);
    }
    const help = await sophont("dashboard", "--help");
    expect(help).toMatch(/usage: sophont dashboard/);
    expect(help).toMatch(/--json/);
  });

  it("loads every view with no console error", async () => {
    await page.goto(url);
    await page.waitForSelector("body[data-until]", { timeout: 60_000 });
    await page.waitForSelector("#live li", { timeout: 30_000 });
    expect(await page.locator("#timeline-chart g.night").count()).toBe(6);
    expect(await page.locator("#drift-chart .trajectory").count()).toBe(2);
    expect(await page.locator("#antechamber-chart circle.question").count()).toBeGreaterThan(10);
    expect(await page.locator("#antechamber-chart .birth").count()).toBe(1);
    // Each dot's hover: its question or, the default models distilling none, its text (loopback: as it is).
    const hovers = await page.locator("#antechamber-chart circle.question title").allTextContents();
    expect(hovers.filter((h) => !h.startsWith("(no text")).length).toBeGreaterThan(hovers.length / 2);
    expect(await page.locator("#rejections tr").count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator("ul.examples li blockquote").count()).toBeGreaterThan(0); // inputs' texts, on loopback
    expect(await page.locator("#lineage tr[data-job]").count()).toBe(2);
    expect(problems).toEqual([]);
  });

  it("shows an event appended meanwhile within 2 s", async () => {
    const before = Number(await page.locator("#slider").getAttribute("max"));
    writeFileSync(join(root, "late.txt"), "A late note on the rings of Saturn and their shepherd moons.\n");
    await sophont("ingest", join(root, "late.txt"), "--day", "2026-11-20");
    const appended = Date.now(); // the append is a fact once ingest returns
    // The first InputReceived line after the log's end before the append (the first lines are the log's last 200).
    const line = page.locator(`#live li[data-type="InputReceived"][data-seq="${before + 1}"], #live li[data-type="InputReceived"][data-seq="${before + 2}"]`).first();
    await line.waitFor({ timeout: 2_000 });
    expect(Date.now() - appended).toBeLessThan(2_000);
    // Stricter: from the event's own time (when ingest made it, before the append) to the line in the page.
    const [made, arrived] = [Date.parse((await line.getAttribute("data-time"))!), Number(await line.getAttribute("data-arrived"))];
    expect(arrived - made).toBeLessThan(2_000);
    expect(await page.locator("#slider").getAttribute("max")).toBe(String(await lastSeqOf("InputReceived")));
  });

  it("removes a satellite from every view before its birth and restores it after", async () => {
    const born = await lastSeqOf("SatelliteBorn");
    await showAt(born - 1);
    expect(await page.locator("#antechamber-chart .birth").count()).toBe(0);
    expect(await page.locator('#drift-chart .trajectory[data-centroid^="satellite-"]').count()).toBe(0);
    expect(await page.locator("body").getAttribute("data-satellites")).toBe("");
    expect(await page.locator(`#live li.after[data-seq="${born}"]`).count()).toBe(1); // the timeline greys what came after
    await page.locator("#section-antechamber").screenshot({ path: join(OUT, "antechamber-before-birth.png") });
    await showAt(born);
    expect(await page.locator("#antechamber-chart .birth").count()).toBe(1);
    expect(await page.locator('#drift-chart .trajectory[data-centroid^="satellite-"]').count()).toBe(1);
    expect(await page.locator("body").getAttribute("data-satellites")).toMatch(/^satellite-/);
    // The diff from before the birth to now names it.
    await page.locator("#diff-from").fill(String(born - 1));
    await page.locator("#diff-form button[type=submit]").click();
    await page.waitForSelector("#diff-table", { timeout: 30_000 });
    expect(await page.locator("#diff-table").textContent()).toMatch(/centroids born\s*satellite-/);
    expect(problems).toEqual([]);
  });

  it("follows a training job while it runs: its step, loss and ETA as the trainer reports them, then its outcome", async () => {
    // A real job on the local provider (the same trainer payload and job protocol), asked for by
    // `sophont train` while the page is open; enough steps that the page sees it running.
    await showAt(Number(await page.locator("#slider").getAttribute("max"))); // live again: the page follows the log's end
    const recipe = join(root, "recipe.json");
    writeFileSync(recipe, JSON.stringify({ epochs: 12 }));
    const train = startSophont(["train", "--local", "--recipe", recipe, "--json"], { env, timeoutMs: 400_000 });
    const running = page.locator("#view-training p.running b[data-job]");
    await running.waitFor({ timeout: 240_000 });
    const jobId = (await running.getAttribute("data-job"))!;
    expect(jobId).toMatch(/^job-/);
    // A step line of this job: phase step/of, its loss, an ETA (unknown before the second step).
    const row = page.locator("#view-training tr", { hasText: jobId }).filter({ hasText: /sft \d+\/\d+/ }).first();
    await row.waitFor({ timeout: 120_000 });
    const text = (await row.textContent())!;
    expect(text).toMatch(/sft (\d+)\/(\d+)/);
    expect(text).toMatch(/\d+\.\d{4}/);
    expect(text).toMatch(/unknown|\d+s|\d+m\d+s/);
    await page.locator("#section-training").screenshot({ path: join(OUT, "training-running.png") });
    const r = await train.done;
    expect([0, 3], `sophont train: ${r.err}`).toContain(r.code);
    // The verdict reaches the page live: nothing runs any more, and the lineage has the job's row.
    await page.locator("#view-training", { hasText: "No job running." }).waitFor({ timeout: 30_000 });
    await page.locator(`#lineage tr[data-job="${jobId}"]`, { hasText: r.code === 0 ? "promoted" : "rolled back" }).waitFor({ timeout: 30_000 });
    expect(problems).toEqual([]);
  }, 600_000);

  it("saves a screenshot of each view", async () => {
    await showAt(Number(await page.locator("#slider").getAttribute("max")));
    for (const id of ["timeline", "section-nights", "section-drift", "section-antechamber", "section-rejections", "section-lineage", "section-training", "section-diff"]) {
      const file = join(OUT, `${id.replace("section-", "")}.png`);
      await page.locator(`#${id}`).screenshot({ path: file });
      expect(statSync(file).size).toBeGreaterThan(3_000);
    }
    await page.screenshot({ path: join(OUT, "page.png"), fullPage: true });
    expect(problems).toEqual([]);
  });
});
