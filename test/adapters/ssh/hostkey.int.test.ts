import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshRemoteHost } from "../../../adapters/ssh/client.ts";
import { findHost, loadHosts, scanHostKey, trustHost } from "../../../adapters/ssh/hosts.ts";
import { StaticSshProvider } from "../../../adapters/ssh/provider.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostEntryFor } from "./fixtures.ts";

describe("host key pinning (real sshd)", () => {
  let sshd: Sshd;
  let home: string;
  const workDir = `sophont-hostkey-${process.pid}`;

  const writeHostsFile = (pin?: string): string => {
    const file = path.join(home, "hosts.json");
    const host = { name: "gpu-box", host: sshd.host, port: sshd.port, user: sshd.user, keyPath: sshd.privateKeyPath, workDir, gpu: { kind: "none" } };
    writeFileSync(file, JSON.stringify({ hosts: [pin ? { ...host, hostKeyFingerprint: pin } : host] }, null, 2));
    return file;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    home = mkdtempSync(path.join(os.tmpdir(), "sophont-home-"));
  });

  afterAll(async () => {
    rmSync(path.join(sshd.home, workDir), { recursive: true, force: true });
    await sshd?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("reads the same fingerprint OpenSSH prints for the host key", async () => {
    const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${sshd.dir}/host_ed25519.pub`]).toString().split(" ")[1];
    expect(await scanHostKey(sshd.host, sshd.port)).toBe(printed);
    expect(sshd.hostKeyFingerprint).toBe(printed);
  });

  it("refuses an unknown host until it is trusted, then connects", async () => {
    const file = writeHostsFile();
    let connected = 0;
    const untrusted = new SshRemoteHost(await findHost(file, "gpu-box"), { onConnected: () => connected++ });
    await expect(untrusted.connect()).rejects.toMatchObject({ _tag: "HostKeyUnknownError", host: "gpu-box", presented: sshd.hostKeyFingerprint });
    expect(connected).toBe(0);

    expect(await trustHost(file, "gpu-box")).toEqual({ fingerprint: sshd.hostKeyFingerprint });
    const [entry] = await loadHosts(file);
    expect(entry?.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    const trusted = new SshRemoteHost(entry!);
    await trusted.connect();
    await trusted.close();
  });

  it("does not pin a key other than the one the user expected", async () => {
    const file = writeHostsFile();
    const before = readFileSync(file, "utf8");
    const wrong = "SHA256:" + "A".repeat(43);
    await expect(trustHost(file, "gpu-box", wrong)).rejects.toMatchObject({ _tag: "HostKeyMismatchError", expected: wrong, presented: sshd.hostKeyFingerprint });
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("refuses a changed host key with both fingerprints, also on a reconnect, and never retries it", async () => {
    const pinned = sshd.hostKeyFingerprint;
    let retries = 0;
    const remote = new SshRemoteHost(hostEntryFor(sshd, { workDir }), { onRetry: () => retries++, retry: { baseDelayMs: 20 } });
    await remote.connect();
    const rotated = await sshd.rotateHostKey();
    expect(rotated).not.toBe(pinned);
    // The old link died with the old listener; the reconnect meets the new key and stops there.
    await expect(remote.jobStatus("any")).rejects.toMatchObject({ _tag: "HostKeyMismatchError", expected: pinned, presented: rotated });
    const fresh = new SshRemoteHost(hostEntryFor(sshd, { workDir, hostKeyFingerprint: pinned }));
    const error = await fresh.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ _tag: "HostKeyMismatchError", host: "loopback", expected: pinned, presented: rotated });
    expect((error as Error).message).toContain(rotated);
    expect(retries).toBeLessThanOrEqual(1); // at most the drop of the old link, never the refusal

    // Only an explicit trust moves the pin; it reports the key it replaced.
    const file = writeHostsFile(pinned);
    expect(await trustHost(file, "gpu-box")).toEqual({ fingerprint: rotated, previous: pinned });
    const retrusted = new SshRemoteHost(await findHost(file, "gpu-box"));
    await retrusted.connect();
    await retrusted.close();
  });

  it("StaticSshProvider provisions a named host and releases it", async () => {
    const file = writeHostsFile(sshd.hostKeyFingerprint);
    const provider = new StaticSshProvider(file);
    const host = await provider.provision({ jobId: "job-1", hostName: "gpu-box" });
    expect(host).toMatchObject({ leaseId: "gpu-box", name: "gpu-box", gpu: { kind: "none" } });
    expect(host.workDir).toBe(path.join(sshd.home, workDir));
    expect(await host.remote.jobStatus("job-1")).toMatchObject({ state: "unknown" });
    await provider.release(host);
    await provider.release(host); // idempotent
    await expect(provider.provision({ jobId: "job-2", gpu: { kind: "cuda", minMemoryGiB: 80 } })).rejects.toThrow(/no host matches/);
  });

  it("refuses a host whose GPUs do not meet the expectation (loopback has none)", async () => {
    const provider = new StaticSshProvider(writeHostsFile(sshd.hostKeyFingerprint));
    expect(await new SshRemoteHost(hostEntryFor(sshd, { workDir })).gpus()).toEqual([]);
    await expect(provider.provision({ jobId: "job-3", hostName: "gpu-box", gpu: { kind: "cuda", model: "H100" } })).rejects.toMatchObject({
      _tag: "GpuExpectationError",
      host: "gpu-box",
      found: [],
    });
  });
});
