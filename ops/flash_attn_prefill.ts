// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Typed helpers for `shaders/flash_attn_prefill.metal`: tiled prefill attention on SIMD-group
 * matrices (the `steel_attention_*` kernels). One threadgroup per tile of query rows of one
 * head walks the keys a tile at a time with an online softmax in base 2. The kernel is
 * chosen by dtype, head dimension and mask kind; function constants specialise it for
 * aligned query/key tiles, a mask, causal masking and tile skipping.
 *
 * Conventions (`attentionRef` with `roundScaledQuery: dtype`): Q is multiplied by
 * `scale · log2 e` and stored in the I/O dtype before the products; queries are right-aligned
 * to the keys (row `i` at position `kvLen − qLen + i`, or `queryOffset + i`); `causal` hides
 * keys after a row's position; a boolean mask hides keys where it is false (0), an additive
 * mask (the I/O dtype) is added to the scores; sliding windows are expressed through the
 * mask. Rows that see no key are zeros.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import { flashAttnPrefill } from "./flash_attn_prefill.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const qLen = 5, headDim = 256;
 * using q = device.newBuffer(toDTypeArray("f16", new Array(qLen * headDim).fill(0.1)));
 * using kv = device.newBuffer(toDTypeArray("f16", new Array(qLen * headDim).fill(1)));
 * using output = device.newBuffer(qLen * headDim * 2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await flashAttnPrefill(encoder, {
 *   registry, q, k: kv, v: kv, output, dtype: "f16", causal: true,
 *   nHeads: 1, nKvHeads: 1, headDim, qLen, kvLen: qLen, scale: 1 / 16,
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * ```
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import type { ComputeEncoder } from "../device.ts";
import { bytesPerElement } from "../dtype.ts";
import type { KernelRegistry } from "../registry.ts";
import type { TableNames } from "../shaders/catalog.ts";
import { FLASH_ATTN_PREFILL_KERNELS } from "../shaders/flash_attn_prefill.ts";
import {
  type AttentionBuffers,
  type AttentionSizes,
  checkAttentionBuffers,
  checkAttentionSizes,
} from "./_attention_shape.ts";
import { SIMD_WIDTH } from "./_defines.ts";
import { encodePlan, encodePlanSync, type KernelPlan } from "./_dispatch.ts";
import { checkBuffer, checkRegistry, pickKernel, sizeDetail } from "./_validate.ts";

/** The catalogue names of `flash_attn_prefill.metal` (its table: `shaders/flash_attn_prefill.ts`). */
export { FLASH_ATTN_PREFILL_KERNELS };

/** Every kernel name of `flash_attn_prefill.metal`. */
export type FlashAttnPrefillKernelName = TableNames<typeof FLASH_ATTN_PREFILL_KERNELS>;

/** I/O dtypes of the prefill kernels. */
export type FlashAttnPrefillDType = keyof typeof FLASH_ATTN_PREFILL_KERNELS;

/** A mask for {@linkcode flashAttnPrefill}, over (batch, head, query row, key). */
export interface FlashAttnPrefillMask {
  /** `"additive"`: values of the I/O dtype added to the scores; `"boolean"`: bytes, 0 hides. */
  kind: "additive" | "boolean";
  /** The mask values. */
  buffer: DeviceBuffer;
  /**
   * Element strides of (batch, head, query row); the key stride is 1, and 0 broadcasts.
   * @default {[0, 0, kvLen]} (one `[qLen, kvLen]` plane for every batch and head)
   */
  strides?: readonly [number, number, number];
}

/** Options of {@linkcode flashAttnPrefill}. */
export interface FlashAttnPrefillOptions extends AttentionSizes, AttentionBuffers {
  /** The registry that compiles and caches the pipeline. */
  registry: KernelRegistry;
  /** Storage type of Q, K, V, the output and an additive mask. */
  dtype: FlashAttnPrefillDType;
  /** 256 (every dtype) or 512 (f16, bf16). */
  headDim: number;
  /** Query rows per head. */
  qLen: number;
  /** Hide keys after each row's position. */
  causal: boolean;
  /** Position of query row 0. @default {kvLen − qLen} */
  queryOffset?: number;
  /** An additive or boolean mask. */
  mask?: FlashAttnPrefillMask;
  /**
   * Tile skipping: one byte per (query tile, key tile), `[ceil(qLen / bq), ceil(kvLen / bk)]`
   * for the kernel's tile shape ({@linkcode flashAttnPrefillTileShape}): 0 skips the tile, 1
   * attends normally, 2 attends without reading the mask (it is all zeros there).
   */
  tileSkip?: DeviceBuffer;
}

/** The query and key tile sizes of a prefill kernel. */
export interface FlashAttnPrefillTileShape {
  /** Query rows per threadgroup. */
  bq: number;
  /** Keys per step. */
  bk: number;
  /** SIMD-groups per threadgroup (8 query rows each). */
  simdgroups: number;
}

/**
 * The tile shape the kernel for `dtype` and `headDim` is built with (read from its name:
 * `…_bq32_bk16_bd256_wm4…` is 32 query rows, 16 keys, 4 SIMD-groups).
 *
 * @param dtype The I/O dtype.
 * @param headDim 256 or 512.
 * @returns The tile shape.
 * @throws {TypeError} For an unknown dtype.
 * @throws {RangeError} For a head dimension without a kernel.
 *
 * @example Usage
 * ```ts
 * import { flashAttnPrefillTileShape } from "./flash_attn_prefill.ts";
 * import assert from "node:assert";
 *
 * assert.deepStrictEqual(flashAttnPrefillTileShape("bf16", 512), { bq: 8, bk: 8, simdgroups: 1 });
 * ```
 */
export function flashAttnPrefillTileShape(
  dtype: FlashAttnPrefillDType,
  headDim: number,
): FlashAttnPrefillTileShape {
  const name = pickName(dtype, headDim, "additive");
  const [, bq, bk, wm] = name.match(/_bq(\d+)_bk(\d+)_bd\d+_wm(\d+)_/)!.map(Number);
  return { bq, bk, simdgroups: wm };
}

function pickName(
  dtype: FlashAttnPrefillDType,
  headDim: number,
  maskKind: "additive" | "boolean",
): FlashAttnPrefillKernelName {
  const byDim = pickKernel("flashAttnPrefill", FLASH_ATTN_PREFILL_KERNELS, "dtype", dtype);
  if (!Object.hasOwn(byDim, headDim)) {
    throw new RangeError(
      `Cannot encode flashAttnPrefill: "headDim" is ${headDim}, expected ${
        Object.keys(byDim).join(" or ")
      } for dtype "${dtype}"`,
    );
  }
  return (byDim as Record<number, Record<"additive" | "boolean", FlashAttnPrefillKernelName>>)[
    headDim
  ][maskKind];
}

function prefillPlan(options: FlashAttnPrefillOptions): KernelPlan {
  checkRegistry("flashAttnPrefill", options.registry);
  const mask = options.mask;
  if (mask !== undefined && mask.kind !== "additive" && mask.kind !== "boolean") {
    throw new TypeError(
      `Cannot encode flashAttnPrefill: "mask.kind" is ${
        JSON.stringify(mask.kind)
      }, expected "additive" or "boolean"`,
    );
  }
  const kernel = pickName(options.dtype, options.headDim, mask?.kind ?? "additive");
  const { bq, bk, simdgroups } = flashAttnPrefillTileShape(options.dtype, options.headDim);
  const s = checkAttentionSizes(kernel, options, options.qLen, { oneOf: [256, 512] });
  const bytes = bytesPerElement(options.dtype);
  checkAttentionBuffers(kernel, s, options, bytes);
  if (typeof options.causal !== "boolean") {
    throw new TypeError(
      `Cannot encode ${kernel}: "causal" is ${String(options.causal)}, expected true or false`,
    );
  }
  const queryOffset = options.queryOffset ?? s.kvLen - s.qLen;
  if (!Number.isInteger(queryOffset) || Math.abs(queryOffset) > 0x3fff_ffff) {
    throw new RangeError(
      `Cannot encode ${kernel}: "queryOffset" is ${queryOffset}, expected an integer`,
    );
  }
  for (
    const [name, value] of [["batch", s.batch], ["nHeads", s.nHeads], ["qLen", s.qLen], [
      "kvLen",
      s.kvLen,
    ]] as const
  ) {
    if (value > 0x7fff_ffff) {
      throw new RangeError(
        `Cannot encode ${kernel}: "${name}" is ${value}, expected at most 2^31 − 1`,
      );
    }
  }
  const nq = Math.ceil(s.qLen / bq);
  const nk = Math.ceil(s.kvLen / bk);
  const qStrides = [s.nHeads * s.qLen * s.headDim, s.qLen * s.headDim, s.headDim];
  const kvStrides = [s.nKvHeads * s.kvCapacity * s.headDim, s.kvCapacity * s.headDim, s.headDim];

  const args: (DeviceBuffer | Uint8Array)[] = [
    options.q,
    options.k,
    options.v,
    options.output,
    attnParams([
      s.batch,
      s.nHeads,
      s.headDim,
      s.qLen,
      s.kvLen,
      s.nHeads / s.nKvHeads,
      s.scale,
      nq,
      nk,
      Math.floor(s.qLen / bq),
      Math.floor(s.kvLen / bk),
      s.qLen % bq,
      s.kvLen % bk,
      queryOffset,
    ], [qStrides, kvStrides, kvStrides, qStrides]),
  ];
  // Slots 5-7 exist only when their function constant is true; the CPU backend still wants
  // every parameter bound, so absent ones get filler bytes (Metal ignores them).
  let maskArgs: (DeviceBuffer | Uint8Array)[] = [new Uint8Array(24), new Uint8Array(16)];
  if (mask !== undefined) {
    const strides = mask.strides ?? [0, 0, s.kvLen];
    if (
      !Array.isArray(strides) || strides.length !== 3 ||
      !strides.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      throw new RangeError(
        `Cannot encode ${kernel}: "mask.strides" is ${
          JSON.stringify(strides)
        }, expected three non-negative integers`,
      );
    }
    const maskBytes = mask.kind === "boolean" ? 1 : bytes;
    const elements = (s.batch - 1) * strides[0] + (s.nHeads - 1) * strides[1] +
      (s.qLen - 1) * strides[2] + s.kvLen;
    checkBuffer(
      kernel,
      "mask.buffer",
      mask.buffer,
      elements * maskBytes,
      `the last element at strides ${JSON.stringify(strides)} is ${
        elements - 1
      } × ${maskBytes} bytes`,
    );
    const maskParams = new Uint8Array(24);
    const view = new DataView(maskParams.buffer);
    strides.forEach((x, i) => view.setBigInt64(8 * i, BigInt(x), true));
    maskArgs = [maskParams, mask.buffer];
  }
  args.push(...maskArgs);
  if (options.tileSkip !== undefined) {
    checkBuffer(
      kernel,
      "tileSkip",
      options.tileSkip,
      nq * nk,
      sizeDetail([["query tiles", nq], ["key tiles", nk]], 1),
    );
    args.push(options.tileSkip);
  } else {
    args.push(new Uint8Array(16));
  }
  return {
    registry: options.registry,
    kernel,
    constants: {
      200: s.qLen % bq === 0,
      201: s.kvLen % bk === 0,
      300: mask !== undefined,
      301: options.causal,
      303: options.tileSkip !== undefined,
    },
    args,
    usesBfloat16: options.dtype === "bf16",
    geometry: () => ({
      kind: "threadgroups",
      grid: [nq, s.nHeads, s.batch],
      threadgroup: [SIMD_WIDTH, simdgroups, 1],
    }),
  };
}

/**
 * Packs `struct AttnParams`: fourteen 4-byte fields (int, except `scale`, the seventh, a
 * float), then four `long[3]` stride triples (Q, K, V, O), 152 bytes.
 */
function attnParams(
  fields: readonly number[],
  strides: readonly (readonly number[])[],
): Uint8Array {
  const bytes = new Uint8Array(56 + 96);
  const view = new DataView(bytes.buffer);
  fields.forEach((x, i) => {
    if (i === 6) view.setFloat32(4 * i, x, true);
    else view.setInt32(4 * i, x, true);
  });
  strides.flat().forEach((x, i) => view.setBigInt64(56 + 8 * i, BigInt(x), true));
  return bytes;
}

/**
 * Encodes tiled prefill attention (`steel_attention_*`): Q and the output
 * `[batch, nHeads, qLen, headDim]`, K and V `[batch, nKvHeads, kvCapacity, headDim]`, in the
 * I/O dtype with f32 arithmetic. The kernel is picked by dtype, head dimension and mask kind
 * and specialised for aligned tiles, the mask, `causal` and tile skipping.
 *
 * @param encoder An open compute encoder.
 * @param options Registry, buffers, dtype, sizes, scale, causal, and optional mask, query
 * offset and tile-skip table.
 * @returns Resolves once the dispatch is encoded.
 * @throws {TypeError} For a missing buffer or registry, an unknown dtype or mask kind, or a
 * `causal` that is not a boolean.
 * @throws {RangeError} For a head dimension without a kernel (f32: 256 only), `nHeads` not a
 * multiple of `nKvHeads`, `kvCapacity < kvLen`, bad mask strides, or a too small buffer.
 * @throws {KernelNotFoundError | ShaderCompilationError} From the registry.
 *
 * @example Usage
 * ```ts
 * import { attentionRef } from "../reference.ts";
 * import { Device, flashAttnPrefill, KernelRegistry } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const sizes = { nHeads: 1, nKvHeads: 1, headDim: 256, qLen: 3, kvLen: 3, scale: 0.0625 };
 * const q = Array.from({ length: 3 * 256 }, (_, i) => Math.sin(i));
 * const kv = Array.from({ length: 3 * 256 }, (_, i) => Math.cos(i));
 * using qb = device.newBuffer(new Float32Array(q));
 * using kvb = device.newBuffer(new Float32Array(kv));
 * using maskb = device.newBuffer(new Uint8Array([1, 0, 0, 1, 1, 0, 0, 1, 1])); // window of 2
 * using output = device.newBuffer(3 * 256 * 4);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * await flashAttnPrefill(encoder, {
 *   registry, q: qb, k: kvb, v: kvb, output, dtype: "f32", causal: true, ...sizes,
 *   mask: { kind: "boolean", buffer: maskb },
 * });
 * encoder.end();
 * commands.commit();
 * await commands.completed();
 * const expected = attentionRef({ q, k: kv, v: kv, ...sizes, causal: true, window: 2 });
 * new Float32Array(output.contents).forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-4));
 * ```
 */
export async function flashAttnPrefill(
  encoder: ComputeEncoder,
  options: FlashAttnPrefillOptions,
): Promise<void> {
  await encodePlan(encoder, prefillPlan(options));
}

/**
 * {@linkcode flashAttnPrefill}, blocking while the pipeline compiles on first use.
 *
 * @param encoder An open compute encoder.
 * @param options As for {@linkcode flashAttnPrefill}.
 * @throws {TypeError} For a missing buffer or registry, or an unknown dtype or mask kind.
 * @throws {RangeError} For bad sizes, strides or buffers.
 *
 * @example Usage
 * ```ts
 * import { Device, flashAttnPrefillSync, KernelRegistry, toDTypeArray } from "../mod.ts";
 * import assert from "node:assert";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * using q = device.newBuffer(toDTypeArray("bf16", new Array(512).fill(1)));
 * using kv = device.newBuffer(toDTypeArray("bf16", new Array(512).fill(2)));
 * using output = device.newBuffer(512 * 2);
 * using commands = device.newCommandBuffer();
 * const encoder = commands.computeEncoder();
 * flashAttnPrefillSync(encoder, {
 *   registry, q, k: kv, v: kv, output, dtype: "bf16", causal: false,
 *   nHeads: 1, nKvHeads: 1, headDim: 512, qLen: 1, kvLen: 1, scale: 1,
 * });
 * encoder.end();
 * commands.commit();
 * commands.waitUntilCompleted();
 * assert.strictEqual(new Uint16Array(output.contents)[0], 0x4000); // bf16 2: the one value
 * ```
 */
export function flashAttnPrefillSync(
  encoder: ComputeEncoder,
  options: FlashAttnPrefillOptions,
): void {
  encodePlanSync(encoder, prefillPlan(options));
}
