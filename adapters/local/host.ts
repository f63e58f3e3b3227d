// The Muscle's RemoteHost on this very machine: the same job protocol as over SSH (a job directory,
// a setsid'd wrapper with a pid file, an appended log, an exit file, cancel by process group), run
// with the very same POSIX sh scripts, only with local files and child processes instead of SFTP
// and SSH channels. Used when no GPU host is configured: a genuine way to train, on this CPU.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import type { GpuInfo, JobStatus, LogChunk, ReadLogOptions, RemoteHost, StartOptions, StartResult, TransferReceipt } from "../../actors/muscle/ports.ts";
import * as sh from "../ssh/scripts.ts";
import { listFiles } from "../ssh/tree.ts";
import { landVerified, sha256File, utf8Boundary } from "../ssh/transfer.ts";
import { RemoteCommandError, TransferVerificationError } from "../ssh/errors.ts";

const run = (script: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile("/bin/sh", ["-c", script], { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

/** RemoteHost over the local filesystem and child processes, rooted at `workDir`. */
export class LocalHost implements RemoteHost {
  readonly name = "local";
  readonly workDir: string;

  constructor(workDir: string) {
    this.workDir = path.resolve(workDir);
  }

  async connect(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
  }

  async close(): Promise<void> {}

  async gpus(): Promise<readonly GpuInfo[]> {
    return sh.parseGpus(await this.exec("gpus", sh.gpuScript()));
  }

  async ensureDir(dir: string): Promise<string> {
    const target = this.resolve(dir);
    await mkdir(target, { recursive: true });
    return target;
  }

  async upload(localPath: string, remotePath: string): Promise<TransferReceipt> {
    const target = this.resolve(remotePath);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.part-${randomBytes(4).toString("hex")}`);
    const expected = await sha256File(localPath);
    await copyFile(localPath, temp);
    // Verified like an SFTP upload: the copy is hashed as written and moved into place only if it matches.
    const written = parseHash(await this.exec("upload.verify", sh.commitUploadScript(temp, target, expected.sha256)));
    if (written.sha256 !== expected.sha256) throw new TransferVerificationError({ path: target, expected: expected.sha256, actual: written.sha256 });
    return expected;
  }

  async uploadDir(localDir: string, remoteDir: string): Promise<readonly (TransferReceipt & { readonly path: string })[]> {
    const files = await listFiles(localDir);
    const receipts = [];
    for (const file of files) receipts.push({ path: file, ...(await this.upload(path.join(localDir, file), path.join(this.resolve(remoteDir), file))) });
    return receipts;
  }

  async digest(remotePath: string): Promise<TransferReceipt | undefined> {
    const result = await run(sh.hashScript(this.resolve(remotePath)));
    if (result.code === 2) return undefined;
    if (result.code !== 0) throw new RemoteCommandError({ host: this.name, step: "digest", code: result.code, stderr: result.stderr.trim() });
    return parseHash(result.stdout);
  }

  async download(remotePath: string, localPath: string): Promise<TransferReceipt> {
    const source = this.resolve(remotePath);
    const expected = await sha256File(source);
    return landVerified(source, expected.sha256, localPath, (temp) => copyFile(source, temp));
  }

  jobDir(jobId: string): string {
    sh.assertJobId(jobId);
    return path.join(this.workDir, "jobs", jobId);
  }

  async startDetached(jobId: string, command: string, options: StartOptions = {}): Promise<StartResult> {
    const dir = this.jobDir(jobId);
    const wrapper = sh.wrapperScript(dir, command, options.cwd ? this.resolve(options.cwd) : dir, options.env ?? {});
    const [outcome, pid] = (await this.exec("startDetached", sh.startScript(dir, wrapper))).trim().split(" ");
    return { outcome: outcome === "started" ? "started" : "attached", pid: Number(pid) };
  }

  async readLog(jobId: string, fromOffset: number, options: ReadLogOptions = {}): Promise<LogChunk> {
    const maxBytes = options.maxBytes ?? 1 << 20;
    const file = await open(path.join(this.jobDir(jobId), "log"), "r").catch(() => undefined);
    if (!file) return { text: "", nextOffset: fromOffset };
    try {
      const buffer = Buffer.alloc(maxBytes);
      const { bytesRead } = await file.read(buffer, 0, maxBytes, fromOffset);
      const bytes = buffer.subarray(0, bytesRead);
      let end = bytes.lastIndexOf(0x0a) + 1;
      if (options.includePartialLine || (end === 0 && bytes.length === maxBytes)) end = utf8Boundary(bytes);
      return { text: bytes.subarray(0, end).toString("utf8"), nextOffset: fromOffset + end };
    } finally {
      await file.close();
    }
  }

  async jobStatus(jobId: string): Promise<JobStatus> {
    return sh.parseStatus(await this.exec("jobStatus", sh.statusScript(this.jobDir(jobId))));
  }

  async cancel(jobId: string, options: { readonly graceMs?: number } = {}): Promise<JobStatus> {
    await this.exec("cancel", sh.cancelScript(this.jobDir(jobId), options.graceMs ?? 2_000));
    return this.jobStatus(jobId);
  }

  async cleanup(remoteDir: string): Promise<void> {
    const dir = this.resolve(remoteDir);
    const relative = path.relative(this.workDir, dir);
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
      throw new TypeError(`refusing to remove ${dir}: only directories inside the work directory ${this.workDir} may be cleaned up`);
    }
    await rm(dir, { recursive: true, force: true });
  }

  private resolve(p: string): string {
    return path.isAbsolute(p) ? path.normalize(p) : path.join(this.workDir, p);
  }

  private async exec(step: string, script: string): Promise<string> {
    const result = await run(script);
    if (result.code !== 0) throw new RemoteCommandError({ host: this.name, step, code: result.code, stderr: result.stderr.trim() });
    return result.stdout;
  }
}

const parseHash = (stdout: string): TransferReceipt => {
  const [sha256 = "", bytes = ""] = stdout.trim().split("\n");
  return { sha256: sha256.trim(), bytes: Number(bytes) };
};
