// Shared set-up for the SSH adapter's integration tests: a host entry pointing at the test sshd.
import { readFileSync } from "node:fs";
import type { HostEntry } from "../../../adapters/ssh/hosts.ts";
import type { Sshd } from "../../support/sshd.ts";

/** A hosts-file entry for the test sshd, pinned to its current host key unless overridden. */
export const hostEntryFor = (sshd: Sshd, overrides: Partial<HostEntry> = {}): HostEntry => ({
  name: "loopback",
  host: sshd.host,
  port: sshd.port,
  user: sshd.user,
  keyPath: sshd.privateKeyPath,
  hostKeyFingerprint: sshd.hostKeyFingerprint,
  workDir: `sophont-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
  gpu: { kind: "none" },
  ...overrides,
});

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export const eventually = async <T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 50): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
};

/** Whether a local pid is alive and not a zombie (sshd runs on this machine, so its processes are ours to see). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
