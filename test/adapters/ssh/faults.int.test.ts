import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshRemoteHost } from "../../../adapters/ssh/client.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";
import { hostEntryFor } from "./fixtures.ts";

describe("SshRemoteHost under dropped connections (real sshd)", () => {
  let sshd: Sshd;
  let local: string;
  const workDir = `sophont-faults-${process.pid}`;

  beforeAll(async () => {
    sshd = await startSshd();
    local = mkdtempSync(path.join(os.tmpdir(), "sophont-faults-"));
  });

  afterAll(async () => {
    rmSync(path.join(sshd.home, workDir), { recursive: true, force: true });
    await sshd?.stop();
    rmSync(local, { recursive: true, force: true });
  });

  it("resumes an upload cut in the middle after the confirmed bytes, and still verifies it", async () => {
    const retries: string[] = [];
    const attempts: number[] = [];
    const remote = new SshRemoteHost(hostEntryFor(sshd, { workDir }), {
      retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 200 },
      onRetry: ({ reason }) => retries.push(reason),
      onUploadAttempt: ({ fromByte }) => attempts.push(fromByte),
    });
    const data = randomBytes(48 * 1024 * 1024);
    writeFileSync(path.join(local, "big.bin"), data);
    await remote.connect();
    const target = path.join(remote.workDirectory, "in");
    const upload = remote.upload(path.join(local, "big.bin"), "in/big.bin");
    // Cut the link once the partial file on the host has grown past a few MiB (sshd is local).
    const partialSize = () => {
      if (!existsSync(target)) return 0;
      const part = readdirSync(target).find((f) => f.includes(".part-"));
      return part ? statSync(path.join(target, part)).size : 0;
    };
    let cut = false;
    for (let waited = 0; !cut && waited < 10_000; waited += 5) {
      if (partialSize() > 4 * 1024 * 1024) {
        sshd.killSessions();
        cut = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(cut).toBe(true);
    const receipt = await upload;
    expect(receipt.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(attempts[0]).toBe(0);
    expect(attempts[1]).toBeGreaterThan(4 * 1024 * 1024 - 2 * 1024 * 1024); // at most a window short of the cut
    await remote.close();
  });

  it("gives up with a typed ConnectionError after the configured attempts, backing off", async () => {
    const delays: number[] = [];
    const stopped = await startSshd();
    const entry = hostEntryFor(sshd, { port: stopped.port });
    await stopped.stop(); // nothing listens on that port any more
    const remote = new SshRemoteHost(entry, {
      retry: { attempts: 4, baseDelayMs: 40, maxDelayMs: 1_000 },
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    const error = await remote.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ _tag: "ConnectionError", attempts: 4, host: "loopback" });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(delays).toHaveLength(3);
    // Exponential with ±20% jitter: roughly 40, 80, 160 ms.
    delays.forEach((delay, i) => expect(delay).toBeGreaterThanOrEqual(0.8 * 40 * 2 ** i));
    delays.forEach((delay, i) => expect(delay).toBeLessThanOrEqual(1.2 * 40 * 2 ** i));
  });

  it("reads an encrypted key's passphrase from the named variable, and never echoes it", async () => {
    const { execFileSync } = await import("node:child_process");
    const { appendFileSync, readFileSync } = await import("node:fs");
    const keyPath = path.join(local, "locked");
    const secret = "correct horse battery staple";
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", secret, "-f", keyPath]);
    appendFileSync(`${sshd.dir}/authorized_keys`, readFileSync(`${keyPath}.pub`));
    const entry = hostEntryFor(sshd, { workDir, keyPath, passphraseEnv: "SOPHONT_TEST_KEY_PASSPHRASE" });
    delete process.env.SOPHONT_TEST_KEY_PASSPHRASE;
    const missing = await new SshRemoteHost(entry).connect().catch((e: unknown) => e);
    expect(missing).toMatchObject({ _tag: "AuthenticationError" });
    expect((missing as Error).message).toMatch(/is SOPHONT_TEST_KEY_PASSPHRASE set/);
    process.env.SOPHONT_TEST_KEY_PASSPHRASE = "wrong " + secret;
    const wrong = await new SshRemoteHost(entry).connect().catch((e: unknown) => e);
    expect(wrong).toMatchObject({ _tag: "AuthenticationError" });
    expect(JSON.stringify(wrong) + (wrong as Error).message + (wrong as Error).stack).not.toContain(secret);
    process.env.SOPHONT_TEST_KEY_PASSPHRASE = secret;
    const remote = new SshRemoteHost(entry);
    await remote.connect();
    await remote.close();
    delete process.env.SOPHONT_TEST_KEY_PASSPHRASE;
  });

  it("never retries a refused key, and names no secret in the error", async () => {
    const other = path.join(local, "stranger");
    const { execFileSync } = await import("node:child_process");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    let connects = 0;
    const remote = new SshRemoteHost(hostEntryFor(sshd, { keyPath: other }), { onRetry: () => connects++ });
    const error = await remote.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ _tag: "AuthenticationError", user: sshd.user });
    expect(connects).toBe(0);
    const keyText = (await import("node:fs")).readFileSync(other, "utf8");
    expect((error as Error).message).not.toContain(keyText.split("\n")[1]);
  });
});
