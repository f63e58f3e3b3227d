import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shippedCorpusDir } from "../../llm/tiny/factory.ts";

/** The demo's domain: the questions an astronomer's assistant is preoccupied with. */
export const DEMO_QUESTIONS = [
  "How do planets move in their orbits around a star?",
  "What can a telescope show us about distant galaxies and nebulae?",
  "Why does a comet brighten as it nears the sun?",
  "How do astronomers measure the luminosity of a star?",
  "What happens during an eclipse of the moon?",
  "How is the distance to a pulsar measured?",
];

const lines = (split: "train" | "heldout" | "novel", topic: string): string[] =>
  readFileSync(join(shippedCorpusDir, split, `${topic}.txt`), "utf8").split("\n").map((l) => l.trim()).filter(Boolean);

const OFF_TOPIC = ["cooking", "gardening", "sailing", "medicine", "software-operations"];

export interface DemoDay {
  readonly day: string;
  /** What arrives that day, as files: the day's log and, some days, the model's own outputs. */
  readonly files: ReadonlyArray<{ readonly name: string; readonly text: string }>;
  /** One line for the narration. */
  readonly story: string;
}

const dayName = (i: number) => `2026-11-${String(1 + i).padStart(2, "0")}`;

/**
 * Simulated days from the shipped corpus: the domain (astronomy) every day, a few scattered off-topic
 * lines that should stay noise, a new field (beekeeping) that starts arriving on day 2 and keeps
 * coming, a line of noise, and on day 3 one of the model's own answers that a person corrected.
 */
export const demoDays = (n: number): DemoDay[] => {
  const astro = lines("heldout", "astronomy");
  const bees = lines("novel", "beekeeping");
  return Array.from({ length: n }, (_, i) => {
    const domain = astro.slice((i * 10) % astro.length, ((i * 10) % astro.length) + 10);
    const scattered = [0, 1, 2].map((k) => lines("heldout", OFF_TOPIC[(i + k) % OFF_TOPIC.length]!)[i * 3 + k]!);
    const newField = i >= 1 ? bees.slice((i - 1) * 14, i * 14) : [];
    const noise = [`zq${i}x vlorp ${i} kk${i * 7} wxq trumbo ${i}${i} blarg`];
    const files = [{ name: `${dayName(i)}.log`, text: [...domain, ...scattered, ...newField, ...noise].join("\n") + "\n" }];
    if (i === 2) {
      files.push({
        name: `${dayName(i)}-outputs.jsonl`,
        text: JSON.stringify({ prompt: "Why do comets have tails?", text: "Comets have tails because the telescope orbits the nebula.", corrected: "A comet's tail forms as the sun heats its ice." }) + "\n",
      });
    }
    const story = `${domain.length} astronomy notes, ${scattered.length} scattered off-topic lines${newField.length ? `, ${newField.length} on beekeeping` : ""}, 1 line of noise${i === 2 ? ", 1 corrected answer of the model" : ""}`;
    return { day: dayName(i), files, story };
  });
};

/** The Golden Anchor: astronomy the model must not forget while it learns. */
export const demoAnchors = (): string => lines("train", "astronomy").slice(0, 12).join("\n\n") + "\n";
