import type { Metric, Space } from "../space.ts";
export const simdSpace = (_p: Float32Array, _n: number, _d: number, _m: Metric): Space | null => null;
