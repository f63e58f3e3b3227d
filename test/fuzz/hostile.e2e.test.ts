import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import type { DomainEvent } from "../../events/catalogue.ts";
import { definitions } from "../../events/catalogue.ts";
import { EVENT_STREAM, QUARANTINE_STREAM } from "../../events/subjects.ts";
import type { Recorded } from "../../events/envelope.ts";
import { rawLimit } from "../../adapters/ingest/parse.ts";
import { useTestLog } from "../support/nats.ts";
import { collect, meta } from "../support/events.ts";
import { runSophont, type CliResult } from "../support/cli.ts";
import { seeded } from "../support/random.ts";
import { corpusLines, TOPICS } from "../adapters/llm/support.ts";
import { jsonlGenerators, lineGenerators, piecesFrom, type HostilePiece } from "./hostile.ts";
import { hostileMessages, validExamples } from "./events.ts";

/**
 * Hostile inputs through the real CLI, from a fixed seed: files, standard input and JSON Lines
 * fields at ingest, then malformed and misplaced events of every type on the stream. Whatever comes
 * in, nothing crashes or hangs, every input is refused with a reason or decided, the nights complete
 * and ingest's memory stays bounded.
 */
const SEED = 16_2026;
const MAX_BYTES = 1024 * 1024;
const DAY1 = "2026-12-01";
const DAY2 = "2026-12-02";
// Far above what a process needs on an idle machine: a process still running then has hung.
const PROCESS_LIMIT_MS = 400_000;

const log = useTestLog();
const home = mkdtempSync(join(tmpdir(), "sophont-fuzz-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const r = seeded(SEED);
// Real sentences nobody on the project wrote; a small pool, so the night judges a few dozen inputs.
const texts = TOPICS.flatMap((t) => corpusLines("heldout", t).slice(0, 2));
const counts: Record<string, number> = {};
const count = (category: string, n = 1) => void (counts[category] = (counts[category] ?? 0) + n);

const sophont = async (args: string[], opts: { stdin?: Readable; measureRss?: boolean } = {}): Promise<CliResult> => {
  const env = { SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul };
  const res = await runSophont(args, { env, timeoutMs: PROCESS_LIMIT_MS, ...opts });
  console.log(`[fuzz] sophont ${args.slice(0, 2).join(" ")}: rc ${res.code}, ${(res.ms / 1000).toFixed(1)} s${res.peakRssKiB ? `, peak RSS ${(res.peakRssKiB / 1024).toFixed(0)} MiB` : ""}`);
  expect(res.timedOut, `sophont ${args.join(" ")} hung (killed after ${PROCESS_LIMIT_MS} ms)\n${res.err.slice(-2000)}`).toBe(false);
  expect(res.code, res.err.slice(-3000)).toBe(0);
  return res;
};

// The first 8 KiB decide whether a file is text at all; this line (refused: invisible only) fills them,
// so the hostile lines after it are judged one by one.
const HEAD_PAD = Buffer.from("\u200b".repeat(2800));

interface FileSpec { readonly path: string; readonly pieces: HostilePiece[]; readonly known: boolean }
const files: FileSpec[] = [];
const addFile = (name: string, pieces: HostilePiece[], sep: string, known = true) => {
  const path = join(home, name);
  writeFileSync(path, Buffer.concat(pieces.flatMap((p, i) => (i === 0 ? [p.bytes] : [Buffer.from(sep), p.bytes]))));
  files.push({ path, pieces, known });
};
const pad: HostilePiece = { kind: "head-pad", bytes: HEAD_PAD, expect: { refuse: ["empty"] } };

const makeFiles = () => {
  for (let i = 0; i < 8; i++) addFile(`lines-${i}.log`, [pad, ...piecesFrom(r, lineGenerators, 60, texts, MAX_BYTES, { "huge-line": 0, "deep-json": 0, "odd-unicode": 0 })], "\n");
  for (let i = 0; i < 6; i++) {
    const paragraphs: HostilePiece[] = Array.from({ length: 2 }, () => ({ kind: "good-paragraph", bytes: Buffer.from(`${r.pick(texts)}\n${r.pick(texts)}`), expect: "take" as const }));
    const bad = lineGenerators["invalid-utf8"]!(r, r.pick(texts), MAX_BYTES);
    paragraphs.splice(r.int(0, 2), 0, { kind: "invalid-utf8-paragraph", bytes: Buffer.concat([Buffer.from(`${r.pick(texts)}\n`), bad.bytes]), expect: bad.expect });
    addFile(`paragraphs-${i}.txt`, [pad, ...paragraphs], "\n\n");
  }
  for (let i = 0; i < 40; i++) addFile(`blob-${i}.${r.pick(["bin", "txt", "md", "log", "jsonl"])}`, [{ kind: "binary-blob", bytes: r.bytes(r.int(1, 20_000)), expect: "either" }], "", false);
  for (let i = 0; i < 5; i++) addFile(`invisible-${i}.txt`, [lineGenerators["invisible-only"]!(r, "", MAX_BYTES)], "");
  for (let i = 0; i < 5; i++) {
    const text = Array.from({ length: 80 }, () => r.pick(texts)).join(" ");
    addFile(`late-nul-${i}.md`, [{ kind: "nul-after-8KiB", bytes: Buffer.concat([Buffer.from(text), Buffer.from([0]), Buffer.from(" tail")]), expect: { refuse: ["binary"] } }], "");
  }
  for (let i = 0; i < 3; i++) addFile(`deep-${i}.json`, [lineGenerators["deep-json"]!(r, "", MAX_BYTES)], "");
  for (let i = 0; i < 4; i++) addFile(`records-${i}.jsonl`, piecesFrom(r, jsonlGenerators, 80, texts, MAX_BYTES), "\n");
};

const STDIN_HUGE = 12;
const HUGE_BYTES = 8 * 1024 * 1024;
const stdinPieces = [pad, ...piecesFrom(r, lineGenerators, 150, texts, MAX_BYTES, { "huge-line": 0, "odd-unicode": 0 })];
/** Standard input: the pieces, with 12 lines of 8 MiB among them (96 MiB in all), made as they are read. */
const stdinStream = () =>
  Readable.from((function* () {
    const huge = Buffer.alloc(HUGE_BYTES, 0x68);
    for (let i = 0; i < stdinPieces.length; i++) {
      yield Buffer.concat([stdinPieces[i]!.bytes, Buffer.from("\n")]);
      if (i > 0 && i <= STDIN_HUGE) yield Buffer.concat([huge, Buffer.from("\n")]);
    }
  })(), { objectMode: false });
const stdinExpected: HostilePiece[] = stdinPieces.flatMap((p, i) => (i > 0 && i <= STDIN_HUGE ? [p, { kind: "huge-line-8MiB", bytes: Buffer.alloc(0), expect: { refuse: ["too-large"] } }] : [p]));

type Source = { path: string; index: number };
const sourceOf = (e: Recorded<DomainEvent>): Source | undefined =>
  e.type === "InputReceived" || e.type === "InputRepeated" || e.type === "InputRefused" ? (e.data.source as Source) : undefined;

/** Each piece of a file has exactly one ingest event, refused with the reason it must have, or taken in. */
const checkIntake = (events: Recorded<DomainEvent>[], path: string, pieces: HostilePiece[] | undefined) => {
  const mine = events.filter((e) => sourceOf(e)?.path === path);
  const byIndex = new Map<number, Recorded<DomainEvent>[]>();
  for (const e of mine) byIndex.set(sourceOf(e)!.index, [...(byIndex.get(sourceOf(e)!.index) ?? []), e]);
  const indices = [...byIndex.keys()].sort((a, b) => a - b);
  expect(indices.length, `${path}: no ingest event at all`).toBeGreaterThan(0);
  expect(indices, `${path}: inputs numbered 0..n-1, each once`).toEqual(indices.map((_, i) => i));
  for (const [i, es] of byIndex) expect(es, `${path}#${i}: one ingest event`).toHaveLength(1);
  if (!pieces) return;
  expect(indices.length, `${path}: one event per generated piece`).toBe(pieces.length);
  pieces.forEach((p, i) => {
    const e = byIndex.get(i)![0]!;
    count(`  piece ${p.kind}`);
    if (e.type === "InputRefused") {
      expect(e.data.detail.length, `${path}#${i}: a refusal says why`).toBeGreaterThan(0);
      count(`refused: ${e.data.reason}`);
    } else count("taken in");
    if (p.expect === "take") expect(e.type, `${path}#${i} (${p.kind}) must be taken in`).not.toBe("InputRefused");
    else if (p.expect !== "either") {
      expect(e.type, `${path}#${i} (${p.kind}) must be refused`).toBe("InputRefused");
      expect(p.expect.refuse, `${path}#${i} (${p.kind})`).toContain((e.data as { reason: string }).reason);
    }
  });
};

const DECISIONS = new Set(["InputAccepted", "InputRejected", "ShadowRecorded", "InputDropped"]);
/** Every input received is decided exactly once, with what explains it. */
const checkDecided = async () => {
  const events = await collect(log.store.read());
  const received = events.filter((e) => e.type === "InputReceived").map((e) => (e.data as { inputId: string }).inputId);
  const decided = events.filter((e) => DECISIONS.has(e.type));
  const ids = decided.map((e) => (e.data as { inputId: string }).inputId);
  expect(new Set(ids).size, "an input decided twice").toBe(ids.length);
  expect([...ids].sort()).toEqual([...received].sort());
  for (const e of decided) {
    const d = e.data as { reason?: string; detail?: string; cause?: string };
    expect((d.reason ?? d.detail ?? "").length, `${e.type} of ${(e.data as { inputId: string }).inputId} says why`).toBeGreaterThan(0);
  }
  return { events, received: received.length };
};

describe("hostile inputs, generated from a fixed seed", () => {
  it("files, standard input and JSON Lines: each piece refused with its reason or taken in; ingest's memory stays bounded", async () => {
    const questions = join(home, "questions.txt");
    writeFileSync(questions, TOPICS.map((t) => corpusLines("train", t)[0]).join("\n"));
    await sophont(["preoccupation", "seed", questions]);
    const small = join(home, "small.log");
    writeFileSync(small, "one short line\n");
    const baseline = await sophont(["ingest", small, "--day", DAY1, "--json"], { measureRss: true });
    makeFiles();
    const fromFiles = await sophont(["ingest", ...files.map((f) => f.path), "--day", DAY1, "--max-bytes", String(MAX_BYTES), "--json"], { measureRss: true });
    const fromStdin = await sophont(["ingest", "-", "--format", "log", "--day", DAY1, "--max-bytes", String(MAX_BYTES), "--json"], { measureRss: true, stdin: stdinStream() });

    const events = await collect(log.store.read());
    for (const f of files) checkIntake(events, f.path, f.known ? f.pieces : undefined);
    checkIntake(events, "-", stdinExpected);
    const summed = (s: CliResult) => {
      const j = JSON.parse(s.out) as { received: number; repeated: number; refused: number; unchanged: number };
      return j.received + j.repeated + j.refused + j.unchanged;
    };
    expect(summed(fromFiles)).toBe(events.filter((e) => sourceOf(e) && sourceOf(e)!.path !== "-" && sourceOf(e)!.path !== small).length);
    expect(summed(fromStdin)).toBe(stdinExpected.length);
    count("files", files.length);
    count("inputs from files", files.reduce((n, f) => n + (f.known ? f.pieces.length : 1), 0));
    count("inputs from stdin", stdinExpected.length);

    // Memory: 96 MiB passed through standard input; ingest holds one piece (at most rawLimit) at a time.
    const bound = baseline.peakRssKiB! + (64 * 1024 * 1024 + 8 * rawLimit(MAX_BYTES)) / 1024;
    console.log(`[fuzz] peak RSS (MiB): baseline ${(baseline.peakRssKiB! / 1024).toFixed(0)}, files ${(fromFiles.peakRssKiB! / 1024).toFixed(0)}, stdin ${(fromStdin.peakRssKiB! / 1024).toFixed(0)}, bound ${(bound / 1024).toFixed(0)}`);
    expect(fromStdin.peakRssKiB!).toBeLessThan(bound);
    expect(fromFiles.peakRssKiB!).toBeLessThan(bound);
  }, 600_000);

  it("the night of those inputs completes: every input received is decided once, with its reason", async () => {
    const night = await sophont(["night", "--day", DAY1, "--json"]);
    const summary = JSON.parse(night.out) as { completed: boolean; counts: { accepted: number; rejected: number; shadow: number; dropped: number; refused: number } };
    expect(summary.completed).toBe(true);
    const { received } = await checkDecided();
    const c = summary.counts;
    expect(c.accepted + c.rejected + c.shadow + c.dropped).toBe(received);
    count("decided in night 1", received);
  }, 600_000);

  it("malformed and misplaced events of every type are quarantined, and the next night completes", async () => {
    const fromLog = new Map<string, DomainEvent>();
    for (const e of await collect(log.store.read())) if (!fromLog.has(e.type)) fromLog.set(e.type, { type: e.type, data: e.data } as DomainEvent);
    const built = validExamples().filter((e) => !fromLog.has(e.type));
    const messages = hostileMessages(r, [...fromLog.values(), ...built]);
    console.log(`[fuzz] valid examples: ${fromLog.size} types from the night's log, ${built.length} built from schemas, of ${definitions.length}`);
    // The probes that once wedged a night: a NightStarted on a training subject, an input whose text is missing.
    const missingId = "cd".repeat(32);
    const missing = { type: "InputReceived", data: { inputId: "cd".repeat(32), day: DAY2, source: { path: "ghost.txt", format: "text", index: 0 }, bytes: 5, contentSha256: "cd".repeat(32) } } as DomainEvent;
    const nc = await log.nats.connect();
    const js = jetstream(nc);
    const bad: number[] = [];
    for (const m of messages) {
      const ack = await js.publish(m.subject, m.body);
      bad.push(ack.seq);
      count(`event ${m.kind}`);
    }
    const nightOnTraining = Buffer.from(JSON.stringify({ ...meta(), type: "NightStarted", version: 2, data: { nightId: DAY2, day: DAY2, trigger: "cli", untilSeq: 0 } }));
    bad.push((await js.publish(`sophont.evt.training.${DAY2}`, nightOnTraining)).seq);
    count("event night-on-training-subject");
    await log.store.append([{ event: missing, metadata: meta() }]);
    count("event input-with-missing-text");
    const day2 = join(home, "day2.log");
    writeFileSync(day2, Array.from({ length: 20 }, () => r.pick(corpusLines("novel", "beekeeping"))).join("\n"));
    await sophont(["ingest", day2, "--day", DAY2, "--json"]);

    const night = await sophont(["night", "--day", DAY2, "--json"]);
    expect(JSON.parse(night.out)).toMatchObject({ night: DAY2, completed: true });
    const { events } = await checkDecided();
    expect(events.find((e) => e.type === "InputDropped" && e.data.inputId === missingId), "the input whose text is missing is dropped with its reason").toMatchObject({ data: { cause: "missing-content" } });
    // Every bad message is in the quarantine stream, with the reason.
    const jsm = await jetstreamManager(nc);
    const q = await jsm.streams.info(QUARANTINE_STREAM, { subjects_filter: ">" });
    const quarantined = new Set(Object.keys(q.state.subjects ?? {}).map((s) => Number(s.split(".").pop())));
    expect(bad.filter((s) => !quarantined.has(s)), `not quarantined (of ${bad.length}, stream ${EVENT_STREAM})`).toEqual([]);
    const one = await jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: `sophont.quarantine.${EVENT_STREAM}.${bad[0]}` });
    expect(one?.header?.get("Sophont-Quarantine-Reason")).toBeTruthy();
    const total = Object.entries(counts).filter(([k]) => !k.startsWith(" ") && /^(inputs|event)/.test(k)).reduce((n, [, v]) => n + v, 0);
    console.log(`[fuzz] seed ${SEED}: ${total} hostile inputs and events\n${Object.entries(counts).sort().map(([k, v]) => `  ${k.padEnd(32)} ${v}`).join("\n")}`);
    expect(total).toBeGreaterThanOrEqual(1000);
  }, 600_000);
});
