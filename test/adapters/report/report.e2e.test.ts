import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import { corpusLines, tinyModels } from "../llm/support.ts";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-report-"));
// The report is under test, not the judgement: the tiny models judge the tiny corpus's texts, so both
// bars of each night have something to draw (the default English models' judgement is issue 12's).
const env = { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: "", OTEL_SDK_DISABLED: "true", SOPHONT_MODEL: tinyModels().lmPath, SOPHONT_EMBEDDER: tinyModels().embedderPath };
const sophont = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sophont ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
};
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Debian's Chromium (`apt-get install chromium`): never a downloaded browser. */
const CHROMIUM = "/usr/bin/chromium";

describe("the HTML report", () => {
  it("renders the timeline and the drift chart in a real headless Chromium without console errors", async () => {
    expect(existsSync(CHROMIUM), "install Debian's chromium (apt-get install chromium): .ci/run does").toBe(true);
    writeFileSync(join(home, "q.txt"), "How do planets move in their orbits?\nWhat does a telescope show of distant galaxies?\n");
    sophont("preoccupation", "seed", join(home, "q.txt"));
    for (const [i, day] of ["2026-11-01", "2026-11-02"].entries()) {
      const lines = [...corpusLines("heldout", "astronomy").slice(i * 10, i * 10 + 10), ...corpusLines("heldout", "cooking").slice(i * 5, i * 5 + 5)];
      writeFileSync(join(home, `${day}.log`), lines.join("\n"));
      sophont("ingest", join(home, `${day}.log`), "--day", day);
      sophont("night", "--day", day);
    }
    const out = join(home, "report.html");
    expect(sophont("report", "--out", out)).toMatch(/report written/);
    const html = readFileSync(out, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=["']https?:/); // self-contained

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(`file://${out}`);
      expect(await page.locator("#timeline-chart rect").count()).toBeGreaterThanOrEqual(4);
      expect(await page.locator("#drift-chart svg").count()).toBe(1);
      expect(await page.locator("#drift-chart svg path, #drift-chart svg polyline, #drift-chart svg line").count()).toBeGreaterThan(0);
      // Night bars with a y axis of counts and each night's total; rejections by cause with examples.
      expect(await page.locator("#timeline-chart .axes text").count()).toBeGreaterThan(2);
      expect(await page.locator("#timeline-chart g.night").count()).toBe(2);
      expect(await page.locator("#rejections tr").count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator("ul.examples li").count()).toBeGreaterThan(0);
      expect(await page.locator("ul.examples li .why").first().textContent()).toMatch(/\w/);
      // A number links to its event, and the event is there.
      const href = await page.locator("table a").first().getAttribute("href");
      expect(href).toMatch(/^#ev-\d+$/);
      expect(await page.locator(href!).count()).toBe(1);
      const shot = join(home, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
