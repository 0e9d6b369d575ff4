// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * {@linkcode Pipeline}: a compiled, specialised compute kernel.
 *
 * @module
 */
import { NativeResource, releaser } from "./resource.ts";
import type { FunctionConstantType } from "./constants.ts";
import { OutPointer, readCString } from "./ffi/_native.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";

/** Where a pipeline's compiled code came from (see {@linkcode Pipeline.origin}). */
export type PipelineOrigin = "compiled" | "cache";

/**
 * How a pipeline runs the threads of a threadgroup (see {@linkcode Pipeline.execution}):
 * `"gpu"` on Metal; on the CPU backend `"loop"` (a kernel without barriers or SIMD-group
 * functions: one loop over the threads), `"work-item-loops"` (a barrier kernel split at its
 * barriers and SIMD-group functions into loops over the threads) or `"fibers"` (a barrier
 * kernel the split does not cover, or `METAL_COMPUTE_CPU_EXECUTION=fibers`: one fiber per
 * thread).
 */
export type PipelineExecution = "gpu" | "loop" | "work-item-loops" | "fibers";

const EXECUTIONS: readonly PipelineExecution[] = ["gpu", "loop", "work-item-loops", "fibers"];

/**
 * A function constant a pipeline's kernel declares (see
 * {@linkcode Pipeline.functionConstants}).
 */
export interface FunctionConstantInfo {
  /** Its `[[function_constant(index)]]`: the key to give its value under. */
  readonly index: number;
  /** Its MSL name. */
  readonly name: string;
  /** Its type, or `"unsupported"` for one this API cannot set (e.g. a vector). */
  readonly type: FunctionConstantType | "unsupported";
  /** Whether the kernel cannot be built without a value for it. */
  readonly required: boolean;
}

/** MB_CONSTANT_* codes, by code. */
const CONSTANT_TYPES: readonly (FunctionConstantType | "unsupported")[] = [
  "unsupported",
  "bool",
  "int",
  "uint",
  "float",
  "half",
  "short",
  "ushort",
];

/**
 * A compute pipeline: one kernel function of one shader source, specialised with its
 * function constants, ready to dispatch. Get one from {@linkcode KernelRegistry}, which
 * owns and caches it.
 *
 * @example Usage
 * ```ts
 * import { Device, KernelRegistry } from "./mod.ts";
 *
 * using device = Device.systemDefault();
 * using registry = new KernelRegistry();
 * const pipeline = await registry.getPipeline("softmax_f32", device);
 * console.log(pipeline.maxTotalThreadsPerThreadgroup, pipeline.threadExecutionWidth);
 * ```
 */
export class Pipeline extends NativeResource {
  /** The kernel's name. */
  readonly name: string;
  /** The registry cache key, also the pipeline's label in GPU tools. */
  readonly label: string;
  /** The most threads a threadgroup of this pipeline may have. */
  readonly maxTotalThreadsPerThreadgroup: number;
  /** The SIMD-group width (32 on Apple GPUs and the CPU backend). */
  readonly threadExecutionWidth: number;
  /** Bytes of threadgroup memory the kernel declares statically. */
  readonly staticThreadgroupMemoryLength: number;
  /**
   * Where the compiled code came from: `"cache"` when the persistent cache supplied it
   * (Metal: a binary archive hit; CPU: the kernel module read from disk), `"compiled"` when
   * this process compiled it.
   */
  readonly origin: PipelineOrigin;
  /**
   * How dispatches run a threadgroup's threads: a debugging aid (results do not depend on it).
   * On the CPU backend a kernel with barriers or SIMD-group functions runs as
   * `"work-item-loops"` when the compiler could split it, else on `"fibers"`.
   */
  readonly execution: PipelineExecution;
  /**
   * The function constants the kernel declares, ascending by index (Metal: its function's
   * reflection; CPU backend: the source's declarations the kernel reads). Constants given
   * under other indices are refused when a specialisation is first built.
   */
  readonly functionConstants: readonly FunctionConstantInfo[];

  /**
   * Wraps a pipeline the bridge created (internal: use `KernelRegistry.getPipeline`).
   *
   * @param symbols The bridge functions.
   * @param pointer The native pipeline.
   * @param name The kernel name.
   * @param label The cache key.
   */
  constructor(symbols: BridgeSymbols, pointer: Deno.PointerObject, name: string, label: string) {
    super(pointer, releaser(symbols, "mb_pipeline_release"));
    this.name = name;
    this.label = label;
    this.maxTotalThreadsPerThreadgroup = symbols.mb_pipeline_max_total_threads_per_threadgroup(
      pointer,
    );
    this.threadExecutionWidth = symbols.mb_pipeline_thread_execution_width(pointer);
    this.staticThreadgroupMemoryLength = Number(
      symbols.mb_pipeline_static_threadgroup_memory_length(pointer),
    );
    this.origin = symbols.mb_pipeline_origin(pointer) === 1 ? "cache" : "compiled";
    this.execution = EXECUTIONS[symbols.mb_pipeline_execution(pointer)] ?? "loop";
    this.functionConstants = reflectConstants(symbols, pointer);
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "Pipeline";
  }
}

function reflectConstants(
  symbols: BridgeSymbols,
  pointer: Deno.PointerObject,
): readonly FunctionConstantInfo[] {
  const count = symbols.mb_pipeline_function_constant_count(pointer);
  const fields = new Uint32Array(3);
  const name = new OutPointer();
  const constants: FunctionConstantInfo[] = [];
  for (let position = 0; position < count; position++) {
    if (symbols.mb_pipeline_function_constant(pointer, position, fields, name.cell) !== 0) break;
    constants.push(Object.freeze({
      index: fields[0],
      name: readCString(name.pointer),
      type: CONSTANT_TYPES[fields[1]] ?? "unsupported",
      required: fields[2] !== 0,
    }));
  }
  return Object.freeze(constants);
}
