import type { NatsConnection } from "@nats-io/transport-node";
import { headers as makeHeaders } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg, type StoredMsg } from "@nats-io/jetstream";
import { decodeEvent, DecodeError, encodeEvent, type Encoded } from "../../events/codec.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { EVENT_STREAM, allEventSubjects, quarantineSubject } from "../../events/subjects.ts";
import {
  ConcurrencyError, StoreError,
  type Appended, type Delivery, type EventStore, type Pending, type Quarantined, type ReadOptions, type SubscribeOptions, type Subscription, type Until,
} from "../../events/store.ts";
import { AckPipe, type PubResult } from "./ack-pipe.ts";

const WRONG_LAST_SEQUENCE = 10071;

/** The EventStore port on JetStream: one stream, subjects per entity, server-side dedup and concurrency. */
export class JetStreamEventStore implements EventStore {
  private readonly js: JetStreamClient;
  private readonly pipe: AckPipe;
  private jsmP: Promise<JetStreamManager> | undefined;

  /**
   * @param options.quarantine write undecodable messages to the quarantine stream (off for read-only
   *   users such as replicas and agents, which only report them).
   */
  constructor(private readonly nc: NatsConnection, private readonly options: { quarantine?: boolean } = {}) {
    this.js = jetstream(nc);
    this.pipe = new AckPipe(nc);
  }

  private jsm(): Promise<JetStreamManager> {
    return (this.jsmP ??= jetstreamManager(this.nc, { checkAPI: false }));
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
    throw new StoreError(`append to ${e.subject} failed: ${r.description} (code ${r.code}/${r.errCode})`);
  }

  async lastSeq(): Promise<number> {
    const info = await (await this.jsm()).streams.info(EVENT_STREAM);
    return info.state.last_seq;
  }

  async lastSubjectSeq(subject: string): Promise<number> {
    try {
      const m = await (await this.jsm()).streams.getMessage(EVENT_STREAM, { last_by_subj: subject });
      return m?.seq ?? 0;
    } catch (e) {
      if (/no message found/i.test(String((e as Error).message))) return 0;
      throw new StoreError(`cannot read the last sequence of ${subject}`, { cause: e });
    }
  }

  async nextOnSubject(subject: string, fromSeq = 1): Promise<Recorded<DomainEvent> | undefined> {
    let m: StoredMsg | null;
    try {
      // The server's MSG.GET takes next_by_subj (2.9+); the client's type names only seq and last_by_subj.
      m = await (await this.jsm()).streams.getMessage(EVENT_STREAM, { next_by_subj: subject, seq: Math.max(1, fromSeq) } as unknown as { seq: number });
    } catch (e) {
      if (/no message found/i.test(String((e as Error).message))) return undefined;
      throw new StoreError(`cannot read ${subject} from ${fromSeq}`, { cause: e });
    }
    if (!m) return undefined;
    try {
      return decodeEvent(m.data, m.seq, m.subject, m.time.getTime());
    } catch (e) {
      // The same message is quarantined when a read or a replay reaches it; here it is only skipped.
      if (e instanceof DecodeError) return this.nextOnSubject(subject, m.seq + 1);
      throw e;
    }
  }

  async seqAt(time: Date): Promise<number> {
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
    const last = await this.lastSeq();
    if (until === undefined || until === "now") return last;
    if ("seq" in until) return Math.min(until.seq, last);
    return this.seqAt(until.time);
  }

  async *read(options: ReadOptions & { onQuarantine?: (q: Quarantined) => void } = {}): AsyncIterable<Recorded<DomainEvent>> {
    for await (const batch of this.readBatches(options)) yield* batch;
  }

  /**
   * Reads in batches: one await per batch instead of one per event, which is what replaying a long
   * log costs. A batch ends at 512 events, at the end of the range, or when nothing more is waiting.
   */
  async *readBatches(options: ReadOptions & { onQuarantine?: (q: Quarantined) => void } = {}): AsyncIterable<Recorded<DomainEvent>[]> {
    const untilSeq = options.follow ? Number.MAX_SAFE_INTEGER : await this.resolveUntil(options.until);
    let startSeq = 1;
    if (options.from && "seq" in options.from) startSeq = Math.max(1, options.from.seq);
    else if (options.from) startSeq = (await this.seqAt(new Date(options.from.time.getTime() - 1))) + 1;
    if (untilSeq < startSeq) return;
    const c = await this.js.consumers.get(EVENT_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ...(options.subject ? { filter_subjects: options.subject } : {}),
    });
    // A filtered read may match nothing at all: ask before waiting for a first message.
    if (options.subject && !options.follow && (await c.info(true)).num_pending === 0) return;
    const msgs = await c.consume({ max_messages: 2048 });
    const abort = () => void msgs.close().catch(() => undefined);
    options.signal?.addEventListener("abort", abort, { once: true });
    let batch: Recorded<DomainEvent>[] = [];
    try {
      for await (const m of msgs) {
        const info = m.info;
        const seq = info.streamSequence;
        if (seq > untilSeq) break;
        let ev: Recorded<DomainEvent> | undefined;
        try {
          ev = decodeEvent(m.data, seq, m.subject, Math.floor(info.timestampNanos / 1e6));
        } catch (e) {
          await this.quarantineFailed(m, e, options.onQuarantine);
        }
        if (ev && (!options.types || options.types.has(ev.type))) batch.push(ev);
        const last = seq >= untilSeq || (!options.follow && info.pending === 0);
        if (batch.length > 0 && (last || batch.length >= 512 || info.pending === 0)) {
          yield batch;
          batch = [];
        }
        if (last) break;
      }
      if (batch.length > 0) yield batch;
    } finally {
      options.signal?.removeEventListener("abort", abort);
      await msgs.close().catch(() => undefined);
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

  private async quarantineFailed(m: JsMsg, e: unknown, onQuarantine?: (q: Quarantined) => void): Promise<void> {
    const reason = e instanceof DecodeError ? e.message : `unexpected: ${(e as Error).message}`;
    await this.quarantine(m, reason);
    onQuarantine?.({ seq: m.seq, subject: m.subject, reason });
  }

  private async quarantine(m: JsMsg, reason: string): Promise<void> {
    if (this.options.quarantine === false) return;
    const h = makeHeaders();
    h.set("Nats-Msg-Id", `q:${EVENT_STREAM}:${m.seq}`);
    h.set("Sophont-Quarantine-Reason", reason.replace(/\s+/g, " ").slice(0, 1000));
    h.set("Sophont-Original-Subject", m.subject);
    h.set("Sophont-Original-Seq", String(m.seq));
    await this.pipe.publish(quarantineSubject(EVENT_STREAM, m.seq), m.data, h);
  }

  subscribe(options: SubscribeOptions): Subscription {
    return new DurableSubscription(this, this.js, () => this.jsm(), options);
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

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    await this.ensureConsumer();
    const consumer = await this.js.consumers.get(EVENT_STREAM, this.options.durable);
    const msgs = await consumer.consume({ max_messages: 64 });
    this.closeMsgs = async () => void (await msgs.close());
    for await (const m of msgs) {
      if (this.stopped) break;
      const event = await this.store.decodeOrQuarantine(m, this.options.onQuarantine);
      if (!event || (this.options.types && !this.options.types.has(event.type))) {
        m.ack(); // not ours to handle: a lost ack only redelivers it, to be skipped again
        continue;
      }
      yield {
        event,
        deliveryCount: m.info.deliveryCount,
        ack: async (o?: { readonly confirm?: boolean }) => (o?.confirm === false ? m.ack() : void (await m.ackAck())),
        nak: (delayMs?: number) => m.nak(delayMs),
        working: () => m.working(),
      };
    }
  }

  async lag(): Promise<number> {
    const info = await (await this.jsm()).consumers.info(EVENT_STREAM, this.options.durable);
    return info.num_pending + info.num_ack_pending;
  }

  async ackFloor(): Promise<number> {
    await this.ensureConsumer();
    const info = await (await this.jsm()).consumers.info(EVENT_STREAM, this.options.durable);
    return info.ack_floor.stream_seq;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.closeMsgs?.();
  }
}
