import type { NatsConnection } from "@nats-io/transport-node";
import { headers as makeHeaders } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg, type StoredMsg } from "@nats-io/jetstream";
import { decodeEvent, DecodeError, encodeEvent, type Encoded } from "../../events/codec.ts";
import { definitions, type DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { EVENT_STREAM, allEventSubjects, familySubjects, quarantineSubject } from "../../events/subjects.ts";
import {
  ConcurrencyError, StoreError,
  type Appended, type Delivery, type EventStore, type Pending, type Quarantined, type ReadOptions, type SubscribeOptions, type Subscription, type Until,
} from "../../events/store.ts";
import { AckPipe, type PubResult } from "./ack-pipe.ts";
import { OrderedPull, type PulledMessage } from "./ordered-pull.ts";
import { asked, serverUnavailable, storeError } from "./unavailable.ts";

const WRONG_LAST_SEQUENCE = 10071;

/** A message get that found nothing answers null (the client says so by an error on some paths). */
const noMessage = (e: unknown): null => {
  if (/no message found/i.test(String((e as Error)?.message))) return null;
  throw e;
};

/**
 * JetStream API requests wait this long: on a cluster a new stream or consumer leader takes ~4-5 s
 * to be elected after a node dies (measured on 2.9.10), and a consumer created right after a
 * failover timed out once at the client's 5 s default.
 */
const API_TIMEOUT_MS = 10_000;
/** How long a durable subscription keeps trying to reach its consumer before it gives up. */
const CONSUMER_RETRY_MS = 120_000;

/** Batches decoded but not taken yet before a read stops asking the server for more. */
const READY_MAX = 16;

export interface StoreOptions {
  /** Write undecodable messages to the quarantine stream (off for read-only users such as replicas and agents, which only report them). */
  readonly quarantine?: boolean;
  /** Batches a read decodes ahead of its reader before it pauses (default 16). */
  readonly readAhead?: number;
}

interface RawMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

const TYPE_KEY = Buffer.from(',"type":"');

/** The event type as encodeEvent lays it out, read without parsing; undefined when it is not there. */
const rawType = (data: Uint8Array): string | undefined => {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const at = buf.indexOf(TYPE_KEY);
  if (at < 0) return undefined;
  const from = at + TYPE_KEY.length;
  const to = buf.indexOf(34, from); // the closing quote; type names never contain one
  return to < 0 ? undefined : buf.toString("latin1", from, to);
};

/** The EventStore port on JetStream: one stream, subjects per entity, server-side dedup and concurrency. */
/**
 * The subject that holds every event of these types, where they all share one family (each type is
 * published only on its family's subjects; a misplaced event is quarantined): the server then sends
 * only that family, so a fold over the training events of a log of 100k inputs reads a few hundred.
 */
const familyOf = (types: ReadonlySet<string> | undefined): string | undefined => {
  if (!types || types.size === 0) return undefined;
  const families = new Set(definitions.filter((d) => types.has(d.type)).map((d) => d.family));
  const known = [...types].every((t) => definitions.some((d) => d.type === t));
  return known && families.size === 1 ? familySubjects([...families][0]!) : undefined;
};

export class JetStreamEventStore implements EventStore {
  private readonly js: JetStreamClient;
  private readonly pipe: AckPipe;
  private jsmP: Promise<JetStreamManager> | undefined;

  /**
   * @param options see StoreOptions
   */
  constructor(private readonly nc: NatsConnection, private readonly options: StoreOptions = {}) {
    this.js = jetstream(nc, { timeout: API_TIMEOUT_MS });
    this.pipe = new AckPipe(nc);
  }

  private jsm(): Promise<JetStreamManager> {
    return (this.jsmP ??= jetstreamManager(this.nc, { checkAPI: false, timeout: API_TIMEOUT_MS }));
  }

  async append(events: ReadonlyArray<Pending>): Promise<Appended[]> {
    const encoded = events.map((p) => encodeEvent(p.event, p.metadata));
    // Without expectations every event goes out at once; the server keeps the order of one connection.
    if (!events.some((p) => p.expectedSubjectSeq !== undefined)) return Promise.all(encoded.map((e) => this.send(e, undefined)));
    // Events on one subject after an expectation are chained: each expects the one before it.
    const chains = new Map<string, number[]>();
    encoded.forEach((e, i) => chains.set(e.subject, [...(chains.get(e.subject) ?? []), i]));
    const results = new Array<Appended>(events.length);
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        let expected = events[chain[0]!]!.expectedSubjectSeq;
        for (const i of chain) {
          const a = await this.send(encoded[i]!, expected ?? events[i]!.expectedSubjectSeq);
          results[i] = a;
          if (expected !== undefined) expected = a.seq;
        }
      }),
    );
    return results;
  }

  private async send(e: Encoded, expectedSubjectSeq: number | undefined): Promise<Appended> {
    const h = makeHeaders();
    h.set("Nats-Msg-Id", e.msgId);
    if (e.traceparent) h.set("traceparent", e.traceparent);
    if (expectedSubjectSeq !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(expectedSubjectSeq));
    const r: PubResult = await this.pipe.publish(e.subject, e.body, h);
    if (r.ok) return { id: e.msgId, subject: e.subject, seq: r.seq, duplicate: r.duplicate };
    if (r.errCode === WRONG_LAST_SEQUENCE) throw new ConcurrencyError(e.subject, expectedSubjectSeq ?? -1, r.description);
    throw new StoreError(`append to ${e.subject} failed: ${r.description} (code ${r.code}/${r.errCode})`, { transient: r.code === 408 || r.code === 503 });
  }

  async lastSeq(): Promise<number> {
    return asked(this.nc, `cannot read the last sequence of ${EVENT_STREAM}`, async () => (await (await this.jsm()).streams.info(EVENT_STREAM)).state.last_seq);
  }

  lastSubjectSeq(subject: string): Promise<number> {
    return asked(this.nc, `cannot read the last sequence of ${subject}`, async () => {
      const m = await (await this.jsm()).streams.getMessage(EVENT_STREAM, { last_by_subj: subject }).catch(noMessage);
      return m?.seq ?? 0;
    });
  }

  async nextOnSubject(subject: string, fromSeq = 1): Promise<Recorded<DomainEvent> | undefined> {
    // The server's MSG.GET takes next_by_subj (2.9+); the client's type names only seq and last_by_subj.
    const m: StoredMsg | null = await asked(this.nc, `cannot read ${subject} from ${fromSeq}`, async () =>
      (await this.jsm()).streams.getMessage(EVENT_STREAM, { next_by_subj: subject, seq: Math.max(1, fromSeq) } as unknown as { seq: number }).catch(noMessage));
    if (!m) return undefined;
    try {
      return decodeEvent(m.data, m.seq, m.subject, m.time.getTime());
    } catch (e) {
      // The same message is quarantined when a read or a replay reaches it; here it is only skipped.
      if (e instanceof DecodeError) return this.nextOnSubject(subject, m.seq + 1);
      throw e;
    }
  }

  seqAt(time: Date): Promise<number> {
    return asked(this.nc, `cannot find the sequence at ${time.toISOString()}`, () => this.seqAtOnce(time));
  }

  private async seqAtOnce(time: Date): Promise<number> {
    // The first message stored strictly after `time` bounds the answer from above.
    const c = await this.js.consumers.get(EVENT_STREAM, {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(time.getTime() + 1).toISOString(),
    });
    try {
      const info = await c.info(true);
      if (info.num_pending === 0) return this.lastSeq();
      const m = await c.next({ expires: 5_000 });
      return m ? m.seq - 1 : this.lastSeq();
    } finally {
      await c.delete().catch(() => undefined);
    }
  }

  private async resolveUntil(until: Until | undefined): Promise<number> {
    // A read also ends where the log ends, so a sequence needs no question to the server.
    if (until !== undefined && until !== "now" && "seq" in until) return until.seq;
    if (until === undefined || until === "now") return this.lastSeq();
    return this.seqAt(until.time);
  }

  async *read(options: ReadOptions & { onQuarantine?: (q: Quarantined) => void } = {}): AsyncIterable<Recorded<DomainEvent>> {
    for await (const batch of this.readBatches(options)) yield* batch;
  }

  /**
   * Reads in batches: one await per batch instead of one per event, which is what replaying a long
   * log costs. A batch holds what was decoded since the reader last took one: up to 512 events when
   * it keeps up, more when it falls behind; it also ends at the end of the range.
   */
  async *readBatches(options: ReadOptions & { onQuarantine?: (q: Quarantined) => void } = {}): AsyncIterable<Recorded<DomainEvent>[]> {
    const untilSeq = options.follow ? Number.MAX_SAFE_INTEGER : await this.resolveUntil(options.until);
    let startSeq = 1;
    if (options.from && "seq" in options.from) startSeq = Math.max(1, options.from.seq);
    else if (options.from) startSeq = (await this.seqAt(new Date(options.from.time.getTime() - 1))) + 1;
    if (untilSeq < startSeq) return;
    yield* this.readOrdered(startSeq, untilSeq, { ...options, subject: options.subject ?? familyOf(options.types) });
  }

  /**
   * Reads on this connection with OrderedPull, each message decoded as it arrives (no promise per
   * message). When READY_MAX batches wait unread it stops asking the server for more, and asks again
   * once the reader has taken them: memory stays bounded.
   */
  private async *readOrdered(startSeq: number, untilSeq: number, options: ReadOptions & { onQuarantine?: (q: Quarantined) => void }): AsyncIterable<Recorded<DomainEvent>[]> {
    interface Chunk { events: Recorded<DomainEvent>[]; failed: Array<RawMessage & { error: Error }> }
    const fresh = (): Chunk => ({ events: [], failed: [] });
    const ready: Chunk[] = [];
    let chunk = fresh();
    let done = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const flush = () => {
      if (chunk.events.length > 0 || chunk.failed.length > 0) ready.push(chunk);
      chunk = fresh();
      const w = wake;
      wake = undefined;
      w?.();
    };
    let reader: OrderedPull | undefined;
    const message = (m: PulledMessage) => {
      if (done) return;
      if (m.seq > untilSeq) return void ((done = true), flush());
      const ev = this.decodeWanted(m.data, m.seq, m.subject, m.storedAt, options.types);
      if (ev instanceof Error) chunk.failed.push({ seq: m.seq, subject: m.subject, data: m.data.slice(), error: ev });
      else if (ev) chunk.events.push(ev);
      if (m.seq >= untilSeq) done = true;
      if (done || m.pending === 0 || chunk.events.length >= 512 || chunk.failed.length > 0) flush();
      if (!done && ready.length >= (this.options.readAhead ?? READY_MAX)) reader?.pause();
    };
    const end = (e?: Error) => {
      if (e) failure = e;
      else done = true;
      flush();
    };
    const abort = () => end();
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      // OrderedPull asks the cluster again by itself while a consumer cannot be made.
      reader = await OrderedPull.open(this.nc, await this.jsm(), {
        stream: EVENT_STREAM, startSeq, ...(options.subject ? { filterSubject: options.subject } : {}), ...(options.follow ? { follow: true } : {}),
      }, { message, end }).catch((e: unknown): never => {
        throw storeError(`reading ${EVENT_STREAM} from ${startSeq}`, e);
      });
      for (;;) {
        while (ready.length === 0 && !done && !failure) await new Promise<void>((r) => (wake = r));
        if (ready.length > 0) {
          // Everything decoded so far goes out at once: the client may deliver several batches
          // between two turns of this loop, and taking one per turn would fall behind.
          const taken = ready.splice(0, ready.length);
          for (const c of taken) for (const f of c.failed) await this.quarantineFailed(f, f.error, options.onQuarantine);
          const events = taken.length === 1 ? taken[0]!.events : taken.flatMap((c) => c.events);
          if (!done) reader.resume();
          if (events.length > 0) yield events;
          continue;
        }
        if (failure) throw storeError(`reading ${EVENT_STREAM} from ${startSeq}`, failure);
        return;
      }
    } finally {
      options.signal?.removeEventListener("abort", abort);
      await reader?.close();
    }
  }

  /**
   * Decodes one message if its type is wanted: the type is read off the raw body first (encodeEvent
   * writes it before the payload), so a fold over a few types does not parse the rest. A message
   * whose type cannot be read that way is decoded in full, and quarantined if it fails.
   */
  private decodeWanted(data: Uint8Array, seq: number, subject: string, storedAt: number, types: ReadonlySet<string> | undefined): Recorded<DomainEvent> | undefined | Error {
    if (types && types.size < definitions.length) {
      const type = rawType(data);
      if (type !== undefined && !types.has(type)) return undefined;
    }
    try {
      const ev = decodeEvent(data, seq, subject, storedAt);
      return !types || types.has(ev.type) ? ev : undefined;
    } catch (e) {
      return e as Error;
    }
  }

  async decodeOrQuarantine(m: JsMsg, onQuarantine?: (q: Quarantined) => void): Promise<Recorded<DomainEvent> | undefined> {
    try {
      return decodeEvent(m.data, m.seq, m.subject, Math.floor(m.info.timestampNanos / 1e6));
    } catch (e) {
      await this.quarantineFailed(m, e, onQuarantine);
      return undefined;
    }
  }

  private async quarantineFailed(m: RawMessage, e: unknown, onQuarantine?: (q: Quarantined) => void): Promise<void> {
    const reason = e instanceof DecodeError ? e.message : `unexpected: ${(e as Error).message}`;
    // Reading goes on even when the copy cannot be made: the message stays in the log either way.
    await this.quarantine(m, reason).catch(() => undefined);
    onQuarantine?.({ seq: m.seq, subject: m.subject, reason });
  }

  /**
   * Puts a copy of a message in the quarantine stream with the reason. `by` names the consumer that
   * gave up on a message it could decode (absent: nobody can decode it).
   */
  async quarantine(m: RawMessage, reason: string, by?: string): Promise<void> {
    if (this.options.quarantine === false) return;
    const where = by ?? EVENT_STREAM;
    const h = makeHeaders();
    h.set("Nats-Msg-Id", `q:${where}:${m.seq}`);
    h.set("Sophont-Quarantine-Reason", reason.replace(/\s+/g, " ").slice(0, 1000));
    h.set("Sophont-Original-Subject", m.subject.slice(0, 1000));
    h.set("Sophont-Original-Seq", String(m.seq));
    if (by) h.set("Sophont-Consumer", by);
    const r = await this.pipe.publish(quarantineSubject(where, m.seq), m.data, h);
    if (!r.ok) throw new StoreError(`cannot quarantine seq ${m.seq}: ${r.description}`, { transient: r.code === 408 || r.code === 503 });
  }

  subscribe(options: SubscribeOptions): Subscription {
    return new DurableSubscription(this.nc, this, this.js, () => this.jsm(), options);
  }

  close(): void {
    this.pipe.close();
  }
}

/** A durable pull consumer delivering one event at a time, in order, redelivered until acked. */
class DurableSubscription implements Subscription {
  private stopped = false;
  private closeMsgs: (() => Promise<void>) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: JetStreamEventStore,
    private readonly js: JetStreamClient,
    private readonly jsm: () => Promise<JetStreamManager>,
    private readonly options: SubscribeOptions,
  ) {}

  private async ensureConsumer(): Promise<void> {
    const jsm = await this.jsm();
    const config = {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: allEventSubjects,
      ack_wait: (this.options.ackWaitMs ?? 30_000) * 1_000_000,
      // One in flight keeps strict order across crashes and redeliveries.
      max_ack_pending: 1,
    };
    try {
      await jsm.consumers.info(EVENT_STREAM, this.options.durable);
    } catch {
      await jsm.consumers.add(EVENT_STREAM, config);
    }
  }

  /**
   * Delivers until stopped. A failing consumer (its leader lost with a node, a timed-out request, a
   * restarted server) is opened again with backoff; only one that stays unreachable for
   * CONSUMER_RETRY_MS ends the iteration with the error. Unacked messages are redelivered by the server.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    let failingSince: number | undefined;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        yield* this.consumeOnce(() => ((failingSince = undefined), (attempt = 0)));
      } catch (e) {
        if (this.stopped) return;
        failingSince ??= Date.now();
        // A server that does not answer is waited out (an actor whose loop ended would wedge every
        // later night); an answer that refuses is final after CONSUMER_RETRY_MS.
        if (Date.now() - failingSince > CONSUMER_RETRY_MS && !serverUnavailable(e)) throw e;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
  }

  private async *consumeOnce(onHealthy: () => void): AsyncGenerator<Delivery> {
    await this.ensureConsumer();
    const consumer = await this.js.consumers.get(EVENT_STREAM, this.options.durable);
    const msgs = await consumer.consume({ max_messages: 64 });
    this.closeMsgs = async () => void (await msgs.close());
    if (this.stopped) return void (await msgs.close());
    const max = this.options.maxDeliveries ?? 5;
    for await (const m of msgs) {
      if (this.stopped) break;
      onHealthy();
      const event = await this.store.decodeOrQuarantine(m, this.options.onQuarantine);
      if (!event || (this.options.types && !this.options.types.has(event.type))) {
        m.ack(); // not ours to handle: a lost ack only redelivers it, to be skipped again
        continue;
      }
      const quarantine = async (reason: string) => {
        await this.store.quarantine(m, `${this.options.durable}: ${reason}`, this.options.durable);
        this.options.onQuarantine?.({ seq: m.seq, subject: m.subject, reason });
        await m.ackAck();
      };
      // Delivered again and again without being settled: whoever takes it dies on it.
      if (m.info.deliveryCount > 4 * max) {
        await quarantine(`delivered ${m.info.deliveryCount} times without being settled (a process dying on it?)`).catch(() => undefined);
        continue;
      }
      yield {
        event,
        deliveryCount: m.info.deliveryCount,
        ack: async (o?: { readonly confirm?: boolean }) => (o?.confirm === false ? m.ack() : void (await m.ackAck())),
        nak: (delayMs?: number) => m.nak(delayMs),
        working: () => m.working(),
        quarantine,
        fail: async (reason: string) => {
          if (m.info.deliveryCount >= max) {
            await quarantine(`failed ${m.info.deliveryCount} times, last: ${reason}`);
            return "quarantined";
          }
          m.nak(Math.min(30_000, 1_000 * 2 ** (m.info.deliveryCount - 1)));
          return "retry";
        },
      };
    }
  }

  lag(): Promise<number> {
    return asked(this.nc, `cannot read ${this.options.durable}'s lag`, async () => {
      const info = await (await this.jsm()).consumers.info(EVENT_STREAM, this.options.durable);
      return info.num_pending + info.num_ack_pending;
    });
  }

  ackFloor(): Promise<number> {
    return asked(this.nc, `cannot read ${this.options.durable}'s ack floor`, async () => {
      await this.ensureConsumer();
      return (await (await this.jsm()).consumers.info(EVENT_STREAM, this.options.durable)).ack_floor.stream_seq;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.closeMsgs?.();
  }
}
