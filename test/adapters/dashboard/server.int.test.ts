import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, DashboardError, type Dashboard } from "../../../adapters/dashboard/server.ts";
import { defaultAirlock } from "../../../adapters/egress/policy.ts";
import { useTestLog } from "../../support/nats.ts";
import { nightStarted, pending } from "../../support/events.ts";

const log = useTestLog();
let dash: Dashboard;
const TOKEN = "s3cret-token-for-the-test";

/** A raw HTTP request (fetch would not let the test set Host). */
const call = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> =>
  new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: dash.port, path, method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });

beforeAll(async () => {
  dash = await startDashboard({ store: log.store, content: log.content, airlock: defaultAirlock, host: "127.0.0.1", port: 0, token: TOKEN });
});
afterAll(async () => dash?.close());

describe("the dashboard's server", () => {
  it("refuses to listen off loopback without a token, saying what to do", async () => {
    await expect(startDashboard({ store: log.store, content: log.content, airlock: defaultAirlock, host: "0.0.0.0", port: 0 })).rejects.toThrow(DashboardError);
    await expect(startDashboard({ store: log.store, content: log.content, airlock: defaultAirlock, host: "0.0.0.0", port: 0 })).rejects.toThrow(/SOPHONT_DASHBOARD_TOKEN/);
  });

  it("asks for its token, and accepts it in the URL, a bearer header or its cookie", async () => {
    expect((await call("/api/head")).status).toBe(401);
    expect((await call("/api/head?token=wrong")).status).toBe(401);
    const page = await call(`/?token=${TOKEN}`);
    expect(page.status).toBe(200);
    expect(String(page.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await call("/api/head", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call("/api/head", { headers: { cookie: `sophont_dashboard=${TOKEN}` } })).status).toBe(200);
  });

  it("is read-only and answers on loopback names only", async () => {
    const post = await call(`/api/views?token=${TOKEN}`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.body).toMatch(/read-only/);
    expect((await call(`/?token=${TOKEN}`, { headers: { host: "attacker.example:80" } })).status).toBe(421);
  });

  it("streams the log in order, from where the reader asks, and new events as they come", async () => {
    await log.store.append([pending(nightStarted("dash-n1", "2026-11-01"))]);
    const first = await log.store.lastSeq();
    const lines: Array<{ seq: number; type: string; gist: string }> = [];
    const req = request({ host: "127.0.0.1", port: dash.port, path: `/api/events?from=${first}&token=${TOKEN}` }, (res) => {
      let buf = "";
      res.on("data", (d) => {
        buf += d;
        for (const m of buf.matchAll(/^data: (.+)$/gm)) if (!lines.some((l) => l.seq === JSON.parse(m[1]!).seq)) lines.push(JSON.parse(m[1]!));
      });
    });
    req.end();
    const until = async (n: number) => {
      for (let i = 0; i < 200 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(1);
    await log.store.append([pending(nightStarted("dash-n2", "2026-11-02"))]);
    await until(2);
    req.destroy();
    expect(lines.map((l) => l.seq)).toEqual([first, first + 1]);
    expect(lines.map((l) => l.gist.split(" ")[0])).toEqual(["dash-n1", "dash-n2"]);
  });

  it("draws the views as of a sequence", async () => {
    const last = await log.store.lastSeq();
    const before = JSON.parse((await call(`/api/views?at=${last - 1}&token=${TOKEN}`)).body) as { until: number; html: Record<string, string> };
    const now = JSON.parse((await call(`/api/views?token=${TOKEN}`)).body) as { until: number; html: Record<string, string> };
    expect(before.until).toBe(last - 1);
    expect(now.until).toBe(last);
    expect((now.html.nights!.match(/class="night"/g) ?? []).length).toBe((before.html.nights!.match(/class="night"/g) ?? []).length + 1);
    const diff = JSON.parse((await call(`/api/diff?from=${last - 1}&to=${last}&token=${TOKEN}`)).body) as { html: string };
    expect(diff.html).toContain("dash-n2");
  });
});
