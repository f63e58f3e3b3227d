#!/usr/bin/env node
// The `sophont` command. It runs the compiled CLI (adapters/cli/build.mjs, made at install) when it is
// as new as the sources, and otherwise the TypeScript sources through tsx's loader (recompiling in the
// background for the next start). It calls the entry itself: npx, npm exec, a global install or any
// symlink reach this file under another name in argv[1], so main.ts must never guess from argv.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { spawn } from "node:child_process";
import { fingerprint, outDir } from "./build.mjs";

const compiled = join(outDir, "main.js");
const stampFile = join(outDir, "fingerprint.txt");
const fresh = process.env.SOPHONT_CLI_SOURCES !== "1" && existsSync(compiled) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === fingerprint();
let entry;
let manifest;
if (fresh) {
  entry = await import(pathToFileURL(compiled).href);
  // Every command's words, help and flags, so that only the command that runs is imported.
  const file = join(outDir, "commands.json");
  if (existsSync(file)) {
    const specs = JSON.parse(readFileSync(file, "utf8"));
    manifest = { specs, load: async (spec) => (await import(pathToFileURL(join(outDir, spec.module)).href))[spec.export] };
  }
} else {
  if (process.env.SOPHONT_CLI_SOURCES !== "1" && process.env.SOPHONT_CLI_NO_BUILD !== "1") {
    // Recompile for the next start, detached, never delaying this one.
    spawn(process.execPath, [new URL("./build.mjs", import.meta.url).pathname], { detached: true, stdio: "ignore", env: { ...process.env, SOPHONT_CLI_NO_BUILD: "1" } }).unref();
  }
  const { register } = await import("tsx/esm/api");
  register();
  entry = await import("./main.ts");
}
await entry.runAsProcess(process.argv.slice(2), manifest);
