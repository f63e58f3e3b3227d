import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager, RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { asked, onCluster, serverUnavailable } from "./unavailable.ts";
import { CHECKPOINT_BLOB_BUCKET, CHECKPOINT_BUCKET, CONTENT_BUCKET, EVENT_STREAM, QUARANTINE_STREAM, allEventSubjects, QUARANTINE_PREFIX } from "../../events/subjects.ts";

export interface NatsAuth {
  readonly url: string;
  readonly user?: string;
  readonly pass?: string;
  /** Shown in the server's connection list. */
  readonly name?: string;
}

/** Connects with retries while a just-started server settles; credentials never appear in errors. */
export const connectNats = async (auth: NatsAuth): Promise<NatsConnection> => {
  try {
    const nc = await connect({
      servers: auth.url.split(","),
      ...(auth.user ? { user: auth.user, pass: auth.pass ?? "" } : {}),
      name: auth.name ?? "sophont",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 10_000,
    });
    onCluster(nc); // noted now, while the server's info is at hand
    return nc;
  } catch (e) {
    throw new Error(`cannot connect to NATS at ${auth.url} as ${auth.user ?? "(anonymous)"}: ${(e as Error).message}. ` +
      "Is the server running and are SOPHONT_NATS_URL / the credentials right?", { cause: e });
  }
};

const HOUR_NS = 3600 * 1e9;

export interface InfrastructureOptions {
  /** Stream replicas: 1 on one machine, 3 on a JetStream cluster (SOPHONT_REPLICAS). */
  readonly replicas?: number;
  /** How long the server remembers event ids for dedup. Redelivery after a crash must fall inside it. */
  readonly duplicateWindowHours?: number;
}

/**
 * Creates the event stream, the quarantine stream and the checkpoint bucket if they are missing.
 * Idempotent; existing streams are left as they are (an update would need an explicit migration).
 */
export const ensureInfrastructure = (nc: NatsConnection, opts: InfrastructureOptions = {}): Promise<JetStreamManager> =>
  // Asked again while the cluster elects: a command started right after a node died timed out here
  // (2 of 5 forgets with a follower killed first, nats-server 2.9.10).
  asked(nc, "cannot set up the event stream and buckets", () => ensureOnce(nc, opts));

const ensureOnce = async (nc: NatsConnection, opts: InfrastructureOptions): Promise<JetStreamManager> => {
  // 10 s: on a cluster a request can land during a leader election (~4-5 s on 2.9.10).
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const replicas = opts.replicas ?? 1;
  const ensure = async (name: string, subjects: string[], duplicateWindowNs: number) => {
    // Only a stream that is not there is made: an info that was not answered is asked again.
    const exists = await jsm.streams.info(name).then(
      () => true,
      (e: unknown) => {
        if (serverUnavailable(e)) throw e;
        return false;
      },
    );
    if (!exists) {
      await jsm.streams.add({
        name,
        subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        num_replicas: replicas,
        duplicate_window: duplicateWindowNs,
        max_msgs: -1,
        max_bytes: -1,
        max_age: 0,
        // The log is immutable: nobody deletes or purges single events through the API.
        deny_delete: true,
        deny_purge: true,
      });
    }
  };
  await ensure(EVENT_STREAM, [allEventSubjects], (opts.duplicateWindowHours ?? 24) * HOUR_NS);
  await ensure(QUARANTINE_STREAM, [`${QUARANTINE_PREFIX}.>`], HOUR_NS);
  await new Kvm(nc).create(CHECKPOINT_BUCKET, { history: 1, replicas });
  // The buckets are made here with the streams' replicas; their users open what exists.
  const objm = new Objm(nc);
  await objm.create(CONTENT_BUCKET, { replicas, storage: StorageType.File });
  await objm.create(CHECKPOINT_BLOB_BUCKET, { replicas, storage: StorageType.File });
  return jsm;
};
