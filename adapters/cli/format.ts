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

/** The length of the ids people see and type: a 12-character prefix of a 64-hex id. */
export const SHORT_ID = 12;

/** Every 64-hex id in a text shortened to its first 12 characters. */
export const shortenIds = (s: string): string => s.replace(/\b[0-9a-f]{64}\b/g, (h) => h.slice(0, SHORT_ID));

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** What an event is about and, for a decision, why: its cause and reason first, the rest after. */
const gist = (data: unknown): string => {
  if (typeof data !== "object" || data === null) return shortenIds(JSON.stringify(data));
  const d = data as Record<string, unknown>;
  const head: string[] = [];
  const id = ["inputId", "proposalId", "satelliteId", "jobId", "centroidId", "nightId"].find((k) => typeof d[k] === "string");
  if (id) head.push(shortenIds(d[id] as string));
  if (typeof d.cause === "string") head.push(`${d.cause}:`);
  if (typeof d.reason === "string") head.push(shortenIds(d.reason));
  const rest = Object.fromEntries(Object.entries(d).filter(([k]) => k !== id && k !== "cause" && k !== "reason" && k !== "policy"));
  const tail = shortenIds(JSON.stringify(rest));
  return clip(head.length ? `${head.join(" ")}  ${tail === "{}" ? "" : tail}`.trimEnd() : tail, 160);
};

/** One line per event for people: ids shortened, a decision's cause and reason shown; `--json` prints the whole event. */
export const eventLine = (e: Recorded<DomainEvent>): string =>
  `${String(e.seq).padStart(7)}  ${new Date(e.storedAt).toISOString()}  ${e.type.padEnd(18)} ${e.metadata.actor.padEnd(10)} ${gist(e.data)}`;

/**
 * A fraction as a percentage people read: one decimal; beyond ±10000% (a perplexity that blew up) it says
 * so instead of printing 1.63e+266%; non-finite values as ∞.
 */
export const percent = (x: number | undefined | null): string => {
  if (x === undefined || x === null || Number.isNaN(x)) return "-";
  if (!Number.isFinite(x)) return x > 0 ? "+∞%" : "-∞%";
  const p = x * 100;
  if (Math.abs(p) >= 10_000) return `${p > 0 ? "over +" : "below -"}10000%`;
  return `${p.toFixed(1)}%`;
};

/** A number people read: fixed decimals for ordinary sizes, ∞ and ">1e6" spelled out instead of exponent noise. */
export const readable = (x: number | undefined | null, digits = 2): string => {
  if (x === undefined || x === null || Number.isNaN(x)) return "-";
  if (!Number.isFinite(x) || Math.abs(x) >= 1e300) return x > 0 ? "∞" : "-∞";
  if (Math.abs(x) >= 1e6) return `${x > 0 ? ">" : "<-"}1000000`;
  return x.toFixed(digits);
};

/**
 * An id as typed: the whole id, or a prefix of at least 6 characters (the 12 printed everywhere) that
 * names exactly one thing. `known` maps each id (or hash) to what it names; a prefix naming several
 * things is refused with the candidates, one naming none with `hint`.
 */
export const resolveId = (typed: string, known: ReadonlyMap<string, string> | Iterable<string>, what: string, hint = ""): string => {
  const map = known instanceof Map ? (known as ReadonlyMap<string, string>) : new Map([...(known as Iterable<string>)].map((k) => [k, k]));
  const exact = map.get(typed);
  if (exact !== undefined) return exact;
  if (typed.length < 6) throw new UsageError(`${what} ${JSON.stringify(typed)}: give the id or at least its first 6 characters`);
  const hits = new Map<string, string>();
  for (const [k, v] of map) if (k.startsWith(typed) && !hits.has(v)) hits.set(v, k);
  if (hits.size === 1) return [...hits.keys()][0]!;
  if (hits.size === 0) throw new NotFoundError(`no ${what} ${typed} in the log${hint}`);
  const shown = [...hits.values()].slice(0, 10).map((h) => `  ${h}`);
  throw new UsageError([`${what} prefix ${typed} is ambiguous: ${hits.size} match; give more characters:`, ...shown, ...(hits.size > 10 ? [`  ... and ${hits.size - 10} more`] : [])].join("\n"));
};

/** Nothing in the log has that id: exit 1 with the message (no usage line). */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

/** Prints a command's result: one JSON object on stdout with --json, else the human lines. */
export const printResult = (ctx: { out: (s: string) => void }, json: unknown, result: unknown, human: () => string | ReadonlyArray<string>): void => {
  if (json === true) {
    ctx.out(JSON.stringify(result, null, 2));
    return;
  }
  const lines = human();
  for (const l of typeof lines === "string" ? [lines] : lines) ctx.out(l);
};

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
