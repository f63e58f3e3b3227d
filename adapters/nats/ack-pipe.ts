import type { NatsConnection, Msg, MsgHdrs, Subscription } from "@nats-io/transport-node";
import { createInbox } from "@nats-io/transport-node";
import { onCluster } from "./unavailable.ts";

/** What the server answered for one published message. */
export type PubResult =
  | { readonly ok: true; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly code: number; readonly errCode: number; readonly description: string };

interface Waiting {
  readonly resolve: (r: PubResult) => void;
  readonly deadline: number;
  /** The connection's reconnect count when the message went out: a reconnect since then may have lost it. */
  readonly epoch: number;
}

const dec = new TextDecoder();

export interface AckPipeOptions {
  /** Messages awaiting an ack before publish waits (default 4096). */
  readonly maxInflight?: number;
  /** How long one try waits for its ack (default 10 s: a JetStream leader election takes ~4-5 s). */
  readonly tryTimeoutMs?: number;
  /** How long a message is tried again after a lost ack or a missing stream leader (default 60 s). */
  readonly retryForMs?: number;
}


/**
 * Pipelined JetStream publishing: every message carries a reply subject under one inbox, and a
 * single subscription collects the acks. This is the fastest path to the server; the client's
 * own `js.publish` waits on a request per message. Timeouts are swept by one timer, not one per message.
 *
 * A message whose ack does not come (the server or the stream leader died with it in flight), or that
 * found no stream leader (an election is running), is published again with the same headers until
 * `retryForMs` has passed: safe because every Sophont append carries a Nats-Msg-Id, so a copy that
 * did land is answered as a duplicate with its first sequence. After a reconnect, messages sent
 * before it are sent again at once instead of waiting out their timeout.
 */
export class AckPipe {
  private readonly prefix = createInbox();
  private readonly prefixLength = this.prefix.length + 1;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private next = 0;
  private readonly drains: Array<() => void> = [];
  private sweeper: NodeJS.Timeout | undefined;
  private epoch = 0;
  private closed = false;
  private readonly maxInflight: number;
  private readonly tryTimeoutMs: number;
  private readonly retryForMs: number;

  constructor(private readonly nc: NatsConnection, options: AckPipeOptions = {}) {
    this.maxInflight = options.maxInflight ?? 4096;
    this.tryTimeoutMs = options.tryTimeoutMs ?? 10_000;
    this.retryForMs = options.retryForMs ?? 60_000;
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => this.onAck(msg) });
    void this.watchReconnects();
  }

  private async watchReconnects(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type !== "reconnect") continue;
      this.epoch++;
      // Whatever went out before the reconnect may be lost with the old socket: its try ends now.
      for (const [token, w] of this.waiting) if (w.epoch < this.epoch) this.settle(token, { ok: false, code: 408, errCode: 0, description: "connection lost before the ack" });
    }
  }

  /** Publishes and resolves with the server's answer (never rejects on a JetStream error). */
  async publish(subject: string, body: Uint8Array, headers?: MsgHdrs): Promise<PubResult> {
    const giveUpAt = Date.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      const r = await this.once(subject, body, headers);
      if (!this.retryable(r) || this.closed || Date.now() >= giveUpAt) {
        return r.ok || attempt === 0 ? r : { ...r, description: `${r.description} (${attempt + 1} tries over ${Math.round(this.retryForMs / 1000)} s)` };
      }
      await new Promise((res) => setTimeout(res, Math.min(2_000, 100 * 2 ** attempt)));
    }
  }

  /**
   * A lost ack is always tried again. "No responders" (503) is tried again only on a cluster, where it
   * means a stream leader is being elected; on one server it means the stream is missing, said at once.
   */
  private retryable(r: PubResult): boolean {
    if (r.ok) return false;
    return r.code === 408 || (r.code === 503 && onCluster(this.nc));
  }

  private async once(subject: string, body: Uint8Array, headers?: MsgHdrs): Promise<PubResult> {
    while (this.waiting.size >= this.maxInflight) await new Promise<void>((r) => this.drains.push(r));
    const token = this.next++;
    const result = new Promise<PubResult>((resolve) => this.waiting.set(token, { resolve, deadline: Date.now() + this.tryTimeoutMs, epoch: this.epoch }));
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1000, this.tryTimeoutMs));
    const reply = `${this.prefix}.${token}`;
    this.nc.publish(subject, body, headers ? { reply, headers } : { reply });
    return result;
  }

  private settle(token: number, r: PubResult): void {
    const w = this.waiting.get(token);
    if (!w) return;
    this.waiting.delete(token);
    w.resolve(r);
    this.drains.shift()?.();
    if (this.waiting.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline <= now) this.settle(token, { ok: false, code: 408, errCode: 0, description: `no ack within ${this.tryTimeoutMs} ms` });
    }
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefixLength));
    if (msg.data.length === 0) {
      // A status message (503: no stream listens on the subject).
      const code = msg.headers?.code ?? 503;
      this.settle(token, { ok: false, code, errCode: 0, description: code === 503 ? "no stream for this subject (is the event stream created?)" : (msg.headers?.description ?? "no answer") });
      return;
    }
    const ack = JSON.parse(dec.decode(msg.data)) as { seq?: number; duplicate?: boolean; error?: { code: number; err_code: number; description: string } };
    this.settle(
      token,
      ack.error
        ? { ok: false, code: ack.error.code, errCode: ack.error.err_code, description: ack.error.description }
        : { ok: true, seq: ack.seq ?? 0, duplicate: ack.duplicate === true },
    );
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sub.unsubscribe();
  }
}
