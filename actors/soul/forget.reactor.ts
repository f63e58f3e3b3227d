import type { EventStore, Subscription } from "../../events/store.ts";
import type { ContentStore } from "../ports.ts";
import { eachDelivery } from "../deliveries.ts";

/** The reactor's durable consumer: its ack floor passes an InputForgotten once the texts are gone. */
export const FORGET_DURABLE = "reactor-forget";

/**
 * Carries out forgetting: for every InputForgotten, the texts it names leave the content store.
 * A reactor, apart from the Soul's decision: it acks only after the deletion, so a crash retries
 * it, and deleting twice is harmless.
 */
export class ForgetReactor {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly store: EventStore, private readonly content: ContentStore, private readonly durable = FORGET_DURABLE) {}

  async start(): Promise<void> {
    const sub = this.store.subscribe({ durable: this.durable, types: new Set(["InputForgotten"]) });
    this.subscription = sub;
    // A deletion that fails is retried (bounded), then quarantined with the reason.
    this.loop = eachDelivery(sub, async (d) => {
      if (d.event.type !== "InputForgotten") return void (await d.ack());
      for (const sha of d.event.data.deletedSha256) await this.content.delete(sha);
      await d.ack();
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}
