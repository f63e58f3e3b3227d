import { createActor, fromPromise } from "xstate";
import type { DomainEvent } from "../events/catalogue.ts";
import type { Metadata, Recorded } from "../events/envelope.ts";
import type { Appended, Delivery, EventStore, Pending, Subscription } from "../events/store.ts";
import { Refusal, type DecideContext, type Decider, type Decision } from "./decider.ts";
import { derivedEventId } from "./ids.ts";
import { lifecycleMachine, type Settled, type WorkItem } from "./machine.ts";
import { inSpan, traceOf } from "../events/tracing.ts";
import { waitAtMost } from "./wait.ts";
import type { Span } from "@opentelemetry/api";

/** A command as it arrives from outside: its own id, who sent it, and the correlation it belongs to. */
export interface Envelope<C> {
  readonly id: string;
  readonly actor: string;
  readonly correlationId?: string;
  readonly trace?: Metadata["trace"];
  readonly command: C;
}

export interface HostOptions {
  /** The durable consumer's name (default: `actor-<actor>`). */
  readonly durable?: string;
  readonly ackWaitMs?: number;
  readonly clock?: () => Date;
  /** Called for each settled item (appended events) or refusal. */
  readonly onSettled?: (s: Settled) => void;
  /** Test hook: runs just before the inbound message is acked (a crash here must not duplicate). */
  readonly beforeAck?: (item: WorkItem) => Promise<void>;
}

interface EventItem extends WorkItem { readonly kind: "event"; readonly event: Recorded<DomainEvent>; readonly delivery: Delivery }
interface CommandItem<C> extends WorkItem { readonly kind: "command"; readonly envelope: Envelope<C> }

/**
 * Runs a decider inside the lifecycle machine on a durable consumer. The state is rebuilt from the
 * log on start; every decided event is appended with causation = the inbound event (or command) and
 * an id derived from it, and only then is the inbound message acked.
 */
export class ActorHost<S, C extends { readonly type: string }> {
  private state: S;
  private foldedSeq = 0;
  /** Causes (inbound event ids) whose effects are in the log though their ack was lost. */
  private alreadyCaused = new Set<string>();
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly actor;
  private readonly clock: () => Date;
  /** The span of each item in hand: the events it decides carry its trace context. */
  private readonly spans = new WeakMap<WorkItem, Span>();
  private stopping = false;
  /** Settles the item in hand as stopped when the machine stops under it. */
  private abandon: (() => void) | undefined;

  constructor(private readonly store: EventStore, private readonly decider: Decider<S, C>, private readonly options: HostOptions = {}) {
    this.state = decider.initialState();
    this.clock = options.clock ?? (() => new Date());
    this.actor = createActor(
      lifecycleMachine.provide({
        actors: {
          decide: fromPromise(async ({ input }) => this.decide(input.item, input.refresh)),
          append: fromPromise(async ({ input }) => this.append(input.item, input.decisions)),
          ack: fromPromise(async ({ input }) => this.ack(input.item)),
          quarantine: fromPromise(async ({ input }) => this.quarantine(input.item, input.reason)),
        },
      }),
    );
    this.actor.on("*", (s: Settled) => options.onSettled?.(s));
    this.actor.start();
  }

  get name(): string {
    return this.decider.actor;
  }

  /** The last sequence this actor has folded (and decided on). */
  position(): number {
    return this.foldedSeq;
  }

  /** The actor's state as of the last event it has folded. */
  current(): S {
    return this.state;
  }

  /** Rebuilds the state from the log, then handles deliveries until stopped. */
  async start(): Promise<void> {
    const sub = this.store.subscribe({ durable: this.options.durable ?? `actor-${this.decider.actor}`, ackWaitMs: this.options.ackWaitMs ?? 30_000 });
    this.subscription = sub;
    const floor = await sub.ackFloor();
    for await (const ev of this.store.read({ until: { seq: floor } })) this.fold(ev);
    this.foldedSeq = floor;
    for await (const ev of this.store.read({ from: { seq: floor + 1 } })) {
      if (ev.metadata.actor === this.decider.actor && ev.metadata.causationId) this.alreadyCaused.add(ev.metadata.causationId);
    }
    this.loop = (async () => {
      // One failing message never ends the loop: what could not be settled is redelivered.
      for await (const delivery of sub) await this.serially(() => this.onDelivery(delivery)).catch(() => undefined);
    })().catch(() => undefined);
  }

  private fold(ev: Recorded<DomainEvent>): void {
    this.state = this.decider.evolve(this.state, ev);
    this.foldedSeq = ev.seq;
  }

  private async onDelivery(delivery: Delivery): Promise<void> {
    if (this.stopping) return;
    const ev = delivery.event;
    if (ev.seq <= this.foldedSeq) return void (await delivery.ack({ confirm: false }));
    // The actor decides on the log up to and including the event it reacts to.
    try {
      this.fold(ev);
    } catch (e) {
      // A fold that throws on a valid event is a bug; the actor must not stall on it. Noted and skipped.
      this.foldedSeq = ev.seq;
      await delivery.quarantine(`${this.decider.actor} could not fold ${ev.type}: ${(e as Error).message}`).catch(() => undefined);
      return;
    }
    const reacts = (this.decider.reactsTo as ReadonlyArray<string>).includes(ev.type) && !this.alreadyCaused.delete(ev.metadata.id);
    if (reacts) {
      const item: EventItem = { kind: "event", causeId: ev.metadata.id, event: ev, delivery };
      await this.run(item);
    } else await delivery.ack({ confirm: false });
  }

  /** Sends a command to the actor; resolves with the events it caused, or rejects with a Refusal. */
  command(envelope: Envelope<C>): Promise<ReadonlyArray<Appended>> {
    if (!(this.decider.accepts as ReadonlyArray<string>).includes(envelope.command.type)) {
      return Promise.reject(new Refusal(`${this.decider.actor} does not accept ${envelope.command.type}; it accepts: ${this.decider.accepts.join(", ") || "nothing"}`));
    }
    return this.serially(async () => {
      const item: CommandItem<C> = { kind: "command", causeId: envelope.id, envelope };
      const s = await this.run(item);
      if (s.type === "refused") throw new Refusal(s.reason);
      if (s.type === "failed") throw new Error(`${this.decider.actor} could not carry out ${envelope.command.type}: ${s.reason}`);
      return s.appended;
    });
  }

  private serially<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private run(item: WorkItem): Promise<Settled> {
    const ev = item.kind === "event" ? (item as EventItem).event : undefined;
    const env = item.kind === "command" ? (item as CommandItem<C>).envelope : undefined;
    const name = `${this.decider.actor}.${ev ? `react ${ev.type}` : `command ${env!.command.type}`}`;
    const attributes = ev
      ? { "sophont.actor": this.decider.actor, "sophont.event.type": ev.type, "sophont.event.seq": ev.seq, "sophont.event.id": ev.metadata.id }
      : { "sophont.actor": this.decider.actor, "sophont.command.type": env!.command.type, "sophont.command.id": env!.id, "sophont.sender": env!.actor };
    return inSpan(name, ev ? ev.metadata.trace : env!.trace, attributes, async (span) => {
      this.spans.set(item, span);
      const settled = await this.settle(item);
      if (settled.type === "refused") span.setAttribute("sophont.refusal", settled.reason);
      else if (settled.type === "failed") span.setAttribute("sophont.failure", settled.reason);
      else span.setAttribute("sophont.appended", settled.appended.length);
      return settled;
    });
  }

  private settle(item: WorkItem): Promise<Settled> {
    if (this.stopping) return Promise.resolve({ type: "failed", item, reason: `${this.decider.actor} is stopping` });
    return new Promise((resolve) => {
      const sub = this.actor.on("*", (s: Settled) => {
        if (s.item !== item) return;
        sub.unsubscribe();
        this.abandon = undefined;
        resolve(s);
      });
      // Stopped with the item in hand: nothing is acked, the server redelivers it to the next start.
      this.abandon = () => {
        sub.unsubscribe();
        resolve({ type: "failed", item, reason: `${this.decider.actor} stopped` });
      };
      this.actor.send({ type: "WORK", item });
    });
  }

  private async ctx(): Promise<DecideContext> {
    return { now: this.clock().toISOString(), position: await this.store.lastSeq() };
  }

  private async decide(item: WorkItem, _refresh: boolean): Promise<ReadonlyArray<Decision>> {
    if (item.kind === "event") {
      const { event } = item as EventItem;
      return this.decider.react(event, this.state, await this.ctx());
    }
    // A command is decided on the log as it is now, not on the actor's folding position; the look
    // ahead folds into a copy, since deliveries will fold those events into the state itself later.
    let view = structuredClone(this.state);
    for await (const ev of this.store.read({ from: { seq: this.foldedSeq + 1 } })) view = this.decider.evolve(view, ev);
    const env = (item as CommandItem<C>).envelope;
    return this.decider.handle(env.command, view, { ...(await this.ctx()), requestedBy: env.actor });
  }

  private append(item: WorkItem, decisions: ReadonlyArray<Decision>): Promise<Appended[]> {
    const cause = item.kind === "event" ? (item as EventItem).event.metadata : undefined;
    const env = item.kind === "command" ? (item as CommandItem<C>).envelope : undefined;
    const time = this.clock().toISOString();
    const trace = traceOf(this.spans.get(item)) ?? cause?.trace ?? env?.trace;
    const pending: Pending[] = decisions.map((d, i) => {
      const metadata: Metadata = {
        id: derivedEventId(this.decider.actor, item.causeId, i),
        time,
        actor: this.decider.actor,
        causationId: item.causeId,
        correlationId: cause?.correlationId ?? env?.correlationId ?? item.causeId,
        ...(trace ? { trace } : {}),
      };
      return d.expectedSubjectSeq === undefined ? { event: d.event, metadata } : { event: d.event, metadata, expectedSubjectSeq: d.expectedSubjectSeq };
    });
    return this.store.append(pending);
  }

  /** Gives an event up for this actor: quarantined with the reason, acked, and the actor moves on. */
  private async quarantine(item: WorkItem, reason: string): Promise<void> {
    if (item.kind === "event") await (item as EventItem).delivery.quarantine(`${this.decider.actor}: ${reason}`);
  }

  private async ack(item: WorkItem): Promise<void> {
    await this.options.beforeAck?.(item);
    if (item.kind === "event") await (item as EventItem).delivery.ack();
  }

  /**
   * Stops taking deliveries; the item in hand gets `graceMs` to finish, then the machine stops under
   * it (it stays unacked, for the next start): a stuck item never keeps the process from stopping.
   */
  async stop(graceMs = 5_000): Promise<void> {
    const stopped = this.subscription?.stop().catch(() => undefined);
    await waitAtMost(this.queue, graceMs);
    this.stopping = true;
    this.actor.send({ type: "STOP" });
    this.abandon?.();
    this.actor.stop();
    await stopped;
  }
}
