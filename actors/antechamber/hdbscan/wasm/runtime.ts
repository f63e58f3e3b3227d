// The project's tsconfig carries no DOM library, and @types/node does not declare the WebAssembly
// global, so the few members the kernels use are typed here.

/** A linear memory; `buffer` is replaced when the memory grows (it never does here). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
