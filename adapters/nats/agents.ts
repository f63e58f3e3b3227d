import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EVENT_STREAM } from "../../events/subjects.ts";
import { commands as commandDefs } from "../../events/commands.ts";
import { AGENT_NAME, AgentNameError, IMPORTED_API, agentAccount, agentConsumer, agentUser } from "./accounts.ts";

// Outside agents' identities, kept as files in $SOPHONT_HOME/agents/ (what the server config is made
// from, and what each agent is given), and the move of an older home to them.

/** One outside agent's identity, kept in $SOPHONT_HOME/agents/NAME.json (mode 0600). */
export interface AgentIdentity {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  readonly account: string;
  readonly created: string;
}

const agentsDir = (home: string): string => join(home, "agents");
const agentFile = (home: string, name: string): string => join(agentsDir(home), `${name}.json`);

const checkName = (name: string): void => {
  if (!AGENT_NAME.test(name)) throw new AgentNameError(`agent name ${JSON.stringify(name)}: use 1-64 letters, digits, - and _`);
};

/** nats-server reads an unquoted config token oddly; a password of a letter and hex digits is always a string. */
export const newPassword = (): string => `pw${randomBytes(20).toString("hex")}`;

/** The agents this home knows, by name. Files that are not agent identities are skipped: they grant nothing. */
export const listAgents = (home: string): AgentIdentity[] => {
  const dir = agentsDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => {
      try {
        return JSON.parse(readFileSync(join(dir, f), "utf8")) as Partial<AgentIdentity>;
      } catch {
        return {}; // not an identity (unreadable or not JSON): it grants nothing
      }
    })
    .filter((a): a is AgentIdentity => typeof a.name === "string" && AGENT_NAME.test(a.name) && a.user === agentUser(a.name) && typeof a.password === "string")
    .sort((a, b) => a.name.localeCompare(b.name));
};

/** Writes an agent's file: its identity plus whatever the caller adds for the agent to read (URL, subjects). */
export const writeAgentFile = (home: string, identity: AgentIdentity, extra: Record<string, unknown> = {}): string => {
  checkName(identity.name);
  mkdirSync(agentsDir(home), { recursive: true, mode: 0o700 });
  const file = agentFile(home, identity.name);
  writeFileSync(file, JSON.stringify({ ...identity, ...extra }, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
};

export const newAgentIdentity = (name: string, now = new Date()): AgentIdentity => {
  checkName(name);
  return { name, user: agentUser(name), password: newPassword(), account: agentAccount(name), created: now.toISOString() };
};

/** Forgets an agent's identity; false when there was none. */
export const removeAgentFile = (home: string, name: string): boolean => {
  checkName(name);
  const file = agentFile(home, name);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
};
/** A documented agent command: its subject as the agent publishes it and a request the wire accepts. */
export interface AgentCommandDoc {
  readonly type: string;
  readonly subject: string;
  readonly description: string;
  readonly example: { readonly id: string; readonly command: Record<string, string> };
}

const EXAMPLES: Record<string, Record<string, string>> = {
  ApproveMitosis: { type: "ApproveMitosis", proposalId: "mitosis-ac-2026-11-04-0" },
  DeclineMitosis: { type: "DeclineMitosis", proposalId: "mitosis-ac-2026-11-04-0", reason: "a hobby, not a field" },
};

/** The commands open to agents (and to the MCP server), each with an example request. */
export const agentCommandDocs = (): AgentCommandDoc[] =>
  commandDefs
    .filter((c) => c.forAgents)
    .map((c) => ({ type: c.type, subject: c.subject, description: c.description, example: { id: `${c.type}-1`, command: EXAMPLES[c.type] ?? { type: c.type } } }));

/**
 * What an agent's file tells the agent besides its identity: where to connect, how to read, what to
 * send. `embedded`: the URL is the home's embedded server's, kept current by repointAgents.
 */
export const agentFileExtras = (identity: Pick<AgentIdentity, "name">, url: string, embedded = false) => ({
  url,
  ...(embedded ? { embedded: true } : {}),
  read: {
    apiPrefix: IMPORTED_API,
    stream: EVENT_STREAM,
    consumer: agentConsumer(identity.name),
    how: `jetstream(nc, { apiPrefix: "${IMPORTED_API}" }).consumers.get("${EVENT_STREAM}", "${agentConsumer(identity.name)}"), then next/fetch/consume and ack each message; the consumer is durable, made by Sophont, and yours alone`,
  },
  commands: agentCommandDocs(),
});

/**
 * Points the agent files that name the home's embedded server at the URL it runs on now: it takes
 * another port when its stable one is busy (another home's server may hold it), and an agent must
 * never be sent to another home's server. Files whose URL was given (`--url`) are left as they are.
 * Returns the names of the agents whose files changed.
 */
export const repointAgents = (home: string, url: string): string[] => {
  const changed: string[] = [];
  for (const a of listAgents(home)) {
    const file = agentFile(home, a.name);
    const f = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    if (f.embedded !== true || f.url === url) continue;
    writeFileSync(file, JSON.stringify({ ...f, url }, null, 2) + "\n", { mode: 0o600 });
    changed.push(a.name);
  }
  return changed;
};

/**
 * Moves a home from the shared `agent` user (before per-agent accounts) to one identity per agent:
 * every agent file with `user: "agent"` gets a new user and password. Returns what to tell the user,
 * once (the files no longer look old afterwards), or undefined when there was nothing to move.
 */
export const upgradeSharedAgentRole = (home: string, urlOf: (old: Record<string, unknown>) => string): string | undefined => {
  const dir = agentsDir(home);
  const secretsFile = join(home, "secrets", "nats.json");
  const sharedPassword = existsSync(secretsFile) && (JSON.parse(readFileSync(secretsFile, "utf8")) as { agent?: unknown }).agent !== undefined;
  const moved: string[] = [];
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
      let old: Record<string, unknown>;
      try {
        old = JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown>;
      } catch {
        continue;
      }
      const name = typeof old.name === "string" ? old.name : f.slice(0, -5);
      if (old.user !== "agent" || !AGENT_NAME.test(name)) continue;
      const identity = newAgentIdentity(name);
      writeAgentFile(home, identity, agentFileExtras(identity, urlOf(old)));
      moved.push(name);
    }
  }
  if (!sharedPassword && moved.length === 0) return undefined;
  return (
    "NATS credentials upgraded: every outside agent now has an account of its own, and the shared `agent` user and its password no longer work." +
    (moved.length ? ` New credentials for ${moved.join(", ")} in ${dir}/; give each agent its new file.` : "")
  );
};
