// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Faults, traps and hangs in kernels fail their command buffer, as on a GPU, and the device
// stays usable; a compile past its time limit fails clearly; a process that exits with open
// devices exits cleanly. Each case runs in its own process (tests/_isolation_child.ts) so a
// regression fails one test instead of killing or hanging the suite.
import assert from "node:assert";
import { Device } from "../device.ts";

const CHILD = new URL("./_isolation_child.ts", import.meta.url).pathname;
const ignore = Deno.build.os === "darwin"; // these scenarios are the CPU backend's
// Builds the bridge once here, so the children do not each race to build it.
if (!ignore) Device.openSync({ backend: "cpu" }).close();

interface Outcome {
  code: number;
  signal: Deno.Signal | null;
  error: string | null;
  after: string;
  stderr: string;
}

async function scenario(name: string): Promise<Outcome> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, name],
    stdout: "piped",
    stderr: "piped",
  });
  // The child's own limits are well under this; it only guards against a hung child.
  const child = command.spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const output = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let parsed: { error: string | null; after: string } = { error: null, after: "no output" };
  try {
    parsed = JSON.parse(line);
  } catch {
    // reported through `after`
  }
  return { code: output.code, signal: output.signal, ...parsed, stderr };
}

function assertSurvived(outcome: Outcome): void {
  assert.strictEqual(outcome.signal, null, `child killed by ${outcome.signal}:\n${outcome.stderr}`);
  assert.strictEqual(outcome.code, 0, `child exited with ${outcome.code}:\n${outcome.stderr}`);
  assert.strictEqual(outcome.after, "ok", "a later command buffer on the same device");
}

Deno.test({
  name: "a wild store in the default mode fails the command buffer, naming the kernel",
  ignore,
  async fn() {
    const outcome = await scenario("wild_store");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /Invalid store .*kernel function "wild_store".*\(SIGSEGV at/);
  },
});

Deno.test({
  name: "a wild store run by a synchronous wait on the JavaScript thread fails alone",
  ignore,
  async fn() {
    const outcome = await scenario("wild_store_sync");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /Invalid store .*kernel function "wild_store".*\(SIGSEGV at/);
  },
});

Deno.test({
  name: "a barrier kernel that never ends, waited for synchronously, is stopped by the time limit",
  ignore,
  async fn() {
    const outcome = await scenario("spin_barrier_sync");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /time limit of 300 ms .*kernel function "spin_barrier"/);
  },
});

Deno.test({
  name: "a wild store in checked mode names the .metal line",
  ignore,
  async fn() {
    const outcome = await scenario("wild_store_checked");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /kernel function "wild_store".*at wild_store\.metal:5/);
  },
});

Deno.test({
  name: "integer division by zero fails the command buffer (an error, not a value)",
  ignore,
  async fn() {
    const outcome = await scenario("divide_by_zero");
    assertSurvived(outcome);
    assert.match(
      outcome.error ?? "",
      /Integer division by zero, executing kernel function "divide_by_zero"/,
    );
  },
});

Deno.test({
  name: "__builtin_trap() fails the command buffer",
  ignore,
  async fn() {
    const outcome = await scenario("trap");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /Trap .*kernel function "trap"/);
  },
});

Deno.test({
  name: "a kernel that never ends fails with a time-limit error and later work runs",
  ignore,
  async fn() {
    const outcome = await scenario("spin");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /time limit of 300 ms .*kernel function "spin"/);
  },
});

Deno.test({
  name: "a barrier kernel that never ends (on fibers) is stopped by the time limit too",
  ignore,
  async fn() {
    const outcome = await scenario("spin_barrier");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /time limit of 300 ms .*kernel function "spin_barrier"/);
  },
});

Deno.test({
  name: "a compile past its time limit fails with MB_ERR_LIMIT",
  ignore,
  async fn() {
    const outcome = await scenario("compile_time");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /^CompileLimitError: /);
    assert.match(outcome.error ?? "", /longer than its time limit of 300 ms/);
  },
});

Deno.test({
  name: "a compile past its memory limit fails with a CompileLimitError",
  ignore,
  async fn() {
    const outcome = await scenario("compile_memory");
    assertSurvived(outcome);
    assert.match(outcome.error ?? "", /^CompileLimitError: .*more than its memory limit of 300 MB/);
  },
});

Deno.test({
  name: "a process that ends with its device open exits cleanly (5 runs)",
  ignore,
  async fn() {
    for (let i = 0; i < 5; ++i) {
      const outcome = await scenario("exit_open");
      assertSurvived(outcome);
    }
  },
});

Deno.test({
  name: "closing a device and its registry while getPipeline compiles is safe",
  ignore,
  async fn() {
    const outcome = await scenario("close_while_compiling");
    assertSurvived(outcome);
  },
});

Deno.test({
  name: "closing a command buffer and its device while completed() waits is safe",
  ignore,
  async fn() {
    const outcome = await scenario("close_while_waiting");
    assertSurvived(outcome);
    assert.strictEqual(
      outcome.error,
      "CommandBufferError",
      "the spin is stopped by the time limit",
    );
  },
});

Deno.test({
  name: "kernel modules are unloaded once no pipeline uses them (beyond the 16 most recent)",
  ignore,
  async fn() {
    const outcome = await scenario("unload");
    assertSurvived(outcome);
    assert.strictEqual(outcome.error, null);
  },
});
