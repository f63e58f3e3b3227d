// The two kinds of channel the adapter opens on a connection: a POSIX sh running a script, and SFTP.
import type { Client, ClientChannel, SFTPWrapper } from "ssh2";
import { ConnectionLost } from "./errors.ts";

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, KILL: 9, SEGV: 11, PIPE: 13, TERM: 15 };

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a POSIX sh script on the host. The script goes in on stdin of `/bin/sh -s`, so the login shell
 *  (bash, zsh, fish ...) never parses it and no quoting of the script itself is needed. */
export const execScript = (client: Client, script: string): Promise<ExecResult> =>
  new Promise((resolve, reject) => {
    client.exec("/bin/sh -s", (error, stream: ClientChannel) => {
      if (error) return reject(error);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | undefined;
      stream.on("data", (chunk: Buffer) => out.push(chunk));
      stream.stderr.on("data", (chunk: Buffer) => err.push(chunk));
      // A script killed by a signal still exited (128 + n, as sh reports it); no exit at all means the link went.
      stream.on("exit", (exitCode: number | null, signal?: string) => (code = exitCode ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0)));
      stream.on("close", () => {
        if (code === undefined) return reject(new ConnectionLost({ reason: "the channel closed before the command exited" }));
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      stream.end(script);
    });
  });

/** Opens an SFTP channel on the client. */
export const openSftp = (client: Client): Promise<SFTPWrapper> =>
  new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));

/**
 * Runs `use` on a fresh SFTP channel and closes it after. ssh2 can leave a callback unanswered when
 * the channel dies mid-transfer (fastPut's error path queues a CLOSE after the pending requests were
 * flushed), so the channel's own close event decides: it fails the operation with ConnectionLost.
 */
export const withSftp = async <T>(client: Client, use: (sftp: SFTPWrapper) => Promise<T>): Promise<T> => {
  const sftp = await openSftp(client);
  let onClose = (): void => undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new ConnectionLost({ reason: "the SFTP channel closed during the operation" }));
    sftp.once("close", onClose);
  });
  closed.catch(() => undefined); // a close after the race is settled is nobody's business
  try {
    return await Promise.race([use(sftp), closed]);
  } finally {
    sftp.removeListener("close", onClose);
    sftp.end();
  }
};
