// The capabilities the Muscle needs to run a job on another machine. Interfaces only: the ssh2
// implementation lives in adapters/ssh, and the composition root binds one to the other.

/** sha256 (hex) and size of a file, checked on both ends of a transfer. */
export interface TransferReceipt {
  readonly sha256: string;
  readonly bytes: number;
}

/** A chunk of a job's log; pass `nextOffset` back to continue exactly where this one ended. */
export interface LogChunk {
  readonly text: string;
  readonly nextOffset: number;
}

export interface ReadLogOptions {
  /** Most bytes to read in one call (default 1 MiB). */
  readonly maxBytes?: number;
  /**
   * Also return a trailing line that has no newline yet (default false: whole lines only, so a
   * progress line is never split across two chunks). Use true once the job has ended.
   */
  readonly includePartialLine?: boolean;
}

export interface StartOptions {
  /** Working directory of the command (default: the job directory). */
  readonly cwd?: string;
  /** Extra environment; names must be shell identifiers. Values are quoted, never interpreted. */
  readonly env?: Readonly<Record<string, string>>;
}

/** `started`: this call launched it; `attached`: it had been launched before (running or ended). */
export interface StartResult {
  readonly outcome: "started" | "attached";
  readonly pid: number;
}

export type JobStatus =
  | { readonly state: "running"; readonly pid: number }
  | { readonly state: "exited"; readonly code: number }
  | { readonly state: "cancelled" }
  /** Never started here, or its process is gone without writing an exit code (killed, host rebooted). */
  | { readonly state: "unknown"; readonly reason: string };

/** A GPU as the host reports it (nvidia-smi). */
export interface GpuInfo {
  readonly name: string;
  readonly memoryMiB: number;
}

/**
 * A remote machine reached over SSH. Every method may reconnect (with backoff) after a dropped
 * connection; all job methods are safe to repeat after a reconnect or a restart of the Muscle.
 * Remote paths are absolute or relative to the host's work directory. Job state lives in files
 * under `<workDir>/jobs/<jobId>/` on the host, so it outlives any SSH session.
 */
export interface RemoteHost {
  /** The host's name in the hosts file (never a secret). */
  readonly name: string;
  /** Opens the connection (verifying the pinned host key); a no-op when already open. */
  connect(): Promise<void>;
  /** Closes the connection; detached jobs keep running. */
  close(): Promise<void>;
  /** The host's CUDA GPUs; empty when it has none (or no nvidia-smi). */
  gpus(): Promise<readonly GpuInfo[]>;
  /** `mkdir -p`; returns the absolute path. */
  ensureDir(remoteDir: string): Promise<string>;
  /** Uploads a file and checks the remote sha256 against the local one. */
  upload(localPath: string, remotePath: string): Promise<TransferReceipt>;
  /**
   * Uploads a directory tree (e.g. the trainer package), every file verified like `upload`; returns
   * one receipt per file, paths relative to the tree's root. Symlinks and `__pycache__` are skipped.
   */
  uploadDir(localDir: string, remoteDir: string): Promise<readonly (TransferReceipt & { readonly path: string })[]>;
  /** sha256 and size of a remote file, or undefined when there is none (e.g. to skip a re-upload). */
  digest(remotePath: string): Promise<TransferReceipt | undefined>;
  /** Downloads a file and checks the local sha256 against the remote one. */
  download(remotePath: string, localPath: string): Promise<TransferReceipt>;
  /** The job's directory on the host (`<workDir>/jobs/<jobId>`). */
  jobDir(jobId: string): string;
  /**
   * Starts `command` (POSIX sh) detached from the SSH session: its own session and process group
   * (setsid), a pid file, stdout and stderr appended to the job's log, its exit code written to a
   * file when it ends. Idempotent per jobId: a job launched before is never launched again.
   */
  startDetached(jobId: string, command: string, options?: StartOptions): Promise<StartResult>;
  /** Reads the job's log from a byte offset. */
  readLog(jobId: string, fromOffset: number, options?: ReadLogOptions): Promise<LogChunk>;
  jobStatus(jobId: string): Promise<JobStatus>;
  /** Kills the job's whole process group (TERM, then KILL after `graceMs`, default 2 s). */
  cancel(jobId: string, options?: { readonly graceMs?: number }): Promise<JobStatus>;
  /** Removes a directory under the work directory (refuses paths outside it). */
  cleanup(remoteDir: string): Promise<void>;
  /** Files kept on the host across jobs, by sha256; absent where every job uploads afresh (this machine). */
  readonly cache?: HostCache;
}

/** How a cached file came to be on the host for this job. */
export type CacheSource =
  /** Sent in full now. */
  | "uploaded"
  /** A partial upload left by an earlier try was completed: only the rest was sent. */
  | "resumed"
  /** Already in the cache, sent by an earlier job. */
  | "cached"
  /** The host's own copy, named in the hosts file and verified by its sha256. */
  | "host";

/** A file in the host's cache: content-addressed, verified by sha256, shared by jobs. */
export interface CachedFile {
  readonly sha256: string;
  readonly bytes: number;
  /** Absolute path on the host. */
  readonly path: string;
  /** Bytes that travelled for it this time. */
  readonly sentBytes: number;
  readonly source: CacheSource;
  readonly seconds: number;
  /** Why a declared host copy was not used (it hashed differently), when it was not. */
  readonly note?: string;
}

/**
 * The host's cache directory (`<workDir>/cache` or the hosts file's `cacheDir`, e.g. a persistent
 * volume): `sha256/<hex>` files, each moved into place only once its hash matched, with a
 * `<hex>.ok` stamp (size and mtime) so a reuse does not hash 60 GB again; `trees/<hash>/` for
 * directories (the trainer payload). A partial upload is kept as `sha256/<hex>.part` and resumed.
 */
export interface HostCache {
  /** The directory on the host. */
  readonly dir: string;
  /** Makes sure the local file (of this sha256 and size) is in the cache; sends only what is missing. */
  file(localPath: string, expected: TransferReceipt): Promise<CachedFile>;
  /** Makes sure the local directory is in the cache; `path` is the uploaded directory itself (its hash over names and contents). */
  tree(localDir: string): Promise<CachedFile & { readonly files: number }>;
  /** Whether the cache holds this file (its stamp checked, or hashed once when the stamp is stale); sends nothing. */
  has(expected: TransferReceipt): Promise<boolean>;
  /** Verifies a file the host already holds (hashed once, then stamped); undefined when it is missing or differs, with why. */
  adopt(remotePath: string, sha256: string): Promise<CachedFile | { readonly refused: string }>;
}

/** What a job needs of the GPU, as written in the hosts file. */
export interface GpuExpectation {
  /** `cuda`: a CUDA GPU must be present; `none`: CPU only (CI, the tiny models). */
  readonly kind: "cuda" | "none";
  readonly model?: string;
  readonly minMemoryGiB?: number;
}

/** A host made ready for a job by a provider. */
export interface ProvisionedHost {
  /** The provider's id of this lease (a rented instance's id; the host's name for a static host). */
  readonly leaseId: string;
  readonly name: string;
  readonly workDir: string;
  readonly gpu: GpuExpectation;
  readonly remote: RemoteHost;
  /** A rented instance behind the lease (a cloud provider's), for its events. */
  readonly instance?: RentedInstance;
  /** Base models the host already holds (the hosts file's `bases`), by sha256. */
  readonly bases?: readonly { readonly path: string; readonly sha256: string }[];
  /** The persistent volume mounted on the host, which holds its cache (`remote.cache`). */
  readonly volume?: VolumeInfo;
}

/**
 * A provider's persistent network volume: it outlives instances and bills for its size while it
 * exists; an instance created with it sees it at its cache directory. Such volumes live in one
 * region, and only instances there can mount them.
 */
export interface VolumeInfo {
  readonly provider: string;
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly sizeGiB: number;
  readonly pricePerGiBMonth: number;
  /** After each job: `keep` it (and its storage cost), or `delete` it (each job stages the base again). */
  readonly policy: "keep" | "delete";
  /** Made by this call (it did not exist). */
  readonly created: boolean;
}

/** A GPU instance rented for a job. */
export interface RentedInstance {
  readonly provider: string;
  readonly instanceId: string;
  readonly gpuType: string;
  readonly region: string;
  readonly pricePerHour: number;
  /** Pinned on first contact: the API returns no host key. */
  readonly hostKeyFingerprint: string | null;
  readonly createdAt: number;
  /** Offers refused (no capacity, over a cost cap) before this one. */
  readonly attempts: readonly { readonly gpuType: string; readonly region: string; readonly error: string }[];
  /** `staging`: a machine without a GPU that puts the base on the volume; `training`: the job's GPU. */
  readonly purpose: "staging" | "training";
  /** The machine type of an instance without a GPU (`gpuType` is then "none"). */
  readonly machineType?: string;
  /** The persistent volume it mounts. */
  readonly volume?: { readonly id: string; readonly name: string };
}

export interface ProvisionRequest {
  readonly jobId: string;
  /** The job's deadline: a rented instance's worst-case cost is its price over this long. */
  readonly deadlineMs?: number;
  /** A named host from the hosts file; providers that rent machines may ignore it. */
  readonly hostName?: string;
  readonly gpu?: GpuExpectation;
  /** The provider's volume to mount (its cache lives there); offers outside the volume's region are passed over. */
  readonly volume?: VolumeInfo;
}

/**
 * Hosts that must be started and stopped around a job (rented GPUs), or simply looked up (a static
 * SSH host). `release` is idempotent and never throws for a host already gone.
 */
export interface HostProvider {
  readonly kind: string;
  provision(request: ProvisionRequest): Promise<ProvisionedHost>;
  /** Returns how many terminate calls failed before one succeeded, where there is such a call. */
  release(host: ProvisionedHost): Promise<void | { readonly failedTries: number }>;
  /** Ends a lease known only by its id (a Muscle restarted after the lease was made). */
  releaseById?(leaseId: string): Promise<{ readonly failedTries: number }>;
  /** Leases this provider holds whose job is not among `live` (reconciled on start). */
  strays?(live: ReadonlySet<string>): Promise<readonly { readonly leaseId: string; readonly jobId: string; readonly purpose?: "staging" | "training" }[]>;
  /** Instances up for this job as the provider lists them (a stager whose creation was never recorded included), with what it knows of each. */
  leasesOf?(jobId: string): Promise<readonly { readonly leaseId: string; readonly purpose: "staging" | "training"; readonly pricePerHour: number | null; readonly createdAt: number | null }[]>;
  /** The provider's persistent volume, made when missing; absent where it has none. */
  volume?(): Promise<VolumeInfo | undefined>;
  /** Rents its cheapest machine without a GPU, in the volume's region with the volume mounted, to stage files there before a GPU bills. */
  provisionStaging?(request: ProvisionRequest & { readonly volume: VolumeInfo }): Promise<ProvisionedHost & { readonly instance: RentedInstance }>;
  /** Deletes the volume (retried while an instance still holds it); one already gone counts as deleted. */
  deleteVolume?(volumeId: string): Promise<{ readonly failedTries: number }>;
}

/** Failures the Muscle tells apart, by `_tag`; adapters throw objects of these shapes. */
export type RemoteHostFailure =
  | { readonly _tag: "HostKeyUnknownError"; readonly host: string; readonly presented: string }
  | { readonly _tag: "HostKeyMismatchError"; readonly host: string; readonly expected: string; readonly presented: string }
  | { readonly _tag: "AuthenticationError"; readonly host: string; readonly user: string; readonly reason: string }
  | { readonly _tag: "ConnectionError"; readonly host: string; readonly attempts: number; readonly reason: string }
  | { readonly _tag: "GpuExpectationError"; readonly host: string; readonly expected: GpuExpectation; readonly found: readonly GpuInfo[] }
  | { readonly _tag: "TransferVerificationError"; readonly path: string; readonly expected: string; readonly actual: string }
  | { readonly _tag: "RemoteCommandError"; readonly host: string; readonly step: string; readonly code: number | null; readonly stderr: string };
