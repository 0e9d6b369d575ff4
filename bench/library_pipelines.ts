// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * What creating the pipelines of one huge library costs on the CPU backend (public libraries
 * such as MLX's reduce.metal hold thousands of kernels in one file). A generated library of
 * `--kernels N` template instantiations (this script's own MSL) is registered under every
 * kernel name, its first pipeline compiles the library and its one module, then every other
 * pipeline is created from it; a second process does the same from the warm persistent cache.
 * Prints per phase: registering the names, the first pipeline, and the other pipelines (total
 * and per pipeline), for this checkout and, with `--against DIR`, for another checkout of this
 * project side by side (each in child processes with a cache of its own).
 *
 * Run: `deno run -A bench/library_pipelines.ts [--kernels N] [--quick] [--against DIR] [--write]`
 * (`--quick` builds the module at -O0, as `tools/msl_corpus.ts --quick` does).
 *
 * @module
 */
import { machine, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";
import { quickEnvironment } from "../tools/msl_corpus.ts";

/** What one child process measured. */
interface Phases {
  registerMs: number;
  firstMs: number;
  restMs: number;
  rest: number;
}

/** A library of `count` kernels, each its own template instantiation. */
export function generatedLibrary(count: number): { text: string; names: string[] } {
  const types = ["float", "half", "int", "uint"];
  const names: string[] = [];
  let text = "#include <metal_stdlib>\nusing namespace metal;\n\n" +
    "template <typename T, int K>\n" +
    "kernel void scale_add(device T* x [[buffer(0)]], constant uint& n [[buffer(1)]],\n" +
    "                      uint i [[thread_position_in_grid]]) {\n" +
    "  if (i < n) x[i] = x[i] * T(K % 7 + 1) + T(K % 3);\n}\n\n";
  for (let i = 0; i < count; i++) {
    const type = types[i % types.length];
    const name = `scale_add_${type}_${i}`;
    names.push(name);
    text += `template [[host_name("${name}")]] kernel void scale_add<${type}, ${i}>(` +
      `device ${type}*, constant uint&, uint);\n`;
  }
  return { text, names };
}

async function child(root: string, count: number): Promise<void> {
  const { Device } = await import(`${root}/device.ts`);
  const { KernelRegistry } = await import(`${root}/registry.ts`);
  const { text, names } = generatedLibrary(count);
  using device = Device.openSync({ backend: "cpu", compileTimeLimit: 0, compileMemoryLimit: 0 });
  const registry = new KernelRegistry();
  let start = performance.now();
  for (const name of names) registry.registerSource(name, text, "generated.metal");
  const registerMs = performance.now() - start;
  start = performance.now();
  await registry.getPipeline(names[0], device);
  const firstMs = performance.now() - start;
  start = performance.now();
  for (const name of names.slice(1)) await registry.getPipeline(name, device);
  const restMs = performance.now() - start;
  registry.close();
  const phases: Phases = { registerMs, firstMs, restMs, rest: names.length - 1 };
  console.log(JSON.stringify(phases));
}

async function measure(
  root: string,
  count: number,
  env: Record<string, string>,
): Promise<Phases> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", root, String(count)],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`child for ${root} failed: ${text.decode(out.stderr).slice(0, 2000)}`);
  }
  return JSON.parse(text.decode(out.stdout).trim().split("\n").pop()!);
}

async function main(): Promise<void> {
  if (Deno.args[0] === "--child") return child(Deno.args[1], Number(Deno.args[2]));
  const { values } = parseCli({
    usage:
      "deno run -A bench/library_pipelines.ts [--kernels N] [--quick] [--against DIR] [--write]",
    summary: "Pipeline creation from one library of N kernels: this checkout (and another).",
    options: {
      write: WRITE_OPTION,
      kernels: { type: "string", value: "N", description: "kernels in the library (default 1000)" },
      quick: { type: "boolean", description: "build the module at -O0 (faster, same pipelines)" },
      against: {
        type: "string",
        value: "DIR",
        description: "another checkout of this project, measured side by side",
      },
    },
  });
  const count = Number(values.kernels ?? "1000");
  if (!Number.isInteger(count) || count < 2) {
    console.error(`--kernels takes an integer of at least 2, got "${values.kernels}"`);
    Deno.exit(2);
  }
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const trees = [["this checkout", here]];
  if (values.against) trees.push([`--against ${values.against}`, values.against]);
  const base = values.quick ? quickEnvironment() : {};
  const rows: string[] = [];
  for (const [label, root] of trees) {
    // A cache of its own per tree, empty at first: the cold run compiles, the warm one reads.
    const cache = await Deno.makeTempDir({ prefix: "mc_library_pipelines_" });
    try {
      const env = { ...base, METAL_COMPUTE_CACHE_DIR: cache };
      for (const run of ["cold", "warm"]) {
        const p = await measure(root, count, env);
        const row = `| ${label} | ${run} | ${p.registerMs.toFixed(0)} ms | ${
          (p.firstMs / 1000).toFixed(2)
        } s | ${(p.restMs / 1000).toFixed(2)} s | ${(p.restMs / p.rest).toFixed(2)} ms |`;
        console.error(row);
        rows.push(row);
      }
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  }
  const body = [
    `${machine()}; ${count} kernels in one library${values.quick ? ", module at -O0" : ""}.`,
    "",
    "| build | cache | register every name | first pipeline | other pipelines | per pipeline |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  console.log(body);
  writeSection(
    "library-pipelines",
    "Pipelines of one huge library (bench/library_pipelines.ts)",
    `Command: \`deno run -A bench/library_pipelines.ts ${Deno.args.join(" ")}\`\n\n${body}`,
  );
}

if (import.meta.main) await main();
