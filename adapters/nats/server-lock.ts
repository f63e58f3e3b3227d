import { spawn } from "node:child_process";
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";

/**
 * One embedded nats-server per store: its state file (`nats/server.json`) is also its lock, made
 * with an exclusive create, so two processes starting at once cannot both start a server on the same
 * store (no time-of-check race). It records the owner (the process that started the server), the
 * server's pid and its URL: every client of the home reads its own server's URL there, never a port
 * derived from the path.
 */
export interface ServerState {
  readonly ownerPid: number;
  /** Absent while the owner is starting the server. */
  readonly pid?: number;
  readonly url?: string;
  readonly confPath?: string;
  readonly version?: string;
}

export const isAlive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

const read = (file: string): { text: string; state: ServerState | undefined } | undefined => {
  try {
    const text = readFileSync(file, "utf8");
    try {
      return { text, state: JSON.parse(text) as ServerState };
    } catch {
      return { text, state: undefined };
    }
  } catch {
    return undefined;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a process to be gone; SIGKILL after `graceMs`. */
export const stopPid = async (pid: number, graceMs = 5_000): Promise<void> => {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (const end = Date.now() + graceMs; Date.now() < end; await sleep(50)) if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  while (isAlive(pid)) await sleep(20);
};

/**
 * Takes a stale lock (its owner dead) away: renamed aside, which only one taker can do; if what was
 * renamed is not what was judged stale (a live lock made in between), it is put back.
 */
const takeOver = (file: string, staleText: string): void => {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else took it first
  }
  if (readFileSync(aside, "utf8") !== staleText) {
    try {
      linkSync(aside, file);
    } catch {
      // a third process made a lock meanwhile: it wins, and this one was theirs to judge
    }
  }
  rmSync(aside, { force: true });
};

export type Acquired =
  | { readonly kind: "owner"; /** Writes the started server into the lock. */ record(state: Omit<ServerState, "ownerPid">): void; release(): void }
  | { readonly kind: "running"; readonly state: ServerState & { pid: number; url: string } };

/**
 * Owns the home's server lock or finds the server that runs: a live server of a live owner is
 * joined; a server whose owner died (kill -9) is stopped, as it would have died with its owner; a
 * lock of a dead process is taken over. Waits (bounded) while another process is starting its server.
 */
export const acquireServerLock = async (file: string, log: (s: string) => void, timeoutMs = 30_000): Promise<Acquired> => {
  let unreadable = 0;
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    let fd: number | undefined;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (fd !== undefined) {
      const mine = fd;
      writeSync(mine, JSON.stringify({ ownerPid: process.pid } satisfies ServerState) + "\n");
      closeSync(mine);
      return {
        kind: "owner",
        record: (s) => {
          const tmp = `${file}.${process.pid}.tmp`;
          const f = openSync(tmp, "w", 0o600);
          writeSync(f, JSON.stringify({ ownerPid: process.pid, ...s } satisfies ServerState) + "\n");
          closeSync(f);
          renameSync(tmp, file);
        },
        release: () => {
          if (read(file)?.state?.ownerPid === process.pid) rmSync(file, { force: true });
        },
      };
    }
    const found = read(file);
    if (!found) continue;
    const { state, text } = found;
    const ownerAlive = isAlive(state?.ownerPid);
    if (state?.pid && state.url && isAlive(state.pid)) {
      if (ownerAlive || state.ownerPid === undefined) return { kind: "running", state: state as ServerState & { pid: number; url: string } };
      log(`the embedded nats-server (pid ${state.pid}) outlived the process that started it (pid ${state.ownerPid}): stopping it and starting a fresh one`);
      await stopPid(state.pid);
      takeOver(file, text);
      continue;
    }
    if (ownerAlive && state && !state.pid) {
      await sleep(100); // its owner is starting it
      continue;
    }
    if (!state && unreadable++ < 20) {
      await sleep(50); // being written
      continue;
    }
    takeOver(file, text);
  }
  throw new Error(`another sophont process holds ${file} and its server did not come up; if no sophont runs, remove that file`);
};

/**
 * A watchdog for a server whose owner may be killed without running any code (kill -9): a shell
 * that stops the server within about a second of its owner's death. Detached, so it outlives the owner.
 */
export const watchOwner = (ownerPid: number, serverPid: number): { stop(): void } => {
  const script = `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; kill ${serverPid} 2>/dev/null`;
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return { stop: () => void (child.exitCode === null && child.kill("SIGKILL")) };
};
