import type { SalienceModel } from "../../actors/salience/ports.ts";
import { derivedEventId } from "../../actors/ids.ts";
import type { EventStore } from "../../events/store.ts";
import { inputIdOf, normalise } from "./parse.ts";
import { norm } from "../../events/vectors.ts";

/** The questions of a file: one per line, or JSON Lines with a `question` (or `text`) field. */
export const parseQuestions = (text: string): { questions: string[]; skipped: Array<{ line: number; why: string }> } => {
  const questions: string[] = [];
  const skipped: Array<{ line: number; why: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    if (line.startsWith("{")) {
      try {
        const rec = JSON.parse(line) as { question?: unknown; text?: unknown };
        const q = typeof rec.question === "string" ? rec.question : typeof rec.text === "string" ? rec.text : undefined;
        if (q && normalise(q)) questions.push(normalise(q));
        else skipped.push({ line: i + 1, why: 'no string field "question" or "text"' });
      } catch (e) {
        skipped.push({ line: i + 1, why: `not JSON: ${(e as Error).message}` });
      }
      return;
    }
    questions.push(normalise(line));
  });
  return { questions: [...new Set(questions)], skipped };
};

/** A seed question whose vector is all zeros: it would point nowhere, so nothing is seeded. */
export class ZeroVectorQuestionError extends Error {
  constructor(readonly questions: ReadonlyArray<string>) {
    super(`refused: ${questions.length} question(s) embed as the zero vector (no piece of them carries meaning for the embedder), so nothing was seeded: ${questions.map((q) => JSON.stringify(q.slice(0, 80))).join(", ")}; reword or remove them and seed again`);
    this.name = "ZeroVectorQuestionError";
  }
}

/**
 * Appends one PreoccupationSeeded per question with its vector. Idempotent: a question's id is the
 * hash of its text, and the event id is derived from it. Refuses (ZeroVectorQuestionError, nothing
 * appended) when any question's vector is all zeros.
 */
export const seedPreoccupation = async (store: EventStore, model: SalienceModel, questions: ReadonlyArray<string>, correlationId: string): Promise<number> => {
  const embedder = model.ids().embedder;
  const vectors = await model.embed(questions);
  const zero = questions.filter((_, i) => norm(vectors[i] ?? []) === 0);
  if (zero.length > 0) throw new ZeroVectorQuestionError(zero);
  const appended = await store.append(
    questions.map((q, i) => {
      const questionId = inputIdOf(q).slice(0, 32);
      return {
        event: { type: "PreoccupationSeeded" as const, data: { questionId, question: q, vector: [...vectors[i]!], embedder } },
        metadata: { id: derivedEventId("preoccupation", questionId, embedder), time: new Date().toISOString(), actor: "cli", causationId: null, correlationId },
      };
    }),
  );
  return appended.filter((a) => !a.duplicate).length;
};
