import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { StorageType } from "@nats-io/jetstream";
import type { ContentStore } from "../../actors/ports.ts";
import { CONTENT_BUCKET } from "../../events/subjects.ts";

export const sha256Hex = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");

/** The content store on a NATS Object Store bucket: one object per sha256, deleted for good on forget. */
export class ObjectContentStore implements ContentStore {
  private osP: Promise<ObjectStore> | undefined;
  constructor(private readonly nc: NatsConnection, private readonly replicas = 1) {}

  private os(): Promise<ObjectStore> {
    return (this.osP ??= new Objm(this.nc).create(CONTENT_BUCKET, { replicas: this.replicas, storage: StorageType.File }));
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    const os = await this.os();
    if (await os.info(sha).then((i) => i !== null && !i.deleted)) return sha;
    await os.putBlob({ name: sha }, bytes);
    return sha;
  }

  async get(sha256: string): Promise<Uint8Array | undefined> {
    return (await (await this.os()).getBlob(sha256)) ?? undefined;
  }

  async has(sha256: string): Promise<boolean> {
    const i = await (await this.os()).info(sha256);
    return i !== null && !i.deleted;
  }

  async delete(sha256: string): Promise<void> {
    const os = await this.os();
    if (await os.info(sha256)) await os.delete(sha256);
  }
}
