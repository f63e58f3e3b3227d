import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { StorageType } from "@nats-io/jetstream";
import { CHECKPOINT_BLOB_BUCKET, CHECKPOINT_BUCKET } from "../../events/subjects.ts";
import type { Checkpoint, CheckpointStore } from "../../projections/projection.ts";

/** Larger checkpoints are chunked in an object store: a KV value must fit one NATS message. */
const INLINE_LIMIT = 512 * 1024;

interface Pointer {
  readonly version: number;
  readonly lastSeq: number;
  /** The object holding `{ state }`, when the state was too large to sit in the KV value. */
  readonly stateObject: string;
}

/** Projection checkpoints in a JetStream KV bucket, one key per projection. */
export class KvCheckpointStore implements CheckpointStore {
  private kvP: Promise<KV> | undefined;
  private osP: Promise<ObjectStore> | undefined;
  constructor(private readonly nc: NatsConnection) {}

  private kv(): Promise<KV> {
    return (this.kvP ??= new Kvm(this.nc).open(CHECKPOINT_BUCKET));
  }

  private os(): Promise<ObjectStore> {
    return (this.osP ??= new Objm(this.nc).create(CHECKPOINT_BLOB_BUCKET, { storage: StorageType.File }));
  }

  async get(name: string): Promise<Checkpoint | undefined> {
    const e = await (await this.kv()).get(name);
    if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
    const v = e.json<Checkpoint | Pointer>();
    if (!("stateObject" in v)) return v;
    const blob = await (await this.os()).getBlob(v.stateObject);
    // A missing state (deleted by hand) only means a rebuild from sequence 1.
    if (!blob) return undefined;
    return { version: v.version, lastSeq: v.lastSeq, state: (JSON.parse(Buffer.from(blob).toString("utf8")) as { state: unknown }).state };
  }

  async put(name: string, checkpoint: Checkpoint): Promise<void> {
    const previous = await this.pointerOf(name);
    const json = JSON.stringify(checkpoint);
    if (json.length <= INLINE_LIMIT) await (await this.kv()).put(name, json);
    else {
      // A new object per checkpoint, then the pointer: a crash in between leaves the previous one in force.
      const stateObject = `${name}.v${checkpoint.version}.${checkpoint.lastSeq}`;
      await (await this.os()).putBlob({ name: stateObject }, Buffer.from(JSON.stringify({ state: checkpoint.state }), "utf8"));
      const pointer: Pointer = { version: checkpoint.version, lastSeq: checkpoint.lastSeq, stateObject };
      await (await this.kv()).put(name, JSON.stringify(pointer));
      if (previous?.stateObject === stateObject) return;
    }
    if (previous) await (await this.os()).delete(previous.stateObject).catch(() => undefined);
  }

  private async pointerOf(name: string): Promise<Pointer | undefined> {
    const e = await (await this.kv()).get(name);
    if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
    const v = e.json<Checkpoint | Pointer>();
    return "stateObject" in v ? v : undefined;
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
