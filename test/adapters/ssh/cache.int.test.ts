import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CachedFile } from "../../../actors/muscle/ports.ts";
import { resumePoint, treeHash } from "../../../adapters/ssh/cache.ts";
import { SshRemoteHost } from "../../../adapters/ssh/client.ts";
import { sha256File } from "../../../adapters/ssh/transfer.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostEntryFor } from "./fixtures.ts";

describe("the host's cache over a real sshd", () => {
  let sshd: Sshd;
  let local: string;
  let big: string;
  const workDir = `sophont-cache-${process.pid}`;
  const hostDir = () => path.join(sshd.home, workDir);
  const host = (attempts = 8) => new SshRemoteHost(hostEntryFor(sshd, { workDir }), { retry: { attempts, baseDelayMs: 50, maxDelayMs: 500 } });

  beforeAll(async () => {
    sshd = await startSshd();
    local = mkdtempSync(path.join(os.tmpdir(), "sophont-cache-"));
    big = path.join(local, "base.gguf");
    writeFileSync(big, randomBytes(48 << 20));
  });

  afterAll(async () => {
    rmSync(hostDir(), { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    await sshd?.stop();
  });

  it("sends a file once: the second time it is found by its stamp, nothing travels", async () => {
    const receipt = await sha256File(big);
    const a = host();
    const first = await a.cache.file(big, receipt);
    expect(first).toMatchObject({ source: "uploaded", sentBytes: receipt.bytes, sha256: receipt.sha256 });
    expect(first.path).toBe(path.join(hostDir(), "cache", "sha256", receipt.sha256));
    expect((await sha256File(first.path)).sha256).toBe(receipt.sha256);
    await a.close();
    const b = host();
    const second = await b.cache.file(big, receipt);
    expect(second).toMatchObject({ source: "cached", sentBytes: 0, path: first.path });
    await b.close();
  });

  it("hashes a cached file again when its stamp no longer matches, and replaces one that was damaged", async () => {
    const file = path.join(local, "small.bin");
    writeFileSync(file, randomBytes(300_000));
    const receipt = await sha256File(file);
    const h = host();
    const first = await h.cache.file(file, receipt);
    // Damaged on the host after it was cached (same size, so only the hash can tell). The stamp's
    // mtime has one-second resolution (SFTP's), so the damage is dated as a later write would be.
    const bytes = readFileSync(first.path);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(first.path, bytes);
    const later = new Date(Date.now() + 5_000);
    utimesSync(first.path, later, later);
    const again = await h.cache.file(file, receipt);
    expect(again.source).toBe("uploaded");
    expect((await sha256File(first.path)).sha256).toBe(receipt.sha256);
    await h.close();
  });

  it("resumes a partial upload another try left behind: a dropped link mid-file, then a new connection", async () => {
    const file = path.join(local, "resume.bin");
    writeFileSync(file, randomBytes(64 << 20));
    const receipt = await sha256File(file);
    const part = path.join(hostDir(), "cache", "sha256", `${receipt.sha256}.part`);
    const a = host(1);
    // The link goes down for real once 16 MiB have landed; with one try the call fails.
    const killer = setInterval(() => existsSync(part) && statSync(part).size > 16 << 20 && sshd.killSessions(), 5);
    const failed = await a.cache.file(file, receipt).then(() => "finished", (e: unknown) => e);
    clearInterval(killer);
    await a.close();
    if (failed === "finished") return void expect.fail("the upload finished before the link could be cut (machine too fast?)");
    expect(statSync(part).size).toBeGreaterThan(16 << 20);
    const b = host();
    const resumed: CachedFile = await b.cache.file(file, receipt);
    expect(resumed.source).toBe("resumed");
    expect(resumed.sentBytes).toBeLessThan(receipt.bytes - (14 << 20));
    expect((await sha256File(resumed.path)).sha256).toBe(receipt.sha256);
    expect(existsSync(part)).toBe(false);
    await b.close();
  });

  it("a partial whose bytes are wrong before the resume window fails the hash, is removed, and the next try starts over", async () => {
    const file = path.join(local, "bad-part.bin");
    writeFileSync(file, randomBytes(8 << 20));
    const receipt = await sha256File(file);
    const dir = path.join(hostDir(), "cache", "sha256");
    mkdirSync(dir, { recursive: true });
    const part = path.join(dir, `${receipt.sha256}.part`);
    writeFileSync(part, randomBytes(6 << 20)); // not a prefix of the file at all
    execFileSync("chown", ["-R", `${sshd.user}:`, hostDir()]);
    const h = host();
    await expect(h.cache.file(file, receipt)).rejects.toMatchObject({ _tag: "TransferVerificationError" });
    expect(existsSync(part)).toBe(false);
    expect(await h.cache.file(file, receipt)).toMatchObject({ source: "uploaded", sentBytes: receipt.bytes });
    await h.close();
  });

  it("adopts the host's own copy after hashing it once, and refuses one that differs", async () => {
    const own = path.join(hostDir(), "models", "own.gguf");
    mkdirSync(path.dirname(own), { recursive: true });
    writeFileSync(own, randomBytes(1 << 20));
    execFileSync("chown", ["-R", `${sshd.user}:`, hostDir()]);
    const receipt = await sha256File(own);
    const h = host();
    expect(await h.cache.adopt("models/own.gguf", receipt.sha256)).toMatchObject({ source: "host", sentBytes: 0, path: own, bytes: 1 << 20 });
    const stamp = path.join(hostDir(), "cache", "adopted", `${receipt.sha256}.ok`);
    expect(readFileSync(stamp, "utf8")).toContain(own);
    expect(await h.cache.adopt(own, "0".repeat(64))).toEqual({ refused: expect.stringContaining(`hashes to ${receipt.sha256}`) });
    expect(await h.cache.adopt(path.join(hostDir(), "models", "missing.gguf"), receipt.sha256)).toEqual({ refused: expect.stringContaining("is not on the host") });
    await h.close();
  });

  it("keeps a directory (the trainer payload) under the hash of its names and contents", async () => {
    const tree = path.join(local, "pkg");
    mkdirSync(path.join(tree, "sub"), { recursive: true });
    writeFileSync(path.join(tree, "a.py"), "print(1)\n");
    writeFileSync(path.join(tree, "sub", "b.py"), "print(2)\n");
    const h = host();
    const first = await h.cache.tree(tree);
    expect(first).toMatchObject({ source: "uploaded", files: 2, sentBytes: 18 });
    expect(readFileSync(path.join(first.path, "sub", "b.py"), "utf8")).toBe("print(2)\n");
    expect(await h.cache.tree(tree)).toMatchObject({ source: "cached", sentBytes: 0, path: first.path });
    writeFileSync(path.join(tree, "a.py"), "print(3)\n");
    const changed = await h.cache.tree(tree);
    expect(changed.source).toBe("uploaded");
    expect(changed.sha256).not.toBe(first.sha256);
    await h.close();
  });
});

describe("cache arithmetic", () => {
  it("resumes one full window of in-flight writes before the partial's end, and starts over past the file's end", () => {
    const tuning = { concurrency: 64, chunkSize: 32_739 };
    expect(resumePoint(10 << 20, 20 << 20, tuning)).toBe((10 << 20) - 64 * 32_739);
    expect(resumePoint(1000, 20 << 20, tuning)).toBe(0);
    expect(resumePoint(21 << 20, 20 << 20, tuning)).toBe(0);
  });

  it("hashes a tree over its paths as well as its contents", () => {
    const sha = "a".repeat(64);
    expect(treeHash([{ path: "x.py", sha256: sha }])).not.toBe(treeHash([{ path: "y.py", sha256: sha }]));
  });
});
