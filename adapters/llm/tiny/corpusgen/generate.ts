// Regenerates the shipped corpus under adapters/llm/tiny/corpus/ (run with tsx). The corpus files
// are committed; this script documents how they were made and keeps them reproducible.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { topicsA } from "./topics-a.ts";
import { novelTopic, topicsB } from "./topics-b.ts";

/** A topic as sentence frames with `{slot}` holes and the words each slot can take. */
export interface TopicSpec {
  readonly name: string;
  readonly frames: readonly string[];
  readonly slots: Readonly<Record<string, readonly string[]>>;
}

/** mulberry32: small, seedable, good enough to vary sentences reproducibly. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const sentence = (spec: TopicSpec, rand: () => number): string => {
  const text = pick(rand, spec.frames).replace(/\{(\w+)\}/g, (_, slot: string) => {
    const words = spec.slots[slot];
    if (words === undefined) throw new Error(`topic ${spec.name}: no slot ${slot}`);
    return pick(rand, words);
  });
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/** `count` distinct sentences of a topic, none of them in `exclude`. */
export const sentences = (spec: TopicSpec, count: number, seed: number, exclude: ReadonlySet<string> = new Set()): string[] => {
  const rand = prng(seed);
  const out = new Set<string>();
  for (let tries = 0; out.size < count && tries < count * 200; tries++) {
    const s = sentence(spec, rand);
    if (!exclude.has(s)) out.add(s);
  }
  if (out.size < count) throw new Error(`topic ${spec.name}: only ${out.size} distinct sentences`);
  return [...out];
};

const write = (dir: URL, file: string, lines: readonly string[]) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(file, dir), lines.join("\n") + "\n");
};

const main = () => {
  const root = new URL("../corpus/", import.meta.url);
  const heldout: Array<{ topic: string; lines: string[] }> = [];
  [...topicsA, ...topicsB].forEach((spec, i) => {
    const train = sentences(spec, 300, 1000 + i);
    const test = sentences(spec, 80, 2000 + i, new Set(train));
    write(new URL("train/", root), `${spec.name}.txt`, train);
    write(new URL("heldout/", root), `${spec.name}.txt`, test);
    heldout.push({ topic: spec.name, lines: test });
  });
  write(new URL("novel/", root), `${novelTopic.name}.txt`, sentences(novelTopic, 200, 3000));
  const rand = prng(4242);
  const pairs: string[] = ["label\ttopic_a\ttopic_b\ttext_a\ttext_b"];
  for (let k = 0; k < 300; k++) {
    const a = pick(rand, heldout);
    const b = k % 2 === 0 ? a : pick(rand, heldout.filter((h) => h !== a));
    const ta = pick(rand, a.lines);
    const tb = pick(rand, b.lines.filter((l) => l !== ta));
    pairs.push(`${a === b ? "same" : "cross"}\t${a.topic}\t${b.topic}\t${ta}\t${tb}`);
  }
  write(root, "pairs.tsv", pairs);
};

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
