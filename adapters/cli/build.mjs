// Compiles the CLI once (at install, and again by bin.mjs when a source changed) into one ES module
// with lazily loaded chunks, so `sophont` starts without tsx's loader and without loading every
// command's dependencies: each command file is an entry of its own, and `commands.json` holds every
// command's words, help and flags (read from the compiled commands once, here), so `--help` and the
// parsing of flags import no command at all; bin.mjs hands it to main, which loads only the one that runs. Sources keep their own import.meta.url, so paths relative to a source file
// (the corpus, nats.conf, the native addon, the trainer) resolve as they do under tsx.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";

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

/** What the compiled CLI imports from node_modules at run time instead of bundling. */
const EXTERNAL = ["node-llama-cpp", "@lancedb/*", "ssh2", "esbuild", "tsx", "tsx/*", "@opentelemetry/*", "node-addon-api", "node-api-headers", "playwright-core", "vitest", "@modelcontextprotocol/*"];

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
  const commandsDir = join(root, "adapters", "cli", "commands");
  const commandFiles = readdirSync(commandsDir).filter((f) => f.endsWith(".ts"));
  await build({
    entryPoints: { main: join(root, "adapters", "cli", "main.ts"), ...Object.fromEntries(commandFiles.map((f) => [`commands/${f.slice(0, -3)}`, join(commandsDir, f)])) },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Pure-JS ESM packages (NATS's client, effect, xstate) are bundled: loading their hundreds of files
    // one by one was most of a command's start. Native addons, CommonJS and tools stay outside.
    external: EXTERNAL,
    // Bundled CommonJS (nkeys, js-sha256) may require Node's built-ins: give each chunk a require.
    banner: { js: 'import { createRequire as __sophontRequire } from "node:module"; const require = __sophontRequire(import.meta.url);' },
    chunkNames: "chunks/[name]-[hash]",
    plugins: [keepMetaUrl],
    logLevel: "warning",
  });
  writeFileSync(join(tmp, "commands.json"), commandManifest(tmp, commandFiles.map((f) => `commands/${f.slice(0, -3)}.js`)));
  writeFileSync(join(tmp, "fingerprint.txt"), stamp);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
};

/**
 * Every command's metadata, in the order of commands/index.ts, with the compiled module and export
 * that hold it. Read in a child process: importing the commands loads all their dependencies, which
 * this process (or a benchmark that builds) should not keep.
 */
const commandManifest = (dir, modules) => {
  const script = `
    const dir = ${JSON.stringify(pathToFileURL(dir + "/").href)};
    const modules = ${JSON.stringify(modules)};
    const { commands } = await import(new URL("commands/index.js", dir).href);
    const where = new Map();
    for (const m of modules) for (const [name, value] of Object.entries(await import(new URL(m, dir).href))) if (value && Array.isArray(value.path) && typeof value.run === "function" && !where.has(value)) where.set(value, { module: m, export: name });
    const out = commands.map((c) => {
      if (!where.has(c)) throw new Error("command " + c.path.join(" ") + " is not exported by a file of adapters/cli/commands");
      const { path, summary, usage, details, options } = c;
      return { path, summary, usage, ...(details ? { details } : {}), options, ...where.get(c) };
    });
    process.stdout.write(JSON.stringify(out));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, env: { ...process.env, OTEL_SDK_DISABLED: "true" } });
  if (r.status !== 0) throw new Error(`reading the commands' metadata failed: ${r.stderr.slice(-500)}`);
  return r.stdout;
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
