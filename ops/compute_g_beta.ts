// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/compute_g_beta.metal`: the gates of a Gated DeltaNet layer, per
 * token `t` and value head `h`:
 * `g[t][h] = softplus(a[t][h] + dtBias[h]) · (−ssmA[h])` (a decay rate ≥ 0, as `ssmA` holds
 * `−exp(A_log)`) and `beta[t][h] = σ(b[t][h])`. softplus is clamped as the models clamp it
 * (`x` above 20, `0` below −20). f32 only. The f64 reference is `ops/compute_g_beta_ref.ts`.
 *
 * Bindings (`compute_g_beta_f32`): `buffer(0)` a, `buffer(1)` b (`float[tokens·heads]`,
 * token-major), `buffer(2)` dtBias, `buffer(3)` ssmA (`float[heads]`), `buffer(4)` g,
 * `buffer(5)` beta (`float[tokens·heads]`), `buffer(6)`
 * `constant GBetaParams { uint n_heads; uint n; }` by `setBytes` (`n = tokens·heads`).
 * Grid: `tokens·heads` threads.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "../mod.ts";
 * import { computeGBeta } from "./compute_g_beta.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([0, 1]));
 * using b = device.newBuffer(new Float32Array([0, 2]));
 * using dtBias = device.newBuffer(new Float32Array([0.5]));
 * using ssmA = device.newBuffer(new Float32Array([-Math.exp(0.1)]));
 * using g = device.newBuffer(8);
 * using beta = device.newBuffer(8);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await computeGBeta(encoder, { registry, a, b, dtBias, ssmA, g, beta, tokens: 2, heads: 1 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * console.log(new Float32Array(beta.contents)); // [0.5, 0.881]
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import {
  encodePlan,
  encodePlanSync,
  type KernelPlan,
  linearSplit,
  packParams,
} from "./_dispatch.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkRegistry,
  sizeDetail,
  U32_MAX,
} from "./_validate.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { COMPUTE_G_BETA_KERNELS } from "../shaders/compute_g_beta.ts";

/** The catalogue names of `compute_g_beta.metal` (its table: `shaders/compute_g_beta.ts`). */
export { COMPUTE_G_BETA_KERNELS };

/** Every kernel name of `compute_g_beta.metal`. */
export type ComputeGBetaKernelName = TableNames<typeof COMPUTE_G_BETA_KERNELS>;

/** Options of {@linkcode computeGBeta}. All buffers hold f32. */
export interface ComputeGBetaOptions {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Decay logits `[tokens, heads]`, token-major. */
  a: DeviceBuffer;
  /** Write-strength logits `[tokens, heads]`. */
  b: DeviceBuffer;
  /** Per-head bias added to `a`, `[heads]`. */
  dtBias: DeviceBuffer;
  /** Per-head `−exp(A_log)` (negative, as checkpoints store it), `[heads]`. */
  ssmA: DeviceBuffer;
  /** Output decay rates `[tokens, heads]` (≥ 0); may be `a`. */
  g: DeviceBuffer;
  /** Output write strengths `[tokens, heads]` in (0, 1); may be `b`, not `g`. */
  beta: DeviceBuffer;
  /** Number of tokens. */
  tokens: number;
  /** Value heads per token. */
  heads: number;
}

const F32 = bytesPerElement("f32");

function computeGBetaPlan(options: ComputeGBetaOptions): KernelPlan {
  checkRegistry("computeGBeta", options.registry);
  const kernel = COMPUTE_G_BETA_KERNELS.f32;
  const tokens = checkCount(kernel, "tokens", options.tokens);
  const heads = checkCount(kernel, "heads", options.heads);
  const n = tokens * heads;
  if (n > U32_MAX) {
    throw new RangeError(
      `Cannot encode ${kernel}: tokens ${tokens} × heads ${heads} is ${n}, expected at most ${U32_MAX} elements`,
    );
  }
  const detail = sizeDetail([["tokens", tokens], ["heads", heads]], F32);
  const headDetail = sizeDetail([["heads", heads]], F32);
  checkBuffer(kernel, "a", options.a, n * F32, detail);
  checkBuffer(kernel, "b", options.b, n * F32, detail);
  checkBuffer(kernel, "dtBias", options.dtBias, heads * F32, headDetail);
  checkBuffer(kernel, "ssmA", options.ssmA, heads * F32, headDetail);
  checkBuffer(kernel, "g", options.g, n * F32, detail);
  checkBuffer(kernel, "beta", options.beta, n * F32, detail);
  checkDistinct(kernel, ["g", "beta"], options.g, options.beta, "expected two output buffers");
  // struct GBetaParams { uint n_heads; uint n; }
  const params = packParams([["u32", heads], ["u32", n]]);
  return {
    registry: options.registry,
    kernel,
    args: [options.a, options.b, options.dtBias, options.ssmA, options.g, options.beta, params],
    geometry: (pipeline) => linearSplit(pipeline, n),
  };
}

/**
 * Encodes the Gated DeltaNet gates (`compute_g_beta_f32`):
 * `g[t][h] = softplus(a[t][h] + dtBias[h]) · (−ssmA[h])`, `beta[t][h] = σ(b[t][h])`.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, tokens and heads.
 * @returns Resolves once the dispatch is encoded (not run: commit and wait for that).
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For `tokens`/`heads` that are not positive integers, a buffer too
 * small for its shape, or `g` and `beta` being the same buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { computeGBeta, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([0, 30]));
 * using b = device.newBuffer(new Float32Array([0, 0]));
 * using dtBias = device.newBuffer(new Float32Array([0, 0]));
 * using ssmA = device.newBuffer(new Float32Array([-1, -0.5]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await computeGBeta(encoder, { registry, a, b, dtBias, ssmA, g: a, beta: b, tokens: 1, heads: 2 });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const g = new Float32Array(a.contents);
 * assert.ok(Math.abs(g[0] - Math.LN2) < 1e-6 && g[1] === 15);
 * assert.deepStrictEqual([...new Float32Array(b.contents)], [0.5, 0.5]);
 * ```
 */
export async function computeGBeta(
  encoder: ComputeEncoder,
  options: ComputeGBetaOptions,
): Promise<void> {
  await encodePlan(encoder, computeGBetaPlan(options));
}

/**
 * {@linkcode computeGBeta}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, tokens and heads.
 * @throws {TypeError} For a missing buffer or registry.
 * @throws {RangeError} For bad sizes, a too small buffer, or `g` = `beta`.
 *
 * @example Usage
 * ```ts
 * import { computeGBetaSync, Device, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using a = device.newBuffer(new Float32Array([-30]));
 * using b = device.newBuffer(new Float32Array([-100]));
 * using dtBias = device.newBuffer(new Float32Array([0]));
 * using ssmA = device.newBuffer(new Float32Array([-1]));
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * computeGBetaSync(encoder, { registry, a, b, dtBias, ssmA, g: a, beta: b, tokens: 1, heads: 1 });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Float32Array(a.contents)[0], 0); // softplus clamps below -20
 * assert.ok(new Float32Array(b.contents)[0] < 1e-40);
 * ```
 */
export function computeGBetaSync(encoder: ComputeEncoder, options: ComputeGBetaOptions): void {
  encodePlanSync(encoder, computeGBetaPlan(options));
}
