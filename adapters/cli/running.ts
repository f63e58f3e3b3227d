import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What `sophont up` leaves in its home while it runs: its pid and since when. */
export interface UpFile {
  readonly pid: number;
  readonly since: string;
  readonly url: string;
  /** The dashboard's address, when up serves one. */
  readonly dashboard?: string;
}

const upFile = (home: string) => join(home, "up.json");

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Marks `sophont up` as running on this home; the returned function clears the mark. */
export const markUp = (home: string, info: Omit<UpFile, "pid" | "since">): (() => void) => {
  writeFileSync(upFile(home), JSON.stringify({ pid: process.pid, since: new Date().toISOString(), ...info } satisfies UpFile) + "\n");
  return () => {
    const now = readUp(home);
    if (now?.pid === process.pid) rmSync(upFile(home), { force: true });
  };
};

/** The `sophont up` running on this home, if any (a mark left by a killed process is ignored). */
export const readUp = (home: string): UpFile | undefined => {
  if (!existsSync(upFile(home))) return undefined;
  try {
    const f = JSON.parse(readFileSync(upFile(home), "utf8")) as UpFile;
    return typeof f.pid === "number" && alive(f.pid) ? f : undefined;
  } catch {
    return undefined;
  }
};
