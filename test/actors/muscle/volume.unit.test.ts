// The volume's pure parts: cloud.json's volume checked key by key, what the log says a volume holds,
// the storage line of the plan, and the device a cloud job is planned on.
import { describe, expect, it } from "vitest";
import { planStorage, stagingLine, storageLine } from "../../../actors/muscle/plan.ts";
import { volumeHolds } from "../../../actors/muscle/volume.ts";
import { cloudDevice, cloudOptionsFrom, CloudConfigError } from "../../../adapters/cloud/config.ts";
import { narrateTraining } from "../../../adapters/cli/training-narration.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";

const valid = {
  name: "runpod", apiUrl: "https://rest.runpod.io/v1", apiKeyEnv: "RUNPOD_API_KEY", image: "runpod/pytorch:2.4.0", user: "root", keyPath: "~/.ssh/id_ed25519",
  offers: [{ gpuType: "H100 80GB", region: "EU-RO-1", pricePerHour: 2.99, gpuMemoryGiB: 80 }, { gpuType: "A100 40GB", region: "EU-RO-1", pricePerHour: 1.2, gpuMemoryGiB: 40 }],
  maxCostPerJob: 20, maxCostPerDay: 40,
  volume: { name: "sophont-base", sizeGiB: 100, pricePerGiBMonth: 0.07, policy: "keep", staging: [{ machineType: "cpu3c-2-4", pricePerHour: 0.06 }] },
};

const refused = (raw: unknown): string => {
  try {
    cloudOptionsFrom(raw, "cloud.json");
  } catch (e) {
    expect(e).toBeInstanceOf(CloudConfigError);
    return (e as Error).message;
  }
  throw new Error("accepted");
};

describe("cloud.json's volume", () => {
  it("is accepted as written, and each wrong key is named", () => {
    expect(cloudOptionsFrom(valid, "cloud.json").volume).toEqual(valid.volume);
    expect(refused({ ...valid, volume: { ...valid.volume, sizeGiB: 0 } })).toMatch(/"volume.sizeGiB" must be a positive number/);
    expect(refused({ ...valid, volume: { ...valid.volume, policy: "stop" } })).toMatch(/"volume.policy" must be "keep" or "delete", got "stop"/);
    expect(refused({ ...valid, volume: { ...valid.volume, pricePerGiBMonth: undefined } })).toMatch(/"volume.pricePerGiBMonth" is missing/);
    expect(refused({ ...valid, volume: { ...valid.volume, staging: [] } })).toMatch(/"volume.staging" must be a non-empty list/);
    expect(refused({ ...valid, volume: { ...valid.volume, staging: [{ machineType: "cpu", pricePerHour: -1 }] } })).toMatch(/"volume.staging\[0\].pricePerHour" must be a number >= 0/);
    expect(refused({ ...valid, volume: { ...valid.volume, sizeGb: 100 } })).toMatch(/"volume.sizeGb" is not a known key/);
    expect(refused({ ...valid, volume: { ...valid.volume, mountPath: "workspace" } })).toMatch(/"volume.mountPath" must be an absolute path/);
    expect(refused({ ...valid, offers: [{ gpuType: "H100", region: "eu" }] })).toMatch(/"offers\[0\].pricePerHour" is missing/);
    expect(cloudOptionsFrom({ ...valid, volume: undefined }, "cloud.json").volume).toBeUndefined();
  });

  it("the plan is made on the offer with the least GPU memory, and prints the storage cost a month", () => {
    expect(cloudDevice(cloudOptionsFrom(valid, "cloud.json"))).toMatchObject({ kind: "cuda", memoryBytes: 40 * 2 ** 30, name: expect.stringContaining("A100 40GB") });
    const base = 60.8 * 2 ** 30;
    const kept = planStorage(valid.volume as never, base);
    expect(kept.fits).toBe(true);
    expect(kept.storageCostPerMonth).toBeCloseTo(7, 9);
    expect(storageLine(kept)).toBe("storage: volume sophont-base, 100 GiB at 0.07 a GiB-month = 7.00 a month, kept between jobs (the base is staged once); the base takes 60.80 GiB of it");
    const small = planStorage({ ...valid.volume, sizeGiB: 50, policy: "delete" } as never, base);
    expect(small.fits).toBe(false);
    expect(storageLine(small)).toMatch(/deleted after each job .*too small: the base alone needs 60.80 GiB/);
  });

  it("estimates the staging's time and the stager's cost from the stated upload speed, and says how to get them without it", () => {
    const base = 60.8 * 2 ** 30;
    const unknown = planStorage(valid.volume as never, base);
    expect(unknown.staging).toMatchObject({ seconds: null, cost: null, when: "first job" });
    expect(stagingLine(unknown)).toMatch(/^staging \(first job\): 60.80 GiB from this machine; time unknown: set volume.uploadMBps in cloud.json/);
    const at50 = planStorage({ ...valid.volume, uploadMBps: 50, policy: "delete" } as never, base);
    const seconds = base / 50e6; // 1,306 s
    const cheapest = Math.min(...valid.volume.staging.map((s) => s.pricePerHour));
    expect(at50.staging.seconds).toBeCloseTo(seconds, 6);
    expect(at50.staging.cost).toBeCloseTo((seconds / 3600) * cheapest, 9);
    expect(stagingLine(at50)).toBe(`staging (every job): 60.80 GiB at 50 MB/s = 22 min, the stager at ${cheapest}/h = ${((seconds / 3600) * cheapest).toFixed(2)} (its boot not counted)`);
  });
});

describe("what the log says a volume holds", () => {
  const at = (e: DomainEvent, seq: number) => ({ ...e, seq, storedAt: seq, metadata: {} }) as unknown as Recorded<DomainEvent>;
  const staged = (volumeId: string, sha256: string) => ({
    type: "BaseStaged" as const,
    data: {
      jobId: "j", provider: "p", stagingInstanceId: "i-1", sentBytes: 1, seconds: 1, files: [{ name: "base.gguf", sha256, bytes: 1, sentBytes: 1, source: "uploaded" as const, seconds: 1 }],
      volume: { id: volumeId, name: "v", region: "eu", sizeGiB: 1, pricePerGiBMonth: 1, storageCostPerMonth: 1, policy: "keep" as const, created: true },
    },
  });
  const deleted = (volumeId: string) => ({ type: "VolumeDeleted" as const, data: { jobId: "j", provider: "p", volumeId, name: "v", failedTries: 0 } });

  it("a file staged on it, until the volume is deleted; another volume or file is not held", () => {
    const log = [at(staged("vol-1", "a".repeat(64)), 1)];
    expect(volumeHolds(log, "vol-1", "a".repeat(64))).toBe(true);
    expect(volumeHolds(log, "vol-2", "a".repeat(64))).toBe(false);
    expect(volumeHolds(log, "vol-1", "b".repeat(64))).toBe(false);
    expect(volumeHolds([...log, at(deleted("vol-1"), 2)], "vol-1", "a".repeat(64))).toBe(false);
  });
});

describe("the volume's events as sophont train prints them", () => {
  it("says what was sent, by which stager, and the storage cost a month", () => {
    const volume = { id: "vol-1", name: "sophont-base", region: "eu", sizeGiB: 100, pricePerGiBMonth: 0.07, storageCostPerMonth: 7, policy: "keep" as const, created: true };
    expect(narrateTraining({ type: "BaseStaged", data: { jobId: "j", provider: "p", volume, stagingInstanceId: "i-1", files: [], sentBytes: 16370772, seconds: 0.7 } }))
      .toBe("j: the base is on the volume sophont-base (16370772 bytes sent in 0.7 s by i-1); storage 7.00 a month, policy keep");
    expect(narrateTraining({ type: "VolumeKept", data: { jobId: "j", provider: "p", volumeId: "vol-1", name: "sophont-base", sizeGiB: 100, storageCostPerMonth: 7 } }))
      .toBe("j: the volume sophont-base is kept (100 GiB, 7.00 a month while it exists)");
  });
});
