import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commands as commandDefs } from "../../../events/commands.ts";
import { allEventSubjects } from "../../../events/subjects.ts";
import { loadOrCreateSecrets } from "../../nats/server.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../format.ts";
import { embeddedPort } from "../runtime.ts";

export const agentAdd = defineCommand({
  path: ["agent", "add"],
  summary: "make credentials for an outside agent: read events, send the documented agent commands, nothing else",
  usage: "sophont agent add NAME [--url nats://HOST:PORT]",
  details: [
    "Writes $SOPHONT_HOME/agents/NAME.json (mode 0600) with the NATS URL, the `agent` user's password and",
    "the subjects the role may use (nats.conf enforces them: no event publishing, no deletes). Agents",
    "share the role's password; rotate it by removing secrets/nats.json and restarting `sophont up`.",
    "--url defaults to the embedded server's stable address for this home.",
  ].join("\n"),
  options: { url: { type: "string" } },
  run: async (ctx, v, args) => {
    const name = args[0];
    if (!name || args.length > 1 || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new UsageError("name one agent: letters, digits, - and _");
    const secrets = loadOrCreateSecrets(ctx.config.home);
    const url = (v.url as string | undefined) ?? ctx.config.natsUrl ?? `nats://127.0.0.1:${embeddedPort(ctx.config.home)}`;
    const dir = join(ctx.config.home, "agents");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${name}.json`);
    const creds = {
      name,
      url,
      user: "agent",
      password: secrets.agent,
      headers: { "Sophont-Sender": `agent:${name}` },
      read: { stream: "SOPHONT_EVENTS", subjects: allEventSubjects, how: "create your own (ephemeral or durable) consumers on the stream" },
      commands: commandDefs.filter((c) => c.forAgents).map((c) => ({ type: c.type, subject: c.subject, description: c.description })),
    };
    writeFileSync(file, JSON.stringify(creds, null, 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
    ctx.out(`credentials for agent ${name}: ${file}`);
    ctx.out(`connect to ${url} as user "agent"; send commands with the header Sophont-Sender: agent:${name}`);
    ctx.out(`commands open to agents: ${creds.commands.map((c) => c.subject).join(", ") || "(none)"}`);
  },
});
