// RemoteHost over ssh2: one self-healing connection per host, transfers verified by sha256 on both
// ends, and jobs whose whole state lives in files on the host (see scripts.ts), so a dropped link
// or a restarted Muscle picks a job up where it was and never starts it twice.
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { GpuInfo, HostCache, JobStatus, LogChunk, ReadLogOptions, RemoteHost, StartOptions, StartResult, TransferReceipt } from "../../actors/muscle/ports.ts";
import { execScript, withSftp } from "./channels.ts";
import { SshHostCache } from "./cache.ts";
import { SshConnection, type ConnectionOptions } from "./connection.ts";
import { RemoteCommandError, TransferVerificationError } from "./errors.ts";
import type { HostEntry } from "./hosts.ts";
import * as sh from "./scripts.ts";
import { uploadTree, type TreeEntry } from "./tree.ts";
import { DEFAULT_TUNING, getFile, landVerified, putFile, readRange, sha256File, utf8Boundary, type TransferTuning } from "./transfer.ts";

/** Retry, keepalive and transfer tuning; the defaults suit a GPU host across the internet. */
export interface SshRemoteHostOptions extends ConnectionOptions {
  readonly transfer?: Partial<TransferTuning>;
  /** Told when each upload attempt starts, and from which byte (non-zero: resumed after a drop). */
  readonly onUploadAttempt?: (info: { readonly path: string; readonly fromByte: number }) => void;
}

/** The ssh2 implementation of the Muscle's RemoteHost port for one entry of the hosts file. */
export class SshRemoteHost implements RemoteHost {
  readonly name: string;
  private readonly connection: SshConnection;
  private readonly tuning: TransferTuning;
  /** The work directory, absolute once connected. */
  private workDir: string;
  private resolved: Promise<void> | undefined;

  constructor(private readonly entry: HostEntry, private readonly options: SshRemoteHostOptions = {}) {
    this.name = entry.name;
    this.connection = new SshConnection(entry, options);
    this.tuning = { ...DEFAULT_TUNING, ...options.transfer };
    this.workDir = entry.workDir;
  }

  /** The work directory on the host: absolute once connected, as written in the hosts file before. */
  get workDirectory(): string {
    return this.workDir;
  }

  async connect(): Promise<void> {
    await this.ready();
  }

  /** The cache directory as a HostCache; its path is resolved against the work directory once connected. */
  get cache(): HostCache {
    const onUploadAttempt = this.options.onUploadAttempt;
    return new SshHostCache(this.connection, this.name, () => this.resolve(this.entry.cacheDir ?? "cache"), this.tuning, {
      ready: () => this.ready(), resolve: (p) => this.resolve(p), ...(onUploadAttempt ? { onUploadAttempt } : {}),
    });
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  async gpus(): Promise<readonly GpuInfo[]> {
    return sh.parseGpus(await this.exec("gpus", sh.gpuScript()));
  }

  async ensureDir(remoteDir: string): Promise<string> {
    await this.ready();
    return (await this.exec("ensureDir", sh.ensureDirScript(this.resolve(remoteDir)))).trim();
  }

  async upload(localPath: string, remotePath: string): Promise<TransferReceipt> {
    await this.ready();
    const target = this.resolve(remotePath);
    const temp = path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target)}.part-${randomBytes(4).toString("hex")}`);
    // Hash locally while the bytes travel; the remote hash is taken from the file as written.
    const local = sha256File(localPath);
    local.catch(() => undefined);
    await this.ensureDir(path.posix.dirname(target));
    const progress = { acked: 0 }; // shared by the attempts: a retry resumes after the confirmed prefix
    await this.connection.run((client) => {
      this.options.onUploadAttempt?.({ path: target, fromByte: progress.acked });
      return withSftp(client, (sftp) => putFile(sftp, localPath, temp, this.tuning, progress));
    });
    const expected = await local;
    const remote = parseHash(await this.exec("upload.verify", sh.commitUploadScript(temp, target, expected.sha256)));
    if (remote.sha256 !== expected.sha256 || remote.bytes !== expected.bytes) {
      throw new TransferVerificationError({ path: target, expected: expected.sha256, actual: remote.sha256 });
    }
    return expected;
  }

  async uploadDir(localDir: string, remoteDir: string): Promise<readonly TreeEntry[]> {
    await this.ready();
    return uploadTree(this.connection, this.name, localDir, this.resolve(remoteDir), this.tuning);
  }

  async digest(remotePath: string): Promise<TransferReceipt | undefined> {
    await this.ready();
    const result = await this.connection.run((client) => execScript(client, sh.hashScript(this.resolve(remotePath))));
    if (result.code === 2) return undefined; // hashScript's "no such file"
    if (result.code !== 0) throw new RemoteCommandError({ host: this.name, step: "digest", code: result.code, stderr: result.stderr.trim() });
    return parseHash(result.stdout);
  }

  async download(remotePath: string, localPath: string): Promise<TransferReceipt> {
    await this.ready();
    const source = this.resolve(remotePath);
    const remote = parseHash(await this.exec("download.hash", sh.hashScript(source)));
    return landVerified(source, remote.sha256, localPath, (temp) => this.connection.run((client) => withSftp(client, (sftp) => getFile(sftp, source, temp, this.tuning))));
  }

  jobDir(jobId: string): string {
    sh.assertJobId(jobId);
    return path.posix.join(this.workDir, "jobs", jobId);
  }

  async startDetached(jobId: string, command: string, options: StartOptions = {}): Promise<StartResult> {
    await this.ready();
    const dir = this.jobDir(jobId);
    const wrapper = sh.wrapperScript(dir, command, options.cwd ? this.resolve(options.cwd) : dir, options.env ?? {});
    const [outcome, pid] = (await this.exec("startDetached", sh.startScript(dir, wrapper))).trim().split(" ");
    return { outcome: outcome === "started" ? "started" : "attached", pid: Number(pid) };
  }

  async readLog(jobId: string, fromOffset: number, options: ReadLogOptions = {}): Promise<LogChunk> {
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) throw new RangeError(`invalid log offset ${fromOffset}`);
    await this.ready();
    const file = path.posix.join(this.jobDir(jobId), "log");
    const maxBytes = options.maxBytes ?? 1 << 20;
    const bytes = await this.connection.run((client) => withSftp(client, (sftp) => readRange(sftp, file, fromOffset, maxBytes)));
    let end = bytes.lastIndexOf(0x0a) + 1;
    // A full buffer without a newline is a line longer than maxBytes: hand it over rather than stall.
    if (options.includePartialLine || (end === 0 && bytes.length === maxBytes)) end = utf8Boundary(bytes);
    return { text: bytes.subarray(0, end).toString("utf8"), nextOffset: fromOffset + end };
  }

  async jobStatus(jobId: string): Promise<JobStatus> {
    await this.ready();
    return sh.parseStatus(await this.exec("jobStatus", sh.statusScript(this.jobDir(jobId))));
  }

  async cancel(jobId: string, options: { readonly graceMs?: number } = {}): Promise<JobStatus> {
    await this.ready();
    await this.exec("cancel", sh.cancelScript(this.jobDir(jobId), options.graceMs ?? 2_000));
    return this.jobStatus(jobId);
  }

  async cleanup(remoteDir: string): Promise<void> {
    await this.ready();
    const dir = this.resolve(remoteDir);
    const relative = path.posix.relative(this.workDir, dir);
    if (!path.posix.isAbsolute(this.workDir) || relative === "" || relative.startsWith("..") || path.posix.isAbsolute(relative)) {
      throw new TypeError(`refusing to remove ${dir}: only directories inside the work directory ${this.workDir} may be cleaned up`);
    }
    await this.exec("cleanup", sh.cleanupScript(dir));
  }

  /** Resolves the work directory once (relative to the login's home); this also proves link, key and shell. */
  private ready(): Promise<void> {
    this.resolved ??= this.exec("connect", sh.ensureDirScript(this.entry.workDir)).then(
      (stdout) => void (this.workDir = stdout.trim()),
      (error: unknown) => {
        this.resolved = undefined;
        throw error;
      },
    );
    return this.resolved;
  }

  /** Relative remote paths are taken from the work directory. */
  private resolve(remotePath: string): string {
    return path.posix.isAbsolute(remotePath) ? path.posix.normalize(remotePath) : path.posix.join(this.workDir, remotePath);
  }

  private async exec(step: string, script: string): Promise<string> {
    const result = await this.connection.run((client) => execScript(client, script));
    if (result.code !== 0) throw new RemoteCommandError({ host: this.name, step, code: result.code, stderr: result.stderr.trim() });
    return result.stdout;
  }

}

const parseHash = (stdout: string): TransferReceipt => {
  const [sha256 = "", bytes = ""] = stdout.trim().split("\n");
  return { sha256: sha256.trim(), bytes: Number(bytes) };
};
