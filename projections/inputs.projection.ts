import type { Projection } from "./projection.ts";

export interface InputEntry {
  readonly inputId: string;
  readonly day: string;
  readonly receivedSeq: number;
  readonly contentSha256: string;
  readonly bytes: number;
  /** `path#index` of every place it arrived from; the first one received it. */
  readonly sources: string[];
  /** Set once the input was forgotten: its texts are gone, only hashes remain. */
  forgotten?: boolean;
}

export interface InputsIndex {
  readonly inputs: Map<string, InputEntry>;
  /** Refusals already recorded, by refusal id. */
  readonly refusals: Set<string>;
}

export const sourceKey = (s: { path: string; index: number }): string => `${s.path}#${s.index}`;

/**
 * Every input taken in, with where it came from, and every refusal. The state is a Map owned by the
 * fold and updated in place (a copy per event would make a night quadratic); each fold starts from a
 * fresh initialState, so this stays a function of the events.
 */
export const inputsIndex: Projection<InputsIndex> = {
  name: "inputs",
  version: 2,
  canHandle: ["InputReceived", "InputRepeated", "InputRefused", "InputForgotten"],
  initialState: () => ({ inputs: new Map(), refusals: new Set() }),
  evolve: (state, event) => {
    switch (event.type) {
      case "InputReceived": {
        const d = event.data;
        if (!state.inputs.has(d.inputId)) {
          state.inputs.set(d.inputId, { inputId: d.inputId, day: d.day, receivedSeq: event.seq, contentSha256: d.contentSha256, bytes: d.bytes, sources: [sourceKey(d.source)] });
        }
        return state;
      }
      case "InputRepeated": {
        const entry = state.inputs.get(event.data.inputId);
        const key = sourceKey(event.data.source);
        if (entry && !entry.sources.includes(key)) entry.sources.push(key);
        return state;
      }
      case "InputRefused":
        state.refusals.add(event.data.refusalId);
        return state;
      case "InputForgotten": {
        const entry = state.inputs.get(event.data.inputId);
        if (entry) entry.forgotten = true;
        return state;
      }
      default:
        return state;
    }
  },
  toJSON: (s) => ({ inputs: [...s.inputs.values()], refusals: [...s.refusals] }),
  fromJSON: (j) => {
    const o = j as { inputs: InputEntry[]; refusals: string[] };
    return { inputs: new Map(o.inputs.map((e) => [e.inputId, e])), refusals: new Set(o.refusals) };
  },
};
