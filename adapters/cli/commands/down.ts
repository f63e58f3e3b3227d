import { readFileSync, rmSync } from "node:fs";
import { defineCommand } from "../command.ts";
import { serverStateFile } from "../runtime.ts";
import { isAlive, stopPid, type ServerState } from "../../nats/server-lock.ts";

export const down = defineCommand({
  path: ["down"],
  summary: "stop this home's embedded nats-server (and the `sophont up` that owns it)",
  usage: "sophont down [--json]",
  details: [
    "Reads the home's server state (nats/server.json): the process that started the server (a",
    "`sophont up`, or a command without one) is asked to stop (SIGTERM: it stops its actors and its",
    "server cleanly), then the server itself if it still runs. Nothing to stop is not an error.",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  run: async (ctx, v) => {
    const file = serverStateFile(ctx.config.home);
    let state: ServerState | undefined;
    try {
      state = JSON.parse(readFileSync(file, "utf8")) as ServerState;
    } catch {
      state = undefined;
    }
    const running = state?.pid !== undefined && isAlive(state.pid);
    if (state && running) {
      if (state.ownerPid !== process.pid && isAlive(state.ownerPid)) await stopPid(state.ownerPid, 20_000);
      await stopPid(state.pid!, 10_000);
    }
    if (state && !isAlive(state.pid)) rmSync(file, { force: true });
    const result = { stopped: running, serverPid: state?.pid ?? null, ownerPid: state?.ownerPid ?? null, url: state?.url ?? null };
    if (v.json) return void ctx.out(JSON.stringify(result));
    ctx.out(running ? `stopped the embedded nats-server (pid ${state!.pid}, ${state!.url}) and the process that started it (pid ${state!.ownerPid})` : "no embedded nats-server runs on this home");
  },
});
