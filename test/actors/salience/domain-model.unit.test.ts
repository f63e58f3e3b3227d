import { describe, expect, it } from "vitest";
import { domainBitsPerByte, fitDomainModel, heldOutBitsPerByte } from "../../../actors/salience/domain-model.ts";
import { debianDescriptionsAvailable, sectionDescriptions } from "../../support/debian-corpus.ts";
import { randomText, shuffleWords } from "../../adapters/llm/support.ts";

const auc = (pos: number[], neg: number[]): number => {
  let w = 0;
  for (const p of pos) for (const n of neg) w += p > n ? 1 : p === n ? 0.5 : 0;
  return w / (pos.length * neg.length);
};

// Debian's long descriptions need `apt-get update -o Acquire::Languages=en` (.ci/run does it).
describe.runIf(debianDescriptionsAvailable())("the domain's byte 5-gram on Debian's package descriptions", () => {
  const science = [...sectionDescriptions("science", 160), ...sectionDescriptions("math", 80)];
  const train = science.filter((_, i) => i % 2 === 0).map((d) => d.text);
  const heldOut = science.filter((_, i) => i % 2 === 1).map((d) => d.text);
  const model = fitDomainModel(train);

  it("finds held-out science and math more predictable than hamradio, games and sound (AUC >= 0.8)", () => {
    const inDomain = heldOut.map((t) => -domainBitsPerByte(model, t));
    for (const section of ["hamradio", "games", "sound"]) {
      const other = sectionDescriptions(section, 60).map((d) => -domainBitsPerByte(model, d.text));
      const a = auc(inDomain, other);
      console.log(`domain bits/byte AUC science+math vs ${section}: ${a.toFixed(3)}`);
      expect(a).toBeGreaterThanOrEqual(0.8);
    }
  });

  it("scores keyboard mash and random bytes above any real description, shuffled words above their own text (coherence is the general model's job)", () => {
    const real = heldOut.map((t) => domainBitsPerByte(model, t));
    const worst = Math.max(...real);
    const text = heldOut[0]!;
    const noise = { shuffled: shuffleWords(text, 7), random: randomText(text.length, 7), mash: "asdf jkl; qwer uiop zxcv ".repeat(12) };
    for (const [what, t] of Object.entries(noise)) {
      console.log(`${what}: ${domainBitsPerByte(model, t).toFixed(3)} bits/byte (real: median ${real.sort((a, b) => a - b)[real.length >> 1]!.toFixed(3)}, worst ${worst.toFixed(3)})`);
      if (what !== "shuffled") expect(domainBitsPerByte(model, t)).toBeGreaterThan(worst);
    }
    expect(domainBitsPerByte(model, shuffleWords(text, 7))).toBeGreaterThan(domainBitsPerByte(model, text));
  });

  it("scores a text it was fit on, held out, as it scores a text it never saw, and leaves the model unchanged", () => {
    const t = train[3]!;
    const fitted = domainBitsPerByte(model, t);
    const held = heldOutBitsPerByte(model, t);
    expect(held).toBeCloseTo(domainBitsPerByte(fitDomainModel(train.filter((x) => x !== t)), t), 9);
    expect(held).toBeGreaterThan(fitted);
    expect(domainBitsPerByte(model, t)).toBe(fitted);
  });

  it("is deterministic", () => {
    expect(domainBitsPerByte(fitDomainModel(train), heldOut[0]!)).toBe(domainBitsPerByte(model, heldOut[0]!));
  });
});
