// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The errors this module throws. Argument mistakes in op helpers are `TypeError` or
 * `RangeError`, thrown before anything is encoded; everything the native side reports is a
 * {@linkcode MetalComputeError} or one of its subclasses.
 *
 * @module
 */

/**
 * A status code of the C ABI, as `mb_status_name` spells it (`"MB_ERR_COMPILE"`), or
 * `"MB_ERR_CLOSED"` for use of a closed object.
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
  | "MB_ERR_CLOSED";

/**
 * The base class of every error from the native bridge, with its status code.
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
  /** The status code reported by the bridge. */
  readonly code: StatusName;

  /**
   * Creates the error.
   *
   * @param code The bridge's status code.
   * @param message What was attempted and what went wrong.
   * @param options The underlying cause, if any.
   */
  constructor(code: StatusName, message: string, options?: ErrorOptions) {
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

/**
 * A shader did not compile, or a kernel's specialisation failed. `diagnostics` holds the
 * compiler's messages mapped to lines of `file`; `log` is the full text.
 *
 * @example Usage
 * ```ts
 * import { ShaderCompilationError } from "./errors.ts";
 * import assert from "node:assert";
 *
 * const log = 'broken.metal:3:5: error: use of undeclared identifier "x"';
 * const error = new ShaderCompilationError("my_kernel", "broken.metal", log);
 * assert.strictEqual(error.diagnostics[0].line, 3);
 * ```
 */
export class ShaderCompilationError extends MetalComputeError {
  /** The kernel whose pipeline was asked for. */
  readonly kernel: string;
  /** The shader file that failed. */
  readonly file: string;
  /** The compiler's messages, parsed. */
  readonly diagnostics: readonly Diagnostic[];
  /** The compiler's log as the bridge reported it. */
  readonly log: string;

  /**
   * Creates the error.
   *
   * @param kernel The kernel being built.
   * @param file The `.metal` file it lives in.
   * @param log The compiler's log, `FILE:LINE:COL: severity: message` lines.
   * @param options The underlying cause, if any.
   */
  constructor(kernel: string, file: string, log: string, options?: ErrorOptions) {
    const diagnostics = parseDiagnostics(log);
    const errors = diagnostics.filter((d) => d.severity === "error");
    const first = errors[0] ?? diagnostics[0];
    const where = first ? `: ${first.file}:${first.line}:${first.column}: ${first.message}` : "";
    const count = errors.length === 1 ? "1 error" : `${errors.length} errors`;
    super(
      "MB_ERR_COMPILE",
      `Cannot compile "${file}" for kernel "${kernel}" (${count})${where}\n${log}`,
      options,
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
   * @param code The bridge's status code.
   * @param message What failed.
   * @param options The underlying cause, if any.
   */
  constructor(code: StatusName, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "CommandBufferError";
  }
}

const DIAGNOSTIC_LINE = /^(.+?):(\d+):(\d+): (error|warning|note|fatal error): (.*)$/;

/**
 * Parses `FILE:LINE:COL: severity: message` lines (clang's format, which both backends
 * report); other lines are context and are skipped.
 */
function parseDiagnostics(log: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const text of log.split("\n")) {
    const match = DIAGNOSTIC_LINE.exec(text.trim());
    if (!match) continue;
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
