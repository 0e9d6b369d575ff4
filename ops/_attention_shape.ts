// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Shape checks shared by the attention op helpers (private): heads and their GQA ratio,
 * head dimension, query and cache lengths, window, and the Q/K/V/O buffers those imply.
 * Every check runs before any native call and throws the `TypeError` / `RangeError` of
 * `ops/_validate.ts`, naming the kernel.
 *
 * @module
 */
import type { DeviceBuffer } from "../buffer.ts";
import {
  checkBuffer,
  checkCount,
  checkDistinct,
  checkFinite,
  checkIndex,
  sizeDetail,
} from "./_validate.ts";

/** The sizes every attention op takes. */
export interface AttentionSizes {
  /** Independent sequences. @default {1} */
  batch?: number;
  /** Query heads. */
  nHeads: number;
  /** Key/value heads; `nHeads` must be a multiple of it (grouped-query attention). */
  nKvHeads: number;
  /** Head dimension of Q, K, V and O. */
  headDim: number;
  /** Valid positions of the KV cache (keys `0 … kvLen − 1`). */
  kvLen: number;
  /** Positions per KV head in the K and V buffers. @default {kvLen} */
  kvCapacity?: number;
  /** Multiplies `q · k` (typically `1 / √headDim`). */
  scale: number;
}

/** {@linkcode AttentionSizes} after checking, defaults filled in. */
export interface CheckedAttentionSizes {
  batch: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  qLen: number;
  kvLen: number;
  kvCapacity: number;
  scale: number;
}

/** What a kernel allows for `headDim`. */
export type HeadDimRule =
  | { readonly max: number; readonly multipleOf?: number }
  | { readonly oneOf: readonly number[] };

/**
 * Checks the sizes of an attention op.
 *
 * @param kernel The kernel, for messages.
 * @param sizes The sizes given.
 * @param qLen Query rows per head (1 for decode).
 * @param headDims What the kernel allows for `headDim`.
 * @returns The checked sizes.
 * @throws {TypeError} For a size that is not a number.
 * @throws {RangeError} For a size that is not a positive integer, `nHeads` not a multiple of
 * `nKvHeads`, a `headDim` the kernel does not take, `kvCapacity < kvLen`, or a non-finite scale.
 */
export function checkAttentionSizes(
  kernel: string,
  sizes: AttentionSizes,
  qLen: number,
  headDims: HeadDimRule,
): CheckedAttentionSizes {
  const batch = checkCount(kernel, "batch", sizes.batch ?? 1);
  const nHeads = checkCount(kernel, "nHeads", sizes.nHeads);
  const nKvHeads = checkCount(kernel, "nKvHeads", sizes.nKvHeads);
  if (nHeads % nKvHeads !== 0) {
    throw new RangeError(
      `Cannot encode ${kernel}: "nKvHeads" is ${nKvHeads}, expected a divisor of nHeads ${nHeads} (each KV head serves nHeads / nKvHeads query heads)`,
    );
  }
  const headDim = checkCount(kernel, "headDim", sizes.headDim);
  if ("oneOf" in headDims) {
    if (!headDims.oneOf.includes(headDim)) {
      throw new RangeError(
        `Cannot encode ${kernel}: "headDim" is ${headDim}, expected ${headDims.oneOf.join(" or ")}`,
      );
    }
  } else if (headDim > headDims.max || headDim % (headDims.multipleOf ?? 1) !== 0) {
    const multiple = headDims.multipleOf ? `a multiple of ${headDims.multipleOf} ` : "";
    throw new RangeError(
      `Cannot encode ${kernel}: "headDim" is ${headDim}, expected ${multiple}at most ${headDims.max}`,
    );
  }
  checkCount(kernel, "qLen", qLen);
  const kvLen = checkCount(kernel, "kvLen", sizes.kvLen);
  const kvCapacity = checkCount(kernel, "kvCapacity", sizes.kvCapacity ?? kvLen);
  if (kvCapacity < kvLen) {
    throw new RangeError(
      `Cannot encode ${kernel}: "kvCapacity" is ${kvCapacity}, expected at least kvLen ${kvLen}`,
    );
  }
  const scale = checkFinite(kernel, "scale", sizes.scale);
  return { batch, nHeads, nKvHeads, headDim, qLen, kvLen, kvCapacity, scale };
}

/**
 * Checks a sliding-window size: a positive integer (a `uint` field of the kernel).
 *
 * @param kernel The kernel, for messages.
 * @param window The value given.
 * @returns The window.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not a positive integer.
 */
export function checkWindow(kernel: string, window: unknown): number {
  return checkCount(kernel, "window", window);
}

/** The Q, K, V and O buffers of an attention op. */
export interface AttentionBuffers {
  /** Queries `[batch, nHeads, qLen, headDim]`. */
  q: DeviceBuffer;
  /** Keys `[batch, nKvHeads, kvCapacity, headDim]`. */
  k: DeviceBuffer;
  /** Values, laid out as `k`. */
  v: DeviceBuffer;
  /** Output, laid out as `q`. */
  output: DeviceBuffer;
}

/**
 * Checks the four buffers against the sizes: large enough, and the output distinct from K
 * and V (it may be Q: each output row is written after its query row was last read).
 *
 * @param kernel The kernel, for messages.
 * @param s The checked sizes.
 * @param buffers The buffers given.
 * @param bytes Bytes per element of Q and O.
 * @param kvBytes Bytes per element of K and V. @default {bytes}
 * @throws {TypeError} When one is not a buffer.
 * @throws {RangeError} When one is too small, or the output is K or V.
 */
export function checkAttentionBuffers(
  kernel: string,
  s: CheckedAttentionSizes,
  buffers: AttentionBuffers,
  bytes: number,
  kvBytes: number = bytes,
): void {
  const qFactors = [["batch", s.batch], ["nHeads", s.nHeads], ["qLen", s.qLen], [
    "headDim",
    s.headDim,
  ]] as const;
  const kvFactors = [["batch", s.batch], ["nKvHeads", s.nKvHeads], ["kvCapacity", s.kvCapacity], [
    "headDim",
    s.headDim,
  ]] as const;
  const qBytes = s.batch * s.nHeads * s.qLen * s.headDim * bytes;
  const kvTotal = s.batch * s.nKvHeads * s.kvCapacity * s.headDim * kvBytes;
  checkBuffer(kernel, "q", buffers.q, qBytes, sizeDetail(qFactors, bytes));
  checkBuffer(kernel, "k", buffers.k, kvTotal, sizeDetail(kvFactors, kvBytes));
  checkBuffer(kernel, "v", buffers.v, kvTotal, sizeDetail(kvFactors, kvBytes));
  checkBuffer(kernel, "output", buffers.output, qBytes, sizeDetail(qFactors, bytes));
  const why = "expected a buffer the kernel does not read keys or values from";
  checkDistinct(kernel, ["k", "output"], buffers.k, buffers.output, why);
  checkDistinct(kernel, ["v", "output"], buffers.v, buffers.output, why);
}

/** The window, ring and split options of a decode attention op (one query row per head). */
export interface DecodeSplitOptions {
  /** Sliding window: attend to the last `window` keys only. */
  window?: number;
  /** Ring-buffer start of the cache. */
  ringStart?: number;
  /** Workgroups per head sharing the keys; each writes its partial result to `scratch`. */
  splits?: number;
  /** Partial results of the splits. */
  scratch?: DeviceBuffer;
}

/** How a decode kernel family splits its keys, for {@linkcode checkDecodeSplits}. */
export interface DecodeSplitRule {
  /** The most splits the kernels take. */
  maxSplits: number;
  /** Scratch bytes for `splits` splits of every head. */
  scratchBytes(splits: number): number;
  /** The split count to use when none is given, for `visibleKeys` keys a query sees. */
  defaultSplits(visibleKeys: number): number;
}

/** {@linkcode DecodeSplitOptions} after checking, defaults filled in. */
export interface DecodeSplits {
  window: number;
  ringStart: number;
  splits: number;
}

/**
 * Checks the window, ring start and split count of a decode attention op and, when it splits,
 * its scratch buffer: large enough and distinct from every buffer in `buffers`. Without
 * `splits`, a given `scratch` decides how many splits fit (at most the rule's default).
 *
 * @param kernel The kernel, for messages.
 * @param s The checked sizes.
 * @param options The options given.
 * @param rule The kernel family's split rule.
 * @param buffers The op's other buffers by name (each must not be the scratch buffer).
 * @returns The window (0: none), ring start and split count.
 * @throws {TypeError} For a value that is not a number, or splits without a scratch buffer.
 * @throws {RangeError} For an out-of-range window, ring start or split count, or a scratch
 * buffer that is too small or shared with another buffer.
 */
export function checkDecodeSplits(
  kernel: string,
  s: CheckedAttentionSizes,
  options: DecodeSplitOptions,
  rule: DecodeSplitRule,
  buffers: Record<string, DeviceBuffer>,
): DecodeSplits {
  const window = options.window === undefined ? 0 : checkWindow(kernel, options.window);
  const ringStart = options.ringStart === undefined ? 0 : checkIndex(
    kernel,
    "ringStart",
    options.ringStart,
    s.kvCapacity,
    `kvCapacity ${s.kvCapacity}`,
  );
  const scratch = options.scratch;
  let splits: number;
  if (options.splits !== undefined) {
    splits = checkCount(kernel, "splits", options.splits);
    if (splits > rule.maxSplits) {
      throw new RangeError(
        `Cannot encode ${kernel}: "splits" is ${splits}, expected at most ${rule.maxSplits}`,
      );
    }
    if (splits > 1 && scratch === undefined) {
      throw new TypeError(
        `Cannot encode ${kernel}: "scratch" is undefined, expected a DeviceBuffer of at least ${
          rule.scratchBytes(splits)
        } bytes for ${splits} splits`,
      );
    }
  } else if (scratch === undefined) {
    splits = 1;
  } else {
    checkBuffer(kernel, "scratch", scratch, 0, "");
    const visible = window > 0 ? Math.min(window, s.kvLen) : s.kvLen;
    const fits = Math.floor(scratch.byteLength / rule.scratchBytes(1));
    splits = Math.max(1, Math.min(rule.defaultSplits(visible), fits));
  }
  if (splits > 1) {
    checkBuffer(
      kernel,
      "scratch",
      scratch,
      rule.scratchBytes(splits),
      // f32 partials: headDim outputs, the running max and the sum, per head and split
      sizeDetail([["nHeads", s.nHeads], ["splits", splits], ["(headDim + 2)", s.headDim + 2]], 4),
    );
    for (const [name, buffer] of Object.entries(buffers)) {
      checkDistinct(
        kernel,
        [name, "scratch"],
        buffer,
        scratch,
        "expected a scratch buffer of its own",
      );
    }
  }
  return { window, ringStart, splits };
}
