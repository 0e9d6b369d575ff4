// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Lifetimes without leaks: 10,000 create/use/close cycles of each object kind keep RSS flat,
// dropped objects are finalised, and a view of a dropped buffer stays valid. Each case runs
// in its own process (tests/_leak_child.ts, with --expose-gc) so the measurement is its own.
import assert from "node:assert";
import { Device } from "../device.ts";

const CHILD = new URL("./_leak_child.ts", import.meta.url).pathname;
const ignore = Deno.build.os === "darwin";
if (!ignore) Device.openSync({ backend: "cpu" }).close(); // builds the bridge the children use
const LIMIT = 5 * 1024 * 1024;

async function child(kind: string, cycles: number): Promise<Record<string, number>> {
  const process = new Deno.Command(Deno.execPath(), {
    // A fixed young generation: V8 grows it under a high allocation rate, which would count
    // as RSS growth though nothing leaks (heapUsed stays flat).
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc,--min-semi-space-size=4,--max-semi-space-size=4",
      CHILD,
      kind,
      String(cycles),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => process.kill("SIGKILL"), 120_000);
  const output = await process.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.strictEqual(output.signal, null, `child killed by ${output.signal}:\n${stderr}`);
  assert.strictEqual(output.code, 0, `child exited with ${output.code}:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

for (const kind of ["buffer", "command_buffer", "pipeline", "device"]) {
  const cycles = 10_000;
  Deno.test({
    name: `${cycles} create/use/close cycles of a ${kind} keep RSS flat (< 5 MB)`,
    ignore,
    async fn() {
      const { growth } = await child(kind, cycles);
      assert.ok(growth < LIMIT, `RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
    },
  });
}

Deno.test({
  name: "dropped buffers and devices are finalised (the device's threads end)",
  ignore,
  async fn() {
    const { finalized, threadsBefore, threadsAfter } = await child("finalize", 0);
    assert.strictEqual(finalized, 1, "buffer and device memory released");
    // The device had 4 threads (2 helpers, its queue, its watchdog).
    assert.ok(threadsAfter <= threadsBefore - 4, `threads ${threadsBefore} -> ${threadsAfter}`);
  },
});

Deno.test({
  name: "a view of a dropped DeviceBuffer keeps its memory alive",
  ignore,
  async fn() {
    const { last } = await child("view", 0);
    assert.strictEqual(last, 4);
  },
});
