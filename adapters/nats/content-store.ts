import { createHash, randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { jetstreamManager, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import type { ContentStore } from "../../actors/ports.ts";
import { asked } from "./unavailable.ts";
import { CONTENT_BUCKET } from "../../events/subjects.ts";

export const sha256Hex = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");

/** The object store's stream for the content bucket (nats.js names it OBJ_<bucket>). */
export const CONTENT_STREAM = `OBJ_${CONTENT_BUCKET}`;

/**
 * A chunk subject no object's info names, where a replicated store's Raft logs are pushed to their
 * compaction (see compactRaftLogs); purged after each use, so a crash midway is cleaned by the next.
 */
const COMPACTION_SUBJECT = `$O.${CONTENT_BUCKET}.C.raft-compaction`;
/** Past nats-server 2.9's compactSizeMin (8 MiB of applied entries in a stream's Raft log). */
const COMPACTION_BYTES = 9 * 1024 * 1024;
const COMPACTION_CHUNK = 128 * 1024;

/** Where nats.js keeps an object's info: the name in padded base64 with the URL alphabet. */
const metaSubject = (name: string): string => `$O.${CONTENT_BUCKET}.M.${Buffer.from(name, "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_")}`;

/**
 * The content store on a NATS Object Store bucket: one object per sha256, deleted for good on forget:
 * its chunks are erased from the server's block files, not only dropped from the index.
 */
export class ObjectContentStore implements ContentStore {
  private osP: Promise<ObjectStore> | undefined;
  private jsmP: Promise<JetStreamManager> | undefined;
  constructor(private readonly nc: NatsConnection, private readonly replicas = 1) {}

  private os(): Promise<ObjectStore> {
    // A failed open (the cluster electing) is not kept: the next call asks again.
    return (this.osP ??= new Objm(this.nc).create(CONTENT_BUCKET, { replicas: this.replicas, storage: StorageType.File }).catch((e: unknown) => {
      this.osP = undefined;
      throw e;
    }));
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    const os = await this.os();
    if (await os.info(sha).then((i) => i !== null && !i.deleted)) return sha;
    await os.putBlob({ name: sha }, bytes);
    return sha;
  }

  /**
   * Reads the object with the stream leader's message get (its meta, then each chunk in turn), not
   * with the client's getBlob: that makes a consumer per object, and on a cluster a consumer created
   * in the first minute after a node died is placed on the dead node a third of the time and never
   * answers (measured on 2.9.10). The bytes are checked against their name, the sha256.
   */
  get(sha256: string): Promise<Uint8Array | undefined> {
    return asked(this.nc, `cannot read ${sha256} from the content store`, () => this.getOnce(sha256));
  }

  private async getOnce(sha256: string): Promise<Uint8Array | undefined> {
    const jsm = await this.manager();
    const meta = await jsm.streams.getMessage(CONTENT_STREAM, { last_by_subj: metaSubject(sha256) });
    if (!meta) return undefined;
    const info = meta.json<{ nuid: string; size: number; deleted?: boolean }>();
    if (info.deleted) return undefined;
    const subject = `$O.${CONTENT_BUCKET}.C.${info.nuid}`;
    const parts: Uint8Array[] = [];
    let size = 0;
    for (let seq = 1; size < info.size; ) {
      const m = await jsm.streams.getMessage(CONTENT_STREAM, { next_by_subj: subject, seq } as unknown as { seq: number });
      if (!m) break;
      parts.push(m.data);
      size += m.data.length;
      seq = m.seq + 1;
    }
    const bytes = Buffer.concat(parts);
    if (sha256Hex(bytes) !== sha256) throw new Error(`the content store holds ${size} of ${info.size} bytes of ${sha256}, and they do not hash to it`);
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    const i = await (await this.os()).info(sha256);
    return i !== null && !i.deleted;
  }

  /**
   * Forgets the bytes. An object-store delete purges the chunks' subject, and nats-server (2.9 at
   * least) then only drops them from its index: the text stays readable in the block file on disk
   * until the block is compacted. A delete by sequence with erase overwrites the message's bytes in
   * place, so every chunk is erased first, one by one, and the object is deleted after. On a
   * cluster every node's Raft log still holds the original appends: they are compacted away last,
   * also when the object was already deleted (a forget retried after a crash before compaction).
   * Every step can be done again, so the whole is asked again while a cluster elects.
   */
  delete(sha256: string): Promise<void> {
    return asked(this.nc, `cannot delete ${sha256} from the content store`, () => this.deleteOnce(sha256));
  }

  private async deleteOnce(sha256: string): Promise<void> {
    const os = await this.os();
    const info = await os.info(sha256);
    if (!info) return;
    if (!info.deleted) await this.eraseChunks(info.nuid);
    await os.delete(sha256);
    await this.compactRaftLogs();
  }

  /**
   * The erase is a new Raft entry that every replica applies to its block files; the entries that
   * appended the text stay in each node's Raft log (`$SYS/_js_/S-R3F-…/msgs/`) until that node
   * snapshots the stream. nats-server 2.9.10 has no client request for a snapshot: a node takes one
   * on a timer (every 2-3 min) or when it applies an entry while its log holds over 8 MiB
   * (jetstream_cluster.go's monitorStream). So 9 MiB of random bytes (incompressible: the log
   * compresses entries over 4 KiB) go on a subject no object names, then are purged: every node
   * applying them snapshots and drops its log up to there, the forgotten text with it.
   */
  private async compactRaftLogs(): Promise<void> {
    const jsm = await this.manager();
    if (((await jsm.streams.info(CONTENT_STREAM)).config.num_replicas ?? 1) <= 1) return;
    const js = jsm.jetstream();
    for (let sent = 0; sent < COMPACTION_BYTES; sent += COMPACTION_CHUNK) await js.publish(COMPACTION_SUBJECT, randomBytes(COMPACTION_CHUNK));
    await jsm.streams.purge(CONTENT_STREAM, { filter: COMPACTION_SUBJECT });
  }

  /**
   * The cluster nodes whose copy of the content store is still not current after `waitMs` (down, or
   * catching up). Such a node missed the erase: when it catches up from a leader whose log was
   * compacted, it applies the leader's snapshot, and nats-server 2.9.10 drops the snapshot's deleted
   * messages from its index without overwriting them: the text stays in that node's block file.
   */
  async replicasBehind(waitMs = 3_000): Promise<string[]> {
    const jsm = await this.manager();
    for (const end = Date.now() + waitMs; ; await new Promise((r) => setTimeout(r, 250))) {
      const replicas = (await jsm.streams.info(CONTENT_STREAM)).cluster?.replicas ?? [];
      const behind = replicas.filter((r) => !r.current || r.offline).map((r) => r.name);
      if (behind.length === 0 || Date.now() > end) return behind;
    }
  }

  private manager(): Promise<JetStreamManager> {
    // 10 s: on a cluster a request can land during a leader election (~4-5 s on 2.9.10).
    return (this.jsmP ??= jetstreamManager(this.nc, { timeout: 10_000, checkAPI: false }));
  }

  private async eraseChunks(nuid: string): Promise<void> {
    const jsm = await this.manager();
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
