import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type GgufFile, metaValue, readGguf } from "./gguf/reader.ts";
import type { ModelIdentity } from "./ports.ts";

const hashCache = new Map<string, Promise<string>>();

/**
 * sha256 of a file, streamed (a 60 GB model never sits in memory), cached per path + mtime +
 * size so re-identifying an unchanged file costs one stat.
 */
export const fileSha256 = async (path: string): Promise<string> => {
  const abs = resolve(path);
  const s = await stat(abs);
  const key = `${abs}\0${s.mtimeMs}\0${s.size}`;
  let pending = hashCache.get(key);
  if (pending === undefined) {
    pending = new Promise<string>((ok, fail) => {
      const h = createHash("sha256");
      createReadStream(abs, { highWaterMark: 1 << 22 })
        .on("data", (chunk) => h.update(chunk))
        .on("error", fail)
        .on("end", () => ok(h.digest("hex")));
    });
    hashCache.set(key, pending);
    pending.catch(() => hashCache.delete(key));
  }
  return pending;
};

const poolingNames = ["none", "mean", "cls", "last", "rank"] as const;

const num = (file: GgufFile, key: string): number | undefined => {
  const v = metaValue(file, key);
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined;
};

/**
 * A model follows instructions when it carries a chat template and is not one of Sophont's
 * tiny models (which mark themselves with `sophont.tiny.kind`).
 */
const followsInstructions = (file: GgufFile): boolean =>
  !file.metadata.has("sophont.tiny.kind") && file.metadata.has("tokenizer.chat_template");

/** Identity of a GGUF: content hash and the metadata callers route on. */
export const identify = async (path: string, file: GgufFile = readGguf(path)): Promise<ModelIdentity> => {
  const arch = String(metaValue(file, "general.architecture") ?? "unknown");
  const tokens = file.metadata.get("tokenizer.ggml.tokens");
  const pooling = num(file, `${arch}.pooling_type`);
  const name = metaValue(file, "general.name");
  return {
    path: resolve(path),
    sha256: await fileSha256(path),
    sizeBytes: file.fileSize,
    architecture: arch,
    name: typeof name === "string" ? name : undefined,
    vocabularySize: tokens?.kind === "array" ? tokens.value.length : num(file, `${arch}.vocab_size`),
    contextLength: num(file, `${arch}.context_length`),
    embeddingLength: num(file, `${arch}.embedding_length`),
    pooling: pooling === undefined ? undefined : poolingNames[pooling],
    instructionFollowing: followsInstructions(file),
  };
};
