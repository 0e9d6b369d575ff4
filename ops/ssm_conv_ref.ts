// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * f64 reference for `ssm_conv.metal`: the depthwise causal convolution + SiLU of a Gated
 * DeltaNet layer over a sequence, and the rolling state it leaves for the next call.
 *
 * @example Usage
 * ```ts
 * import { ssmConvRef } from "./ssm_conv_ref.ts";
 * import assert from "node:assert";
 *
 * // One channel, width 2, state [1]: y[0] = silu(1·1 + 1·2).
 * const { y, newState } = ssmConvRef({ x: [2], w: [1, 1], state: [1], channels: 1, width: 2 });
 * assert.ok(Math.abs(y[0] - 3 / (1 + Math.exp(-3))) < 1e-15);
 * assert.deepStrictEqual([...newState], [2]);
 * ```
 *
 * @module
 */

/** Inputs of {@linkcode ssmConvRef}. */
export interface SsmConvRefOptions {
  /** `[seqs, tokens, channels]` inputs. */
  x: ArrayLike<number>;
  /** `[channels, width]` filters. */
  w: ArrayLike<number>;
  /** `[seqs, channels, width − 1]` previous inputs, oldest first. Default: zeros. */
  state?: ArrayLike<number>;
  /** Channels. */
  channels: number;
  /** Taps per filter (≥ 1). */
  width: number;
  /** Sequences. @default 1 */
  seqs?: number;
}

/**
 * `y[s][t][c] = silu(Σ_k w[c][k]·ext[t+k])` with `ext` the state followed by `x`, and the new
 * state (the last `width − 1` entries of `ext`), in f64.
 *
 * @param options The inputs; the token count is `x.length / (seqs · channels)`.
 * @returns `y` (`x.length` values) and `newState` (`seqs · channels · (width − 1)` values).
 * @throws {RangeError} When the arrays do not fit the sizes.
 *
 * @example Usage
 * ```ts
 * import { ssmConvRef } from "./ssm_conv_ref.ts";
 * import assert from "node:assert";
 *
 * const { newState } = ssmConvRef({ x: [5, 6], w: [0, 0, 0, 1], channels: 1, width: 4 });
 * assert.deepStrictEqual([...newState], [0, 5, 6]);
 * ```
 */
export function ssmConvRef(
  options: SsmConvRefOptions,
): { y: Float64Array; newState: Float64Array } {
  const { x, w, channels, width, seqs = 1 } = options;
  const history = width - 1;
  const state = options.state ?? new Float64Array(seqs * channels * history);
  const tokens = x.length / (seqs * channels);
  if (
    !Number.isInteger(tokens) || w.length < channels * width ||
    state.length < seqs * channels * history
  ) {
    throw new RangeError(
      `Cannot compute ssmConvRef: x ${x.length}, w ${w.length}, state ${state.length} values do not fit seqs ${seqs} × channels ${channels}, width ${width}`,
    );
  }
  const y = new Float64Array(x.length);
  const newState = new Float64Array(seqs * channels * history);
  for (let s = 0; s < seqs; s++) {
    for (let c = 0; c < channels; c++) {
      const row = (s * channels + c) * history;
      const ext = (j: number) =>
        j < history ? state[row + j] : x[(s * tokens + j - history) * channels + c];
      for (let t = 0; t < tokens; t++) {
        let acc = 0;
        for (let k = 0; k < width; k++) acc += w[c * width + k] * ext(t + k);
        y[(s * tokens + t) * channels + c] = acc / (1 + Math.exp(-acc));
      }
      for (let i = 0; i < history; i++) newState[row + i] = ext(tokens + i);
    }
  }
  return { y, newState };
}
