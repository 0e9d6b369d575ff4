// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The native calls behind {@linkcode KernelRegistry} (private): compile MSL text into a
 * library, build a specialised pipeline from it, and turn the bridge's failures into this
 * package's error classes. Each call has an async form (a `nonblocking` symbol, off the
 * JavaScript thread) and a sync twin; both share one preparation of the arguments.
 *
 * @module
 */
import { HANDLE, KEEP_ALIVE, NativeResource, releaser } from "./resource.ts";
import type { NormalizedConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import {
  CompileLimitError,
  errorForStatus,
  FunctionConstantError,
  KernelNotFoundError,
  ShaderCompilationError,
  type StatusName,
} from "./errors.ts";
import { cString, type ErrorFactory, OutPointer, unwrap } from "./ffi/_native.ts";
import type { BridgeSymbols } from "./ffi/symbols.ts";
import { Pipeline } from "./pipeline.ts";

/** How every source of a registry is compiled, in the bridge's encoding. */
export interface CompileArgs {
  /** `NAME` or `NAME=value` lines. */
  macros: string;
  /** 0 safe, 1 relaxed, 2 fast (`MTLMathMode`). */
  mathMode: number;
  /** `major << 16 | minor`, or 0 for the backend's default. */
  languageVersion: number;
}

const MATH_MODES: Readonly<Record<MathMode, number>> = { safe: 0, relaxed: 1, fast: 2 };

/** How the compiler may treat floating point (Metal's `MTLMathMode`). */
export type MathMode = "fast" | "relaxed" | "safe";

/** Options for a {@linkcode KernelRegistry}: how every source is compiled. */
export interface KernelRegistryOptions {
  /**
   * Floating-point math mode. Kernels that need exact libm behaviour call `precise::`
   * functions explicitly.
   *
   * @default {"fast"}
   */
  mathMode?: MathMode;
  /**
   * Preprocessor macros defined before every source.
   *
   * @default {{}}
   */
  macros?: Readonly<Record<string, string | number | boolean>>;
  /**
   * The MSL language version, e.g. `"3.1"`; empty for the backend's default.
   *
   * @default {""}
   */
  languageVersion?: string;
}

/**
 * Checks and encodes a registry's compile settings for the bridge.
 *
 * @throws {TypeError} For an unknown math mode or a malformed language version.
 */
export function encodeCompileOptions(options: KernelRegistryOptions): CompileArgs {
  const mathMode = options.mathMode ?? "fast";
  if (!Object.hasOwn(MATH_MODES, mathMode)) {
    throw new TypeError(
      `Cannot create registry: unknown math mode "${mathMode}", expected "fast", "relaxed" or "safe"`,
    );
  }
  const version = options.languageVersion ?? "";
  const match = /^(\d+)\.(\d+)$/.exec(version);
  if (version !== "" && !match) {
    throw new TypeError(
      `Cannot create registry: language version "${version}" is not "major.minor" (e.g. "3.1")`,
    );
  }
  return {
    mathMode: MATH_MODES[mathMode],
    languageVersion: match ? (Number(match[1]) << 16) | Number(match[2]) : 0,
    macros: Object.entries(options.macros ?? {})
      .map(([name, value]) => value === true ? name : `${name}=${value === false ? 0 : value}`)
      .join("\n"),
  };
}

/** A compiled shader library: the functions of one source text, for one device. */
export class Library extends NativeResource {
  /** The bridge the library came from. */
  readonly symbols: BridgeSymbols;
  /** The source's file name, for messages. */
  readonly file: string;
  /** The source text, quoted by a specialisation's compile error. */
  readonly text: string;

  /**
   * Takes ownership of a native library.
   *
   * @param symbols The bridge functions.
   * @param pointer The native library.
   * @param source The source's file name and text.
   */
  constructor(
    symbols: BridgeSymbols,
    pointer: Deno.PointerObject,
    source: { file: string; text: string },
  ) {
    super(pointer, releaser(symbols, "mb_library_release"));
    this.symbols = symbols;
    this.file = source.file;
    this.text = source.text;
  }

  /** The kind of object, for messages. */
  protected get kind(): string {
    return "Library";
  }
}

/** What a library compile needs: the MSL text, its file name, and the kernel asking. */
export interface LibrarySource {
  /** The MSL source. */
  text: string;
  /** Its file name, for diagnostics. */
  file: string;
  /** The kernel whose lookup caused the compile, named in a compile error. */
  kernel: string;
}

/**
 * Compiles `source` for `device` off the JavaScript thread.
 *
 * @returns The library, owned by `device` (closed with it).
 * @throws {ShaderCompilationError} When the source does not compile.
 */
export async function compileLibrary(
  device: Device,
  source: LibrarySource,
  args: CompileArgs,
): Promise<Library> {
  const call = libraryCall(device, source, args);
  // KEEP_ALIVE: a close() of the device meanwhile waits for the compile to finish using it.
  const status = await device[KEEP_ALIVE](device.symbols.mb_library_create_async(...call.args));
  return call.finish(status); // `call` (and the memory its arguments point to) lives until here
}

/** Synchronous twin of {@linkcode compileLibrary}. */
export function compileLibrarySync(
  device: Device,
  source: LibrarySource,
  args: CompileArgs,
): Library {
  const call = libraryCall(device, source, args);
  return call.finish(device.symbols.mb_library_create(...call.args));
}

function libraryCall(device: Device, source: LibrarySource, args: CompileArgs) {
  const symbols = device.symbols;
  const handle = device[HANDLE](`compile "${source.file}"`);
  const text = new TextEncoder().encode(source.text);
  const out = new OutPointer();
  const error = new OutPointer();
  return {
    args: [
      handle,
      text,
      BigInt(text.byteLength),
      cString(source.file),
      cString(args.macros),
      args.mathMode,
      args.languageVersion,
      out.cell,
      error.cell,
    ] as const,
    finish(status: number): Library {
      const context = `Cannot compile "${source.file}"`;
      unwrap(symbols, status, error, context, compileError(source));
      return device.adopt(new Library(symbols, out.pointer!, source));
    },
  };
}

/** What a pipeline build needs: the kernel, its normalised constants and a label. */
export interface PipelineRequest {
  /** The kernel function's name. */
  name: string;
  /** Its function constants. */
  constants: NormalizedConstants;
  /** The pipeline's label (shown by Metal's tools and in messages). */
  label: string;
}

/**
 * Builds the pipeline for `request` from `library` off the JavaScript thread.
 *
 * @returns The pipeline (the caller adopts it into its device).
 * @throws {ShaderCompilationError} When specialising the function fails to compile.
 * @throws {FunctionConstantError} For constants of the wrong type, undeclared or missing.
 * @throws {KernelNotFoundError} When the library has no such function.
 */
export async function buildPipeline(
  library: Library,
  request: PipelineRequest,
): Promise<Pipeline> {
  const call = pipelineCall(library, request);
  const status = await library[KEEP_ALIVE](library.symbols.mb_pipeline_create_async(...call.args));
  return call.finish(status);
}

/** Synchronous twin of {@linkcode buildPipeline}. */
export function buildPipelineSync(library: Library, request: PipelineRequest): Pipeline {
  const call = pipelineCall(library, request);
  return call.finish(library.symbols.mb_pipeline_create(...call.args));
}

function pipelineCall(library: Library, { name, constants, label }: PipelineRequest) {
  const symbols = library.symbols;
  const handle = library[HANDLE](`build pipeline "${name}"`);
  const out = new OutPointer();
  const error = new OutPointer();
  return {
    args: [
      handle,
      cString(name),
      constants.count > 0 ? constants.words : new Uint32Array(3),
      constants.count,
      cString(label),
      out.cell,
      error.cell,
    ] as const,
    finish(status: number): Pipeline {
      const context = `Cannot build pipeline "${name}"`;
      unwrap(symbols, status, error, context, pipelineError(name, library));
      return new Pipeline(symbols, out.pointer!, name, label);
    },
  };
}

function compileError({ kernel, file, text }: LibrarySource): ErrorFactory {
  return (code: StatusName, detail: string, context: string) => {
    if (code === "MB_ERR_COMPILE") {
      return new ShaderCompilationError(kernel, file, detail, { source: text });
    }
    // A limit reported by a compile is the compiler's (time, memory), not a threadgroup's.
    if (code === "MB_ERR_LIMIT") return new CompileLimitError(`${context}: ${detail}`);
    return errorForStatus(code, `${context}: ${detail || code}`);
  };
}

function pipelineError(kernel: string, { file, text }: Library): ErrorFactory {
  return (code: StatusName, detail: string, context: string) => {
    switch (code) {
      case "MB_ERR_COMPILE":
        return new ShaderCompilationError(kernel, file, detail, { source: text });
      case "MB_ERR_INVALID_ARG":
        return new FunctionConstantError(kernel, detail);
      case "MB_ERR_NOT_FOUND":
        return new KernelNotFoundError(kernel, [], detail);
      default:
        return errorForStatus(code, `${context}: ${detail || code}`);
    }
  };
}
