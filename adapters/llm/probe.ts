import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Effect } from "effect";
import { ModelProbeError, reasonOf } from "./errors.ts";
import { GgufFormatError, metaValue, readGguf } from "./gguf/reader.ts";

export type ProbeKind = "generation" | "embedding";

/** Keys without which llama.cpp aborts (GGML_ASSERT) instead of failing politely, per architecture. */
const REQUIRED_KEYS: Record<string, readonly string[]> = {
  llama: ["context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count", "attention.layer_norm_rms_epsilon"],
};
const TOKENIZER_KEYS = ["tokenizer.ggml.model", "tokenizer.ggml.tokens"];

const childScript = fileURLToPath(new URL("./probe-child.ts", import.meta.url));
const tsxLoader = () => {
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  return pathToFileURL(join(dirname(pkg), "dist", "loader.mjs")).href;
};

/** Parent-side checks: the header parses, tensors fit in the file, the keys llama.cpp asserts on exist. */
const checkHeader = (path: string): string | undefined => {
  try {
    const file = readGguf(path);
    if (metaValue(file, "general.type") === "adapter") return undefined;
    const arch = String(metaValue(file, "general.architecture") ?? "");
    if (arch === "") return "missing general.architecture";
    const missing = [...(REQUIRED_KEYS[arch] ?? []).map((k) => `${arch}.${k}`), ...TOKENIZER_KEYS].filter((k) => !file.metadata.has(k));
    return missing.length > 0 ? `missing metadata ${missing.join(", ")}` : undefined;
  } catch (e) {
    return e instanceof GgufFormatError ? e.reason : reasonOf(e);
  }
};

/** The child-process half of the probe alone (no header checks): exposed for tests and tools. */
export const probeInChild = (path: string, kind: ProbeKind, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string; detail?: string }> =>
  new Promise((ok) => {
    const child = spawn(process.execPath, ["--import", tsxLoader(), childScript, path, kind], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("SOPHONT_PROBE "));
      const detail = err.trim().split("\n").slice(-8).join("\n");
      if (line !== undefined) {
        const r = JSON.parse(line.slice("SOPHONT_PROBE ".length)) as { ok: boolean; reason?: string };
        return ok(r.ok ? { ok: true } : { ok: false, reason: `llama.cpp refused it: ${r.reason}`, detail });
      }
      const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
      const assert = /GGML_ASSERT[^\n]*/.exec(err)?.[0];
      ok({ ok: false, reason: `llama.cpp crashed while loading it (${how})${assert ? `: ${assert}` : ""}`, detail });
    });
  });

const probed = new Map<string, Promise<void>>();

/**
 * Checks a GGUF before the Soul loads it: the header in this process, then a real load and one
 * evaluation in a child process, so an abort inside llama.cpp becomes a ModelProbeError here.
 * A success is remembered per path + mtime + size.
 */
export const probeModel = (path: string, kind: ProbeKind = "generation", timeoutMs = 120_000): Effect.Effect<void, ModelProbeError> =>
  Effect.tryPromise({
    try: async () => {
      const abs = resolve(path);
      const s = await stat(abs).catch(() => { throw new ModelProbeError({ path: abs, reason: "file not found" }); });
      const key = `${abs}\0${kind}\0${s.mtimeMs}\0${s.size}`;
      const known = probed.get(key);
      if (known !== undefined) return known;
      const headerProblem = checkHeader(abs);
      if (headerProblem !== undefined) throw new ModelProbeError({ path: abs, reason: headerProblem });
      const r = await probeInChild(abs, kind, timeoutMs);
      if (!r.ok) throw new ModelProbeError({ path: abs, reason: r.reason, ...(r.detail ? { detail: r.detail } : {}) });
      probed.set(key, Promise.resolve());
    },
    catch: (e) => (e instanceof ModelProbeError ? e : new ModelProbeError({ path, reason: reasonOf(e) })),
  });
