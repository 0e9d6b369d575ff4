// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// A JSR install receives only the module graph. This serves the package over HTTP from
// loopback and imports it from there: the bridge sources and shaders must arrive as text
// imports, build, and run.
import assert from "node:assert";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

Deno.test("mod.ts imported over HTTP builds the bridge; *Sync helpers work after registry.load()", async () => {
  const requested = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    requested.add(path);
    try {
      const body = await Deno.readFile(join(ROOT, path));
      const type = extname(path) === ".ts" ? "application/typescript" : "text/plain";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const origin = `127.0.0.1:${server.addr.port}`;
  const script = `
    import { Device, KernelRegistry, softmaxSync } from "http://${origin}/mod.ts";
    const device = await Device.open();
    const registry = new KernelRegistry();
    try {
      registry.getPipelineSync("softmax_f32", device);
    } catch (error) {
      console.log("sync:", error.name, error.message);
    }
    await registry.load(["softmax_f32"]);
    const input = device.newBuffer(new Float32Array([0, Math.log(3)]));
    const commands = device.newCommandBuffer();
    const encoder = commands.computeEncoder();
    softmaxSync(encoder, { registry, dtype: "f32", input, output: input, rows: 1, cols: 2 });
    encoder.end();
    commands.commit();
    await commands.completed();
    console.log("result:", [...new Float32Array(input.contents)].map((x) => x.toFixed(4)).join(","));
    registry.close();
    device.close();`;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "consumer.ts"), script);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-import=${origin}`,
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--no-lock",
        "--reload",
        "consumer.ts",
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, stderr);
    assert.match(
      stdout,
      /sync: SourceNotLoadedError Cannot load "softmax\.metal" synchronously \(a remote import, or no read permission for it\): call await registry\.load\(\["softmax_f32"\]\)/,
    );
    assert.match(stdout, /result: 0\.2500,0\.7500/);
    assert.ok(requested.has("/metal_bridge/cpu/runtime.cpp") || Deno.build.os === "darwin");
    assert.ok(requested.has("/shaders/softmax.metal"));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
