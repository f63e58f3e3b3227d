import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** How many times `needle` occurs in the files under `dir` (every file, read as bytes), file by file. */
export const grepTree = (dir: string, needle: string | Buffer): { total: number; files: Record<string, number> } => {
  const n = Buffer.isBuffer(needle) ? needle : Buffer.from(needle);
  const files: Record<string, number> = {};
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // removed while we walk (a compacted block)
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        let b: Buffer;
        try {
          b = readFileSync(p);
        } catch {
          continue;
        }
        let k = 0;
        for (let at = b.indexOf(n); at >= 0; at = b.indexOf(n, at + 1)) k++;
        if (k > 0) (files[p] = k), (total += k);
      }
    }
  };
  walk(dir);
  return { total, files };
};

/** Polls `f` until `ok` says yes or `ms` pass; returns the last value (the caller asserts on it). */
export const eventually = async <T>(f: () => T | Promise<T>, ok: (t: T) => boolean, ms = 15_000): Promise<T> => {
  let v = await f();
  for (const end = Date.now() + ms; !ok(v) && Date.now() < end; v = await f()) await new Promise((r) => setTimeout(r, 200));
  return v;
};
