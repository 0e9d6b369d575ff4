// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno task fmt-native [--write]`: checks (or, with `--write`, applies) the C, C++ and
 * Objective-C formatting of every native file under `metal_bridge/`, with `clang-format` and
 * the repository's `.clang-format`. The check is `clang-format --dry-run --Werror`: it changes
 * nothing and fails when a file is not formatted.
 *
 * @module
 */
import { parseCli } from "./_cli.ts";

const ROOT = new URL("../", import.meta.url);
const EXTENSIONS = [".h", ".c", ".cpp", ".m", ".mm"];

const { values } = parseCli({
  usage: "deno task fmt-native [--write]",
  summary: "Checks the formatting of metal_bridge/'s C, C++ and Objective-C files with\n" +
    "clang-format (clang-format-19, else clang-format, or $CLANG_FORMAT) and .clang-format.",
  options: { write: { type: "boolean", description: "rewrite the files instead of checking" } },
});

/** Native source files under `dir`, relative to the repository root, sorted. */
function nativeFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) files.push(...nativeFiles(`${path}/`));
    else if (EXTENSIONS.some((extension) => entry.name.endsWith(extension))) files.push(path);
  }
  return files.sort();
}

function findClangFormat(): string {
  const candidates = [Deno.env.get("CLANG_FORMAT"), "clang-format-19", "clang-format"]
    .filter((c): c is string => !!c);
  for (const candidate of candidates) {
    try {
      const probe = new Deno.Command(candidate, { args: ["--version"], stdout: "null" });
      if (probe.outputSync().success) return candidate;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  console.error(
    `No clang-format found (tried ${candidates.join(", ")}). ` +
      "Install it (Debian: apt-get install clang-format-19) or set CLANG_FORMAT",
  );
  Deno.exit(2);
}

const files = nativeFiles("metal_bridge/");
const args = values.write ? ["-i", ...files] : ["--dry-run", "--Werror", ...files];
const { code } = new Deno.Command(findClangFormat(), {
  args,
  cwd: ROOT,
  stdout: "inherit",
  stderr: "inherit",
}).outputSync();
if (code === 0) {
  console.log(`${files.length} native files ${values.write ? "formatted" : "are formatted"}`);
}
Deno.exit(code);
