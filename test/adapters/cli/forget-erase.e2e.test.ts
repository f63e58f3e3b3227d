import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Objm } from "@nats-io/obj";
import { afterAll, describe, expect, it } from "vitest";
import { inputIdOf, normalise } from "../../../adapters/ingest/parse.ts";
import { CONTENT_BUCKET } from "../../../events/subjects.ts";
import { useTestLog } from "../../support/nats.ts";
import { runSophont } from "../../support/cli.ts";
import { eventually, grepTree } from "../../support/disk.ts";
import { corpusLines } from "../llm/support.ts";

const log = useTestLog();
const home = mkdtempSync(join(tmpdir(), "sophont-erase-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const sophont = (...args: string[]) =>
  runSophont(args, { env: { SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul }, timeoutMs: 240_000 });
const storeDir = () => join(log.nats.dir, "store");

/** A text of about 300 KB (three object-store chunks) with the canary at its start, in its middle and at its end. */
const textWith = (canary: string): string => {
  const lines = corpusLines("heldout", "medicine");
  const body = Array.from({ length: 2400 }, (_, i) => lines[i % lines.length]).join(" ");
  return `${canary} ${body.slice(0, body.length / 2)} ${canary} ${body.slice(body.length / 2)} ${canary}`;
};

describe("sophont forget, read on disk", () => {
  it("erases the text from the server's files: the canary is found in the store before and nowhere after", async () => {
    const canary = `bank-PIN-canary-${randomBytes(8).toString("hex")}`;
    const text = textWith(canary);
    const file = join(home, "secret.md");
    writeFileSync(file, text);
    const ingested = await sophont("ingest", file, "--max-bytes", "1000000", "--day", "2026-12-01");
    expect(ingested.code, ingested.err).toBe(0);
    const before = await eventually(() => grepTree(storeDir(), canary), (g) => g.total >= 3);
    expect(before.total, "the text is on disk once ingested (else this test proves nothing)").toBeGreaterThanOrEqual(3);

    const forgot = await sophont("forget", inputIdOf(normalise(text)), "--reason", "a secret");
    expect(forgot.code, forgot.err).toBe(0);
    expect(forgot.out).toMatch(/forgotten: .*1 text\(s\) deleted/);
    const after = await eventually(() => grepTree(storeDir(), canary), (g) => g.total === 0, 5_000);
    expect(after.files, "files that still hold the forgotten text").toEqual({});
  });

  it("is needed: an object-store delete alone leaves the bytes in the block file (nats-server 2.9)", async () => {
    const canary = `control-canary-${randomBytes(8).toString("hex")}`;
    const nc = await log.nats.connect();
    const os = await new Objm(nc).open(CONTENT_BUCKET);
    await os.putBlob({ name: "control" }, Buffer.from(textWith(canary)));
    await eventually(() => grepTree(storeDir(), canary), (g) => g.total >= 3);
    await os.delete("control");
    expect(await os.get("control")).toBeNull();
    // What a plain delete (a purge of the chunks' subject) leaves behind: the reason forget erases.
    const left = await eventually(() => grepTree(storeDir(), canary), (g) => g.total >= 3, 2_000);
    expect(left.total).toBeGreaterThanOrEqual(3);
  });
});
