import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { CHECKPOINT_BUCKET } from "../../events/subjects.ts";
import type { Checkpoint, CheckpointStore } from "../../projections/projection.ts";

/** Projection checkpoints in a JetStream KV bucket, one key per projection. */
export class KvCheckpointStore implements CheckpointStore {
  private kvP: Promise<KV> | undefined;
  constructor(private readonly nc: NatsConnection) {}

  private kv(): Promise<KV> {
    return (this.kvP ??= new Kvm(this.nc).open(CHECKPOINT_BUCKET));
  }

  async get(name: string): Promise<Checkpoint | undefined> {
    const e = await (await this.kv()).get(name);
    if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
    return e.json<Checkpoint>();
  }

  async put(name: string, checkpoint: Checkpoint): Promise<void> {
    await (await this.kv()).put(name, JSON.stringify(checkpoint));
  }

  async delete(name: string): Promise<void> {
    await (await this.kv()).purge(name);
  }
}

/** Checkpoints kept in memory: for read-only users (replicas) and one-off folds. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly map = new Map<string, Checkpoint>();
  async get(name: string) {
    return this.map.get(name);
  }
  async put(name: string, cp: Checkpoint) {
    this.map.set(name, structuredClone(cp));
  }
  async delete(name: string) {
    this.map.delete(name);
  }
}
