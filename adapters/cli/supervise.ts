import type { Runtime } from "./runtime.ts";
import { waitAtMost } from "../../actors/wait.ts";

export interface ServerSupervisor {
  /** Resolves with the reason when the server died and could not be started again; never otherwise. */
  readonly gaveUp: Promise<string>;
  /** Stops watching (before a clean close, which stops the server on purpose). */
  stop(): void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * Keeps the home's embedded server running for this process: when it dies (kill -9, or the process
 * that started it ended) it is started again on the same URL, and the connection and the actors'
 * consumers come back by themselves. More than 5 deaths within a minute is given up, with the reason.
 * An external server (SOPHONT_NATS_URL) is not Sophont's to restart: nothing is watched.
 */
export const superviseServer = (rt: Runtime, signal: AbortSignal, say: { restarting(): void; restarted(url: string): void }): ServerSupervisor => {
  // Stopping (Ctrl-C, SIGTERM) may take the server down with this process group: not a death to repair.
  let stopped = signal.aborted;
  signal.addEventListener("abort", () => void (stopped = true), { once: true });
  const restarts: number[] = [];
  const loop = async (): Promise<string> => {
    if (!rt.server.embedded || !rt.serverDied || !rt.restartServer) return never();
    for (;;) {
      await rt.serverDied();
      if (stopped) return never();
      restarts.push(Date.now());
      say.restarting();
      try {
        if (restarts.filter((t) => t > Date.now() - 60_000).length > 5) throw new Error("it died 5 times within a minute");
        await rt.restartServer();
      } catch (e) {
        return (e as Error).message;
      }
      if (stopped) return never();
      say.restarted(rt.server.url);
    }
  };
  return { gaveUp: loop(), stop: () => void (stopped = true) };
};

/** Waits for `p` at most `ms` (errors ignored): stopping must not wait forever on a server that is gone. */
export const bounded = (p: Promise<unknown>, ms = 15_000): Promise<void> => waitAtMost(p, ms);
