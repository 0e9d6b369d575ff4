// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/gated_delta_net.metal`: the recurrent core of a Gated DeltaNet
 * linear-attention layer (Qwen3-Next). Per sequence and value head a `dv × dk` memory `S` runs
 * through the call's tokens in order: decay by `exp(−g)`, delta-rule correction towards `v`
 * for key `k` with strength `beta`, read-out with query `q`. f32. The f64 reference is
 * `ops/gated_delta_net_ref.ts`.
 *
 * Layouts (row-major): `q`, `k` `[seqs, tokens, nKHeads, dk]`; `v`, `out`
 * `[seqs, tokens, nVHeads, dv]`; `g`, `beta` `[seqs, tokens, nVHeads]`; `state`, `newState`
 * `[seqs, nVHeads, dv, dk]` (`S[i][j]`, `j` fastest). Value head `h` uses key head
 * `h mod nKHeads` (`gqa: "tiled"`, the default: ggml and mlx-native) or
 * `h / (nVHeads / nKHeads)` (`gqa: "grouped"`: Hugging Face's `repeat_interleave`).
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { gatedDeltaNet } from "./gated_delta_net.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // dk = dv = 1, one token: S = 0 → δ = v = 2, S = 0.5·2·1 = 1, out = S·q = 3.
 * using q = device.newBuffer(new Float32Array([3]));
 * using k = device.newBuffer(new Float32Array([1]));
 * using v = device.newBuffer(new Float32Array([2]));
 * using g = device.newBuffer(new Float32Array([0]));
 * using beta = device.newBuffer(new Float32Array([0.5]));
 * using state = device.newBuffer(new Float32Array([0]));
 * using out = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await gatedDeltaNet(encoder, {
 *   registry, q, k, v, g, beta, state, out, newState: state,
 *   dk: 1, dv: 1, nKHeads: 1, nVHeads: 1, tokens: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(out.contents), new Float32Array(state.contents)); // [3] [1]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import type { KernelRegistry } from "../registry.ts";
import { GATED_DELTA_NET_GPU_ROWS, GATED_DELTA_NET_MAX_DK, SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan, packParams } from "./_dispatch.ts";
import { checkBuffer, checkCount, checkRegistry, sizeDetail, U32_MAX } from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { GATED_DELTA_NET_KERNELS } from "../shaders/gated_delta_net.ts";

/** The catalogue names of `gated_delta_net.metal` (its table: `shaders/gated_delta_net.ts`). */
export { GATED_DELTA_NET_KERNELS };

/** Every kernel name of `gated_delta_net.metal`. */
export type GatedDeltaNetKernelName = TableNames<typeof GATED_DELTA_NET_KERNELS>;

/**
 * Which key head a value head reads when `nVHeads > nKHeads`: `"tiled"` is `h mod nKHeads`
 * (ggml's repeat, mlx-native), `"grouped"` is `h / (nVHeads / nKHeads)` (torch
 * `repeat_interleave`, Hugging Face Qwen3-Next).
 */
export type DeltaNetGqa = "tiled" | "grouped";

/** Options of {@linkcode gatedDeltaNet}. All buffers hold f32. */
export interface GatedDeltaNetOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Queries `[seqs, tokens, nKHeads, dk]` (pre-scaled if the model scales them). */
  q: DeviceBuffer;
  /** Keys `[seqs, tokens, nKHeads, dk]` (L2-normalised in the models). */
  k: DeviceBuffer;
  /** Values `[seqs, tokens, nVHeads, dv]`. */
  v: DeviceBuffer;
  /** Decay rates `[seqs, tokens, nVHeads]` (≥ 0; the state is scaled by `exp(−g)`). */
  g: DeviceBuffer;
  /** Write strengths `[seqs, tokens, nVHeads]`. */
  beta: DeviceBuffer;
  /** The memory before this call, `[seqs, nVHeads, dv, dk]` (zeros to start). */
  state: DeviceBuffer;
  /** Read-outs `[seqs, tokens, nVHeads, dv]`; may be `v`. */
  out: DeviceBuffer;
  /** The memory after this call, `[seqs, nVHeads, dv, dk]`; may be `state`. */
  newState: DeviceBuffer;
  /** Key/query head dimension, at most {@linkcode GATED_DELTA_NET_MAX_DK} (256). */
  dk: number;
  /** Value head dimension. */
  dv: number;
  /** Key/query heads per token. */
  nKHeads: number;
  /** Value heads per token, a multiple of `nKHeads`. */
  nVHeads: number;
  /** Tokens of this call, processed in order. */
  tokens: number;
  /** Independent sequences. @default 1 */
  seqs?: number;
  /** GQA head mapping. @default "tiled" */
  gqa?: DeltaNetGqa;
}

const F32 = 4;

function gatedDeltaNetPlan(options: GatedDeltaNetOptions): KernelPlan {
  checkRegistry("gatedDeltaNet", options.registry);
  const kernel = GATED_DELTA_NET_KERNELS.f32;
  const dk = checkCount(kernel, "dk", options.dk);
  const dv = checkCount(kernel, "dv", options.dv);
  const nK = checkCount(kernel, "nKHeads", options.nKHeads);
  const nV = checkCount(kernel, "nVHeads", options.nVHeads);
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const seqs = checkCount(kernel, "seqs", options.seqs ?? 1);
  const gqa = options.gqa ?? "tiled";
  if (dk > GATED_DELTA_NET_MAX_DK) {
    throw new RangeError(
      `Cannot encode ${kernel}: "dk" is ${dk}, expected at most ${GATED_DELTA_NET_MAX_DK} (the state row a SIMD-group keeps in registers)`,
    );
  }
  if (nV % nK !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "nVHeads" is ${nV}, expected a multiple of nKHeads ${nK}`,
    );
  }
  if (gqa !== "tiled" && gqa !== "grouped") {
    throw new TypeError(
      `Cannot encode ${kernel}: "gqa" is ${JSON.stringify(gqa)}, expected "tiled" or "grouped"`,
    );
  }
  const qkCount = seqs * tokens * nK * dk;
  const vCount = seqs * tokens * nV * dv;
  const stateCount = seqs * nV * dv * dk;
  if (Math.max(qkCount, vCount, stateCount) > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: a tensor of ${
        Math.max(qkCount, vCount, stateCount)
      } elements, expected at most ${U32_MAX}`,
    );
  }
  const qk = sizeDetail([["seqs", seqs], ["tokens", tokens], ["nKHeads", nK], ["dk", dk]], F32);
  const vd = sizeDetail([["seqs", seqs], ["tokens", tokens], ["nVHeads", nV], ["dv", dv]], F32);
  const gd = sizeDetail([["seqs", seqs], ["tokens", tokens], ["nVHeads", nV]], F32);
  const sd = sizeDetail([["seqs", seqs], ["nVHeads", nV], ["dv", dv], ["dk", dk]], F32);
  checkBuffer(kernel, "q", options.q, qkCount * F32, qk);
  checkBuffer(kernel, "k", options.k, qkCount * F32, qk);
  checkBuffer(kernel, "v", options.v, vCount * F32, vd);
  checkBuffer(kernel, "g", options.g, seqs * tokens * nV * F32, gd);
  checkBuffer(kernel, "beta", options.beta, seqs * tokens * nV * F32, gd);
  checkBuffer(kernel, "state", options.state, stateCount * F32, sd);
  checkBuffer(kernel, "out", options.out, vCount * F32, vd);
  checkBuffer(kernel, "newState", options.newState, stateCount * F32, sd);
  // struct GatedDeltaNetParams { uint dk, dv, n_k_heads, n_v_heads, tokens, seqs, grouped; }
  const params = packParams([
    ["u32", dk],
    ["u32", dv],
    ["u32", nK],
    ["u32", nV],
    ["u32", tokens],
    ["u32", seqs],
    ["u32", gqa === "grouped" ? 1 : 0],
  ]);
  return {
    registry: options.registry,
    kernel,
    args: [
      options.q,
      options.k,
      options.v,
      options.g,
      options.beta,
      options.state,
      options.out,
      options.newState,
      params,
    ],
    geometry: (pipeline, backend) => {
      // One SIMD-group per row of S; a few per threadgroup on a GPU, one on the CPU backend.
      const fit = Math.max(1, Math.floor(pipeline.maxTotalThreadsPerThreadgroup / SIMD_WIDTH));
      const rows = Math.min(backend === "cpu" ? 1 : GATED_DELTA_NET_GPU_ROWS, fit, dv);
      return {
        kind: "threadgroups",
        grid: [Math.ceil(dv / rows), nV, seqs],
        threadgroup: [SIMD_WIDTH, rows, 1],
      };
    },
  };
}

/**
 * Encodes the gated delta rule over the call's tokens (`gated_delta_net_f32`): per token
 * `S ← e^(−g)·S`, `δ = v − S·k`, `S ← S + β·δ·kᵀ`, `out = S·q`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry, or an unknown `gqa`.
 * @throws {RangeError} For sizes that are not positive integers, `dk` above 256, `nVHeads`
 * not a multiple of `nKHeads`, or a buffer too small for its shape.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { Device, gatedDeltaNet, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // dk = 2, dv = 1, beta = 1: the memory learns v for key e0 exactly, and reads it with q = e0.
 * using q = device.newBuffer(new Float32Array([1, 0]));
 * using k = device.newBuffer(new Float32Array([1, 0]));
 * using v = device.newBuffer(new Float32Array([5]));
 * using g = device.newBuffer(new Float32Array([0]));
 * using beta = device.newBuffer(new Float32Array([1]));
 * using state = device.newBuffer(new Float32Array([9, 4])); // decays by e^0 = 1
 * using out = device.newBuffer(4);
 * using newState = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await gatedDeltaNet(encoder, {
 *   registry, q, k, v, g, beta, state, out, newState,
 *   dk: 2, dv: 1, nKHeads: 1, nVHeads: 1, tokens: 1,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * assert.deepStrictEqual([...new Float32Array(out.contents)], [5]);
 * assert.deepStrictEqual([...new Float32Array(newState.contents)], [5, 4]);
 * ```
 */
export async function gatedDeltaNet(
  encoder: ComputeEncoder,
  options: GatedDeltaNetOptions,
): Promise<void> {
  await encodePlan(encoder, gatedDeltaNetPlan(options));
}

/**
 * {@linkcode gatedDeltaNet}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers and sizes.
 * @throws {TypeError} For a missing buffer or registry, or an unknown `gqa`.
 * @throws {RangeError} For bad sizes or a too small buffer.
 *
 * @example Usage
 * ```ts
 * import { Device, gatedDeltaNetSync, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * // g = ln 2 halves the old memory; beta = 0 writes nothing.
 * using q = device.newBuffer(new Float32Array([1]));
 * using k = device.newBuffer(new Float32Array([1]));
 * using v = device.newBuffer(new Float32Array([7]));
 * using g = device.newBuffer(new Float32Array([Math.LN2]));
 * using beta = device.newBuffer(new Float32Array([0]));
 * using state = device.newBuffer(new Float32Array([8]));
 * using out = device.newBuffer(4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * gatedDeltaNetSync(encoder, {
 *   registry, q, k, v, g, beta, state, out, newState: state,
 *   dk: 1, dv: 1, nKHeads: 1, nVHeads: 1, tokens: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.ok(Math.abs(new Float32Array(out.contents)[0] - 4) < 1e-5);
 * ```
 */
export function gatedDeltaNetSync(encoder: ComputeEncoder, options: GatedDeltaNetOptions): void {
  encodePlanSync(encoder, gatedDeltaNetPlan(options));
}
