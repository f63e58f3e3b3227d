// A tiny WebAssembly assembler: just the opcodes the distance kernels need, so the project ships
// SIMD kernels without a toolchain or a dependency. Opcodes follow the WebAssembly 2.0 spec.

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

const unsigned = (value: number): number[] => {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
};

const signed = (value: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
};

const utf8 = (text: string): number[] => [...unsigned(text.length), ...new TextEncoder().encode(text)];
const section = (id: number, body: number[]): number[] => [id, ...unsigned(body.length), ...body];
const vector = (items: number[][]): number[] => [...unsigned(items.length), ...items.flat()];

/** One function body under construction; each method appends one instruction. */
export class Code {
  readonly bytes: number[] = [];
  private readonly locals: number[] = [];

  constructor(private readonly paramCount: number) {}

  /** Declares a local of `type` and returns its index. */
  local(type: number): number {
    this.locals.push(type);
    return this.paramCount + this.locals.length - 1;
  }

  private op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }

  private simd(code: number, ...rest: number[]): this {
    return this.op(0xfd, ...unsigned(code), ...rest);
  }

  get(index: number) { return this.op(0x20, ...unsigned(index)); }
  set(index: number) { return this.op(0x21, ...unsigned(index)); }
  tee(index: number) { return this.op(0x22, ...unsigned(index)); }
  i32(value: number) { return this.op(0x41, ...signed(value)); }
  f32(value: number) {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.op(0x43, ...bytes);
  }
  add() { return this.op(0x6a); }
  sub() { return this.op(0x6b); }
  mul() { return this.op(0x6c); }
  ltU() { return this.op(0x49); }
  gtU() { return this.op(0x4b); }
  and() { return this.op(0x71); }
  or() { return this.op(0x72); }
  ltF32() { return this.op(0x5d); }
  storeI32(offset = 0) { return this.op(0x36, 2, ...unsigned(offset)); }
  /** Pops a, b, condition; pushes a when the condition is non-zero, else b. */
  select() { return this.op(0x1b); }
  loadI32(offset = 0) { return this.op(0x28, 2, ...unsigned(offset)); }
  loadF32(offset = 0) { return this.op(0x2a, 2, ...unsigned(offset)); }
  storeF32(offset = 0) { return this.op(0x38, 2, ...unsigned(offset)); }
  addF32() { return this.op(0x92); }
  subF32() { return this.op(0x93); }
  mulF32() { return this.op(0x94); }
  minF32() { return this.op(0x96); }
  maxF32() { return this.op(0x97); }
  loadV128(offset = 0) { return this.simd(0x00, 4, ...unsigned(offset)); }
  storeV128(offset = 0) { return this.simd(0x0b, 4, ...unsigned(offset)); }
  splatF32x4() { return this.simd(0x13); }
  lane(index: number) { return this.simd(0x1f, index); }
  addF32x4() { return this.simd(0xe4); }
  mulF32x4() { return this.simd(0xe6); }
  /** `loop` whose body is `body`; the body branches back with `continueIf`. */
  loop(body: () => void) {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }
  /** Runs `body` when the i32 on the stack is non-zero. */
  when(body: () => void) {
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  /** Branch to the innermost enclosing loop's start when the i32 on the stack is non-zero. */
  continueIf() { return this.op(0x0d, 0); }

  /** The body in binary form: local declarations, instructions, end. */
  encode(): number[] {
    const groups = this.locals.map((type) => [1, type]);
    const body = [...vector(groups), ...this.bytes, 0x0b];
    return [...unsigned(body.length), ...body];
  }
}

/** A function to export: its name, parameter types (no results) and body. */
export interface ExportedFunction {
  readonly name: string;
  readonly params: readonly number[];
  readonly code: Code;
}

/** Assembles a module importing `env.memory` (shared when asked) and exporting the functions. */
export const assemble = (functions: readonly ExportedFunction[], memory: { pages: number; maxPages: number; shared: boolean }): Uint8Array => {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), 0]);
  const limits = memory.shared ? [0x03, ...unsigned(memory.pages), ...unsigned(memory.maxPages)] : [0x01, ...unsigned(memory.pages), ...unsigned(memory.maxPages)];
  const imports = vector([[...utf8("env"), ...utf8("memory"), 0x02, ...limits]]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, imports),
    ...section(3, vector(functions.map((_, i) => unsigned(i)))),
    ...section(7, vector(functions.map((f, i) => [...utf8(f.name), 0x00, ...unsigned(i)]))),
    ...section(10, vector(functions.map((f) => f.code.encode()))),
  ];
  return Uint8Array.from(bytes);
};
