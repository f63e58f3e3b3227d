// Typed failures of the SSH adapter (Effect tagged errors: plain `Error`s with a `_tag`, so promise
// code can throw them and Effect code can `catchTag` them). Each carries what the user needs to act
// (host, fingerprints, the failing step) and nothing secret: no key material, no passphrase, no
// command environment.
import { Data } from "effect";
import type { GpuExpectation, GpuInfo } from "../../actors/muscle/ports.ts";

/** The host presented a key that nobody pinned: run `sophont host trust NAME` to pin it. */
export class HostKeyUnknownError extends Data.TaggedError("HostKeyUnknownError")<{ readonly host: string; readonly presented: string }> {
  override get message() {
    return `host key of ${this.host} is not pinned (presented ${this.presented}); trust it explicitly before connecting`;
  }
}

/** The host presented a key other than the pinned one: refused, possibly a man in the middle. */
export class HostKeyMismatchError extends Data.TaggedError("HostKeyMismatchError")<{
  readonly host: string;
  readonly expected: string;
  readonly presented: string;
}> {
  override get message() {
    return `host key of ${this.host} changed: expected ${this.expected}, presented ${this.presented}; refusing to connect`;
  }
}

/** The server refused our key, or the key could not be read; never retried. */
export class AuthenticationError extends Data.TaggedError("AuthenticationError")<{ readonly host: string; readonly user: string; readonly reason: string }> {
  override get message() {
    return `authentication of ${this.user}@${this.host} failed: ${this.reason}`;
  }
}

/** The connection could not be made, or kept dropping, after every retry. */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{ readonly host: string; readonly attempts: number; readonly reason: string }> {
  override get message() {
    return `connection to ${this.host} failed after ${this.attempts} attempt(s): ${this.reason}`;
  }
}

/** The host's GPUs do not meet what the hosts file (or the job) expects of it. */
export class GpuExpectationError extends Data.TaggedError("GpuExpectationError")<{
  readonly host: string;
  readonly expected: GpuExpectation;
  readonly found: readonly GpuInfo[];
}> {
  override get message() {
    const found = this.found.map((g) => `${g.name} (${g.memoryMiB} MiB)`).join(", ") || "no CUDA GPU";
    return `${this.host} does not meet the GPU expectation ${JSON.stringify(this.expected)}: found ${found}`;
  }
}

/** A transferred file's sha256 differs between the two ends. */
export class TransferVerificationError extends Data.TaggedError("TransferVerificationError")<{
  readonly path: string;
  readonly expected: string;
  readonly actual: string;
}> {
  override get message() {
    return `sha256 of ${this.path} does not match: expected ${this.expected}, got ${this.actual}`;
  }
}

/** A remote step ran but failed; `stderr` is the command's own output, trimmed to its last 4000 characters. */
export class RemoteCommandError extends Data.TaggedError("RemoteCommandError")<{
  readonly host: string;
  readonly step: string;
  readonly code: number | null;
  readonly stderr: string;
}> {
  override get message() {
    return `${this.step} on ${this.host} failed (exit ${this.code}): ${this.stderr.slice(-500)}`;
  }
}

/** The hosts file is missing, unreadable or invalid; `issues` lists every problem with its JSON path. */
export class HostsFileError extends Data.TaggedError("HostsFileError")<{ readonly file: string; readonly issues: readonly string[] }> {
  override get message() {
    return `${this.file}:\n  ${this.issues.join("\n  ")}`;
  }
}

export type SshError =
  | HostKeyUnknownError | HostKeyMismatchError | AuthenticationError | ConnectionError
  | GpuExpectationError | TransferVerificationError | RemoteCommandError | HostsFileError;

/** Internal: the link dropped during an operation; SshConnection.run retries on it. */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly reason: string }> {
  override get message() {
    return this.reason;
  }
}
