// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * `deno run -A bench/work_items.ts [--write]`: how the CPU backend runs each catalogue kernel
 * with barriers or SIMD-group functions (`Pipeline.execution`: work-item loops or fibers), and,
 * for each kernel kept on fibers, why (the front end's reason, which it prints when
 * `METAL_COMPUTE_CPU_WORK_ITEMS_LOG=1` is set while it compiles a library).
 *
 * The reasons come from a child process that builds every catalogue library into an empty
 * temporary cache (the front end runs only on a cache miss), reusing this process's native
 * bridge. With `--write`, the list replaces the `work-items` section of bench/RESULTS.md.
 *
 * @module
 */
import { Device, KernelRegistry } from "../mod.ts";
import { KERNELS } from "../shaders/catalog.ts";
import { libraryPath } from "../ffi/library.ts";
import { machine, WRITE_OPTION, writeSection } from "./_results.ts";
import { parseCli } from "../tools/_cli.ts";

const CHILD = "METAL_COMPUTE_CPU_WORK_ITEMS_LOG";

parseCli({
  usage: "deno run -A bench/work_items.ts [--write]",
  summary: "Lists the catalogue's barrier kernels by CPU execution strategy, with the reasons.",
  options: { write: WRITE_OPTION },
});

/** Every catalogue kernel's `Pipeline.execution` ("not built here" when it cannot build). */
async function executions(): Promise<Map<string, string>> {
  using device = await Device.open({ backend: "cpu" });
  const registry = new KernelRegistry();
  const out = new Map<string, string>();
  try {
    for (const [name, entry] of Object.entries(KERNELS)) {
      try {
        out.set(name, (await registry.getPipeline(name, device, entry.constants)).execution);
      } catch {
        out.set(name, "not built here");
      }
    }
  } finally {
    registry.close();
  }
  return out;
}

if (Deno.env.get(CHILD) === "1") {
  await executions(); // the front end prints its lines on stderr
  Deno.exit(0);
}

const how = await executions();
// The reasons: the same catalogue again, built from scratch with the front end's log on.
const scratch = Deno.makeTempDirSync({ prefix: "work-items-" });
let log = "";
try {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname],
    env: {
      [CHILD]: "1",
      METAL_COMPUTE_CACHE_DIR: scratch,
      METAL_COMPUTE_CPU_LIBRARY: libraryPath("cpu"),
    },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  log = new TextDecoder().decode(child.stderr);
  if (!child.success) throw new Error(`the child run failed:\n${log}`);
} finally {
  Deno.removeSync(scratch, { recursive: true });
}
const reasons = new Map<string, string>();
for (const [, name, what] of log.matchAll(/^work-items: (\S+): (.*)$/gm)) reasons.set(name, what);

const barrier = [...how].filter(([, e]) => e === "work-item-loops" || e === "fibers");
const loops = barrier.filter(([, e]) => e === "work-item-loops").map(([n]) => n);
const fibers = barrier.filter(([, e]) => e === "fibers").map(([n]) => n);
const lines = [
  `Catalogue kernels on the CPU backend (${how.size}): ${
    [...how.values()].filter((e) => e === "loop").length
  } plain loops; of the ${barrier.length} with barriers or SIMD-group functions, ${loops.length} ` +
  `run as work-item loops and ${fibers.length} on fibers.`,
  "",
  `Work-item loops: ${loops.join(", ")}.`,
  "",
  'On fibers, and why (the front end\'s reason; "loops did not compile" when its loops were',
  "generated but the module was rebuilt without them):",
  "",
  "| kernel | reason |",
  "|---|---|",
  ...fibers.map((name) => {
    const said = reasons.get(name);
    const why = said === undefined
      ? "(no reason logged)"
      : said === "work-item-loops"
      ? "loops did not compile"
      : said.replace(/^fibers: /, "");
    return `| ${name} | ${why.replaceAll("|", "\\|")} |`;
  }),
];
console.log(lines.join("\n"));
writeSection(
  "work-items",
  "Barrier kernels: work-item loops or fibers (bench/work_items.ts)",
  [`Command: \`deno run -A bench/work_items.ts --write\`. Machine: ${machine()}.`, "", ...lines]
    .join("\n"),
);
