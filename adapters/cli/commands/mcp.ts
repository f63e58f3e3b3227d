import { readFileSync } from "node:fs";
import { defineCommand } from "../command.ts";
import { openRuntime } from "../runtime.ts";
import { serveMcp } from "../../mcp/protocol.ts";
import { sophontTools } from "../../mcp/tools.ts";

export const mcp = defineCommand({
  path: ["mcp"],
  summary: "run a Model Context Protocol server on stdio, so agent clients can read the log and approve mitoses",
  usage: "sophont mcp",
  details: [
    "Tools: events_tail, ledger, centroids, audit_input, mitosis_approve, mitosis_decline. Commands reach the",
    "actors of a running `sophont up`. It connects as the `mcp` NATS user, in an account of its own: it reads",
    "a mirror of the event stream (never the content store) and its commands are recorded as sent by `mcp`.",
    "With SOPHONT_NATS_URL set, give the mcp user's password in SOPHONT_NATS_PASSWORD.",
    "Example client entry: {\"command\": \"npx\", \"args\": [\"sophont\", \"mcp\"]}.",
  ].join("\n"),
  options: {},
  run: async (ctx) => {
    const config = { ...ctx.config, natsUser: ctx.config.natsUser === "soul" ? "mcp" : ctx.config.natsUser };
    const rt = await openRuntime(config, ctx.err);
    const version = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
    try {
      ctx.err(`sophont mcp: serving on stdio (NATS ${rt.server.url} as ${config.natsUser})`);
      await serveMcp(sophontTools({ store: rt.store, nc: rt.nc, sender: config.natsUser }), { input: process.stdin, output: process.stdout, version });
    } finally {
      await rt.close();
    }
  },
});
