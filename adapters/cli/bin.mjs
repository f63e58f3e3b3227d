#!/usr/bin/env node
// The `sophont` command. TypeScript sources run through tsx's loader, so there is no build step.
// It calls the entry itself: npx, npm exec, a global install or any symlink reach this file under
// another name in argv[1], so main.ts must never guess from argv whether it is the program.
import { register } from "tsx/esm/api";

register();
const { runAsProcess } = await import("./main.ts");
await runAsProcess(process.argv.slice(2));
