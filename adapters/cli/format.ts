import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { From, Until } from "../../events/store.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** `--from/--until/--at` values: a sequence number, an ISO time, or a duration back from now (`2h`, `3d`). */
export const parsePosition = (value: string, flag: string): From & Until => {
  if (/^\d+$/.test(value)) return { seq: Number(value) };
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) {
    const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as "s" | "m" | "h" | "d"];
    return { time: new Date(Date.now() - Number(rel[1]) * unit) };
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`${flag} takes a sequence number (42), a time (2026-11-25T02:00:00Z) or a duration back from now (2h); got ${JSON.stringify(value)}`);
  return { time: new Date(t) };
};

const short = (data: unknown): string => {
  const s = JSON.stringify(data);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

/** One line per event for people; `--json` prints the whole event instead. */
export const eventLine = (e: Recorded<DomainEvent>): string =>
  `${String(e.seq).padStart(7)}  ${new Date(e.storedAt).toISOString()}  ${e.type.padEnd(18)} ${e.metadata.actor.padEnd(10)} ${short(e.data)}`;

export const eventJson = (e: Recorded<DomainEvent>): string =>
  JSON.stringify({ seq: e.seq, subject: e.subject, storedAt: new Date(e.storedAt).toISOString(), type: e.type, version: e.writtenVersion, ...e.metadata, data: e.data });

/** Aligned columns for small tables. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
};

/** A progress line on stderr for long work (only where a person watches a terminal). */
export const progress = (label: string) => {
  const tty = process.stderr.isTTY;
  const start = Date.now();
  let last = 0;
  return {
    update: (done: number, total: number) => {
      if (!tty || Date.now() - last < 200) return;
      last = Date.now();
      const rate = done / Math.max(1e-3, (Date.now() - start) / 1000);
      const eta = total > done ? `${Math.ceil((total - done) / Math.max(rate, 1))}s left` : "";
      const width = 30;
      const filled = Math.round((width * done) / Math.max(total, 1));
      process.stderr.write(`\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${Math.round(rate)}/s ${eta}   `);
    },
    done: () => tty && process.stderr.write("\n"),
  };
};
