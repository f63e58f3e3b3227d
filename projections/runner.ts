import type { EventStore, Until } from "../events/store.ts";
import { inSpan } from "../events/tracing.ts";
import type { AnyProjection, Checkpoint, CheckpointStore } from "./projection.ts";

export interface RunnerOptions {
  /** Save a checkpoint after this many folded events (and always at the end of a catch-up). */
  readonly checkpointEvery?: number;
  /** ...but not more often than this (ms): a checkpoint writes the whole state. Default 5 s. */
  readonly checkpointMinIntervalMs?: number;
  readonly onProgress?: (name: string, lastSeq: number) => void;
}

interface Live {
  readonly p: AnyProjection;
  state: unknown;
  lastSeq: number;
  sinceCheckpoint: number;
  savedAt: number;
  /** How long the last checkpoint took to write: a large state is saved less often. */
  saveMs: number;
}

/**
 * Keeps projections up to date through the EventStore port: resumes from each checkpoint, rebuilds
 * from sequence 1 when a projection's version changed (or when asked), and answers time-travel
 * queries with the same folds.
 */
export class ProjectionRunner {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly store: EventStore,
    private readonly checkpoints: CheckpointStore,
    private readonly projections: ReadonlyArray<AnyProjection>,
    private readonly options: RunnerOptions = {},
  ) {
    const names = new Set<string>();
    for (const p of projections) {
      if (names.has(p.name)) throw new Error(`two projections are named ${p.name}`);
      names.add(p.name);
    }
  }

  private async load(p: AnyProjection): Promise<Live> {
    const cached = this.live.get(p.name);
    if (cached) return cached;
    const cp = await this.checkpoints.get(p.name);
    const fresh = !cp || cp.version !== p.version;
    const state = fresh ? p.initialState() : p.fromJSON ? p.fromJSON(cp.state) : cp.state;
    const l: Live = { p, state, lastSeq: fresh ? 0 : cp.lastSeq, sinceCheckpoint: 0, savedAt: Date.now(), saveMs: 0 };
    this.live.set(p.name, l);
    return l;
  }

  private async save(l: Live): Promise<void> {
    const cp: Checkpoint = { version: l.p.version, lastSeq: l.lastSeq, state: l.p.toJSON ? l.p.toJSON(l.state) : l.state };
    const t0 = Date.now();
    await this.checkpoints.put(l.p.name, cp);
    l.sinceCheckpoint = 0;
    l.savedAt = Date.now();
    l.saveMs = l.savedAt - t0;
  }

  /** Folds every event after each projection's checkpoint, up to the end of the log as it is now. */
  async catchUp(): Promise<void> {
    const last = await this.store.lastSeq();
    const upToDate = this.live.size === this.projections.length && [...this.live.values()].every((l) => l.lastSeq >= last);
    if (upToDate) return; // nothing new: no span for an idle poll
    await inSpan("Projection.catchUp", undefined, { "sophont.projections": this.projections.map((p) => p.name).join(","), "sophont.until": last }, () => this.fold(last));
  }

  /** Folds up to `last`, the end of the log when the catch-up began (events after it wait for the next one). */
  private async fold(last: number): Promise<void> {
    const all = await Promise.all(this.projections.map((p) => this.load(p)));
    const behind = all.filter((l) => l.lastSeq < last);
    if (behind.length === 0) return;
    const from = Math.min(...behind.map((l) => l.lastSeq)) + 1;
    const every = this.options.checkpointEvery ?? 10_000;
    // Who folds what, looked up once: the loop below runs for every event of the log.
    const folds = new Map<string, Live[]>();
    for (const l of behind) for (const t of l.p.canHandle) folds.set(t, [...(folds.get(t) ?? []), l]);
    for await (const batch of this.store.readBatches({ from: { seq: from }, until: { seq: last }, types: new Set(folds.keys()) })) {
      for (const ev of batch) {
        const ls = folds.get(ev.type);
        if (ls === undefined) continue;
        for (const l of ls) {
          if (ev.seq <= l.lastSeq) continue;
          l.state = l.p.evolve(l.state, ev);
          l.lastSeq = ev.seq;
          l.sinceCheckpoint++;
        }
      }
      for (const l of behind) {
        // At most a tenth of the time goes to checkpoints: a state that takes long to write waits longer.
        const interval = Math.max(this.options.checkpointMinIntervalMs ?? 5_000, 10 * l.saveMs);
        if (l.sinceCheckpoint >= every && Date.now() - l.savedAt >= interval) {
          await this.save(l);
          this.options.onProgress?.(l.p.name, l.lastSeq);
        }
      }
    }
    // Every projection has now seen the whole log up to `last`, handled or not.
    for (const l of all) {
      l.lastSeq = Math.max(l.lastSeq, last);
      await this.save(l);
    }
  }

  /** Forgets the checkpoint of one projection (or all) so the next catch-up folds from sequence 1. */
  async reset(name?: string): Promise<void> {
    for (const p of this.projections) {
      if (name && p.name !== name) continue;
      await this.checkpoints.delete(p.name);
      this.live.delete(p.name);
    }
  }

  /** The current state of a projection (after catchUp). */
  state<S>(name: string): S {
    const l = this.live.get(name);
    if (!l) throw new Error(`projection ${name} is not loaded; call catchUp() first`);
    return l.state as S;
  }

  /** Where each projection stands, and how far behind the log it is. */
  async positions(): Promise<Array<{ name: string; version: number; lastSeq: number; lag: number }>> {
    const last = await this.store.lastSeq();
    return Promise.all(
      this.projections.map(async (p) => {
        const cp = await this.checkpoints.get(p.name);
        const lastSeq = cp && cp.version === p.version ? cp.lastSeq : 0;
        return { name: p.name, version: p.version, lastSeq, lag: last - lastSeq };
      }),
    );
  }
}

/**
 * Time travel: the state of a projection as of a sequence or a time, folded from sequence 1 with the
 * same `evolve`. Touches no checkpoint.
 */
export const projectAt = async <S>(store: EventStore, p: import("./projection.ts").Projection<S>, until: Until): Promise<S> => {
  let state = p.initialState();
  for await (const batch of store.readBatches({ until, types: new Set(p.canHandle) })) for (const ev of batch) state = p.evolve(state, ev);
  return state;
};
