import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshRemoteHost } from "../../../adapters/ssh/client.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostEntryFor } from "./fixtures.ts";

describe("SshRemoteHost transfers (real sshd)", () => {
  let sshd: Sshd;
  let remote: SshRemoteHost;
  let local: string;

  beforeAll(async () => {
    sshd = await startSshd();
    remote = new SshRemoteHost(hostEntryFor(sshd));
    await remote.connect();
    local = mkdtempSync(path.join(os.tmpdir(), "sophont-transfer-"));
  });

  afterAll(async () => {
    if (remote?.workDirectory.startsWith("/")) rmSync(remote.workDirectory, { recursive: true, force: true });
    await remote?.close();
    await sshd?.stop();
    rmSync(local, { recursive: true, force: true });
  });

  it("resolves the work directory to an absolute path under the user's home", () => {
    expect(remote.workDirectory.startsWith(`${sshd.home}/`)).toBe(true);
  });

  it("uploads a file and verifies its sha256 on the host", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(path.join(local, "dataset.bin"), data);
    const receipt = await remote.upload(path.join(local, "dataset.bin"), "uploads/nested/dataset.bin");
    expect(receipt).toEqual({ sha256: createHash("sha256").update(data).digest("hex"), bytes: data.length });
    // The file landed where asked and nothing partial was left beside it.
    const onHost = readFileSync(path.join(remote.workDirectory, "uploads/nested/dataset.bin"));
    expect(onHost.equals(data)).toBe(true);
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(path.join(remote.workDirectory, "uploads/nested"))).toEqual(["dataset.bin"]);
  });

  it("uploads an empty file", async () => {
    writeFileSync(path.join(local, "empty"), "");
    const receipt = await remote.upload(path.join(local, "empty"), "uploads/empty");
    expect(receipt.bytes).toBe(0);
    expect(receipt.sha256).toBe(createHash("sha256").digest("hex"));
  });

  it("uploads a directory tree in a few round trips, each file verified", async () => {
    const { mkdirSync } = await import("node:fs");
    const tree = path.join(local, "sophont_trainer");
    mkdirSync(path.join(tree, "gguf", "__pycache__"), { recursive: true });
    writeFileSync(path.join(tree, "__main__.py"), "print('hi')\n");
    writeFileSync(path.join(tree, "gguf", "reader.py"), randomBytes(70_000));
    writeFileSync(path.join(tree, "gguf", "__pycache__", "reader.cpython-311.pyc"), "cache");
    writeFileSync(path.join(tree, "it's odd $name.txt"), "");
    const receipts = await remote.uploadDir(tree, "jobs/j1/sophont_trainer");
    expect(receipts.map((r) => r.path)).toEqual(["__main__.py", "gguf/reader.py", "it's odd $name.txt"]);
    for (const r of receipts) {
      const onHost = readFileSync(path.join(remote.workDirectory, "jobs/j1/sophont_trainer", r.path));
      expect(createHash("sha256").update(onHost).digest("hex")).toBe(r.sha256);
    }
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(path.join(remote.workDirectory, "jobs/j1/sophont_trainer")).sort()).toEqual(["__main__.py", "gguf", "it's odd $name.txt"]);
    expect(await remote.digest("jobs/j1/sophont_trainer/__main__.py")).toEqual({ sha256: receipts[0]!.sha256, bytes: 12 });
    expect(await remote.digest("jobs/j1/nothing")).toBeUndefined();
  });

  it("downloads a file and verifies its sha256 locally", async () => {
    const data = randomBytes(2 * 1024 * 1024 + 5);
    const source = await remote.ensureDir("artifacts");
    writeFileSync(path.join(source, "adapter.gguf"), data);
    const receipt = await remote.download("artifacts/adapter.gguf", path.join(local, "adapter.gguf"));
    expect(receipt.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    expect(readFileSync(path.join(local, "adapter.gguf")).equals(data)).toBe(true);
  });

  it("reports a missing remote file as a typed RemoteCommandError", async () => {
    await expect(remote.download("artifacts/missing", path.join(local, "missing"))).rejects.toMatchObject({
      _tag: "RemoteCommandError",
      step: "download.hash",
    });
  });

  it("refuses to clean up outside the work directory", async () => {
    await expect(remote.cleanup("/tmp")).rejects.toThrow(/only directories inside the work directory/);
    await expect(remote.cleanup("../elsewhere")).rejects.toThrow(/only directories inside/);
    await expect(remote.cleanup(".")).rejects.toThrow(/only directories inside/);
  });
});
