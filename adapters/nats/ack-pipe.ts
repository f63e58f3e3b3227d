import type { NatsConnection, Msg, MsgHdrs, Subscription } from "@nats-io/transport-node";
import { createInbox } from "@nats-io/transport-node";

/** What the server answered for one published message. */
export type PubResult =
  | { readonly ok: true; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly code: number; readonly errCode: number; readonly description: string };

/**
 * Pipelined JetStream publishing: every message carries a reply subject under one inbox, and a
 * single subscription collects the acks. This is the fastest path to the server; the client's
 * own `js.publish` waits on a request per message.
 */
export class AckPipe {
  private readonly prefix = createInbox();
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, (r: PubResult) => void>();
  private next = 0;
  private inflight = 0;
  private readonly drains: Array<() => void> = [];

  constructor(private readonly nc: NatsConnection, private readonly maxInflight = 4096, private readonly timeoutMs = 15_000) {
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => this.onAck(msg) });
  }

  /** Publishes and resolves with the server's answer (never rejects on a JetStream error). */
  async publish(subject: string, body: Uint8Array, headers?: MsgHdrs): Promise<PubResult> {
    while (this.inflight >= this.maxInflight) await new Promise<void>((r) => this.drains.push(r));
    const token = this.next++;
    this.inflight++;
    return new Promise<PubResult>((resolve) => {
      const timer = setTimeout(() => settle({ ok: false, code: 408, errCode: 0, description: `no ack within ${this.timeoutMs} ms` }), this.timeoutMs);
      const settle = (r: PubResult) => {
        if (!this.waiting.delete(token)) return;
        clearTimeout(timer);
        this.inflight--;
        this.drains.shift()?.();
        resolve(r);
      };
      this.waiting.set(token, settle);
      this.nc.publish(subject, body, headers ? { reply: `${this.prefix}.${token}`, headers } : { reply: `${this.prefix}.${token}` });
    });
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefix.length + 1));
    const settle = this.waiting.get(token);
    if (!settle) return;
    if (msg.data.length === 0) {
      // A status message (503: no stream listens on the subject).
      const code = msg.headers?.code ?? 503;
      settle({ ok: false, code, errCode: 0, description: code === 503 ? "no stream for this subject (is the event stream created?)" : (msg.headers?.description ?? "no answer") });
      return;
    }
    const ack = JSON.parse(new TextDecoder().decode(msg.data)) as {
      seq?: number;
      duplicate?: boolean;
      error?: { code: number; err_code: number; description: string };
    };
    settle(
      ack.error
        ? { ok: false, code: ack.error.code, errCode: ack.error.err_code, description: ack.error.description }
        : { ok: true, seq: ack.seq ?? 0, duplicate: ack.duplicate === true },
    );
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
