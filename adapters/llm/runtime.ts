import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";

export interface RuntimeOptions {
  /** false (default) keeps everything on the CPU, which is what the tests and CI use. */
  readonly gpu?: false | "auto";
}

const runtimes = new Map<string, Promise<Llama>>();

/**
 * One llama.cpp runtime per process and GPU choice: loading the native backend is slow and its
 * logger is process-wide. `build: "never"` keeps a missing prebuilt binary an error, never a
 * surprise nine-minute compile.
 */
export const llamaRuntime = (opts: RuntimeOptions = {}): Promise<Llama> => {
  const key = String(opts.gpu ?? false);
  let r = runtimes.get(key);
  if (r === undefined) {
    r = getLlama({ gpu: opts.gpu ?? false, build: "never", logLevel: LlamaLogLevel.error });
    runtimes.set(key, r);
    r.catch(() => runtimes.delete(key));
  }
  return r;
};

/** A promise-chain mutex: model operations that share a context run one at a time. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<A>(task: () => Promise<A>): Promise<A> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
