// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `gated_delta_net.metal`: the sequential gated delta rule over whole
 * sequences, token after token, from a given memory.
 *
 * @example Usage
 * ```ts
 * import { gatedDeltaNetRef } from "./gated_delta_net_ref.ts";
 * import assert from "node:assert";
 *
 * const { out, state } = gatedDeltaNetRef({
 *   q: [2], k: [1], v: [3], g: [0], beta: [1], dk: 1, dv: 1, nKHeads: 1, nVHeads: 1,
 * });
 * assert.deepStrictEqual([...state], [3]);
 * assert.deepStrictEqual([...out], [6]);
 * ```
 *
 * @module
 */

/** Inputs of {@linkcode gatedDeltaNetRef} (layouts as in `ops/gated_delta_net.ts`). */
export interface GatedDeltaNetRefOptions {
  /** `[seqs, tokens, nKHeads, dk]`. */
  q: ArrayLike<number>;
  /** `[seqs, tokens, nKHeads, dk]`. */
  k: ArrayLike<number>;
  /** `[seqs, tokens, nVHeads, dv]`. */
  v: ArrayLike<number>;
  /** Decay rates `[seqs, tokens, nVHeads]`. */
  g: ArrayLike<number>;
  /** Write strengths `[seqs, tokens, nVHeads]`. */
  beta: ArrayLike<number>;
  /** `[seqs, nVHeads, dv, dk]`. Default: zeros. */
  state?: ArrayLike<number>;
  /** Key head dimension. */
  dk: number;
  /** Value head dimension. */
  dv: number;
  /** Key heads per token. */
  nKHeads: number;
  /** Value heads per token. */
  nVHeads: number;
  /** Sequences. @default 1 */
  seqs?: number;
  /** `"tiled"` (`h mod nKHeads`) or `"grouped"` (`h / (nVHeads / nKHeads)`). @default "tiled" */
  gqa?: "tiled" | "grouped";
}

/**
 * Runs `S ← e^(−g)·S; δ = v − S·k; S ← S + β·δ·kᵀ; out = S·q` per token, in f64.
 *
 * @param options The inputs; the token count is `g.length / (seqs · nVHeads)`.
 * @returns The read-outs `out` (`v.length` values) and the final memory `state`.
 * @throws {RangeError} When the arrays do not fit the sizes.
 *
 * @example Usage
 * ```ts
 * import { gatedDeltaNetRef } from "./gated_delta_net_ref.ts";
 * import assert from "node:assert";
 *
 * // Two tokens with the same key and beta = 1: the second overwrites the first's value.
 * const { out } = gatedDeltaNetRef({
 *   q: [1, 1], k: [1, 1], v: [3, 5], g: [0, 0], beta: [1, 1], dk: 1, dv: 1, nKHeads: 1, nVHeads: 1,
 * });
 * assert.deepStrictEqual([...out], [3, 5]);
 * ```
 */
export function gatedDeltaNetRef(
  options: GatedDeltaNetRefOptions,
): { out: Float64Array; state: Float64Array } {
  const { q, k, v, g, beta, dk, dv, nKHeads, nVHeads, seqs = 1, gqa = "tiled" } = options;
  const tokens = g.length / (seqs * nVHeads);
  const stateCount = seqs * nVHeads * dv * dk;
  const state = Float64Array.from(options.state ?? new Float64Array(stateCount));
  if (
    !Number.isInteger(tokens) || q.length < seqs * tokens * nKHeads * dk ||
    k.length < q.length || v.length < seqs * tokens * nVHeads * dv ||
    beta.length < g.length || state.length < stateCount || nVHeads % nKHeads !== 0
  ) {
    throw new RangeError(
      `Cannot compute gatedDeltaNetRef: the arrays do not fit seqs ${seqs}, nKHeads ${nKHeads}, nVHeads ${nVHeads}, dk ${dk}, dv ${dv}`,
    );
  }
  const ratio = nVHeads / nKHeads;
  const out = new Float64Array(seqs * tokens * nVHeads * dv);
  for (let s = 0; s < seqs; s++) {
    for (let h = 0; h < nVHeads; h++) {
      const kh = gqa === "grouped" ? Math.floor(h / ratio) : h % nKHeads;
      const base = (s * nVHeads + h) * dv * dk;
      for (let t = 0; t < tokens; t++) {
        const token = s * tokens + t;
        const kq = (token * nKHeads + kh) * dk;
        const gate = token * nVHeads + h;
        const decay = Math.exp(-g[gate]);
        const b = beta[gate];
        for (let i = 0; i < dv; i++) {
          const row = base + i * dk;
          let predicted = 0;
          for (let j = 0; j < dk; j++) {
            state[row + j] *= decay;
            predicted += state[row + j] * k[kq + j];
          }
          const delta = b * (v[gate * dv + i] - predicted);
          let read = 0;
          for (let j = 0; j < dk; j++) {
            state[row + j] += delta * k[kq + j];
            read += state[row + j] * q[kq + j];
          }
          out[gate * dv + i] = read;
        }
      }
    }
  }
  return { out, state };
}
