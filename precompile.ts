// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Building many pipelines ahead of use ({@linkcode KernelRegistry.precompile}): the options,
 * the progress reports and the summary, and the scheduler that runs a bounded number of
 * non-blocking compiles at once.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import { Device } from "./device.ts";
import type { Pipeline, PipelineOrigin } from "./pipeline.ts";

/** What became of one pipeline during {@linkcode KernelRegistry.precompile}. */
export type PrecompileStatus = PipelineOrigin | "failed";

/** One finished pipeline, reported by {@linkcode PrecompileOptions.onProgress}. */
export interface PrecompileProgress {
  /** The kernel name. */
  name: string;
  /** `"compiled"` (this process compiled it), `"cache"` (the persistent cache had it), or `"failed"`. */
  status: PrecompileStatus;
  /** The error, when it failed. */
  error?: Error;
  /** Pipelines finished so far, this one included. */
  done: number;
  /** Pipelines to build. */
  total: number;
}

/** Options for {@linkcode KernelRegistry.precompile}. */
export interface PrecompileOptions {
  /**
   * The device to build for; its pipelines stay cached in the registry, so later
   * `getPipeline` calls on it are cache hits. Without one, a system-default device is opened
   * for the call and closed after it: the call then only fills the persistent cache, from
   * which any later device of that backend loads the pipelines without compiling.
   *
   * @default {a temporary `await Device.open()`}
   */
  device?: Device;
  /**
   * The function constants to build each name with, by name. Bundled kernels not listed use
   * their catalogue specialisation (if any); other names build without constants.
   *
   * @default {{}}
   */
  constants?: Readonly<Record<string, FunctionConstants>>;
  /**
   * How many compiles run at once.
   *
   * @default {navigator.hardwareConcurrency}
   */
  concurrency?: number;
  /** Called once per pipeline as it finishes. */
  onProgress?: (progress: PrecompileProgress) => void;
}

/** What {@linkcode KernelRegistry.precompile} did. */
export interface PrecompileSummary {
  /** Pipelines attempted. */
  total: number;
  /** Pipelines this process compiled. */
  compiled: number;
  /** Pipelines the persistent cache supplied. */
  fromCache: number;
  /** Pipelines that failed, with their errors. */
  failed: { name: string; error: Error }[];
  /** Shader libraries compiled during the call. */
  libraryCompiles: number;
  /** Wall time of the call, in milliseconds. */
  milliseconds: number;
}

/** What the scheduler needs from a registry (internal). */
export interface PrecompileSource {
  /** Gets (building on a miss) one pipeline. */
  getPipeline(name: string, device: Device, constants?: FunctionConstants): Promise<Pipeline>;
  /** The source file serving `name`: names of one file share one library compile. */
  fileOf(name: string): string;
  /** The constants `name` builds with when the caller gives none. */
  defaultConstants(name: string): FunctionConstants | undefined;
  /** Libraries compiled so far. */
  libraryCompiles(): number;
}

/**
 * Builds `names` from `source`, `options.concurrency` at a time, on `options.device` or a
 * temporary default device (internal: the engine of {@linkcode KernelRegistry.precompile}).
 *
 * @param source The registry's view.
 * @param names Registered names, checked by the caller.
 * @param options As for {@linkcode KernelRegistry.precompile}.
 * @returns The summary.
 */
export async function precompilePipelines(
  source: PrecompileSource,
  names: readonly string[],
  options: PrecompileOptions,
): Promise<PrecompileSummary> {
  if (options.device) return await precompileOn(source, options.device, names, options);
  using device = await Device.open();
  return await precompileOn(source, device, names, options);
}

async function precompileOn(
  source: PrecompileSource,
  device: Device,
  names: readonly string[],
  options: PrecompileOptions,
): Promise<PrecompileSummary> {
  const start = performance.now();
  const libraryCompiles = source.libraryCompiles();
  const concurrency = Math.max(1, options.concurrency ?? navigator.hardwareConcurrency ?? 1);
  const queue = interleaveByFile(names, (name) => source.fileOf(name));
  const summary: PrecompileSummary = {
    total: queue.length,
    compiled: 0,
    fromCache: 0,
    failed: [],
    libraryCompiles: 0,
    milliseconds: 0,
  };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < queue.length) {
      const name = queue[next++];
      const constants = options.constants?.[name] ?? source.defaultConstants(name);
      let status: PrecompileStatus;
      let error: Error | undefined;
      try {
        status = (await source.getPipeline(name, device, constants)).origin;
      } catch (cause) {
        status = "failed";
        error = cause instanceof Error ? cause : new Error(String(cause));
        summary.failed.push({ name, error });
      }
      if (status === "compiled") summary.compiled++;
      else if (status === "cache") summary.fromCache++;
      options.onProgress?.({ name, status, error, done: ++done, total: queue.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  summary.libraryCompiles = source.libraryCompiles() - libraryCompiles;
  summary.milliseconds = performance.now() - start;
  return summary;
}

/** `names` reordered round-robin over their files, so concurrent builds start on different libraries. */
function interleaveByFile(names: readonly string[], fileOf: (name: string) => string): string[] {
  const byFile = new Map<string, string[]>();
  for (const name of new Set(names)) {
    const file = fileOf(name);
    let list = byFile.get(file);
    if (!list) byFile.set(file, list = []);
    list.push(name);
  }
  const lists = [...byFile.values()];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  const out: string[] = [];
  for (let i = 0; i < longest; i++) {
    for (const list of lists) if (i < list.length) out.push(list[i]);
  }
  return out;
}
