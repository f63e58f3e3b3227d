// Compiles the CLI once (at install, and again by bin.mjs when a source changed) into one ES module
// with lazily loaded chunks, so `sophont` starts without tsx's loader and without loading every
// command's dependencies. Sources keep their own import.meta.url, so paths relative to a source file
// (the corpus, nats.conf, the native addon, the trainer) resolve as they do under tsx.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const outDir = join(root, "node_modules", ".cache", "sophont-cli");
const SOURCE_DIRS = ["actors", "adapters", "events", "projections"];

/** Every source file's path, size and mtime: changes when any source does (no file is read). */
export const fingerprint = () => {
  const parts = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && !e.name.startsWith(".")) walk(p);
      } else if (/\.(ts|mjs|json)$/.test(e.name)) {
        const s = statSync(p);
        parts.push(`${relative(root, p)}:${s.size}:${Math.floor(s.mtimeMs)}`);
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  const pkg = statSync(join(root, "package.json"));
  parts.push(`package.json:${pkg.size}:${Math.floor(pkg.mtimeMs)}`);
  return parts.sort().join("\n");
};

export const buildCli = async () => {
  const { build } = await import("esbuild");
  const stamp = fingerprint();
  // Built beside, then swapped in: a `sophont` starting meanwhile sees the old build or none, never half of one.
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const keepMetaUrl = {
    name: "keep-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => ({
        contents: readFileSync(args.path, "utf8").replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
        loader: "ts",
      }));
    },
  };
  await build({
    entryPoints: { main: join(root, "adapters", "cli", "main.ts") },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    chunkNames: "chunks/[name]-[hash]",
    plugins: [keepMetaUrl],
    logLevel: "warning",
  });
  writeFileSync(join(tmp, "fingerprint.txt"), stamp);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await buildCli();
    console.log(`sophont: CLI compiled into ${relative(root, outDir)}`);
  } catch (e) {
    // Never fail an install over it: bin.mjs runs the sources through tsx instead.
    console.log(`sophont: CLI not compiled (${e.message}); it runs from the TypeScript sources, slower to start`);
  }
}
