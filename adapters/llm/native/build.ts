// Builds the native scorer (scorer.cc) into node_modules/.cache/sophont-native/<platform>-<arch>-<nlc version>/.
// Run by `npm install` (postinstall) and lazily by the adapter when the binary is missing. Never
// fails an install: without a toolchain it says what is missing and the adapter falls back to
// node-llama-cpp's public scoring path.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const require = createRequire(join(root, "package.json"));

/** A package's folder from its resolved entry point (some packages do not export package.json). */
const packageDir = (req: NodeRequire, name: string): string | null => {
  let dir: string;
  try { dir = dirname(req.resolve(name)); } catch { return null; }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === name) return dir;
  }
  return null;
};
const nlcDir = packageDir(require, "node-llama-cpp") ?? join(root, "node_modules", "node-llama-cpp");
const nlcRequire = createRequire(join(nlcDir, "package.json"));

/** What a built scorer was made from; compared with the libllama node-llama-cpp loads. */
export interface NativeManifest {
  /** sha256 of the addon's own sources: a changed source is rebuilt, not loaded stale. */
  readonly sources: string;
  readonly llamaCppRelease: string;
  readonly nodeLlamaCpp: string;
  readonly compiler: string;
  readonly seconds: number;
  readonly builtAt: string;
}

export type BuildResult =
  | { readonly ok: true; readonly binary: string; readonly manifest: NativeManifest; readonly built: boolean }
  | { readonly ok: false; readonly reason: string; readonly hint: string };

const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
export const nodeLlamaCppVersion = (): string => String(readJson(join(nlcDir, "package.json")).version);
/** The llama.cpp release whose source node-llama-cpp bundles (and whose headers we compile against). */
export const bundledLlamaCppRelease = (): string => String(readJson(join(nlcDir, "llama", "llama.cpp.info.json")).tag);

export const nativeDir = (): string =>
  join(root, "node_modules", ".cache", "sophont-native", `${process.platform}-${process.arch}-${nodeLlamaCppVersion()}`);
export const nativeBinary = (): string => join(nativeDir(), "sophont-scorer.node");
const manifestPath = () => join(nativeDir(), "manifest.json");

export const readManifest = (): NativeManifest | null =>
  existsSync(manifestPath()) && existsSync(nativeBinary()) ? (readJson(manifestPath()) as unknown as NativeManifest) : null;

const SOURCES = ["scorer.cc", "llama-api.h", "log-softmax.h", "one-pass.h", "batch.h"];
const sourcesHash = (): string => {
  const h = createHash("sha256");
  for (const f of SOURCES) h.update(`\0${f}\0`).update(readFileSync(join(here, f)));
  return h.digest("hex");
};

const works = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

const HINT = process.platform === "darwin"
  ? "install the command line tools: xcode-select --install"
  : "install a C++ compiler and git, e.g. apt-get install g++ git (Debian/Ubuntu) or dnf install gcc-c++ git";

const findCompiler = (): string | null =>
  [process.env.CXX, "c++", "g++", "clang++"].find((c): c is string => c !== undefined && c !== "" && works(c, ["--version"])) ?? null;

/** llama.h and ggml's headers, checked out of the llama.cpp git bundle node-llama-cpp ships (offline). */
const llamaHeaders = (out: string): string => {
  const inc = join(out, "include");
  if (existsSync(join(inc, "llama.h"))) return inc;
  // Per-process scratch names, then a rename: two processes building at once never see half a checkout.
  const src = join(out, `llama-src.${process.pid}`), tmp = `${inc}.${process.pid}`;
  const git = (...args: string[]) => {
    const r = spawnSync("git", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args[0]} failed: ${r.error?.message ?? r.stderr.trim()}`);
  };
  try {
    git("clone", "--quiet", "--no-checkout", join(nlcDir, "llama", "gitRelease.bundle"), src);
    git("-C", src, "checkout", "--quiet", "HEAD", "--", "include/llama.h", "ggml/include");
    mkdirSync(tmp, { recursive: true });
    copyFileSync(join(src, "include", "llama.h"), join(tmp, "llama.h"));
    for (const f of readdirSync(join(src, "ggml", "include"))) copyFileSync(join(src, "ggml", "include", f), join(tmp, f));
    try { renameSync(tmp, inc); } catch (e) { if (!existsSync(join(inc, "llama.h"))) throw e; } // another process won
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
  return inc;
};

/** Node-API headers: the npm package first (works however Node was installed), then Node's own. */
const nodeApiHeaders = (): string | null => {
  const candidates = [require, nlcRequire].flatMap((r) => {
    const dir = packageDir(r, "node-api-headers");
    return dir === null ? [] : [join(dir, "include")];
  });
  candidates.push(join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node");
  return candidates.find((d) => existsSync(join(d, "node_api.h"))) ?? null;
};

const addonApiHeaders = (): string | null => packageDir(require, "node-addon-api") ?? packageDir(nlcRequire, "node-addon-api");

const run = (cmd: string, args: string[]): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (e) => resolve({ code: -1, output: e.message }));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });

const compileArgs = (out: string, inc: string, napi: string, addon: string): string[] => [
  // No -march: the binary may move to another machine of the same platform (a container image).
  "-std=c++17", "-O3", "-fno-trapping-math", "-fno-math-errno", "-fPIC", "-fvisibility=hidden", "-DNAPI_VERSION=8", "-DNAPI_CPP_EXCEPTIONS",
  "-DNODE_ADDON_API_DISABLE_DEPRECATED", `-I${napi}`, `-I${addon}`, `-I${inc}`,
  join(here, "scorer.cc"), "-o", out,
  // Nothing from libllama is linked (see llama-api.h); Node's own symbols resolve at load time.
  ...(process.platform === "darwin" ? ["-bundle", "-undefined", "dynamic_lookup"] : ["-shared", "-ldl", "-pthread"]),
];

/** Builds the scorer unless an up-to-date one exists (`force` rebuilds). Never throws. */
export const buildNativeScorer = async (opts: { force?: boolean } = {}): Promise<BuildResult> => {
  const existing = readManifest();
  const sources = sourcesHash();
  if (existing !== null && existing.sources === sources && opts.force !== true) return { ok: true, binary: nativeBinary(), manifest: existing, built: false };
  if (process.platform !== "linux" && process.platform !== "darwin") return { ok: false, reason: `no native build for ${process.platform}`, hint: "the public path is used" };
  const compiler = findCompiler();
  if (compiler === null) return { ok: false, reason: "no C++ compiler found (tried $CXX, c++, g++, clang++)", hint: HINT };
  if (!works("git", ["--version"])) return { ok: false, reason: "git not found (needed to read llama.h out of node-llama-cpp's bundled llama.cpp source)", hint: HINT };
  const napi = nodeApiHeaders(), addon = addonApiHeaders();
  if (napi === null || addon === null) return { ok: false, reason: "Node-API headers not found (node-api-headers / node-addon-api packages, or Node's include/node)", hint: "run npm ci again" };
  const started = performance.now();
  const dir = nativeDir();
  try {
    mkdirSync(dir, { recursive: true });
    const inc = llamaHeaders(dir);
    const tmp = `${nativeBinary()}.${process.pid}.tmp`;
    const r = await run(compiler, compileArgs(tmp, inc, napi, addon));
    if (r.code !== 0) return { ok: false, reason: `${compiler} failed:\n${r.output.trim().split("\n").slice(0, 20).join("\n")}`, hint: HINT };
    renameSync(tmp, nativeBinary());
    const manifest: NativeManifest = {
      sources, llamaCppRelease: bundledLlamaCppRelease(), nodeLlamaCpp: nodeLlamaCppVersion(), compiler,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)), builtAt: new Date().toISOString(),
    };
    writeFileSync(manifestPath(), JSON.stringify(manifest, null, 2) + "\n");
    return { ok: true, binary: nativeBinary(), manifest, built: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e), hint: HINT };
  }
};

// `tsx adapters/llm/native/build.ts [--force]`: the postinstall entry point; always exits 0.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildNativeScorer({ force: process.argv.includes("--force") });
  if (r.ok) console.log(`sophont: native perplexity scorer ${r.built ? `built in ${r.manifest.seconds} s` : "up to date"}: ${r.binary}`);
  else console.warn(`sophont: native perplexity scorer not built (${r.reason}).\n  Perplexity will use node-llama-cpp's slower public path. To enable it: ${r.hint}, then run npx tsx adapters/llm/native/build.ts.`);
}
