// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `embedding.metal`: rows of an MLX-affine embedding table looked up by
 * token id, dequantized by the format's rule (`formats/affine.ts`) in f32, as the kernels do.
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { embeddingGatherAffineRef } from "./embedding_ref.ts";
 * import assert from "node:assert";
 *
 * const table = quantizeAffine(
 *   Float32Array.from({ length: 96 }, (_, i) => Math.floor(i / 32)),
 *   { rows: 3, cols: 32, bits: 4, groupSize: 32 },
 * );
 * const out = embeddingGatherAffineRef({ table, ids: [2, 0] });
 * assert.strictEqual(out[0], 2);
 * assert.strictEqual(out[32], 0);
 * ```
 *
 * @module
 */
import { affineLayout, type AffineMatrix } from "../formats/affine.ts";
import { bf16BitsToF32 } from "../dtype.ts";
import { affineCodes } from "../formats/affine.ts";

/** Inputs of {@linkcode embeddingGatherAffineRef}. */
export interface EmbeddingGatherAffineRefOptions {
  /** The table (rows = vocabulary entries it holds, cols = embedding width). */
  table: AffineMatrix;
  /** Token ids. */
  ids: ArrayLike<number>;
  /**
   * The id of the table's first row; an id outside `[rowBase, rowBase + table.rows)` gives
   * a row of zeros.
   *
   * @default {0}
   */
  rowBase?: number;
}

/**
 * `out[t][c] = f32(s · q + b)` for row `ids[t] − rowBase` of the table.
 *
 * @param options The table, ids and row base.
 * @returns `ids.length × table.cols` values.
 * @throws {RangeError} For a malformed table.
 *
 * @example Usage
 * ```ts
 * import { quantizeAffine } from "../formats/affine.ts";
 * import { embeddingGatherAffineRef } from "./embedding_ref.ts";
 * import assert from "node:assert";
 *
 * const table = quantizeAffine(new Float32Array(32).fill(1.5), { rows: 1, cols: 32, bits: 6, groupSize: 32 });
 * // The table holds id 100 only: id 7 reads zeros.
 * const out = embeddingGatherAffineRef({ table, ids: [100, 7], rowBase: 100 });
 * assert.strictEqual(out[0], 1.5);
 * assert.strictEqual(out[32], 0);
 * ```
 */
export function embeddingGatherAffineRef(options: EmbeddingGatherAffineRefOptions): Float64Array {
  const { table, ids } = options;
  const rowBase = options.rowBase ?? 0;
  const { groupsPerRow } = affineLayout(table);
  const { cols, groupSize } = table;
  const codes = affineCodes(table);
  const out = new Float64Array(ids.length * cols);
  for (let t = 0; t < ids.length; t++) {
    const row = ids[t] - rowBase;
    if (!(row >= 0 && row < table.rows)) continue;
    for (let c = 0; c < cols; c++) {
      const g = row * groupsPerRow + Math.floor(c / groupSize);
      const value = bf16BitsToF32(table.scales[g]) * codes[row * cols + c] +
        bf16BitsToF32(table.biases[g]);
      out[t * cols + c] = Math.fround(value);
    }
  }
  return out;
}
