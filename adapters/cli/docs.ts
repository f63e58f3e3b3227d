import { readFileSync, writeFileSync } from "node:fs";
import { Schema } from "effect";
import { definitions } from "../../events/catalogue.ts";
import { commands as commandDefs } from "../../events/commands.ts";
import { commands } from "./commands/index.ts";
import { commandHelp } from "./main.ts";

type Json = { type?: string; enum?: unknown[]; properties?: Record<string, Json>; required?: string[]; items?: Json; anyOf?: Json[]; additionalProperties?: unknown; const?: unknown };

/** A compact TypeScript-like rendering of a JSON Schema, for people reading the catalogue. */
const typeOf = (s: Json): string => {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(" \\| ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" \\| ");
  if (s.type === "array") return `${s.items ? typeOf(s.items) : "unknown"}[]`;
  if (s.type === "object" && s.properties) {
    const req = new Set(s.required ?? []);
    return `{ ${Object.entries(s.properties).map(([k, v]) => `${k}${req.has(k) ? "" : "?"}: ${typeOf(v)}`).join(", ")} }`;
  }
  if (s.type === "object") return "object";
  return s.type ?? "unknown";
};

const jsonSchema = (schema: Schema.Top): Json => (Schema.toJsonSchemaDocument(schema as never) as { schema: Json }).schema;

/** The event catalogue, made from the schemas themselves. */
export const eventCatalogue = (): string =>
  [
    "| event | version | subject | payload | what it records |",
    "| --- | --- | --- | --- | --- |",
    ...definitions.map(
      (d) => `| \`${d.type}\` | ${d.version}${d.past.length ? ` (upcasts v${d.past.map((p) => p.version).join(", v")})` : ""} | \`sophont.evt.${d.family}.<id>\` | \`${typeOf(jsonSchema(d.schema))}\` | ${d.description} |`,
    ),
    "",
    "Commands (request/reply; answered with the events they caused, or a refusal):",
    "",
    "| command | subject | decided by | payload | agents | what it does |",
    "| --- | --- | --- | --- | --- | --- |",
    ...commandDefs.map((c) => `| \`${c.type}\` | \`${c.subject}\` | ${c.actor} | \`${typeOf(jsonSchema(c.schema))}\` | ${c.forAgents ? "yes" : "no"} | ${c.description} |`),
  ].join("\n");

/** The CLI reference: every command's `--help`, verbatim. */
export const cliReference = (): string =>
  commands.map((c) => [`### \`sophont ${c.path.join(" ")}\``, "", "```text", commandHelp(c), "```"].join("\n")).join("\n\n");

const between = (text: string, name: string, body: string): string => {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} block`);
  return text.slice(0, a + begin.length) + "\n" + body + "\n" + text.slice(b);
};

export const readmePath = new URL("../../README.md", import.meta.url);

/** The README with its generated blocks brought up to date. */
export const renderReadme = (text = readFileSync(readmePath, "utf8")): string =>
  between(between(text, "cli", cliReference()), "events", eventCatalogue());

export const writeReadme = (): boolean => {
  const before = readFileSync(readmePath, "utf8");
  const after = renderReadme(before);
  if (after !== before) writeFileSync(readmePath, after);
  return after !== before;
};

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!) && process.argv.includes("--write")) {
  console.log(writeReadme() ? "README.md updated" : "README.md already up to date");
}
