import { describe, expect, it } from "vitest";
import { redact, BUILTIN_RULES } from "../../../adapters/egress/redact.ts";
import { airlockFrom, AirlockPolicyError, defaultAirlock, globMatches } from "../../../adapters/egress/policy.ts";

describe("redaction rules", () => {
  it("finds e-mail addresses, phone numbers, IP addresses, keys, tokens and private keys", () => {
    const text = [
      "Mail ops.team@example.co.uk or call +44 20 7946 0958 / (555) 123-4567.",
      "Host 192.168.10.24 and fe80::1ff:fe23:4567:890a answered.",
      "export ANTHROPIC_API_KEY=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv and token: 9f8e7d6c5b4a3f2e",
      "AWS AKIAIOSFODNN7EXAMPLE, GitHub ghp_0123456789abcdefghijABCDEFGHIJ",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    ].join("\n");
    const r = redact(text, BUILTIN_RULES);
    for (const leak of ["ops.team@", "7946", "123-4567", "192.168", "fe80::", "sk-ant", "9f8e7d6c", "AKIAIOSFODNN7", "ghp_0123", "b3BlbnNzaC1"]) expect(r.text).not.toContain(leak);
    expect(r.counts).toMatchObject({ email: 1, ipv4: 1, ipv6: 1, "private-key": 1 });
    expect(r.counts.phone).toBe(2);
    expect((r.counts["api-key"] ?? 0) + (r.counts.token ?? 0)).toBeGreaterThanOrEqual(4);
  });

  it("leaves ordinary prose, dates, years and counts alone", () => {
    const text = "On 2026-11-24 the crew of 12 sailed 340 miles in 1998 weather; version 3.2 shipped.";
    expect(redact(text, BUILTIN_RULES)).toEqual({ text, counts: {} });
  });

  it("takes the user's rules from config, after the built-in ones", () => {
    const p = airlockFrom({ rules: [{ name: "employee-id", pattern: "EMP-\\d{6}" }] });
    expect(redact("badge EMP-004211 issued", p.rules)).toEqual({ text: "badge [REDACTED:employee-id] issued", counts: { "employee-id": 1 } });
    expect(p.version).not.toBe(defaultAirlock.version);
  });
});

describe("the airlock policy in config", () => {
  it("is validated key by key, with errors that name the key", () => {
    expect(() => airlockFrom({ destinations: { "gpu-host": "open" } })).toThrow(/destinations.gpu-host must be/);
    expect(() => airlockFrom({ destinations: { printer: "raw" } })).toThrow(/unknown destination "printer"/);
    expect(() => airlockFrom({ rules: [{ name: "x", pattern: "(" }] })).toThrow(AirlockPolicyError);
    expect(() => airlockFrom({ rules: [{ name: "empty", pattern: "a*" }] })).toThrow(/empty string/);
    expect(() => airlockFrom({ private: { globs: [] } })).toThrow(/unknown airlock.private/);
    expect(() => airlockFrom({ rules: [{ name: "email", pattern: "x" }] })).toThrow(/built-in/);
  });

  it("versions by value: the same values give the same version, another mode another", () => {
    expect(airlockFrom({}).version).toBe(defaultAirlock.version);
    expect(airlockFrom({ destinations: { judge: "raw" } }).version).not.toBe(defaultAirlock.version);
    expect(airlockFrom({ destinations: { judge: "raw" } }).version).toBe(airlockFrom({ destinations: { judge: "raw" } }).version);
  });

  it("matches private path globs", () => {
    expect(globMatches("**/diary/*.md", "/home/u/notes/diary/2026.md")).toBe(true);
    expect(globMatches("diary/*.md", "/home/u/diary/a.md")).toBe(true);
    expect(globMatches("diary/*.md", "/home/u/diary/sub/a.md")).toBe(false);
    expect(globMatches("*.secret.txt", "logs/a.txt")).toBe(false);
  });
});
