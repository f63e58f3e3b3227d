// Directory uploads (the trainer payload is a Python package): every file goes to a temp name over
// one SFTP channel, then a single remote script hashes them all and moves each into place only if
// it matches. Three round trips for the whole tree instead of three per file.
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { TransferReceipt } from "../../actors/muscle/ports.ts";
import { execScript, withSftp } from "./channels.ts";
import type { SshConnection } from "./connection.ts";
import { RemoteCommandError, TransferVerificationError } from "./errors.ts";
import { commitUploadScript, ensureDirScript } from "./scripts.ts";
import { putFile, sha256File, type TransferTuning } from "./transfer.ts";

/** A file of an uploaded tree: its path relative to the tree's root, with its receipt. */
export interface TreeEntry extends TransferReceipt {
  readonly path: string;
}

/** Regular files under `dir`, relative and sorted; symlinks and caches (`__pycache__`) are skipped. */
export const listFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  // Node 20.11 (our oldest) names the folder `path`; `parentPath` came in 20.12.
  const folderOf = (e: (typeof entries)[number]) => e.parentPath ?? (e as unknown as { path: string }).path;
  return entries
    .filter((e) => e.isFile() && !path.relative(dir, folderOf(e)).split(path.sep).includes("__pycache__"))
    .map((e) => path.relative(dir, path.join(folderOf(e), e.name)))
    .sort();
};

/** Uploads `localDir` into the absolute `remoteDir`, each file verified by sha256 on the host. */
export const uploadTree = async (
  connection: SshConnection, hostName: string, localDir: string, remoteDir: string, tuning: TransferTuning,
): Promise<TreeEntry[]> => {
  const files = await listFiles(localDir);
  const receipts = await Promise.all(files.map((f) => sha256File(path.join(localDir, f))));
  const remote = (f: string) => path.posix.join(remoteDir, ...f.split(path.sep));
  const temp = (f: string) => path.posix.join(path.posix.dirname(remote(f)), `.${path.posix.basename(remote(f))}.part`);
  const dirs = [...new Set([remoteDir, ...files.map((f) => path.posix.dirname(remote(f)))])];
  const run = async (step: string, script: string): Promise<string> => {
    const result = await connection.run((client) => execScript(client, script));
    if (result.code !== 0) throw new RemoteCommandError({ host: hostName, step, code: result.code, stderr: result.stderr.trim() });
    return result.stdout;
  };
  await run("uploadDir.mkdir", dirs.map(ensureDirScript).join(""));
  await connection.run((client) =>
    withSftp(client, async (sftp) => {
      for (const f of files) await putFile(sftp, path.join(localDir, f), temp(f), tuning);
    }),
  );
  const script = files.map((f, i) => commitUploadScript(temp(f), remote(f), receipts[i]!.sha256)).join("");
  const hashes = (await run("uploadDir.verify", script)).trim().split("\n");
  return files.map((f, i) => {
    const [sha256 = "", bytes = ""] = [hashes[2 * i], hashes[2 * i + 1]];
    if (sha256 !== receipts[i]!.sha256 || Number(bytes) !== receipts[i]!.bytes) {
      throw new TransferVerificationError({ path: remote(f), expected: receipts[i]!.sha256, actual: sha256 });
    }
    return { path: f, ...receipts[i]! };
  });
};
