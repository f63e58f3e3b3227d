import { Worker } from "node:worker_threads";
import type { WasmMemory } from "./runtime.ts";

/**
 * A second thread running the same kernels on the same shared memory. The API of `hdbscan` stays
 * synchronous: the caller posts one call, does its own share, then blocks on `Atomics.wait` (which
 * Node allows on the main thread) until the helper is done.
 */
export interface Helper {
  /** Starts block(a, na, b, nb, out) on the helper. */
  block(a: number, na: number, b: number, nb: number, out: number): void;
  /** Starts rows(na, first, end) on the helper. */
  rows(na: number, first: number, end: number): void;
  /** Blocks until the last call posted is done. */
  wait(): void;
  close(): void;
}

// Control words in a small shared buffer.
const POSTED = 0;
const DONE = 1;
const OP = 2;
const ARGS = 3;
const READY = 8;
const FAILED = 9;
const OP_BLOCK = 1;
const OP_ROWS = 2;
const OP_EXIT = 3;
const START_TIMEOUT_MS = 10_000;

// Plain JavaScript so the worker needs no TypeScript loader (vitest, tsx and node alike).
const source = `
const { workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
const c = new Int32Array(control);
let kernels = null;
try {
  kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  Atomics.store(c, ${READY}, 1);
} catch {
  Atomics.store(c, ${READY}, 2);
}
Atomics.notify(c, ${READY});
let seen = 0;
while (kernels) {
  Atomics.wait(c, ${POSTED}, seen);
  seen = Atomics.load(c, ${POSTED});
  const op = c[${OP}];
  if (op === ${OP_EXIT}) break;
  try {
    if (op === ${OP_BLOCK}) kernels.block(c[${ARGS}], c[${ARGS + 1}], c[${ARGS + 2}], c[${ARGS + 3}], c[${ARGS + 4}]);
    else kernels.rows(c[${ARGS}], c[${ARGS + 1}], c[${ARGS + 2}]);
  } catch {
    Atomics.store(c, ${FAILED}, 1);
  }
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}
`;

/** Starts a helper thread on `memory` (which must be shared), or returns null if it cannot start. */
export const startHelper = (module: object, memory: WasmMemory): Helper | null => {
  const control = new Int32Array(new SharedArrayBuffer(64));
  let worker: Worker;
  try {
    worker = new Worker(source, { eval: true, workerData: { module, memory, control: control.buffer } });
  } catch {
    return null;
  }
  worker.unref();
  while (Atomics.load(control, READY) === 0) {
    if (Atomics.wait(control, READY, 0, START_TIMEOUT_MS) === "timed-out") break;
  }
  if (Atomics.load(control, READY) !== 1) {
    void worker.terminate();
    return null;
  }
  let pending = 0;
  const post = (op: number, args: number[]): void => {
    args.forEach((value, i) => (control[ARGS + i] = value));
    control[OP] = op;
    pending = Atomics.add(control, POSTED, 1) + 1;
    Atomics.notify(control, POSTED);
  };
  return {
    block: (a, na, b, nb, out) => post(OP_BLOCK, [a, na, b, nb, out]),
    rows: (na, first, end) => post(OP_ROWS, [na, first, end]),
    wait() {
      for (let done = Atomics.load(control, DONE); done !== pending; done = Atomics.load(control, DONE)) {
        Atomics.wait(control, DONE, done);
      }
      if (Atomics.load(control, FAILED)) throw new Error("hdbscan helper thread failed in a kernel");
    },
    close() {
      post(OP_EXIT, []);
      void worker.terminate();
    },
  };
};
