// Telemetry through the airlock: the real `sophont` (its real OpenTelemetry OTLP/HTTP exporter) sends
// a real night's spans to a real OTLP receiver on loopback. A secret planted in a file name and a
// private input's text and name never reach it; changing the policy changes what leaves; every
// export is in the log as EgressRecorded whose bytes and sha256 are those the receiver got.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData } from "../../../events/catalogue.ts";
import { runSophont } from "../../support/cli.ts";
import { collect } from "../../support/events.ts";
import { useTestLog } from "../../support/nats.ts";
import { sha256, startOtlpReceiver, type OtlpReceiver } from "../../support/otlp-receiver.ts";
import { sectionDescriptions } from "../../support/debian-corpus.ts";

const log = useTestLog();
const home = mkdtempSync(join(tmpdir(), "sophont-otlp-"));
const DAY = "2026-12-01";
const SECRET = "captain.hook@jolly-roger.example";
const PRIVATE_WORDS = "Marguerite's letter about the Thursday appointment";
let receiver: OtlpReceiver;

const config = (otlp?: string) =>
  writeFileSync(join(home, "config.json"), JSON.stringify({ airlock: { private: { paths: ["**/diary/*.md"] }, ...(otlp ? { destinations: { otlp } } : {}) } }));
const env = (over: Record<string, string> = {}) => ({
  SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul,
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "200", ...over,
});
const t0 = Date.now();
const sophont = async (args: string[], over: Record<string, string> = {}) => {
  const r = await runSophont(args, { env: env(over), timeoutMs: 240_000 });
  console.log(`[otlp] sophont ${args.slice(0, 2).join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(0);
  return r;
};
/** The audit, with telemetry off so it sends nothing itself; opening the log appends the spooled records. */
const audit = async () => JSON.parse((await sophont(["audit", "egress", "--json"], { OTEL_SDK_DISABLED: "true" })).out) as { policies: Array<EventData<"AirlockPolicySet">>; egress: Array<EventData<"EgressRecorded">> };

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const texts = sectionDescriptions("utils", 12).map((d) => d.text);
  writeFileSync(join(home, "questions.txt"), "How do command-line tools process text files?\nWhat does a utility do with its input?\n");
  writeFileSync(join(home, `notes-for-${SECRET}.txt`), texts.slice(0, 8).join("\n\n"));
  mkdirSync(join(home, "diary"));
  writeFileSync(join(home, "diary", "thursday-marguerite.md"), `${PRIVATE_WORDS}, kept at home.\n\n${texts[8]}`);
});
afterAll(async () => (await receiver?.stop(), rmSync(home, { recursive: true, force: true })));

describe("spans leave through the airlock (a real OTLP/HTTP receiver)", () => {
  it("a real night under the default policy: text redacted, the private input's text and name withheld, each export recorded with the bytes received", async () => {
    config();
    await sophont(["preoccupation", "seed", join(home, "questions.txt")]);
    await sophont(["ingest", join(home, `notes-for-${SECRET}.txt`), join(home, "diary", "thursday-marguerite.md"), "--day", DAY]);
    const night = await sophont(["night", "--day", DAY, "--json"]);
    expect(JSON.parse(night.out)).toMatchObject({ completed: true });
    const { egress, policies } = await audit();

    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(receiver.requests.every((r) => r.contentType === "application/x-protobuf")).toBe(true);
    const sent = receiver.text();
    expect(sent).toContain("salience.night"); // the night's own spans arrived
    expect(sent).toContain("sophont.cli.args");
    expect(sent).toContain("[REDACTED:email]");
    expect(sent).not.toContain(SECRET);
    expect(sent).not.toContain("jolly-roger");
    expect(sent).not.toContain("Marguerite");
    expect(sent).not.toContain("thursday-marguerite");

    const otlp = egress.filter((e) => e.destination === "otlp");
    expect(otlp.length).toBeGreaterThan(0);
    // Batched: fewer records than exports, one per process window here.
    expect(otlp.length).toBeLessThanOrEqual(receiver.requests.length);
    expect(otlp.reduce((n, e) => n + e.bytes, 0)).toBe(receiver.requests.reduce((n, r) => n + r.body.byteLength, 0));
    // Each record's sha256 is that of a run of consecutive bodies the receiver got.
    const bodies = receiver.requests.map((r) => r.body);
    for (const e of otlp) {
      const runs = bodies.flatMap((_, i) => bodies.slice(i).map((__, k) => sha256(Buffer.concat(bodies.slice(i, i + k + 1)))));
      expect(runs, `record ${e.egressId}`).toContain(e.sha256);
    }
    expect(otlp.every((e) => e.mode === "redacted" && e.target === `${receiver.url}/v1/traces`)).toBe(true);
    expect(otlp.reduce((n, e) => n + (e.redactions.email ?? 0), 0)).toBeGreaterThan(0);
    expect(otlp.reduce((n, e) => n + e.withheld, 0)).toBeGreaterThan(0);
    expect(policies.find((p) => p.version === otlp[0]!.policyVersion)?.destinations.otlp).toBe("redacted");
  }, 600_000);

  it("changing the policy changes what leaves (raw, then nothing), and both policies are in the log", async () => {
    const letter = join(home, "letter-to-jane.doe@harbour.example.txt");
    writeFileSync(letter, sectionDescriptions("utils", 12)[10]!.text);
    config("raw");
    let from = receiver.requests.length;
    await sophont(["ingest", letter, join(home, "diary", "thursday-marguerite.md"), "--day", DAY]);
    const raw = receiver.text(from);
    expect(raw).toContain("jane.doe@harbour.example"); // raw: the file name leaves as it is
    expect(raw).not.toContain("thursday-marguerite"); // a private path never does
    expect(raw).not.toContain("Marguerite");

    config("nothing");
    from = receiver.requests.length;
    await sophont(["ingest", letter, "--day", DAY]);
    const none = receiver.text(from);
    expect(none).toContain("cli ingest"); // spans still leave, their ids, names and times
    expect(none).not.toContain("sophont.cli.args");
    expect(none).not.toContain("harbour");

    const { egress, policies } = await audit();
    const modes = new Map(policies.map((p) => [p.version, p.destinations.otlp]));
    const used = new Set(egress.filter((e) => e.destination === "otlp").map((e) => `${modes.get(e.policyVersion)}/${e.mode}`));
    expect([...used].sort()).toEqual(["nothing/nothing", "raw/raw", "redacted/redacted"]);
  }, 600_000);
});
