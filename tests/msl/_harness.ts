// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared helpers of the MSL conformance suite: compile a small kernel through the public API,
// run it once, and read its buffers back.
import assert from "node:assert";
// Imports the modules themselves, not mod.ts, so the suite runs while op modules are in flux.
import type { Size } from "../../device.ts";
import type { FunctionConstants } from "../../constants.ts";
import type { Device } from "../../device.ts";
import { ShaderCompilationError } from "../../errors.ts";
import type { Pipeline } from "../../pipeline.ts";
import { KernelRegistry, type KernelRegistryOptions } from "../../registry.ts";
import { openTestDevice } from "../_helpers.ts";

export { openTestDevice };

/** The standard prologue of every test kernel. */
export const PRELUDE = "#include <metal_stdlib>\nusing namespace metal;\n";

/** One binding of a run: buffer contents (copied in, read back) or a byte length (zeroed). */
export type Binding = ArrayBufferView | number;

/** What {@linkcode runKernel} dispatches. */
export interface RunOptions {
  /** MSL source (PRELUDE is prepended). */
  source: string;
  /** The kernel (host) name to run. */
  kernel: string;
  /** `[[buffer(i)]]` contents in index order. */
  buffers: Binding[];
  /** dispatchThreads grid (exclusive with `groups`). */
  grid?: Size;
  /** dispatchThreadgroups count. */
  groups?: Size;
  /** Threads per threadgroup. */
  threads: Size;
  /** Function constants. */
  constants?: FunctionConstants;
  /** `[[threadgroup(i)]]` lengths by index. */
  threadgroupMemory?: Record<number, number>;
}

/**
 * A registry and device for one test file. Both close themselves when the file's tests are done
 * (the module's `unload` event), so no test exists only to tear down.
 */
export class Harness {
  readonly device: Device;
  readonly registry: KernelRegistry;
  #sources = new Map<string, string>();

  /** `options` configure the file's registry (e.g. `{ languageVersion: "4.0" }`). */
  constructor(options: KernelRegistryOptions = {}) {
    this.registry = new KernelRegistry(options);
    this.device = openTestDevice();
    globalThis.addEventListener("unload", () => this.close());
  }

  /** Compiles `source` and returns the pipeline for `kernel`. */
  pipeline(source: string, kernel: string, constants?: FunctionConstants): Promise<Pipeline> {
    const text = PRELUDE + source;
    if (this.#sources.get(kernel) !== text) {
      // One registered name per kernel; registering new text evicts the old pipelines.
      this.registry.registerSource(kernel, text, `${kernel}.metal`);
      this.#sources.set(kernel, text);
    }
    return this.registry.getPipeline(kernel, this.device, constants);
  }

  /** Runs one dispatch; returns every buffer's bytes afterwards. */
  async run(options: RunOptions): Promise<ArrayBuffer[]> {
    const pipeline = await this.pipeline(options.source, options.kernel, options.constants);
    const buffers = options.buffers.map((b) => this.device.newBuffer(b));
    try {
      using commands = this.device.newCommandBuffer();
      const encoder = commands.computeEncoder();
      encoder.setPipeline(pipeline);
      buffers.forEach((b, i) => encoder.setBuffer(b, i));
      for (const [index, length] of Object.entries(options.threadgroupMemory ?? {})) {
        encoder.setThreadgroupMemoryLength(length, Number(index));
      }
      if (options.grid) encoder.dispatchThreads(options.grid, options.threads);
      else encoder.dispatchThreadgroups(options.groups ?? [1], options.threads);
      encoder.end();
      commands.commit();
      await commands.completed();
      return buffers.map((b) => b.contents.slice(0));
    } finally {
      for (const b of buffers) b.close();
    }
  }

  /** Compiles `source` expecting failure; returns the compile error. */
  async compileError(source: string, kernel: string): Promise<ShaderCompilationError> {
    try {
      await this.pipeline(source, kernel);
    } catch (error) {
      assert.ok(error instanceof ShaderCompilationError, `expected a compile error, got ${error}`);
      return error;
    }
    assert.fail(`expected "${kernel}" not to compile`);
  }

  /** Closes the registry and the device (idempotent). */
  close(): void {
    this.registry.close();
    this.device.close();
  }
}

/** Asserts every element of `actual` is within `tolerance` (absolute + relative) of `expected`. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-6,
  label = "",
): void {
  assert.strictEqual(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; ++i) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${label}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (a === e) continue;
    const err = Math.abs(a - e);
    assert.ok(
      err <= tolerance * Math.max(1, Math.abs(e)),
      `${label}[${i}]: expected ${e}, got ${a} (error ${err})`,
    );
  }
}

/** Rounds a number to the nearest float16 value (ties to even), as a number. */
export function toHalf(x: number): number {
  return halfBitsToNumber(numberToHalfBits(x));
}

/** float16 bits of `x`, rounded to nearest even (via float32 first, like a cast). */
export function numberToHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    let r = half;
    if (rem > mid || (rem === mid && (half & 1))) r++;
    return sign | r;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  if ((h >>> 10) >= 31) return sign | 0x7c00;
  e = h;
  return sign | e;
}

/** The number a float16 bit pattern holds. */
export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of `x` (via float32), rounded to nearest even. */
export function numberToBfloatBits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  const lower = u & 0xffff;
  let upper = u >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1))) upper++;
  return upper & 0xffff;
}

/** The number bfloat16 bits hold. */
export function bfloatBitsToNumber(b: number): number {
  return new Float32Array(new Uint32Array([b << 16]).buffer)[0];
}

/** Rounds to the nearest bfloat16 value. */
export function toBfloat(x: number): number {
  return bfloatBitsToNumber(numberToBfloatBits(x));
}

/** Rounds to float32. */
export const f32: (x: number) => number = Math.fround;
