// A long read of the event stream with the NATS side on a thread of its own: the reader thread
// speaks the protocol (frames, pull requests, flow) and hands over raw message bodies in batches,
// while the caller's thread decodes and folds them. On a replay the two halves then overlap instead
// of taking turns. The thread holds at most IN_FLIGHT batches the caller has not taken yet.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { NatsAuth } from "./connection.ts";

/**
 * Raw messages in stream order: `bytes[offsets[i], offsets[i + 1])` is message i. The buffers are
 * lent: they go back to the reader thread once the loop body that got the batch has finished.
 */
export interface RawBatch {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
  readonly seqs: Float64Array;
  /** When the server stored each message (ms since the epoch). */
  readonly times: Float64Array;
  readonly subjects: readonly string[];
}

export interface BulkReadOptions {
  readonly auth: NatsAuth;
  readonly stream: string;
  readonly startSeq: number;
  /** Inclusive; the read also ends when nothing more matches the filter. */
  readonly untilSeq: number;
  readonly filterSubject?: string;
  readonly signal?: AbortSignal;
}

const MESSAGES_PER_BATCH = 512;
const IN_FLIGHT = 16;
const FETCH = 4096;

// Plain JavaScript so the thread needs no TypeScript loader (vitest, tsx and node alike).
const source = `
const { parentPort, workerData } = require("node:worker_threads");
const { connect } = require(workerData.transport);
const { jetstream, DeliverPolicy } = require(workerData.jetstream);
const o = workerData.options;
let credits = ${IN_FLIGHT};
let wake = null;
let stopped = false;
const pool = [];
parentPort.on("message", (m) => {
  if (m === "stop") stopped = true;
  else if (m.credit) {
    credits++;
    if (m.back) pool.push({ bytes: new Uint8Array(m.back.bytes), offsets: new Uint32Array(m.back.offsets), seqs: new Float64Array(m.back.seqs), times: new Float64Array(m.back.times), subjects: [], used: 0, n: 0 });
  }
  if (wake) { const w = wake; wake = null; w(); }
});
// The buffers travel to the caller and come back with its credit: no allocation per batch.
const send = (b) => {
  credits--;
  parentPort.postMessage({ bytes: b.bytes.buffer, used: b.used, n: b.n, offsets: b.offsets.buffer, seqs: b.seqs.buffer, times: b.times.buffer, subjects: b.subjects },
    [b.bytes.buffer, b.offsets.buffer, b.seqs.buffer, b.times.buffer]);
};
const fresh = () => pool.pop() || ({ bytes: new Uint8Array(1 << 18), used: 0, offsets: new Uint32Array(${MESSAGES_PER_BATCH} + 1), seqs: new Float64Array(${MESSAGES_PER_BATCH}), times: new Float64Array(${MESSAGES_PER_BATCH}), subjects: [], n: 0 });
(async () => {
  const nc = await connect({ servers: o.auth.url.split(","), ...(o.auth.user ? { user: o.auth.user, pass: o.auth.pass || "" } : {}), name: (o.auth.name || "sophont") + "-reader", timeout: 10000 });
  try {
    const c = await jetstream(nc).consumers.get(o.stream, {
      deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: o.startSeq,
      ...(o.filterSubject ? { filter_subjects: o.filterSubject } : {}),
    });
    if ((await c.info(true)).num_pending === 0) return;
    let b = fresh();
    let done = false;
    // consume() keeps pulling as messages arrive; when the caller is IN_FLIGHT batches behind, the
    // consumer is closed and reopened after the last sequence handed over once a batch is taken.
    // (An ordered push consumer costs the server less per message, but it floods the thread, which
    // then pauses and reopens again and again: slower here.)
    let next = o.startSeq;
    while (!done && !stopped) {
      while (credits <= 0 && !stopped) await new Promise((r) => (wake = r));
      if (stopped) break;
      const cc = next === o.startSeq ? c : await jetstream(nc).consumers.get(o.stream, {
        deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next,
        ...(o.filterSubject ? { filter_subjects: o.filterSubject } : {}),
      });
      let finish;
      const ended = new Promise((r) => (finish = r));
      let paused = false;
      const msgs = await cc.consume({ max_messages: ${FETCH}, callback: (m) => {
        if (done || paused) return;
        const info = m.info;
        const seq = info.streamSequence;
        if (seq > o.untilSeq) { done = true; finish(); return; }
        const d = m.data;
        if (b.used + d.length > b.bytes.length) {
          const grown = new Uint8Array(Math.max(b.bytes.length * 2, b.used + d.length));
          grown.set(b.bytes.subarray(0, b.used));
          b.bytes = grown;
        }
        b.bytes.set(d, b.used);
        b.used += d.length;
        b.seqs[b.n] = seq;
        b.times[b.n] = Math.floor(info.timestampNanos / 1e6);
        b.subjects.push(m.subject);
        b.n++;
        b.offsets[b.n] = b.used;
        next = seq + 1;
        if (seq >= o.untilSeq || info.pending === 0) done = true;
        if (b.n === ${MESSAGES_PER_BATCH} || done) {
          send(b);
          b = fresh();
          if (done || credits <= 0) { paused = !done; finish(); }
        }
      } });
      await ended;
      await msgs.close().catch(() => undefined);
    }
    if (b.n > 0 && !stopped) send(b);
  } finally {
    await nc.close().catch(() => undefined);
  }
})().then(
  () => parentPort.postMessage({ end: true }),
  (e) => parentPort.postMessage({ error: String(e && e.message || e) }),
);
`;

const resolve = createRequire(import.meta.url).resolve;

/** A long read in progress: the thread starts at once, so it can warm up while the caller does something else. */
export interface RawRead extends AsyncIterable<RawBatch> {
  /** Stops the thread (also done when the iteration ends or breaks off). */
  close(): Promise<void>;
}

/**
 * Starts reading `[startSeq, untilSeq]` of a stream as raw batches, the NATS side on a reader thread.
 * Ends at `untilSeq` or when nothing more matches; breaking out of the loop stops the thread.
 */
export const startRawRead = (options: BulkReadOptions): RawRead => {
  const { signal, ...plain } = options;
  const worker = new Worker(source, {
    eval: true,
    workerData: { transport: resolve("@nats-io/transport-node"), jetstream: resolve("@nats-io/jetstream"), options: plain },
    // Its garbage (one wrapper per message) dies young: a small young generation keeps the thread's
    // footprint down (peak RSS of a 1M replay 207-215 MiB instead of 235-242) at no cost in speed.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  interface Posted { bytes: ArrayBuffer; used: number; n: number; offsets: ArrayBuffer; seqs: ArrayBuffer; times: ArrayBuffer; subjects: string[] }
  const queue: Array<Posted | { end: true } | { error: string }> = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const push = (m: Posted | { end: true } | { error: string }) => {
    queue.push(m);
    wake?.();
    wake = null;
  };
  worker.on("message", push);
  worker.on("error", (e) => push({ error: e.message }));
  // A thread that stops without saying why (killed, out of memory) must not leave the read waiting.
  worker.on("exit", () => void setTimeout(() => ended || push({ error: "the reader thread stopped" }), 100));
  const abort = () => push({ end: true });
  signal?.addEventListener("abort", abort, { once: true });
  const close = async () => {
    ended = true;
    signal?.removeEventListener("abort", abort);
    worker.postMessage("stop");
    await worker.terminate();
  };
  return {
    close,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          while (queue.length === 0) await new Promise<void>((r) => (wake = r));
          const m = queue.shift()!;
          if ("end" in m) return void (ended = true);
          if ("error" in m) throw new Error(`reading ${options.stream} from ${options.startSeq}: ${m.error}`);
          yield {
            bytes: new Uint8Array(m.bytes, 0, m.used),
            offsets: new Uint32Array(m.offsets, 0, m.n + 1),
            seqs: new Float64Array(m.seqs, 0, m.n),
            times: new Float64Array(m.times, 0, m.n),
            subjects: m.subjects,
          };
          // The caller is done with the batch: its buffers go back to be filled again.
          const back = { bytes: m.bytes, offsets: m.offsets, seqs: m.seqs, times: m.times };
          worker.postMessage({ credit: true, back }, [m.bytes, m.offsets, m.seqs, m.times]);
        }
      } finally {
        await close();
      }
    },
  };
};
