// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Writes one section of bench/RESULTS.md between `<!-- id:begin -->` and `<!-- id:end -->`,
// leaving every other section (other benchmarks' figures) as it is. RESULTS.md is tracked, so a
// benchmark only rewrites it when its command line asks for it with `--write`.
const RESULTS = new URL("./RESULTS.md", import.meta.url);

/** The flag every benchmark script takes to update bench/RESULTS.md. */
export const WRITE_OPTION = {
  type: "boolean",
  description: "update this benchmark's section of bench/RESULTS.md (default: print only)",
} as const;

/**
 * Replaces (or appends) section `id` of bench/RESULTS.md with `body` under `## title`, when the
 * script was run with `--write`; otherwise says how to.
 */
export function writeSection(id: string, title: string, body: string): void {
  if (!Deno.args.includes("--write")) {
    console.error(`bench/RESULTS.md not changed ("${title}"): run with --write to update it`);
    return;
  }
  let text = "";
  try {
    text = Deno.readTextFileSync(RESULTS);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    text = "# Benchmark results\n\nFigures from `deno task bench` (bench/run.ts).\n";
  }
  const begin = `<!-- ${id}:begin -->`;
  const end = `<!-- ${id}:end -->`;
  const section = `${begin}\n## ${title}\n\n${body.trim()}\n${end}`;
  const at = text.indexOf(begin);
  const stop = text.indexOf(end);
  text = at >= 0 && stop > at
    ? text.slice(0, at) + section + text.slice(stop + end.length)
    : `${text.trimEnd()}\n\n${section}\n`;
  Deno.writeTextFileSync(RESULTS, text);
}

/** The machine line every section starts with. */
export function machine(): string {
  const cpu = (() => {
    try {
      return /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
    } catch {
      return "?";
    }
  })();
  // The load when the figures were taken: this machine is often shared.
  const load = (() => {
    try {
      return `, load average ${Deno.loadavg()[0].toFixed(1)}`; // needs --allow-sys=loadavg
    } catch {
      return "";
    }
  })();
  return `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores (${cpu}), Deno ${Deno.version.deno}, ${
    new Date().toISOString().slice(0, 16)
  }Z${load}`;
}

/**
 * The `--rounds N` option of the benchmarks that interleave their contenders in rounds.
 *
 * @param fallback The rounds when the option is not given.
 */
export function roundsOption(
  fallback: number,
): { readonly type: "string"; readonly value: "N"; readonly description: string } {
  return {
    type: "string",
    value: "N",
    description: `interleaved rounds (default ${fallback})`,
  } as const;
}

/**
 * The value of `--rounds` (or `fallback`); exits with status 2 and a message when it is not a
 * positive integer.
 *
 * @param given The option's text, if given.
 * @param fallback The rounds when it is not.
 * @returns The rounds.
 */
export function parseRounds(given: string | undefined, fallback: number): number {
  const rounds = Number(given ?? fallback);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`--rounds must be a positive integer, got "${given}"`);
    Deno.exit(2);
  }
  return rounds;
}
