// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The errors this module throws: one vocabulary. Argument mistakes (a wrong type, a size or
 * index out of range) are the built-in `TypeError` or `RangeError`, thrown before anything
 * reaches the device, as in Deno's standard library. Every other failure is an instance of a
 * named subclass of {@linkcode MetalComputeError} with a `code`:
 *
 * | class                         | `code`                | when                                        |
 * | ----------------------------- | --------------------- | ------------------------------------------- |
 * | {@linkcode KernelNotFoundError}      | `MB_ERR_NOT_FOUND`    | no such kernel (with near names)     |
 * | {@linkcode ShaderCompilationError}   | `MB_ERR_COMPILE`      | MSL that does not compile            |
 * | {@linkcode FunctionConstantError}    | `MB_ERR_INVALID_ARG`  | constants a kernel refuses           |
 * | {@linkcode InvalidArgumentError}     | `MB_ERR_INVALID_ARG`  | an argument the device refuses       |
 * | {@linkcode InvalidStateError}        | `MB_ERR_STATE`        | a call out of order (commit twice)   |
 * | {@linkcode ThreadgroupLimitError}    | `MB_ERR_LIMIT`        | a threadgroup larger than allowed    |
 * | {@linkcode CommandBufferError}       | `MB_ERR_EXECUTION`    | a kernel failed while running        |
 * | {@linkcode ResourceClosedError}      | `MB_ERR_CLOSED`       | use after `close()`                  |
 * | {@linkcode SourceNotLoadedError}     | `MB_ERR_NOT_LOADED`   | a `*Sync` call before `load()`       |
 * | {@linkcode PermissionsError}         | `MB_ERR_PERMISSION`   | Deno permissions missing             |
 * | {@linkcode BackendUnavailableError}  | `MB_ERR_UNSUPPORTED`  | the bridge cannot be built or opened |
 * | {@linkcode UnsupportedError}         | `MB_ERR_UNSUPPORTED`  | a feature this device lacks          |
 * | {@linkcode OutOfMemoryError}         | `MB_ERR_OOM`          | an allocation failed                 |
 * | {@linkcode CacheError}               | `MB_ERR_IO`           | the persistent cache cannot be used  |
 * | {@linkcode CompileLimitError}        | `MB_ERR_LIMIT`        | a compile past its time/memory limit |
 * | {@linkcode InternalError}            | `MB_ERR_INTERNAL`     | a bug in this module: please report  |
 *
 * Messages name the call that failed (`commit()`, `setPipeline()`), never the bridge's C
 * functions.
 *
 * @module
 */

/**
 * A status code of the C ABI, as `mb_status_name` spells it (`"MB_ERR_COMPILE"`).
 */
export type StatusName =
  | "MB_ERR_INVALID_ARG"
  | "MB_ERR_NOT_FOUND"
  | "MB_ERR_COMPILE"
  | "MB_ERR_OOM"
  | "MB_ERR_UNSUPPORTED"
  | "MB_ERR_EXECUTION"
  | "MB_ERR_LIMIT"
  | "MB_ERR_INTERNAL"
  | "MB_ERR_IO";

/**
 * The `code` of a {@linkcode MetalComputeError}: a status of the C ABI, or one of the codes
 * only the TypeScript side raises (`MB_ERR_CLOSED`, `MB_ERR_STATE`, `MB_ERR_NOT_LOADED`,
 * `MB_ERR_PERMISSION`).
 */
export type ErrorCode =
  | StatusName
  | "MB_ERR_CLOSED"
  | "MB_ERR_STATE"
  | "MB_ERR_NOT_LOADED"
  | "MB_ERR_PERMISSION";

/**
 * The base class of every error of this module other than argument `TypeError`s and
 * `RangeError`s. It is not thrown itself: catch it to catch them all, and read `code` (or
 * test a subclass) to tell them apart.
 *
 * @example Usage
 * ```ts
 * import { MetalComputeError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new MetalComputeError("MB_ERR_OOM", "Cannot create buffer: out of memory");
 * assert.strictEqual(error.code, "MB_ERR_OOM");
 * assert.ok(error instanceof Error);
 * ```
 */
export class MetalComputeError extends Error {
  /** What kind of failure this is (see the table in the module documentation). */
  readonly code: ErrorCode;

  /**
   * Creates the error.
   *
   * @param code The failure's code.
   * @param message What was attempted and what went wrong.
   * @param options The underlying cause, if any.
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MetalComputeError";
    this.code = code;
  }
}

/**
 * No source is registered for a kernel name. `suggestions` holds the nearest registered
 * names, nearest first.
 *
 * @example Usage
 * ```ts
 * import { KernelNotFoundError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new KernelNotFoundError("sofmax_f32", ["softmax_f32"]);
 * assert.match(error.message, /did you mean "softmax_f32"/);
 * ```
 */
export class KernelNotFoundError extends MetalComputeError {
  /** The name that was asked for. */
  readonly kernel: string;
  /** Registered names close to `kernel`, nearest first (at most 3). */
  readonly suggestions: readonly string[];

  /**
   * Creates the error.
   *
   * @param kernel The unknown kernel name.
   * @param suggestions Registered names close to it.
   * @param detail What the bridge said, when the name is registered but its source has no
   * such function.
   */
  constructor(kernel: string, suggestions: readonly string[], detail?: string) {
    const hint = detail
      ? `: ${detail}`
      : suggestions.length > 0
      ? `: did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?`
      : ": no source is registered under that name";
    super("MB_ERR_NOT_FOUND", `Cannot find kernel "${kernel}"${hint}`);
    this.name = "KernelNotFoundError";
    this.kernel = kernel;
    this.suggestions = suggestions;
  }
}

/** One compiler message, at a line and column of a `.metal` source. */
export interface Diagnostic {
  /** The `.metal` file the message is about (`"softmax.metal"`). */
  file: string;
  /** 1-based line in that file. */
  line: number;
  /** 1-based column in that file. */
  column: number;
  /** `"error"`, `"warning"` or `"note"`. */
  severity: string;
  /** The compiler's text. */
  message: string;
}

/** Options for {@linkcode ShaderCompilationError}. */
export interface ShaderCompilationErrorOptions extends ErrorOptions {
  /** The MSL text that failed, to quote the offending lines in the message. */
  source?: string;
}

/**
 * A shader did not compile, or a kernel's specialisation failed. `diagnostics` holds the
 * compiler's messages mapped to lines of `file`, each once; the message quotes each
 * diagnostic's source line with a caret under its column; `log` is the compiler's full text.
 *
 * @example Usage
 * ```ts
 * import { ShaderCompilationError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const source = "kernel void k(device float* out) {\n  out[0] = x;\n}";
 * const log = "broken.metal:2:12: error: use of undeclared identifier 'x'";
 * const error = new ShaderCompilationError("k", "broken.metal", log, { source });
 * assert.strictEqual(error.diagnostics[0].line, 2);
 * assert.match(error.message, /2 \|   out\[0\] = x;\n +\| +\^/);
 * ```
 */
export class ShaderCompilationError extends MetalComputeError {
  /** The kernel whose pipeline was asked for. */
  readonly kernel: string;
  /** The shader file that failed. */
  readonly file: string;
  /** The compiler's messages, parsed, each once. */
  readonly diagnostics: readonly Diagnostic[];
  /** The compiler's log as the bridge reported it. */
  readonly log: string;

  /**
   * Creates the error.
   *
   * @param kernel The kernel being built.
   * @param file The `.metal` file it lives in.
   * @param log The compiler's log, `FILE:LINE:COL: severity: message` lines.
   * @param options The source text (to quote lines) and the underlying cause, if any.
   */
  constructor(
    kernel: string,
    file: string,
    log: string,
    options: ShaderCompilationErrorOptions = {},
  ) {
    const diagnostics = parseDiagnostics(log);
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    const count = `${errors} ${errors === 1 ? "error" : "errors"}`;
    const body = diagnostics.length > 0
      ? diagnostics.map((d) => formatDiagnostic(d, d.file === file ? options.source : undefined))
        .join("\n")
      : log.trim();
    super(
      "MB_ERR_COMPILE",
      `Cannot compile "${file}" for kernel "${kernel}": ${count}${body ? `\n${body}` : ""}`,
      { cause: options.cause },
    );
    this.name = "ShaderCompilationError";
    this.kernel = kernel;
    this.file = file;
    this.diagnostics = diagnostics;
    this.log = log;
  }
}

/**
 * A function-constant specialisation was refused: a value of the wrong type, an index the
 * kernel does not declare, or a required constant left out.
 *
 * @example Usage
 * ```ts
 * import { FunctionConstantError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new FunctionConstantError("placeholder", "constant 100: 1.5 is not an int32");
 * assert.match(error.message, /placeholder/);
 * ```
 */
export class FunctionConstantError extends MetalComputeError {
  /** The kernel being specialised. */
  readonly kernel: string;

  /**
   * Creates the error.
   *
   * @param kernel The kernel being specialised.
   * @param detail What is wrong with the constants.
   * @param options The underlying cause, if any.
   */
  constructor(kernel: string, detail: string, options?: ErrorOptions) {
    super("MB_ERR_INVALID_ARG", `Cannot specialise kernel "${kernel}": ${detail}`, options);
    this.name = "FunctionConstantError";
    this.kernel = kernel;
  }
}

/**
 * A native object was used after `close()`.
 *
 * @example Usage
 * ```ts
 * import { ResourceClosedError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new ResourceClosedError("DeviceBuffer", "use contents");
 * assert.strictEqual(error.message, "Cannot use contents: the DeviceBuffer is closed");
 * ```
 */
export class ResourceClosedError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param resource The kind of object (`"Device"`, `"DeviceBuffer"`).
   * @param action What was attempted.
   */
  constructor(resource: string, action: string) {
    super("MB_ERR_CLOSED", `Cannot ${action}: the ${resource} is closed`);
    this.name = "ResourceClosedError";
  }
}

/**
 * A command buffer failed while running on the device (a kernel fault, a checked-mode
 * violation).
 *
 * @example Usage
 * ```ts
 * import { CommandBufferError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new CommandBufferError("MB_ERR_EXECUTION", "Command buffer failed: fault");
 * assert.strictEqual(error.name, "CommandBufferError");
 * ```
 */
export class CommandBufferError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param code Why it failed (`MB_ERR_EXECUTION` for a kernel fault).
   * @param message What failed.
   * @param options The underlying cause, if any.
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "CommandBufferError";
  }
}

/**
 * A call came out of order: committing a command buffer twice, waiting for one that was
 * never committed, dispatching before `setPipeline()`, encoding after `end()`.
 *
 * @example Usage
 * ```ts
 * import { InvalidStateError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new InvalidStateError("commit()", "the command buffer was already committed");
 * assert.strictEqual(error.message, "Cannot commit(): the command buffer was already committed");
 * assert.strictEqual(error.code, "MB_ERR_STATE");
 * ```
 */
export class InvalidStateError extends MetalComputeError {
  /** The call that was refused, e.g. `"commit()"`. */
  readonly call: string;

  /**
   * Creates the error.
   *
   * @param call The call that was refused.
   * @param reason Why, and what to do instead.
   */
  constructor(call: string, reason: string) {
    super("MB_ERR_STATE", `Cannot ${call}: ${reason}`);
    this.name = "InvalidStateError";
    this.call = call;
  }
}

/**
 * An argument the device refused that the TypeScript side could not check itself (a binding
 * the kernel uses and the dispatch left unset, a buffer of another device).
 *
 * @example Usage
 * ```ts
 * import { InvalidArgumentError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new InvalidArgumentError('Cannot dispatch "k": [[buffer(0)]] is not bound');
 * assert.strictEqual(error.code, "MB_ERR_INVALID_ARG");
 * ```
 */
export class InvalidArgumentError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message What was refused and why.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_INVALID_ARG", message, options);
    this.name = "InvalidArgumentError";
  }
}

/**
 * A threadgroup is larger than the pipeline's `maxTotalThreadsPerThreadgroup` or the
 * device allows.
 *
 * @example Usage
 * ```ts
 * import { ThreadgroupLimitError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new ThreadgroupLimitError('Cannot dispatch "k": 2048 threads per threadgroup, at most 1024');
 * assert.strictEqual(error.code, "MB_ERR_LIMIT");
 * ```
 */
export class ThreadgroupLimitError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message The requested size and the limit.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_LIMIT", message, options);
    this.name = "ThreadgroupLimitError";
  }
}

/**
 * A `*Sync` call needed a shader text that is not loaded yet: under a remote import (JSR,
 * HTTP) the bundled `.metal` files can only be fetched asynchronously, and a local checkout
 * read without `--allow-read` can only import them. Await `registry.load()` (or any async
 * call for the kernel) first.
 *
 * @example Usage
 * ```ts
 * import { SourceNotLoadedError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new SourceNotLoadedError("softmax_f32", "softmax.metal");
 * assert.match(error.message, /await registry\.load\(\["softmax_f32"\]\)/);
 * ```
 */
export class SourceNotLoadedError extends MetalComputeError {
  /** The kernel that was asked for. */
  readonly kernel: string;

  /**
   * Creates the error.
   *
   * @param kernel The kernel whose source is not loaded.
   * @param file Its `.metal` file.
   */
  constructor(kernel: string, file: string) {
    super(
      "MB_ERR_NOT_LOADED",
      `Cannot load "${file}" synchronously (a remote import, or no read permission for it): ` +
        `call await registry.load(["${kernel}"]) (or await registry.load() for every kernel) first`,
    );
    this.name = "SourceNotLoadedError";
    this.kernel = kernel;
  }
}

/** One Deno permission this module needs and does not have. */
export interface MissingPermission {
  /** The flag that grants it, e.g. `"--allow-ffi"` or `"--allow-read=/home/me/.cache"`. */
  flag: string;
  /** Why it is needed. */
  reason: string;
}

/**
 * Deno permissions this module needs are missing. Checked up front, so one error names
 * every missing flag.
 *
 * @example Usage
 * ```ts
 * import { PermissionsError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new PermissionsError("open the cpu device", [
 *   { flag: "--allow-ffi", reason: "to load the native bridge" },
 * ]);
 * assert.match(error.message, /--allow-ffi: to load the native bridge/);
 * ```
 */
export class PermissionsError extends MetalComputeError {
  /** Every missing permission, with the flag that grants it. */
  readonly missing: readonly MissingPermission[];

  /**
   * Creates the error.
   *
   * @param action What was attempted.
   * @param missing The permissions it lacks.
   */
  constructor(action: string, missing: readonly MissingPermission[]) {
    const lines = missing.map((m) => `  ${m.flag}: ${m.reason}`).join("\n");
    super(
      "MB_ERR_PERMISSION",
      `Cannot ${action}: missing Deno permissions (run with ${
        missing.map((m) => m.flag).join(" ")
      })\n${lines}`,
    );
    this.name = "PermissionsError";
    this.missing = missing;
  }
}

/**
 * A feature this device or backend does not have (e.g. bf16 before macOS 14).
 *
 * @example Usage
 * ```ts
 * import { UnsupportedError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new UnsupportedError("Cannot compile: bfloat needs MSL 3.1");
 * assert.strictEqual(error.code, "MB_ERR_UNSUPPORTED");
 * ```
 */
export class UnsupportedError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message What is not supported.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_UNSUPPORTED", message, options);
    this.name = "UnsupportedError";
  }
}

/**
 * The native bridge for a backend cannot be built or opened: no compiler, a failed build, a
 * library that does not load or has another ABI version.
 *
 * @example Usage
 * ```ts
 * import { BackendUnavailableError, UnsupportedError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const error = new BackendUnavailableError("cpu", "Cannot build the cpu bridge: no clang");
 * assert.ok(error instanceof UnsupportedError);
 * assert.strictEqual(error.backend, "cpu");
 * ```
 */
export class BackendUnavailableError extends UnsupportedError {
  /** The backend that cannot start. */
  readonly backend: string;

  /**
   * Creates the error.
   *
   * @param backend `"cpu"` or `"metal"`.
   * @param message What failed.
   * @param options The underlying cause, if any.
   */
  constructor(backend: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackendUnavailableError";
    this.backend = backend;
  }
}

/**
 * The device could not allocate memory.
 *
 * @example Usage
 * ```ts
 * import { OutOfMemoryError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(new OutOfMemoryError("Cannot create a buffer").code, "MB_ERR_OOM");
 * ```
 */
export class OutOfMemoryError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message What could not be allocated.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_OOM", message, options);
    this.name = "OutOfMemoryError";
  }
}

/**
 * Something that should not happen did: a bug in this module or its bridge. Please report
 * it with the message.
 *
 * @example Usage
 * ```ts
 * import { InternalError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(new InternalError("Cannot commit(): queue lost").code, "MB_ERR_INTERNAL");
 * ```
 */
export class InternalError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_INTERNAL", message, options);
    this.name = "InternalError";
  }
}

/**
 * The persistent cache (or another file the bridge needs) could not be read or written: an
 * I/O fault of this machine, not a fault of the shader. The message names the path and why.
 *
 * @example Usage
 * ```ts
 * import { CacheError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(new CacheError("cannot write /x").code, "MB_ERR_IO");
 * ```
 */
export class CacheError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message What failed, with the path.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_IO", message, options);
    this.name = "CacheError";
  }
}

/**
 * A compile ran past its time or memory limit (the CPU backend's `compileTimeLimit` /
 * `compileMemoryLimit` device options) and was stopped.
 *
 * @example Usage
 * ```ts
 * import { CompileLimitError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * assert.strictEqual(new CompileLimitError("took too long").code, "MB_ERR_LIMIT");
 * ```
 */
export class CompileLimitError extends MetalComputeError {
  /**
   * Creates the error.
   *
   * @param message Which limit, and how to raise it.
   * @param options The underlying cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("MB_ERR_LIMIT", message, options);
    this.name = "CompileLimitError";
  }
}

/**
 * The error class for a status the bridge returned, when no more specific class applies:
 * what `unwrap` throws by default.
 *
 * @param code The bridge's status.
 * @param message The full message.
 * @returns An instance of the named subclass for `code`.
 */
export function errorForStatus(code: StatusName, message: string): MetalComputeError {
  switch (code) {
    case "MB_ERR_INVALID_ARG":
      return new InvalidArgumentError(message);
    case "MB_ERR_LIMIT":
      return new ThreadgroupLimitError(message);
    case "MB_ERR_OOM":
      return new OutOfMemoryError(message);
    case "MB_ERR_UNSUPPORTED":
      return new UnsupportedError(message);
    case "MB_ERR_EXECUTION":
      return new CommandBufferError(code, message);
    case "MB_ERR_IO":
      return new CacheError(message);
    case "MB_ERR_NOT_FOUND":
    case "MB_ERR_COMPILE":
    case "MB_ERR_INTERNAL":
    default:
      // NOT_FOUND and COMPILE have their own classes where a kernel is named; reaching here
      // means a call that should not report them did.
      return new InternalError(message);
  }
}

const DIAGNOSTIC_LINE = /^(.+?):(\d+):(\d+): (error|warning|note|fatal error): (.*)$/;

/**
 * Parses `FILE:LINE:COL: severity: message` lines (clang's format, which both backends
 * report), each distinct one once; other lines (the compiler's own quotes and carets,
 * summaries) are skipped.
 */
function parseDiagnostics(log: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const text of log.split("\n")) {
    const match = DIAGNOSTIC_LINE.exec(text.trim());
    if (!match) continue;
    // A backend may report one diagnostic more than once (once per compile step): keep one.
    if (seen.has(match[0])) continue;
    seen.add(match[0]);
    const [, file, line, column, severity, message] = match;
    diagnostics.push({
      file,
      line: Number(line),
      column: Number(column),
      severity: severity === "fatal error" ? "error" : severity,
      message,
    });
  }
  return diagnostics;
}

/**
 * `FILE:LINE:COL: severity: message`, then, when the source is known, the line itself and a
 * caret under the column (clang's layout, with the line number in a gutter).
 */
function formatDiagnostic(d: Diagnostic, source: string | undefined): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
  const text = source?.split("\n")[d.line - 1];
  if (text === undefined) return head;
  const gutter = String(d.line);
  const pad = " ".repeat(gutter.length);
  // Tabs stay tabs under the caret so it lines up whatever the tab width.
  const lead = text.slice(0, Math.max(0, d.column - 1)).replace(/[^\t]/g, " ");
  return `${head}\n ${gutter} | ${text.trimEnd()}\n ${pad} | ${lead}^`;
}
