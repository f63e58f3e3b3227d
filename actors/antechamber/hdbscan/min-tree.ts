/**
 * A tournament tree over n slots: O(log n) updates, and the smallest value at the top with the
 * lowest index winning ties (scikit-learn's Prim picks the first minimum).
 */
export class MinTree {
  private readonly size: number;
  private readonly value: Float64Array;
  private readonly index: Int32Array;

  constructor(n: number) {
    let size = 1;
    while (size < n) size *= 2;
    this.size = size;
    this.value = new Float64Array(2 * size).fill(Infinity);
    this.index = new Int32Array(2 * size);
    for (let i = 0; i < size; i++) this.index[size + i] = i;
    for (let v = size - 1; v >= 1; v--) this.index[v] = this.index[2 * v]!;
  }

  set(i: number, value: number): void {
    let v = this.size + i;
    this.value[v] = value;
    for (v >>= 1; v >= 1; v >>= 1) {
      const l = 2 * v;
      const pick = this.value[l + 1]! < this.value[l]! ? l + 1 : l;
      this.value[v] = this.value[pick]!;
      this.index[v] = this.index[pick]!;
    }
  }

  argmin(): number {
    return this.index[1]!;
  }

  /** Up to k slots with the smallest finite values, smallest first; the tree is left unchanged. */
  smallest(k: number): number[] {
    const out: number[] = [];
    const saved: number[] = [];
    while (out.length < k && Number.isFinite(this.value[1]!)) {
      const i = this.index[1]!;
      out.push(i);
      saved.push(this.value[this.size + i]!);
      this.set(i, Infinity);
    }
    out.forEach((i, t) => this.set(i, saved[t]!));
    return out;
  }
}
