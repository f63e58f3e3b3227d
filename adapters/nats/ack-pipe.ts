import type { NatsConnection, Msg, MsgHdrs, Subscription } from "@nats-io/transport-node";
import { createInbox } from "@nats-io/transport-node";

/** What the server answered for one published message. */
export type PubResult =
  | { readonly ok: true; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly code: number; readonly errCode: number; readonly description: string };

interface Waiting {
  readonly resolve: (r: PubResult) => void;
  readonly deadline: number;
}

const dec = new TextDecoder();

/**
 * Pipelined JetStream publishing: every message carries a reply subject under one inbox, and a
 * single subscription collects the acks. This is the fastest path to the server; the client's
 * own `js.publish` waits on a request per message. Timeouts are swept by one timer, not one per message.
 */
export class AckPipe {
  private readonly prefix = createInbox();
  private readonly prefixLength = this.prefix.length + 1;
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private next = 0;
  private readonly drains: Array<() => void> = [];
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection, private readonly maxInflight = 4096, private readonly timeoutMs = 15_000) {
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => this.onAck(msg) });
  }

  /** Publishes and resolves with the server's answer (never rejects on a JetStream error). */
  async publish(subject: string, body: Uint8Array, headers?: MsgHdrs): Promise<PubResult> {
    while (this.waiting.size >= this.maxInflight) await new Promise<void>((r) => this.drains.push(r));
    const token = this.next++;
    const result = new Promise<PubResult>((resolve) => this.waiting.set(token, { resolve, deadline: Date.now() + this.timeoutMs }));
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1000, this.timeoutMs));
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
      if (w.deadline <= now) this.settle(token, { ok: false, code: 408, errCode: 0, description: `no ack within ${this.timeoutMs} ms` });
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
    if (this.sweeper) clearInterval(this.sweeper);
    this.sub.unsubscribe();
  }
}
