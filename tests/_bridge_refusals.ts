// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The ABI's refusals as a table: bad inputs, each with the status and message both
 * implementations of `metal_bridge.h` must return. `tests/bridge_parity_test.ts` runs every
 * row against the CPU backend (and Metal on macOS) through the raw C ABI, and reads the
 * Objective-C bridge to check it reaches each refusal through the same shared check of
 * `metal_bridge/common/contract.h` (or, for the few refusals worded in place, the same text).
 *
 * @module
 */
import { cString, OutPointer, readCString } from "../ffi/_native.ts";
import type { Backend } from "../backend.ts";
import type { BridgeSymbols } from "../ffi/symbols.ts";

/** What a call returned: the status name and the error's message ("" for MB_OK). */
export interface Outcome {
  status: string;
  message: string;
}

/** Live native objects one backend's rows share: a device, a library and its pipelines. */
export interface Fixture {
  symbols: BridgeSymbols;
  backend: Backend;
  device: Deno.PointerValue;
  buffer: Deno.PointerValue;
  /** The library of {@linkcode FIXTURE_SOURCE}. */
  library: Deno.PointerValue;
  /** `copy_two`: uses [[buffer(0)]] and [[buffer(2)]]. */
  copyTwo: Deno.PointerValue;
  /** `with_scratch`: uses [[buffer(0)]] and [[threadgroup(0)]]. */
  withScratch: Deno.PointerValue;
}

/** One bad input. */
export interface Refusal {
  /** What is wrong, as a test name. */
  name: string;
  /** The status both backends return. */
  status: "MB_ERR_INVALID_ARG" | "MB_ERR_LIMIT" | "MB_ERR_NOT_FOUND";
  /** The message both backends return (a pattern where a device limit is part of it). */
  message: string | RegExp;
  /**
   * How both backends reach the refusal: the shared check of `common/contract.h` they call
   * (`mbc_…`), or the literal text both sources contain.
   */
  via: { check: string } | { literal: string };
  /** Makes the bad call on `fixture` and returns what it returned. */
  run(fixture: Fixture): Outcome;
}

/** The MSL source of the fixture's two kernels. */
export const FIXTURE_SOURCE = `#include <metal_stdlib>
using namespace metal;

kernel void copy_two(device const float* a [[buffer(0)]], device float* out [[buffer(2)]],
                     uint i [[thread_position_in_grid]]) {
  out[i] = a[i];
}

kernel void with_scratch(device float* out [[buffer(0)]], threadgroup float* scratch [[threadgroup(0)]],
                         uint i [[thread_position_in_grid]], uint l [[thread_position_in_threadgroup]]) {
  scratch[l] = float(i);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = scratch[l];
}
`;

/** Runs `call` with an error out-pointer and returns its outcome, freeing the error. */
export function outcome(symbols: BridgeSymbols, call: (error: BigUint64Array) => number): Outcome {
  const error = new OutPointer();
  const status = call(error.cell);
  const pointer = error.pointer;
  const message = pointer === null ? "" : readCString(symbols.mb_error_message(pointer));
  symbols.mb_error_free(pointer);
  return { status: readCString(symbols.mb_status_name(status)), message };
}

function deviceWithConfig(fixture: Fixture, config: string): Outcome {
  const device = new OutPointer();
  const result = outcome(
    fixture.symbols,
    (error) => fixture.symbols.mb_device_create(cString(config), device.cell, error),
  );
  fixture.symbols.mb_device_release(device.pointer);
  return result;
}

/** mb_library_create of the fixture's source with these options. */
function libraryWith(
  fixture: Fixture,
  mathMode: number,
  languageVersion: number,
  macros?: string,
): Outcome {
  const { symbols } = fixture;
  const library = new OutPointer();
  const source = new TextEncoder().encode(FIXTURE_SOURCE);
  const result = outcome(symbols, (e) =>
    symbols.mb_library_create(
      fixture.device,
      source,
      BigInt(source.byteLength),
      cString("refusals.metal"),
      macros === undefined ? null : cString(macros),
      mathMode,
      languageVersion,
      library.cell,
      e,
    ));
  symbols.mb_library_release(library.pointer);
  return result;
}

function pipelineWithConstants(fixture: Fixture, constants: number[]): Outcome {
  const { symbols } = fixture;
  const pipeline = new OutPointer();
  const words = new Uint32Array(constants);
  const result = outcome(symbols, (error) =>
    symbols.mb_pipeline_create(
      fixture.library,
      cString("copy_two"),
      words,
      constants.length / 3,
      null,
      pipeline.cell,
      error,
    ));
  symbols.mb_pipeline_release(pipeline.pointer);
  return result;
}

/** One encoder: `encode` binds things, then the dispatch's outcome (3-D groups of threads). */
function dispatch(
  fixture: Fixture,
  encode: (encoder: Deno.PointerValue) => void,
  sizes: { groups?: number[]; grid?: number[]; threads?: number[] } = {},
): Outcome {
  const { symbols } = fixture;
  const commandBuffer = new OutPointer();
  const encoder = new OutPointer();
  outcome(
    symbols,
    (error) => symbols.mb_command_buffer_create(fixture.device, commandBuffer.cell, error),
  );
  outcome(
    symbols,
    (error) => symbols.mb_encoder_create(commandBuffer.pointer, encoder.cell, error),
  );
  try {
    encode(encoder.pointer);
    const threads = sizes.threads ?? [1, 1, 1];
    if (sizes.grid) {
      const [x, y, z] = sizes.grid;
      return outcome(
        symbols,
        (error) =>
          symbols.mb_encoder_dispatch_threads(
            encoder.pointer,
            x,
            y,
            z,
            threads[0],
            threads[1],
            threads[2],
            error,
          ),
      );
    }
    const [x, y, z] = sizes.groups ?? [1, 1, 1];
    return outcome(symbols, (error) =>
      symbols.mb_encoder_dispatch_threadgroups(
        encoder.pointer,
        x,
        y,
        z,
        threads[0],
        threads[1],
        threads[2],
        error,
      ));
  } finally {
    symbols.mb_encoder_end(encoder.pointer);
    symbols.mb_encoder_release(encoder.pointer);
    symbols.mb_command_buffer_release(commandBuffer.pointer);
  }
}

/**
 * A fresh command buffer for `act`, which returns the outcome of the call under test. The
 * command buffer (and any encoder `act` opened, through `track`) is released afterwards; a
 * committed one is waited for first.
 */
function withCommandBuffer(
  fixture: Fixture,
  act: (commandBuffer: Deno.PointerValue, track: (encoder: Deno.PointerValue) => void) => Outcome,
): Outcome {
  const { symbols } = fixture;
  const commandBuffer = new OutPointer();
  outcome(symbols, (e) => symbols.mb_command_buffer_create(fixture.device, commandBuffer.cell, e));
  const encoders: Deno.PointerValue[] = [];
  try {
    return act(commandBuffer.pointer, (encoder) => encoders.push(encoder));
  } finally {
    for (const encoder of encoders) symbols.mb_encoder_release(encoder);
    if (symbols.mb_command_buffer_status(commandBuffer.pointer) !== 0) {
      outcome(symbols, (e) => symbols.mb_command_buffer_wait(commandBuffer.pointer, e));
    }
    symbols.mb_command_buffer_release(commandBuffer.pointer);
  }
}

function openEncoder(
  fixture: Fixture,
  commandBuffer: Deno.PointerValue,
  track: (encoder: Deno.PointerValue) => void,
): Deno.PointerValue {
  const encoder = new OutPointer();
  outcome(
    fixture.symbols,
    (e) => fixture.symbols.mb_encoder_create(commandBuffer, encoder.cell, e),
  );
  track(encoder.pointer);
  return encoder.pointer;
}

/** Binds everything `copy_two` uses. */
function bindCopyTwo(fixture: Fixture, encoder: Deno.PointerValue): void {
  fixture.symbols.mb_encoder_set_pipeline(encoder, fixture.copyTwo);
  fixture.symbols.mb_encoder_set_buffer(encoder, fixture.buffer, 0n, 0);
  fixture.symbols.mb_encoder_set_buffer(encoder, fixture.buffer, 0n, 2);
}

/** Binds everything `with_scratch` uses (16 bytes of threadgroup memory). */
function bindWithScratch(fixture: Fixture, encoder: Deno.PointerValue): void {
  fixture.symbols.mb_encoder_set_pipeline(encoder, fixture.withScratch);
  fixture.symbols.mb_encoder_set_buffer(encoder, fixture.buffer, 0n, 0);
  fixture.symbols.mb_encoder_set_threadgroup_memory_length(encoder, 16n, 0);
}

/** The table. Both backends must give each row's status and message. */
export const REFUSALS: readonly Refusal[] = [
  {
    name: "a cache_max_mb with trailing garbage",
    status: "MB_ERR_INVALID_ARG",
    message:
      'device config: cache_max_mb must be a positive integer (MiB, at most 4294967296), got "12abc"',
    via: { check: "mbc_parse_device_options" },
    run: (f) => deviceWithConfig(f, "cache_max_mb=12abc"),
  },
  {
    name: "zero workers",
    status: "MB_ERR_INVALID_ARG",
    message: 'device config: workers must be 1 to 1024, got "0"',
    via: { check: "mbc_parse_device_options" },
    run: (f) => deviceWithConfig(f, "workers=0"),
  },
  {
    name: "a checked flag that is not 0 or 1",
    status: "MB_ERR_INVALID_ARG",
    message: 'device config: checked must be 0 or 1, got "maybe"',
    via: { check: "mbc_parse_device_options" },
    run: (f) => deviceWithConfig(f, "checked=maybe"),
  },
  {
    name: "half constant bits above 0xFFFF",
    status: "MB_ERR_INVALID_ARG",
    message: "function constant at index 0: half bits must fit in the low 16 bits, got 65536",
    via: { check: "mbc_check_constant" },
    run: (f) => pipelineWithConstants(f, [0, 5, 0x10000]),
  },
  {
    name: "a bool constant of 2",
    status: "MB_ERR_INVALID_ARG",
    message: "function constant at index 1: a bool must be 0 or 1, got 2",
    via: { check: "mbc_check_constant" },
    run: (f) => pipelineWithConstants(f, [1, 1, 2]),
  },
  {
    name: "a constant of unknown type",
    status: "MB_ERR_INVALID_ARG",
    message: "function constant at index 0: unknown type 9",
    via: { check: "mbc_check_constant" },
    run: (f) => pipelineWithConstants(f, [0, 9, 0]),
  },
  {
    name: "a constant given twice",
    status: "MB_ERR_INVALID_ARG",
    message: "function constant at index 3 is given twice",
    via: { check: "mbc_check_constant" },
    run: (f) => pipelineWithConstants(f, [3, 3, 1, 3, 3, 2]),
  },
  {
    name: "a buffer offset that is not a multiple of 4",
    status: "MB_ERR_INVALID_ARG",
    message:
      "mb_encoder_set_buffer: offset 2 of the buffer at index 2 is not a multiple of 4 bytes",
    via: { check: "mbc_check_buffer_offset" },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_set_buffer(e, f.buffer, 2n, 2);
      }),
  },
  {
    name: "a buffer offset past the end",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_set_buffer: offset 1024 is past the end of the 256-byte buffer at index 0",
    via: { check: "mbc_check_buffer_offset" },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_set_buffer(e, f.buffer, 1024n, 0);
      }),
  },
  {
    name: "a binding index of 31",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_set_buffer: index 31 is out of range (must be < 31)",
    via: { check: "mbc_check_index" },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_set_buffer(e, f.buffer, 0n, 31);
      }),
  },
  {
    name: "set_bytes of more than 4096 bytes",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_set_bytes: index 1 needs 1 to 4096 bytes, got 4097",
    via: { check: "mbc_check_set_bytes" },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_set_bytes(e, new Uint8Array(4097), 4097n, 1);
      }),
  },
  {
    name: "a threadgroup memory length that is not a multiple of 16",
    status: "MB_ERR_INVALID_ARG",
    message:
      "mb_encoder_set_threadgroup_memory_length: length 8 at index 0 is not a multiple of 16",
    via: { check: "mbc_check_threadgroup_length" },
    run: (f) =>
      dispatch(f, (e) => {
        bindWithScratch(f, e);
        f.symbols.mb_encoder_set_threadgroup_memory_length(e, 8n, 0);
      }),
  },
  {
    name: "a dispatch with no pipeline",
    status: "MB_ERR_INVALID_ARG",
    message: "dispatch: no pipeline set (call mb_encoder_set_pipeline)",
    via: { literal: "dispatch: no pipeline set (call mb_encoder_set_pipeline)" },
    run: (f) => dispatch(f, () => {}),
  },
  {
    name: "a [[buffer(i)]] the kernel uses left unbound",
    status: "MB_ERR_INVALID_ARG",
    message: 'dispatch of kernel "copy_two": [[buffer(2)]] is not bound',
    via: { check: "mbc_check_bindings" },
    run: (f) =>
      dispatch(f, (e) => {
        f.symbols.mb_encoder_set_pipeline(e, f.copyTwo);
        f.symbols.mb_encoder_set_buffer(e, f.buffer, 0n, 0);
      }),
  },
  {
    name: "a [[threadgroup(i)]] the kernel uses with no length",
    status: "MB_ERR_INVALID_ARG",
    message:
      'dispatch of kernel "with_scratch": [[threadgroup(0)]] has no length (call mb_encoder_set_threadgroup_memory_length)',
    via: { check: "mbc_check_bindings" },
    run: (f) =>
      dispatch(f, (e) => {
        f.symbols.mb_encoder_set_pipeline(e, f.withScratch);
        f.symbols.mb_encoder_set_buffer(e, f.buffer, 0n, 0);
      }),
  },
  {
    name: "a zero grid size",
    status: "MB_ERR_INVALID_ARG",
    message: 'dispatch of kernel "copy_two": sizes must be nonzero (grid 0x1x1, threadgroup 1x1x1)',
    via: { check: "mbc_check_dispatch_sizes" },
    run: (f) => dispatch(f, (e) => bindCopyTwo(f, e), { grid: [0, 1, 1] }),
  },
  {
    name: "a grid of more than 2^32-1 threads in one dimension",
    status: "MB_ERR_LIMIT",
    message:
      "dispatch: grid of 2147483648x1x1 threadgroups of 2x1x1 threads exceeds 2^32-1 threads per dimension",
    via: { check: "mbc_check_group_grid" },
    run: (f) =>
      dispatch(f, (e) => bindCopyTwo(f, e), { groups: [2 ** 31, 1, 1], threads: [2, 1, 1] }),
  },
  {
    name: "a threadgroup larger than the pipeline allows",
    status: "MB_ERR_LIMIT",
    message:
      /^dispatch of kernel "copy_two": \(threadsPerThreadgroup\.width\(4096\) \* threadsPerThreadgroup\.height\(1\) \* threadsPerThreadgroup\.depth\(1\)\)\(4096\) must be <= \d+\. \((device|kernel) threadgroup size limit\)$/,
    via: { check: "mbc_check_threadgroup_size" },
    run: (f) => dispatch(f, (e) => bindCopyTwo(f, e), { threads: [4096, 1, 1] }),
  },
  {
    name: "more threadgroup memory than the device has",
    status: "MB_ERR_LIMIT",
    message:
      /^dispatch of kernel "with_scratch": Threadgroup memory size \(1048576\) exceeds the maximum threadgroup memory allowed \(\d+\) \(1048576 set with setThreadgroupMemoryLength \+ 0 static\)$/,
    via: { check: "mbc_check_threadgroup_memory" },
    run: (f) =>
      dispatch(f, (e) => {
        bindWithScratch(f, e);
        f.symbols.mb_encoder_set_threadgroup_memory_length(e, 1048576n, 0);
      }),
  },
  {
    name: "a kernel name the library does not have",
    status: "MB_ERR_NOT_FOUND",
    message: 'no kernel function "nope" in refusals.metal; it has: copy_two, with_scratch',
    via: { literal: 'no kernel function "' },
    run: (f) => {
      const pipeline = new OutPointer();
      const result = outcome(
        f.symbols,
        (e) =>
          f.symbols.mb_pipeline_create(f.library, cString("nope"), null, 0, null, pipeline.cell, e),
      );
      f.symbols.mb_pipeline_release(pipeline.pointer);
      return result;
    },
  },
  {
    name: "a NULL pipeline",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_set_pipeline: pipeline is NULL",
    via: { literal: "mb_encoder_set_pipeline: pipeline is NULL" },
    run: (f) => dispatch(f, (e) => f.symbols.mb_encoder_set_pipeline(e, null)),
  },
  {
    name: "a NULL buffer",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_set_buffer: buffer at index 0 is NULL",
    via: { literal: "mb_encoder_set_buffer: buffer at index " },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_set_buffer(e, null, 0n, 0);
      }),
  },
  {
    name: "a dispatch after the encoder ended",
    status: "MB_ERR_INVALID_ARG",
    message: "dispatch: the encoder has ended",
    via: { literal: "dispatch: the encoder has ended" },
    run: (f) =>
      dispatch(f, (e) => {
        bindCopyTwo(f, e);
        f.symbols.mb_encoder_end(e);
      }),
  },
  {
    name: "a second encoder while one is open",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_create: the command buffer has an encoder that was not ended",
    via: { literal: "mb_encoder_create: the command buffer has an encoder that was not ended" },
    run: (f) =>
      withCommandBuffer(f, (cb, track) => {
        openEncoder(f, cb, track);
        const second = new OutPointer();
        const result = outcome(f.symbols, (e) => f.symbols.mb_encoder_create(cb, second.cell, e));
        track(second.pointer);
        return result;
      }),
  },
  {
    name: "a commit with the encoder still open",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_command_buffer_commit: end the encoder (mb_encoder_end) before commit",
    via: { literal: "mb_command_buffer_commit: end the encoder (mb_encoder_end) before commit" },
    run: (f) =>
      withCommandBuffer(f, (cb, track) => {
        openEncoder(f, cb, track);
        return outcome(f.symbols, (e) => f.symbols.mb_command_buffer_commit(cb, e));
      }),
  },
  {
    name: "a second commit",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_command_buffer_commit: the command buffer was already committed",
    via: { literal: "mb_command_buffer_commit: the command buffer was already committed" },
    run: (f) =>
      withCommandBuffer(f, (cb) => {
        outcome(f.symbols, (e) => f.symbols.mb_command_buffer_commit(cb, e));
        return outcome(f.symbols, (e) => f.symbols.mb_command_buffer_commit(cb, e));
      }),
  },
  {
    name: "an encoder after commit",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_encoder_create: the command buffer was already committed",
    via: { literal: "mb_encoder_create: the command buffer was already committed" },
    run: (f) =>
      withCommandBuffer(f, (cb, track) => {
        outcome(f.symbols, (e) => f.symbols.mb_command_buffer_commit(cb, e));
        const encoder = new OutPointer();
        const result = outcome(f.symbols, (e) => f.symbols.mb_encoder_create(cb, encoder.cell, e));
        track(encoder.pointer);
        return result;
      }),
  },
  {
    name: "a wait before commit",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_command_buffer_wait: the command buffer was not committed",
    via: { literal: "mb_command_buffer_wait: the command buffer was not committed" },
    run: (f) =>
      withCommandBuffer(
        f,
        (cb) => outcome(f.symbols, (e) => f.symbols.mb_command_buffer_wait(cb, e)),
      ),
  },
  {
    name: "device times before completion",
    status: "MB_ERR_INVALID_ARG",
    message: "mb_command_buffer_gpu_time: the command buffer has not completed",
    via: { literal: "mb_command_buffer_gpu_time: the command buffer has not completed" },
    run: (f) =>
      withCommandBuffer(f, (cb) =>
        outcome(
          f.symbols,
          (e) =>
            f.symbols.mb_command_buffer_gpu_time(cb, new Float64Array(1), new Float64Array(1), e),
        )),
  },
  {
    name: "an unknown math mode",
    status: "MB_ERR_INVALID_ARG",
    message:
      "mb_library_create: unknown math mode 7 (MB_MATH_SAFE, MB_MATH_RELAXED or MB_MATH_FAST)",
    via: { check: "mbc_check_math_mode" },
    run: (f) => libraryWith(f, 7, 0),
  },
  {
    name: "an unknown Metal language version",
    status: "MB_ERR_INVALID_ARG",
    message:
      "mb_library_create: unknown Metal language version 9.9 (known: 1.1, 1.2, 2.0-2.4, 3.0-3.2, 4.0)",
    via: { check: "mbc_check_language_version" },
    run: (f) => libraryWith(f, 2, (9 << 16) | 9),
  },
  {
    name: "a macro line that is not NAME=VALUE",
    status: "MB_ERR_INVALID_ARG",
    message: 'mb_library_create: bad macro line "9LIVES=1": expected NAME=VALUE or NAME',
    via: { check: "mbc_check_macros" },
    run: (f) => libraryWith(f, 2, 0, "GOOD=1\n  9LIVES=1\n"),
  },
  {
    name: "a kernel name in a library without kernels",
    status: "MB_ERR_NOT_FOUND",
    message: 'no kernel function "nope" in empty.metal; it has none',
    via: { literal: "; it has none" },
    run: (f) => {
      const { symbols } = f;
      const library = new OutPointer();
      const source = new TextEncoder().encode("constant float unused_value = 1.0f;\n");
      const compiled = outcome(symbols, (e) =>
        symbols.mb_library_create(
          f.device,
          source,
          BigInt(source.byteLength),
          cString("empty.metal"),
          null,
          2,
          0,
          library.cell,
          e,
        ));
      if (compiled.status !== "MB_OK") return compiled;
      const pipeline = new OutPointer();
      const result = outcome(
        symbols,
        (e) =>
          symbols.mb_pipeline_create(
            library.pointer,
            cString("nope"),
            null,
            0,
            null,
            pipeline.cell,
            e,
          ),
      );
      symbols.mb_pipeline_release(pipeline.pointer);
      symbols.mb_library_release(library.pointer);
      return result;
    },
  },
];

/** Opens `backend`'s fixture: a device on `cacheDir`, a 256-byte buffer, both pipelines. */
export function openFixture(symbols: BridgeSymbols, backend: Backend, cacheDir: string): Fixture {
  const must = (what: string, result: Outcome) => {
    if (result.status !== "MB_OK") {
      throw new Error(`${backend}: ${what}: ${result.status} ${result.message}`);
    }
  };
  const device = new OutPointer();
  must(
    "mb_device_create",
    outcome(
      symbols,
      (e) => symbols.mb_device_create(cString(`cache_dir=${cacheDir}`), device.cell, e),
    ),
  );
  const buffer = new OutPointer();
  must(
    "mb_buffer_create",
    outcome(symbols, (e) => symbols.mb_buffer_create(device.pointer, 256n, buffer.cell, e)),
  );
  const library = new OutPointer();
  const source = new TextEncoder().encode(FIXTURE_SOURCE);
  must(
    "mb_library_create",
    outcome(symbols, (e) =>
      symbols.mb_library_create(
        device.pointer,
        source,
        BigInt(source.byteLength),
        cString("refusals.metal"),
        null,
        2,
        0,
        library.cell,
        e,
      )),
  );
  const pipeline = (name: string) => {
    const out = new OutPointer();
    must(
      `pipeline ${name}`,
      outcome(
        symbols,
        (e) =>
          symbols.mb_pipeline_create(library.pointer, cString(name), null, 0, null, out.cell, e),
      ),
    );
    return out.pointer;
  };
  const copyTwo = pipeline("copy_two");
  const withScratch = pipeline("with_scratch");
  return {
    symbols,
    backend,
    device: device.pointer,
    buffer: buffer.pointer,
    library: library.pointer,
    copyTwo,
    withScratch,
  };
}

/** Releases what {@linkcode openFixture} made. */
export function closeFixture(fixture: Fixture): void {
  const { symbols } = fixture;
  symbols.mb_pipeline_release(fixture.copyTwo);
  symbols.mb_pipeline_release(fixture.withScratch);
  symbols.mb_library_release(fixture.library);
  symbols.mb_buffer_release(fixture.buffer);
  symbols.mb_device_release(fixture.device);
}
