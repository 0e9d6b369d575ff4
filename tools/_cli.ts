// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Command-line parsing shared by the task scripts (`tools/`, `bench/`, `demo.ts`): every script
 * answers `--help` without doing anything else, and refuses an unknown flag with its usage
 * instead of running with it ignored.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One option of a script. */
export interface CliOption {
  /** `boolean` for a flag, `string` for an option that takes a value. */
  type: "boolean" | "string";
  /** One line for `--help`. */
  description: string;
  /** The placeholder shown for a value (`N`, `PATH`). */
  value?: string;
}

/** What a script accepts, for parsing and for `--help`. */
export interface CliSpec<O extends Record<string, CliOption>> {
  /** How to run it, e.g. `deno task precompile [options] [name...]`. */
  usage: string;
  /** What it does, a few lines. */
  summary: string;
  /** Its options, by long name (`--help` is added). */
  options: O;
  /** Whether it takes positional arguments. @default false */
  positionals?: boolean;
}

/** The parsed command line: option values by name, and the positional arguments. */
export interface CliArgs<O extends Record<string, CliOption>> {
  values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };
  positionals: string[];
}

/** The `--help` text of a script. */
export function helpText<O extends Record<string, CliOption>>(spec: CliSpec<O>): string {
  const help: CliOption = { type: "boolean", description: "show this help and exit" };
  const rows = Object.entries({ ...spec.options, help }).map(([name, option]) => {
    const flag = option.type === "string" ? `--${name} ${option.value ?? "VALUE"}` : `--${name}`;
    return [flag, option.description];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `Usage: ${spec.usage}`,
    "",
    spec.summary.trim(),
    "",
    "Options:",
    ...rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`),
  ].join("\n");
}

/**
 * Parses `args` by `spec`. Prints the help and exits 0 on `--help`; prints the problem and
 * the usage and exits 2 on an unknown option, a missing value or an unexpected argument.
 *
 * @example Usage
 * ```ts
 * import { parseCli } from "./_cli.ts";
 *
 * const { values } = parseCli({
 *   usage: "deno task cache-clear [--bridge]",
 *   summary: "Removes the compiled kernels from the persistent cache.",
 *   options: { bridge: { type: "boolean", description: "remove the built bridge too" } },
 * });
 * if (values.bridge) console.log("bridge too");
 * ```
 */
export function parseCli<O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  args: string[] = Deno.args,
): CliArgs<O> {
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, option]) => [name, { type: option.type }]),
  );
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${helpText(spec)}`);
    Deno.exit(2);
  }
  if (parsed.values.help) {
    console.log(helpText(spec));
    Deno.exit(0);
  }
  return parsed as unknown as CliArgs<O>;
}
