import { randomUUID } from "node:crypto";
import type { Subscription } from "@nats-io/transport-node";
import { ActorHost } from "../../actors/host.ts";
import { soulDecider, type SoulCommand } from "../../actors/soul/soul.decider.ts";
import { SalienceWorker } from "../../actors/salience/worker.ts";
import type { SalienceEmitted } from "../../actors/salience/salience.machine.ts";
import { StartNight } from "../../events/commands.ts";
import { serveCommands } from "../nats/commands.ts";
import { ObjectContentStore } from "../nats/content-store.ts";
import type { OpenModels } from "./models.ts";
import type { Runtime } from "./runtime.ts";

/** The actors of this process, wired to the runtime's store, and the command subjects they answer. */
export interface RunningActors {
  readonly soul: ActorHost<ReturnType<typeof soulDecider.initialState>, SoulCommand>;
  readonly salience: SalienceWorker | undefined;
  stop(): Promise<void>;
}

export interface ActorOptions {
  /** Without models, Salience does not run here (another process may run it). */
  readonly models?: OpenModels;
  readonly onSalience?: (e: SalienceEmitted) => void;
}

export const startActors = async (rt: Runtime, opts: ActorOptions = {}): Promise<RunningActors> => {
  const soul = new ActorHost(rt.store, soulDecider);
  await soul.start();
  const salience = opts.models
    ? new SalienceWorker(rt.store, new ObjectContentStore(rt.nc), opts.models.salience, opts.onSalience ? { onEvent: opts.onSalience } : {})
    : undefined;
  await salience?.start();
  const subs: Subscription[] = serveCommands(rt.nc, [
    {
      def: StartNight,
      handle: (req) =>
        soul.command({ id: req.id, actor: req.sender, ...(req.correlationId ? { correlationId: req.correlationId } : {}), command: req.command as SoulCommand }),
    },
  ]);
  return {
    soul,
    salience,
    stop: async () => {
      subs.forEach((s) => s.unsubscribe());
      await salience?.stop();
      await soul.stop();
    },
  };
};

/** A fresh command id (commands come from outside, so a random id is right here). */
export const newCommandId = (): string => randomUUID();

/** Today's date in local time, as nights are named. */
export const today = (d = new Date()): string =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
