// One SSH connection to one host, re-opened with exponential backoff when it drops. The host key is
// checked against the pin inside the handshake, before any credential is offered.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import ssh2, { Client } from "ssh2";
import { AuthenticationError, ConnectionError, ConnectionLost, HostKeyMismatchError, HostKeyUnknownError } from "./errors.ts";

/** Where and as whom to connect; `hostKeyFingerprint` is the pin (`SHA256:...`). */
export interface SshTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly keyPath: string;
  /** Name of an environment variable holding the key's passphrase (the passphrase never lives in files). */
  readonly passphraseEnv?: string;
  readonly hostKeyFingerprint?: string;
}

/** Exponential backoff (±20% jitter) between tries of one operation; ConnectionError when spent. */
export interface RetryPolicy {
  /** Total tries per operation, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** How a connection is kept: retries, timeouts and hooks for telemetry. */
export interface ConnectionOptions {
  readonly retry?: Partial<RetryPolicy>;
  readonly readyTimeoutMs?: number;
  /** SSH-level keepalive, so a silently dead link is noticed (default 10 s, 3 misses). */
  readonly keepaliveIntervalMs?: number;
  /** Told about each connection made (the first and every reconnect). */
  readonly onConnected?: (info: { readonly host: string }) => void;
  /** Told about each retry (for a span or a log line); never given secrets. */
  readonly onRetry?: (info: { readonly attempt: number; readonly delayMs: number; readonly reason: string }) => void;
}

/** About 6 s of trying in all: long enough for a flaky link, short enough to report a dead host. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 5_000 };

/** OpenSSH's fingerprint of a raw public key blob: `SHA256:` + unpadded base64 of its sha256. */
export const fingerprintOfKey = (blob: Buffer): string =>
  `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

const LINK_ERROR_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

/**
 * `link`: the connection is gone (retry on a new one); `channel`: one channel failed on a link that
 * may be fine (retry, keep the link for the other operations on it); `fatal`: not ours to retry.
 */
const classify = (error: unknown): "link" | "channel" | "fatal" => {
  if (error instanceof ConnectionLost) return "channel";
  if (!(error instanceof Error)) return "fatal";
  const { level, code } = error as Error & { level?: string; code?: string };
  if (level === "client-socket" || level === "client-timeout" || (code && LINK_ERROR_CODES.has(code))) return "link";
  if (/Timed out while waiting for handshake|Not connected/.test(error.message)) return "link";
  if (/No response from server|Channel open failure/.test(error.message)) return "channel";
  return "fatal";
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lazily opened, self-healing connection; `run` retries an operation across reconnects. */
export class SshConnection {
  private current: Promise<Client> | undefined;
  private readonly retry: RetryPolicy;
  private readonly closed = new WeakSet<Client>();
  private live: Client | undefined;

  constructor(readonly target: SshTarget, private readonly options: ConnectionOptions = {}) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** Runs `operation`, reconnecting and running it again (with backoff) when the link drops. */
  async run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: Client | undefined;
      try {
        client = await this.client();
        return await operation(client);
      } catch (error) {
        // Any failure on a link that has since closed is the link's fault, whatever its message.
        const kind = client !== undefined && this.closed.has(client) ? "link" : classify(error);
        if (kind === "fatal") throw error;
        if (kind === "link") this.drop(client);
        const reason = error instanceof Error ? error.message : String(error);
        if (attempt >= this.retry.attempts) throw new ConnectionError({ host: this.target.name, attempts: attempt, reason });
        const delayMs = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const jittered = Math.round(delayMs * (0.8 + Math.random() * 0.4));
        this.options.onRetry?.({ attempt, delayMs: jittered, reason });
        await sleep(jittered);
      }
    }
  }

  /** The open client, connecting first when needed (a single connect is shared by concurrent callers). */
  async client(): Promise<Client> {
    const existing = this.current && (await this.current.catch(() => undefined));
    if (existing && this.closed.has(existing)) this.current = undefined;
    this.current ??= this.open().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  /** Closes the link; the next operation opens a new one. */
  async close(): Promise<void> {
    const pending = this.current;
    this.current = undefined;
    this.live = undefined;
    if (!pending) return;
    const client = await pending.catch(() => undefined);
    if (!client) return;
    await new Promise<void>((resolve) => {
      client.once("close", () => resolve());
      client.end();
      setTimeout(resolve, 1_000).unref();
    });
  }

  /** Forgets a dead client; one that another caller has already replaced is left alone. */
  private drop(failed: Client | undefined): void {
    failed?.destroy();
    if (failed !== undefined && this.live === failed) {
      this.live = undefined;
      this.current = undefined;
    }
  }

  private async open(): Promise<Client> {
    const { target } = this;
    const credentials = await readCredentials(target);
    let refusal: Error | undefined;
    const client = new Client();
    return new Promise<Client>((resolve, reject) => {
      client.once("ready", () => {
        client.removeAllListeners("error");
        client.on("error", () => undefined); // later socket errors surface as failed operations
        client.once("close", () => this.closed.add(client));
        this.live = client;
        this.options.onConnected?.({ host: target.name });
        resolve(client);
      });
      client.once("error", (error: Error & { level?: string }) => {
        client.destroy();
        if (refusal) return reject(refusal);
        if (error.level === "client-authentication") reject(new AuthenticationError({ host: target.name, user: target.user, reason: "the server refused the key" }));
        else reject(error);
      });
      client.once("close", () => reject(refusal ?? new ConnectionLost({ reason: `connection to ${target.name} closed during handshake` })));
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        ...credentials,
        readyTimeout: this.options.readyTimeoutMs ?? 20_000,
        keepaliveInterval: this.options.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          refusal = checkHostKey(target, fingerprintOfKey(key));
          return refusal === undefined;
        },
      });
    });
  }
}

/** The pin decides; there is no "accept new keys" mode (trust is a separate, explicit step). */
const checkHostKey = (target: SshTarget, presented: string): Error | undefined => {
  const expected = target.hostKeyFingerprint;
  if (expected === undefined) return new HostKeyUnknownError({ host: target.name, presented });
  if (expected !== presented) return new HostKeyMismatchError({ host: target.name, expected, presented });
  return undefined;
};

// ssh2 is CommonJS and Node's ESM loader does not see its `utils` export by name, hence the default.

/** Reads and checks the key before any connection, so a bad key or passphrase fails fast and typed. */
const readCredentials = async (target: SshTarget): Promise<{ privateKey: Buffer; passphrase?: string }> => {
  const privateKey = await readFile(target.keyPath).catch((error: NodeJS.ErrnoException) => {
    throw new AuthenticationError({ host: target.name, user: target.user, reason: `cannot read the key file ${target.keyPath} (${error.code})` });
  });
  const passphrase = target.passphraseEnv ? process.env[target.passphraseEnv] : undefined;
  // ssh2's message names no secret, but it is not ours to forward either: say what to check instead.
  if (ssh2.utils.parseKey(privateKey, passphrase) instanceof Error) {
    const hint = target.passphraseEnv ? `is ${target.passphraseEnv} set to its passphrase?` : "if it is encrypted, name its passphrase variable in passphraseEnv";
    throw new AuthenticationError({ host: target.name, user: target.user, reason: `the key ${target.keyPath} could not be read as a private key (${hint})` });
  }
  return passphrase === undefined ? { privateKey } : { privateKey, passphrase };
};
