// The airlock at ingest: private inputs (flag, path glob, JSONL field) and a content store that
// lives on a remote NATS server (only what the policy lets leave is stored there).
import type { IngestPrivacy } from "../ingest/ingest.ts";
import type { Egress } from "./egress.ts";
import { privatePathMatch } from "./policy.ts";

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0)$/i;

/** Whether any server of a NATS URL list lies off this machine (its content store then leaves Node A). */
export const isRemoteNats = (urls: string): boolean =>
  urls.split(",").some((u) => {
    const t = u.trim();
    if (!t) return false;
    try {
      return !LOOPBACK.test(new URL(t.includes("://") ? t : `nats://${t}`).hostname);
    } catch {
      return true;
    }
  });

/** The error ingest stops with when the policy keeps every text off the remote server. */
export class RemoteContentRefused extends Error {
  override readonly name = "RemoteContentRefused";
}

/**
 * IngestPrivacy under the egress module's policy. `flag`: every input of this ingest is private.
 * `remoteTarget`: the remote server's URL (no credentials), when the content store lives there.
 */
export const ingestPrivacy = (egress: Egress, opts: { flag: boolean; remoteTarget?: string; correlationId: string }): IngestPrivacy => {
  const field = egress.policy.privateField;
  let batch = 0;
  return {
    privateOf: (path, metadata) => {
      if (opts.flag) return { by: "flag", detail: "--private" };
      const glob = privatePathMatch(egress.policy, path);
      if (glob) return { by: "path", detail: glob };
      if (field && metadata && metadata[field] === true) return { by: "field", detail: field };
      return undefined;
    },
    ...(opts.remoteTarget
      ? {
          remote: {
            admit: (text, isPrivate) => egress.seal("nats-remote", text, isPrivate),
            record: (sent, redactions, texts, withheld) =>
              egress.record(`ingest:${opts.correlationId}:${batch++}`, { destination: "nats-remote", target: opts.remoteTarget!, purpose: `texts for the content store (ingest ${opts.correlationId})`, sent, redactions, texts, withheld }),
          },
        }
      : {}),
  };
};
