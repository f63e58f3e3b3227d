// `sophont train --plan --host cloud`: planned on the smallest GPU of cloud.json's offers, with a line
// for the volume's storage cost a month; a volume too small for the base fails the plan (exit 5), and
// a wrong key of cloud.json is named (exit 2).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runSophont } from "../../support/cli.ts";

const home = mkdtempSync(path.join(os.tmpdir(), "sophont-volume-plan-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const cloud = (volume: Record<string, unknown>) => writeFileSync(path.join(home, "cloud.json"), JSON.stringify({
  name: "runpod", apiUrl: "https://rest.runpod.io/v1", apiKeyEnv: "RUNPOD_API_KEY", image: "runpod/pytorch:2.4.0", user: "root", keyPath: "~/.ssh/id_ed25519",
  offers: [{ gpuType: "H100 80GB", region: "EU-RO-1", pricePerHour: 2.99, gpuMemoryGiB: 80 }], maxCostPerJob: 20, maxCostPerDay: 40,
  volume: { name: "sophont-base", sizeGiB: 100, pricePerGiBMonth: 0.07, policy: "keep", staging: [{ machineType: "cpu3c-2-4", pricePerHour: 0.06 }], ...volume },
}));
const plan = () => runSophont(["train", "--plan", "--host", "cloud"], { env: { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: "" }, timeoutMs: 60_000 });

describe("sophont train --plan --host cloud", () => {
  it("prints the volume's storage cost a month, refuses a volume too small for the base, names a wrong key", async () => {
    cloud({});
    const fits = await plan();
    expect(fits.err).toBe("");
    expect(fits.code).toBe(0);
    expect(fits.out).toMatch(/on cuda H100 80GB of runpod/);
    expect(fits.out).toMatch(/^storage: volume sophont-base, 100 GiB at 0.07 a GiB-month = 7.00 a month, kept between jobs \(the base is staged once\); the base takes [\d.]+ MiB of it$/m);
    cloud({ sizeGiB: 0.001, policy: "delete" });
    const small = await plan();
    expect(small.code).toBe(5);
    expect(small.out).toMatch(/deleted after each job .*too small: the base alone needs/);
    cloud({ policy: "sometimes" });
    const wrong = await plan();
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/"volume.policy" must be "keep" or "delete", got "sometimes"/);
  }, 120_000);
});
