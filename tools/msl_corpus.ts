// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * Measures how much public, real-world MSL the CPU backend builds. Takes checkouts (or bare git
 * mirrors) of other projects, registers each of their `.metal` files unmodified except for
 * inlining project-local `#include "..."`, counts the entry points (non-template kernels and
 * `[[host_name]]` instantiations, after preprocessing) and how many build into pipelines, with
 * every declared function constant set (false / 1 / 1.0) so files that require them build.
 *
 * Each file compiles in a child process under a time limit (one library compile serves all of
 * its entry points), niced, one at a time unless `--jobs` says otherwise. Nothing of the measured
 * projects is copied into this repository: sources are read from the given paths at run time.
 *
 * Run:
 * ```sh
 * deno task msl-corpus candle=/path/to/candle-mirror.git:candle-metal-kernels/src/metal_src \
 *   ggml=/path/to/ggml:src/ggml-metal [--sample N] [--jobs N] [--timeout S] [--write]
 * ```
 * A project is `NAME=PATH[:SUBDIR]`: PATH is a directory or a bare git repository (read at
 * HEAD with `git archive`), SUBDIR the folder holding its `.metal` files. `--sample N` measures
 * every file's entry-point count but builds only N files spread over the project (stated in the
 * table); `--only FILE[,FILE...]` measures only those files; `--verbose` prints each failing file's first errors;
 * `--quick` builds the kernel modules at -O0 (same front end and pipelines, much faster);
 * `--language-version V` compiles every file as Metal V (e.g. `4.0`, what MLX compiles with on
 * macOS 26; the default is the backend's, 3.2);
 * `--smallest-first` builds files by ascending entry-point count (most rows early in a long run);
 * `--results FILE.jsonl` appends each file's result to FILE as it finishes, with the commit of this
 * repository that measured it, and skips files FILE already holds for the same project commit,
 * language version and `--quick` (an interrupted run resumes; the table includes them);
 * `--write` puts the table into bench/RESULTS.md, with `--baseline TABLE.md` (an earlier run's
 * printed table) shown beneath it.
 *
 * @module
 */
import { writeSection } from "../bench/_results.ts";

/** What one file's child process reports. */
interface FileResult {
  file: string;
  entryPoints: number;
  built: number;
  /** Failure cause -> entry points failing with it. */
  causes: Record<string, string[]>;
  /** Library compile time in seconds (first pipeline, cold cache), or null when not built. */
  seconds: number | null;
  /** Seconds the file's other pipelines took after the first (absent from older records). */
  pipelineSeconds?: number;
  sampled: boolean;
}

/** A measured project: its files extracted (or checked out) at `commit`. */
export interface Project {
  name: string;
  root: string;
  dir: string;
  commit: string;
}

const decoder = new TextDecoder();

async function run(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

/**
 * `NAME=PATH[:SUBDIR]`: a directory, or a bare git mirror extracted at HEAD into a temporary
 * directory; `dir` is its SUBDIR.
 */
export async function openProject(spec: string): Promise<Project> {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new TypeError(`Cannot read project "${spec}": expected NAME=PATH[:SUBDIR]`);
  const name = spec.slice(0, eq);
  const [path, sub = ""] = spec.slice(eq + 1).split(":");
  const isBare = (() => {
    try {
      return Deno.statSync(`${path}/objects`).isDirectory && Deno.statSync(`${path}/HEAD`).isFile;
    } catch {
      return false;
    }
  })();
  if (isBare) {
    const commit = (await run("git", ["--git-dir", path, "rev-parse", "HEAD"])).out.trim();
    const root = Deno.makeTempDirSync({ prefix: `msl_corpus_${name}_` });
    const archive = new Deno.Command("sh", {
      args: ["-c", `git --git-dir="$1" archive HEAD | tar -x -C "$2"`, "sh", path, root],
    }).outputSync();
    if (!archive.success) {
      throw new Error(`Cannot extract ${path}: ${decoder.decode(archive.stderr)}`);
    }
    return { name, root, dir: `${root}/${sub}`, commit };
  }
  const git = await run("git", ["-C", path, "rev-parse", "HEAD"]);
  return { name, root: path, dir: `${path}/${sub}`, commit: git.code === 0 ? git.out.trim() : "?" };
}

function metalFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...metalFiles(p));
    else if (e.name.endsWith(".metal")) out.push(p);
  }
  return out.sort();
}

/**
 * Inlines `#include "x"` found next to the including file or in one of the project's enclosing
 * folders (MLX includes "mlx/backend/..." from its root); each header once, as `#pragma once`
 * and include guards would have it. Other lines are kept as they are.
 */
export function inline(path: string, root: string, seen = new Set<string>()): string {
  const text = Deno.readTextFileSync(path);
  const dir = path.slice(0, path.lastIndexOf("/"));
  return text.split("\n").map((line) => {
    const m = /^\s*#\s*include\s*"([^"]+)"/.exec(line);
    if (!m) return line;
    for (let d = dir; d.startsWith(root); d = d.slice(0, d.lastIndexOf("/"))) {
      const candidate = `${d}/${m[1]}`;
      try {
        if (!Deno.statSync(candidate).isFile) continue;
      } catch {
        continue;
      }
      const real = Deno.realPathSync(candidate);
      if (seen.has(real)) return "";
      seen.add(real);
      return inline(real, root, seen);
    }
    return line;
  }).join("\n");
}

/** Entry points and function constants, read from the preprocessed text. */
async function survey(
  text: string,
  metalVersion: number,
): Promise<{ names: string[]; constants: Record<number, unknown> }> {
  // Every system include blanked (not only <metal_*>): the count must not depend on headers this
  // machine lacks (MetalPerformancePrimitives), or -E fails and the file counts no entry point.
  const blanked = text.replace(/^\s*#\s*include\s*<[^>]*>.*$/gm, "");
  const pre = await run("clang-19", [
    "-E",
    "-P",
    "-x",
    "c++",
    "-std=c++20",
    "-nostdinc",
    "-w",
    `-D__METAL_VERSION__=${metalVersion}`,
    "-D__METAL__=1",
    "-D__HAVE_BFLOAT__=1",
    "-",
  ], blanked);
  const src = pre.code === 0 ? pre.out : blanked;
  const names = new Set<string>();
  for (const m of src.matchAll(/host_name\s*\(\s*((?:"[^"]*"\s*)+)\)/g)) {
    names.add([...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]).join(""));
  }
  // Non-template kernels: `kernel void NAME(` / `[[kernel]] void NAME(` with no `template`
  // since the previous declaration ended.
  const kernelRe =
    /(?:\bkernel\b|\[\[\s*kernel\s*\]\])\s*(?:\[\[[^\]]*\]\]\s*)*void\s+([A-Za-z_]\w*)\s*\(/g;
  for (const m of src.matchAll(kernelRe)) {
    const before = src.slice(0, m.index);
    const last = Math.max(
      before.lastIndexOf(";"),
      before.lastIndexOf("}"),
      before.lastIndexOf("{"),
    );
    if (!/\btemplate\b/.test(before.slice(last + 1))) names.add(m[1]);
  }
  const constants: Record<number, unknown> = {};
  const constRe =
    /\bconstant\s+([A-Za-z_][\w\s]*?)\s+([A-Za-z_]\w*)\s*\[\[\s*function_constant\s*\(([^)]*)\)\s*\]\]/g;
  for (const m of src.matchAll(constRe)) {
    const index = evaluate(m[3]);
    if (index === undefined) continue;
    // `static constant constexpr const bool x` (MLX's STEEL_CONST): specifiers are not the type.
    const type = m[1].replace(/\b(?:static|constexpr|const)\b/g, "").trim().replace(/\s+/g, " ");
    constants[index] = type === "bool"
      ? false
      : type === "float"
      ? { type: "float", value: 1 }
      : type === "half"
      ? { type: "half", value: 1 }
      : /^(short|int16_t)$/.test(type)
      ? { type: "short", value: 1 }
      : /^(ushort|uint16_t|unsigned short)$/.test(type)
      ? { type: "ushort", value: 1 }
      : /^(uint|unsigned|uint32_t)/.test(type)
      ? { type: "uint", value: 1 }
      : 1;
  }
  return { names: [...names], constants };
}

/** Integer arithmetic of + - * and parentheses (constant indices like `FC_BASE + 3`). */
function evaluate(expr: string): number | undefined {
  if (!/^[\d\s+\-*()xXa-fA-FuU]+$/.test(expr)) return undefined;
  try {
    const v = new Function(`return (${expr.replace(/(\d)[uU]\b/g, "$1")});`)();
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Groups a compiler message by its shape: quoted names and numbers blanked. */
function causeOf(message: string): string {
  return message.replace(/'[^']*'/g, "'…'").replace(/"[^"]*"/g, '"…"').replace(/\b\d+\b/g, "N")
    .slice(0, 160);
}

// ---- child: build one file ----------------------------------------------------------------

async function child(jobPath: string): Promise<void> {
  const { ShaderCompilationError, MetalComputeError } = await import("../errors.ts");
  const { KernelRegistry } = await import("../registry.ts");
  const { Device } = await import("../device.ts");
  const job = JSON.parse(Deno.readTextFileSync(jobPath));
  const result: FileResult = {
    file: job.file,
    entryPoints: job.names.length,
    built: 0,
    causes: {},
    seconds: null,
    sampled: true,
  };
  using device = Device.openSync({ backend: "cpu", compileTimeLimit: 0, compileMemoryLimit: 0 });
  const registry = new KernelRegistry(
    job.languageVersion ? { languageVersion: job.languageVersion } : {},
  );
  for (const n of job.names) registry.registerSource(n, job.text, job.file.split("/").pop());
  const fail = (name: string, cause: string) => (result.causes[cause] ??= []).push(name);
  let first = true;
  const begun = performance.now();
  for (const name of job.names) {
    const start = performance.now();
    try {
      await registry.getPipeline(name, device, job.constants);
      result.built++;
    } catch (error) {
      if (error instanceof ShaderCompilationError) {
        // The file (or its one specialisation) does not compile: every entry point shares it.
        const d = error.diagnostics.find((x) => x.severity === "error");
        const cause = causeOf(d?.message ?? error.message.split("\n")[0]);
        if (job.verbose) console.error(error.log.split("\n").slice(0, 40).join("\n"));
        for (const n of job.names.slice(job.names.indexOf(name))) fail(n, cause);
        if (first) result.seconds = (performance.now() - start) / 1000;
        break;
      } else if (error instanceof MetalComputeError) {
        fail(name, `${error.code}: ${causeOf(error.message.split("\n")[0])}`);
      } else throw error;
    }
    if (first) result.seconds = (performance.now() - start) / 1000;
    first = false;
  }
  if (result.seconds !== null) {
    result.pipelineSeconds = (performance.now() - begun) / 1000 - result.seconds;
  }
  registry.close();
  console.log(JSON.stringify(result));
}

// ---- parent ---------------------------------------------------------------------------------

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} needs a positive number`);
  return v;
}

/**
 * `--quick`: kernel modules built at -O0 by a clang wrapper (the same front end, entry points and
 * pipelines, unoptimised code: MLX's largest files take many minutes each at -O2 on a small
 * machine). The wrapper's modules would carry -O2 cache keys, so they go to a cache of their own
 * under the user's, never mixed with real ones.
 */
export function quickEnvironment(): Record<string, string> {
  const which = new Deno.Command("sh", { args: ["-c", "command -v clang-19 || command -v clang"] })
    .outputSync();
  const clang = decoder.decode(which.stdout).trim();
  if (!clang) throw new Error("--quick needs clang-19 or clang on PATH");
  const base = Deno.env.get("METAL_COMPUTE_CACHE_DIR") ??
    `${Deno.env.get("HOME")}/.cache/metal-compute`;
  // One stable wrapper path, so the bridge built with it is found again by later runs; written
  // to a temporary name and renamed, as other runs may be executing it.
  const dir = `${base}/msl-corpus-quick`;
  Deno.mkdirSync(dir, { recursive: true });
  const wrapper = `${dir}/clang-O0`;
  const script =
    `#!/bin/sh\nn=$#\ni=0\nwhile [ $i -lt $n ]; do a=$1; shift; [ "$a" = -O2 ] && a=-O0; set -- "$@" "$a"; i=$((i + 1)); done\nexec ${clang} "$@"\n`;
  let current = "";
  try {
    current = Deno.readTextFileSync(wrapper);
  } catch { /* not written yet */ }
  if (current !== script) {
    const temp = `${wrapper}.${Deno.pid}`;
    Deno.writeTextFileSync(temp, script);
    Deno.chmodSync(temp, 0o755);
    Deno.renameSync(temp, wrapper);
  }
  return { CLANG: wrapper, METAL_COMPUTE_CACHE_DIR: `${dir}/cache` };
}

/** One file read, its includes inlined, and surveyed: what a build of it needs. */
interface PreparedFile {
  file: string;
  text: string;
  names: string[];
  constants: Record<number, unknown>;
}

async function prepareFile(
  project: Project,
  path: string,
  languageVersion: string,
): Promise<PreparedFile> {
  const text = inline(path, project.root);
  const [major, minor] = (languageVersion || "3.2").split(".").map(Number);
  const { names, constants } = await survey(text, major * 100 + minor * 10);
  return { file: path.slice(project.dir.length + 1), text, names, constants };
}

async function measureFile(
  prepared: PreparedFile,
  build: boolean,
  timeout: number,
  verbose: boolean,
  languageVersion: string,
  env?: Record<string, string>,
): Promise<FileResult> {
  const { file, text, names, constants } = prepared;
  const base: FileResult = {
    file,
    entryPoints: names.length,
    built: 0,
    causes: {},
    seconds: null,
    sampled: build,
  };
  if (!build || names.length === 0) return base;
  const jobPath = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    jobPath,
    JSON.stringify({
      file,
      text,
      names,
      constants,
      verbose,
      languageVersion,
    }),
  );
  const self = new URL(import.meta.url).pathname;
  const cmd = new Deno.Command("timeout", {
    args: [
      String(timeout),
      "nice",
      "-n",
      "10",
      Deno.execPath(),
      "run",
      "-A",
      self,
      "--child",
      jobPath,
    ],
    stdout: "piped",
    stderr: "piped",
    env,
  });
  const out = await cmd.output();
  if (verbose) console.error(decoder.decode(out.stderr));
  await Deno.remove(jobPath);
  if (out.code === 0) {
    try {
      return { ...JSON.parse(decoder.decode(out.stdout).trim().split("\n").pop()!), file };
    } catch { /* reported below */ }
  }
  const why = out.code === 124
    ? `timed out after ${timeout} s`
    : `child failed (${out.code}): ${decoder.decode(out.stderr).split("\n").find((l) => l) ?? ""}`;
  return { ...base, causes: { [why]: names } };
}

/** One line of a `--results` file: a file's result and what it was measured with. */
export interface ResultRecord extends FileResult {
  project: string;
  /** The measured project's commit. */
  commit: string;
  languageVersion: string;
  quick: boolean;
  /** This repository's commit that measured it (`+dirty` with uncommitted changes). */
  measuredAt: string;
  /** When the file's measurement ended (ISO 8601). */
  finished: string;
}

/**
 * The results of earlier runs in a `--results` file (JSON lines) that measured `project` at the
 * same commit, language version and `--quick` setting: those files are not measured again, so an
 * interrupted run resumes where it stopped. The last line for a file wins.
 */
export function readResults(
  text: string,
  key: { project: string; commit: string; languageVersion: string; quick: boolean },
): Map<string, ResultRecord> {
  const out = new Map<string, ResultRecord>();
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    let record: ResultRecord;
    try {
      record = JSON.parse(line);
    } catch {
      throw new SyntaxError(`--results line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (
      record.project === key.project && record.commit === key.commit &&
      record.languageVersion === key.languageVersion && record.quick === key.quick
    ) out.set(record.file, record);
  }
  return out;
}

/**
 * The order files are built in: as listed, or with `smallestFirst` by ascending entry-point
 * count (ties by name), so a long run fills most of the table's rows early.
 */
export function buildOrder(
  files: { file: string; entryPoints: number }[],
  smallestFirst: boolean,
): number[] {
  const order = files.map((_, i) => i);
  if (!smallestFirst) return order;
  return order.sort((a, b) =>
    files[a].entryPoints - files[b].entryPoints || (files[a].file < files[b].file ? -1 : 1)
  );
}

/** This checkout's commit, `+dirty` when it has uncommitted changes ("?" outside git). */
function measuringCommit(): string {
  const dir = new URL("..", import.meta.url).pathname;
  const head = new Deno.Command("git", { args: ["-C", dir, "rev-parse", "--short=12", "HEAD"] })
    .outputSync();
  if (!head.success) return "?";
  const status = new Deno.Command("git", {
    args: ["-C", dir, "status", "--porcelain", "--untracked-files=no"],
  }).outputSync();
  return decoder.decode(head.stdout).trim() +
    (decoder.decode(status.stdout).trim() ? "+dirty" : "");
}

function readIfExists(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(args: string[]): Promise<void> {
  const ci = args.indexOf("--child");
  if (ci >= 0) return child(args[ci + 1]);
  const write = args.includes("--write");
  const verbose = args.includes("--verbose");
  const env = args.includes("--quick") ? quickEnvironment() : undefined;
  const version = args.indexOf("--language-version");
  const languageVersion = version >= 0 ? args.splice(version, 2)[1] : "";
  if (languageVersion && !/^\d+\.\d+$/.test(languageVersion)) {
    throw new TypeError(
      `--language-version needs "major.minor" (e.g. 4.0), got "${languageVersion}"`,
    );
  }
  const only = args.indexOf("--only");
  const onlyFile = only >= 0 ? args.splice(only, 2)[1] : undefined;
  const before = args.indexOf("--baseline");
  const baseline = before >= 0
    ? Deno.readTextFileSync(args.splice(before, 2)[1]).trim()
    : undefined;
  const smallestFirst = args.includes("--smallest-first");
  const quick = env !== undefined;
  const results = args.indexOf("--results");
  const resultsPath = results >= 0 ? args.splice(results, 2)[1] : undefined;
  if (results >= 0 && !resultsPath) throw new TypeError("--results needs a file path");
  const measuredAt = measuringCommit();
  args = args.filter((a) => !["--write", "--verbose", "--quick", "--smallest-first"].includes(a));
  const sample = option(args, "--sample", Infinity);
  const jobs = option(args, "--jobs", 1);
  const timeout = option(args, "--timeout", 600);
  if (args.length === 0 || args.includes("--help")) {
    console.error(
      "Usage: msl_corpus.ts NAME=PATH[:SUBDIR]... [--sample N] [--jobs N] [--timeout S] [--quick] [--language-version V] [--only FILE] [--smallest-first] [--results FILE.jsonl] [--write]",
    );
    Deno.exit(2);
  }
  const rows: string[] = [];
  const causeLines: string[] = [];
  const fileLines: string[] = [];
  const failureLines: string[] = [];
  for (const spec of args) {
    const project = await openProject(spec);
    const only = onlyFile?.split(",");
    const files = metalFiles(project.dir).filter((f) =>
      !only || only.some((o) => f.endsWith(`/${o}`))
    );
    const step = files.length / Math.min(sample, files.length);
    const chosen = new Set(
      Array.from({ length: Math.min(sample, files.length) }, (_, i) => files[Math.floor(i * step)]),
    );
    const key = { project: project.name, commit: project.commit, languageVersion, quick };
    const earlier = resultsPath
      ? readResults(readIfExists(resultsPath), key)
      : new Map<string, ResultRecord>();
    const prepared: PreparedFile[] = [];
    for (const f of files) prepared.push(await prepareFile(project, f, languageVersion));
    const results: FileResult[] = new Array(files.length);
    const order = buildOrder(
      prepared.map((p) => ({ file: p.file, entryPoints: p.names.length })),
      smallestFirst,
    );
    let next = 0;
    await Promise.all(Array.from({ length: jobs }, async () => {
      while (next < order.length) {
        const i = order[next++];
        const before = earlier.get(prepared[i].file);
        const build = chosen.has(files[i]);
        if (before && (before.sampled || !build)) {
          results[i] = before;
          continue;
        }
        results[i] = await measureFile(
          prepared[i],
          build,
          timeout,
          verbose,
          languageVersion,
          env,
        );
        const r = results[i];
        if (resultsPath && r.sampled) {
          const record: ResultRecord = {
            ...key,
            ...r,
            measuredAt,
            finished: new Date().toISOString(),
          };
          Deno.writeTextFileSync(resultsPath, JSON.stringify(record) + "\n", { append: true });
        }
        console.error(
          `${project.name} ${r.file}: ${r.built}/${r.entryPoints}${
            r.sampled ? "" : " (not built)"
          }${r.seconds !== null ? ` ${r.seconds.toFixed(2)} s` : ""}`,
        );
      }
    }));
    const total = results.reduce((a, r) => a + r.entryPoints, 0);
    const built = results.filter((r) => r.sampled);
    const sampledTotal = built.reduce((a, r) => a + r.entryPoints, 0);
    const ok = built.reduce((a, r) => a + r.built, 0);
    const times = built.flatMap((r) => r.seconds !== null && r.built > 0 ? [r.seconds] : []);
    const pct = sampledTotal ? (100 * ok / sampledTotal).toFixed(1) : "-";
    rows.push(
      `| ${project.name} | \`${project.commit.slice(0, 12)}\` | ${files.length} | ${total} | ${
        built.length < files.length ? `${built.length} files, ${sampledTotal} entry points` : "all"
      } | ${ok} | ${pct} % | ${times.length ? median(times).toFixed(2) : "-"} s |`,
    );
    for (const r of results) {
      fileLines.push(
        `| ${project.name} | ${r.file} | ${
          r.sampled ? `${r.built}/${r.entryPoints}` : `-/${r.entryPoints}`
        } | ${r.seconds !== null ? `${r.seconds.toFixed(2)} s` : "-"} | ${
          r.pipelineSeconds !== undefined ? `${r.pipelineSeconds.toFixed(2)} s` : "-"
        } | \`${(r as Partial<ResultRecord>).measuredAt ?? measuredAt}\` |`,
      );
      for (const [cause, names] of Object.entries(r.causes)) {
        failureLines.push(
          `| ${project.name} | ${r.file} | ${cause.replaceAll("|", "\\|")} | ${names.join(", ")} |`,
        );
      }
    }
    const causes = new Map<string, { count: number; example: string }>();
    for (const r of built) {
      for (const [cause, names] of Object.entries(r.causes)) {
        const c = causes.get(cause) ?? { count: 0, example: `${r.file}: ${names[0]}` };
        c.count += names.length;
        causes.set(cause, c);
      }
    }
    for (const [cause, c] of [...causes].sort((a, b) => b[1].count - a[1].count)) {
      causeLines.push(
        `| ${project.name} | ${c.count} | ${cause.replaceAll("|", "\\|")} | ${c.example} |`,
      );
    }
  }
  const body = [
    "| project | commit | files | entry points | built from | build | % | median compile per file |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "Failures by cause (first error of the file's compile; names and numbers blanked):",
    "",
    "| project | entry points | cause | example |",
    "|---|---|---|---|",
    ...(causeLines.length ? causeLines : ["| - | 0 | none | - |"]),
    "",
    "File by file (built / entry points; library compile time, first pipeline, cold cache; the other pipelines after it; this repository's commit that measured it):",
    "",
    "| project | file | build | compile | other pipelines | measured at |",
    "|---|---|---|---|---|---|",
    ...fileLines,
    "",
    "Every entry point that failed:",
    "",
    "| project | file | cause | entry points |",
    "|---|---|---|---|",
    ...(failureLines.length ? failureLines : ["| - | - | none | - |"]),
  ].join("\n");
  console.log(body);
  if (write) {
    writeSection(
      "msl-corpus",
      "Public MSL on the CPU backend (tools/msl_corpus.ts)",
      `Command: \`deno task msl-corpus ${Deno.args.join(" ")}\`\n\n${body}${
        baseline
          ? `\n\nBefore (the same harness on the compiler this work started from):\n\n${baseline}`
          : ""
      }`,
    );
  }
}

if (import.meta.main) await main([...Deno.args]);
