// The host's cache over SSH: files by sha256 that outlive jobs, so the base model goes up once.
// A file is written as `sha256/<hex>.part` (a fixed name, so a later try resumes it), hashed on the
// host and moved into place only when it matches; then stamped with `<hex>.ok` (sha, size, mtime) so
// the next job reuses it after one SFTP stat instead of hashing tens of gigabytes again.
import { createHash } from "node:crypto";
import path from "node:path";
import type { SFTPWrapper, Stats } from "ssh2";
import type { CachedFile, HostCache, TransferReceipt } from "../../actors/muscle/ports.ts";
import { execScript, withSftp } from "./channels.ts";
import type { SshConnection } from "./connection.ts";
import { RemoteCommandError, TransferVerificationError } from "./errors.ts";
import * as sh from "./scripts.ts";
import { listFiles, uploadTree } from "./tree.ts";
import { putFile, sha256File, type TransferTuning } from "./transfer.ts";

const SFTP_NO_SUCH_FILE = 2;

const stat = (sftp: SFTPWrapper, file: string): Promise<Stats | undefined> =>
  new Promise((resolve, reject) =>
    sftp.stat(file, (error, stats) => (error ? ((error as Error & { code?: number }).code === SFTP_NO_SUCH_FILE ? resolve(undefined) : reject(error)) : resolve(stats))));

const readText = (sftp: SFTPWrapper, file: string): Promise<string | undefined> =>
  new Promise((resolve) => sftp.readFile(file, (error, data) => resolve(error ? undefined : data.toString("utf8"))));

const writeText = (sftp: SFTPWrapper, file: string, text: string): Promise<void> =>
  new Promise((resolve, reject) => sftp.writeFile(file, text, (error) => (error ? reject(error) : resolve())));

/** The stamp that lets a reuse skip the hash: what the file was when its hash was last checked. */
const stampOf = (sha256: string, stats: Stats, origin = ""): string => `${sha256} ${stats.size} ${stats.mtime}${origin ? ` ${origin}` : ""}\n`;

/**
 * How far back a resumed upload starts: the pipelined writer keeps `concurrency` requests in
 * flight, so bytes past the last confirmed one may have landed out of order after a drop. Starting
 * one full window earlier rewrites them all; the hash on the host checks the result anyway.
 */
export const resumePoint = (partialBytes: number, totalBytes: number, tuning: TransferTuning): number =>
  partialBytes > totalBytes ? 0 : Math.max(0, partialBytes - tuning.concurrency * tuning.chunkSize);

/** A directory's hash: over its sorted relative paths and each file's sha256. */
export const treeHash = (files: readonly { path: string; sha256: string }[]): string =>
  createHash("sha256").update(files.map((f) => `${f.path.split(path.sep).join("/")}\0${f.sha256}\n`).join("")).digest("hex");

export interface CacheHooks {
  /** Connects (resolving the work directory) before the first operation. */
  readonly ready?: () => Promise<void>;
  /** Makes a host path absolute (relative ones are taken from the work directory). */
  readonly resolve?: (remotePath: string) => string;
  /** Told when a cache upload starts and from which byte (non-zero: resumed). */
  readonly onUploadAttempt?: (info: { readonly path: string; readonly fromByte: number }) => void;
}

/** HostCache on one SSH connection; `dir` is absolute (resolved by the host once connected). */
export class SshHostCache implements HostCache {
  constructor(
    private readonly connection: SshConnection,
    private readonly hostName: string,
    private readonly where: () => string,
    private readonly tuning: TransferTuning,
    private readonly hooks: CacheHooks = {},
  ) {}

  /** The cache directory, absolute once the host is connected. */
  get dir(): string {
    return this.where();
  }

  private sftp<T>(use: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    return this.connection.run((client) => withSftp(client, use));
  }

  private async exec(step: string, script: string): Promise<string> {
    const result = await this.connection.run((client) => execScript(client, script));
    if (result.code !== 0) throw new RemoteCommandError({ host: this.hostName, step, code: result.code, stderr: result.stderr.trim() });
    return result.stdout;
  }

  private async hash(file: string): Promise<TransferReceipt | undefined> {
    const result = await this.connection.run((client) => execScript(client, sh.hashScript(file)));
    if (result.code === 2) return undefined;
    if (result.code !== 0) throw new RemoteCommandError({ host: this.hostName, step: "cache.hash", code: result.code, stderr: result.stderr.trim() });
    const [sha256 = "", bytes = ""] = result.stdout.trim().split("\n");
    return { sha256: sha256.trim(), bytes: Number(bytes) };
  }

  /**
   * Whether `file` is the one the stamp vouches for; hashes it (and stamps it) when the stamp is
   * missing or stale. True, or why not.
   */
  private async verified(file: string, stampFile: string, sha256: string, origin = ""): Promise<true | string> {
    const seen = await this.sftp(async (sftp) => ({ stats: await stat(sftp, file), stamp: await readText(sftp, stampFile) }));
    if (!seen.stats) return `${file} is not on the host`;
    if (seen.stamp === stampOf(sha256, seen.stats, origin)) return true;
    const actual = await this.hash(file);
    if (actual?.sha256 !== sha256) return `${file} on the host hashes to ${actual?.sha256 ?? "nothing"}, not ${sha256}`;
    await this.sftp(async (sftp) => writeText(sftp, stampFile, stampOf(sha256, (await stat(sftp, file))!, origin)));
    return true;
  }

  async file(localPath: string, expected: TransferReceipt): Promise<CachedFile> {
    await this.hooks.ready?.();
    const began = Date.now();
    if (!/^[0-9a-f]{64}$/.test(expected.sha256)) throw new TypeError(`not a sha256: ${expected.sha256}`);
    const blobs = path.posix.join(this.dir, "sha256");
    const final = path.posix.join(blobs, expected.sha256);
    const part = `${final}.part`;
    const done = (sentBytes: number, source: CachedFile["source"]): CachedFile =>
      ({ sha256: expected.sha256, bytes: expected.bytes, path: final, sentBytes, source, seconds: (Date.now() - began) / 1000 });
    await this.exec("cache.mkdir", sh.ensureDirScript(blobs));
    if ((await this.verified(final, `${final}.ok`, expected.sha256)) === true) return done(0, "cached");
    // Hashed while the bytes travel, so a local file that changed since its sha256 was taken is caught.
    const local = sha256File(localPath);
    local.catch(() => undefined);
    const partial = await this.sftp((sftp) => stat(sftp, part));
    const from = resumePoint(partial?.size ?? 0, expected.bytes, this.tuning);
    const progress = { acked: from };
    await this.connection.run((client) => {
      this.hooks.onUploadAttempt?.({ path: final, fromByte: progress.acked });
      return withSftp(client, (sftp) => putFile(sftp, localPath, part, this.tuning, progress));
    });
    const sent = (await local).sha256 === expected.sha256 ? expected.bytes - from : NaN;
    if (Number.isNaN(sent)) throw new TransferVerificationError({ path: localPath, expected: expected.sha256, actual: (await local).sha256 });
    // A partial longer than the file was started over ("w" truncates); a shorter one is written to its end.
    const [sha256 = ""] = (await this.exec("cache.commit", sh.commitUploadScript(part, final, expected.sha256))).trim().split("\n");
    if (sha256.trim() !== expected.sha256) throw new TransferVerificationError({ path: final, expected: expected.sha256, actual: sha256.trim() });
    await this.sftp(async (sftp) => writeText(sftp, `${final}.ok`, stampOf(expected.sha256, (await stat(sftp, final))!)));
    return done(sent, from > 0 ? "resumed" : "uploaded");
  }

  async has(expected: TransferReceipt): Promise<boolean> {
    await this.hooks.ready?.();
    if (!/^[0-9a-f]{64}$/.test(expected.sha256)) throw new TypeError(`not a sha256: ${expected.sha256}`);
    const final = path.posix.join(this.dir, "sha256", expected.sha256);
    return (await this.verified(final, `${final}.ok`, expected.sha256)) === true;
  }

  async tree(localDir: string): Promise<CachedFile & { readonly files: number }> {
    await this.hooks.ready?.();
    const began = Date.now();
    const names = await listFiles(localDir);
    const receipts = await Promise.all(names.map(async (f) => ({ path: f, ...(await sha256File(path.join(localDir, f))) })));
    const hash = treeHash(receipts);
    const root = path.posix.join(this.dir, "trees", hash);
    const target = path.posix.join(root, path.basename(localDir));
    const bytes = receipts.reduce((n, r) => n + r.bytes, 0);
    const done = (sentBytes: number, source: CachedFile["source"]) =>
      ({ sha256: hash, bytes, path: target, sentBytes, source, seconds: (Date.now() - began) / 1000, files: names.length });
    const marker = path.posix.join(root, ".complete");
    // The marker is written only after every file was verified on the host.
    if ((await this.sftp((sftp) => readText(sftp, marker))) === `${hash}\n`) return done(0, "cached");
    await uploadTree(this.connection, this.hostName, localDir, target, this.tuning);
    await this.sftp((sftp) => writeText(sftp, marker, `${hash}\n`));
    return done(bytes, "uploaded");
  }

  async adopt(declared: string, sha256: string): Promise<CachedFile | { readonly refused: string }> {
    await this.hooks.ready?.();
    const began = Date.now();
    const remotePath = this.hooks.resolve?.(declared) ?? declared;
    const stamps = path.posix.join(this.dir, "adopted");
    await this.exec("cache.mkdir", sh.ensureDirScript(stamps));
    const ok = await this.verified(remotePath, path.posix.join(stamps, `${sha256}.ok`), sha256, remotePath);
    if (ok !== true) return { refused: ok };
    const stats = (await this.sftp((sftp) => stat(sftp, remotePath)))!;
    return { sha256, bytes: stats.size, path: remotePath, sentBytes: 0, source: "host", seconds: (Date.now() - began) / 1000 };
  }
}
