import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { jetstreamManager, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import type { ContentStore } from "../../actors/ports.ts";
import { CONTENT_BUCKET } from "../../events/subjects.ts";

export const sha256Hex = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");

/** The object store's stream for the content bucket (nats.js names it OBJ_<bucket>). */
const CONTENT_STREAM = `OBJ_${CONTENT_BUCKET}`;

/**
 * The content store on a NATS Object Store bucket: one object per sha256, deleted for good on forget:
 * its chunks are erased from the server's block files, not only dropped from the index.
 */
export class ObjectContentStore implements ContentStore {
  private osP: Promise<ObjectStore> | undefined;
  private jsmP: Promise<JetStreamManager> | undefined;
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

  /**
   * Forgets the bytes. An object-store delete purges the chunks' subject, and nats-server (2.9 at
   * least) then only drops them from its index: the text stays readable in the block file on disk
   * until the block is compacted. A delete by sequence with erase overwrites the message's bytes in
   * place, so every chunk is erased first, one by one, and the object is deleted after.
   */
  async delete(sha256: string): Promise<void> {
    const os = await this.os();
    const info = await os.info(sha256);
    if (!info) return;
    if (!info.deleted) await this.eraseChunks(info.nuid);
    await os.delete(sha256);
  }

  private async eraseChunks(nuid: string): Promise<void> {
    const jsm = await (this.jsmP ??= jetstreamManager(this.nc, { timeout: 10_000 }));
    const subject = `$O.${CONTENT_BUCKET}.C.${nuid}`;
    for (let seq = 1; ; ) {
      const m = await nextOn(jsm, subject, seq);
      if (!m) return;
      await jsm.streams.deleteMessage(CONTENT_STREAM, m, true);
      seq = m + 1;
    }
  }
}

/** The sequence of the first message on `subject` at or after `seq`, or undefined when there is none. */
const nextOn = async (jsm: JetStreamManager, subject: string, seq: number): Promise<number | undefined> => {
  // A direct get (the object store's stream allows it): the next message by subject, null when none.
  return (await jsm.direct.getMessage(CONTENT_STREAM, { seq, next_by_subj: subject }))?.seq;
};
