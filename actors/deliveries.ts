import type { Delivery, Subscription } from "../events/store.ts";

/**
 * Handles a subscription's deliveries one at a time, and survives each that fails: a handler that
 * throws hands the message back with `fail` (redelivered a bounded number of times, then quarantined
 * with the reason), so one message can never end an actor's loop.
 */
export const eachDelivery = async (sub: Subscription, handle: (d: Delivery) => Promise<void>, onError?: (e: unknown, d: Delivery) => void): Promise<void> => {
  try {
    for await (const d of sub) {
      try {
        await handle(d);
      } catch (e) {
        onError?.(e, d);
        await d.fail(String((e as Error)?.message ?? e)).catch(() => undefined);
      }
    }
  } catch {
    // The subscription itself ended (the connection closed): nothing is left to handle here.
  }
};
