// File transfers over SFTP and the hashing that proves them. Uploads are our own pipelined writer
// (resumable), downloads ssh2's fastGet; the tuning was measured against OpenSSH's sftp
// (test/bench/sftp-upload).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { TransferVerificationError } from "./errors.ts";
import type { SFTPWrapper, TransferOptions } from "ssh2";
import type { TransferReceipt } from "../../actors/muscle/ports.ts";

/** Requests in flight and bytes per request. */
export interface TransferTuning {
  readonly concurrency: number;
  readonly chunkSize: number;
}

// 32739 bytes of data + 29 of SFTP WRITE framing = 32768, the SSH channel packet size OpenSSH
// announces, so each request travels in one packet instead of a full one and a 29-byte straggler;
// 64 of them in flight fill the 2 MiB channel window OpenSSH opens.
export const DEFAULT_TUNING: TransferTuning = { concurrency: 64, chunkSize: 32_768 - 29 };

/** sha256 (hex) and size of a local file, streamed. */
export const sha256File = async (file: string): Promise<TransferReceipt> => {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
};

const options = (tuning: TransferTuning): TransferOptions => ({ concurrency: tuning.concurrency, chunkSize: tuning.chunkSize });

/** How much of an upload the server has confirmed as one unbroken prefix; a retry resumes there. */
/**
 * Lands a file at `localPath` only once its sha256 matches `expected`: `fetch` writes a temporary file
 * beside it, which is checked, then renamed; a mismatch or a failure leaves nothing behind.
 */
export const landVerified = async (source: string, expected: string, localPath: string, fetch: (temp: string) => Promise<void>): Promise<TransferReceipt> => {
  const temp = `${localPath}.part-${randomBytes(4).toString("hex")}`;
  await mkdir(path.dirname(localPath), { recursive: true });
  try {
    await fetch(temp);
    const local = await sha256File(temp);
    if (local.sha256 !== expected) throw new TransferVerificationError({ path: source, expected, actual: local.sha256 });
    await rename(temp, localPath);
    return local;
  } finally {
    await rm(temp, { force: true });
  }
};

export interface UploadProgress {
  acked: number;
}

const openRemote = (sftp: SFTPWrapper, file: string, flags: "w" | "r+"): Promise<Buffer> =>
  new Promise((resolve, reject) => sftp.open(file, flags, (error, handle) => (error ? reject(error) : resolve(handle))));

/**
 * Uploads `local` to `remote` from `progress.acked` on, with `concurrency` writes in flight, issued
 * in file order from one sequential read stream. `progress.acked` advances over the prefix the server
 * has confirmed, so after a dropped link the next attempt sends only the rest (ssh2's fastPut would
 * start over and cannot say what arrived). The caller verifies the whole file afterwards.
 */
export const putFile = async (sftp: SFTPWrapper, local: string, remote: string, tuning: TransferTuning, progress: UploadProgress = { acked: 0 }): Promise<void> => {
  const handle = await openRemote(sftp, remote, progress.acked === 0 ? "w" : "r+");
  await writeFrom(sftp, handle, local, tuning, progress);
  await new Promise<void>((resolve, reject) => sftp.close(handle, (error) => (error ? reject(error) : resolve())));
};

const writeFrom = (sftp: SFTPWrapper, handle: Buffer, local: string, tuning: TransferTuning, progress: UploadProgress): Promise<void> =>
  new Promise((resolve, reject) => {
    const stream = createReadStream(local, { start: progress.acked, highWaterMark: 1 << 20 });
    const pending: { end: number; done: boolean }[] = []; // in issue order, to find the acked prefix
    let position = progress.acked;
    let inFlight = 0;
    let ended = false;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      stream.destroy();
      reject(error);
    };
    const acked = (request: { end: number; done: boolean }): void => {
      request.done = true;
      while (pending.length > 0 && pending[0]!.done) progress.acked = pending.shift()!.end;
    };
    stream.on("data", (block) => {
      for (let offset = 0; offset < block.length; offset += tuning.chunkSize) {
        const piece = (block as Buffer).subarray(offset, offset + tuning.chunkSize);
        const request = { end: position + piece.length, done: false };
        pending.push(request);
        inFlight++;
        sftp.write(handle, piece, 0, piece.length, position, (error) => {
          inFlight--;
          if (error) return fail(error);
          acked(request);
          if (inFlight < tuning.concurrency) stream.resume();
          if (ended && inFlight === 0 && !failed) resolve();
        });
        position += piece.length;
      }
      if (inFlight >= tuning.concurrency) stream.pause();
    });
    stream.once("end", () => {
      ended = true;
      if (inFlight === 0 && !failed) resolve();
    });
    stream.once("error", fail);
  });

/** Downloads with many requests in flight (ssh2 fastGet); the caller verifies. */
export const getFile = (sftp: SFTPWrapper, remote: string, local: string, tuning: TransferTuning): Promise<void> =>
  new Promise((resolve, reject) => sftp.fastGet(remote, local, options(tuning), (error) => (error ? reject(error) : resolve())));

const SFTP_NO_SUCH_FILE = 2;

/** Reads up to `length` bytes at `position`; a missing file reads as empty (a job that has not logged yet). */
export const readRange = (sftp: SFTPWrapper, file: string, position: number, length: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    sftp.open(file, "r", (openError, handle) => {
      if (openError) return (openError as Error & { code?: number }).code === SFTP_NO_SUCH_FILE ? resolve(Buffer.alloc(0)) : reject(openError);
      const buffer = Buffer.alloc(length);
      let filled = 0;
      const done = (error?: Error): void => sftp.close(handle, () => (error ? reject(error) : resolve(buffer.subarray(0, filled))));
      const next = (): void => {
        if (filled >= length) return done();
        sftp.read(handle, buffer, filled, length - filled, position + filled, (error, bytesRead) => {
          if (error) return done(error);
          if (bytesRead === 0) return done();
          filled += bytesRead;
          next();
        });
      };
      next();
    });
  });

/** Length of the longest prefix of `bytes` that does not split a UTF-8 character. */
export const utf8Boundary = (bytes: Buffer): number => {
  let end = bytes.length;
  // Step back over continuation bytes (10xxxxxx) to the lead byte, then keep it only if complete.
  let i = end - 1;
  while (i >= 0 && i > end - 4 && (bytes[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return end;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (end - i < need) end = i;
  return end;
};
