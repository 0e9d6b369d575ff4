// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared test helpers: one device (and registry) per test file, and backend facts for skip reasons.
import { Device } from "../device.ts";
import { KernelRegistry } from "../registry.ts";

/** True on macOS, where tests can run on Metal. */
export const HAS_METAL: boolean = Deno.build.os === "darwin";

/** Why a Metal-only test is skipped here (shown in its name). */
export const NO_METAL_REASON = `skipped: Metal needs macOS, this is ${Deno.build.os}`;

/**
 * Opens the device tests run on: `METAL_COMPUTE_TEST_BACKEND` ("cpu" or "metal") when set,
 * else the system default.
 */
export function openTestDevice(): Device {
  const backend = Deno.env.get("METAL_COMPUTE_TEST_BACKEND");
  if (backend !== undefined && backend !== "cpu" && backend !== "metal") {
    throw new TypeError(`METAL_COMPUTE_TEST_BACKEND must be "cpu" or "metal", got "${backend}"`);
  }
  return Device.openSync(backend ? { backend } : {});
}

/** The backend {@linkcode openTestDevice} opens: the override, else the system default. */
export function testBackend(): "cpu" | "metal" {
  const backend = Deno.env.get("METAL_COMPUTE_TEST_BACKEND");
  if (backend === "cpu" || backend === "metal") return backend;
  return HAS_METAL ? "metal" : "cpu";
}

const probes = new Map<"cpu" | "metal", { available: boolean; reason: string }>();

/**
 * Whether `backend` opens a device on this machine, and if not, a skip reason naming the cause
 * (no clang for the CPU backend; not macOS, or no usable GPU, for Metal). Opens and closes a
 * device once per backend.
 */
export function backendAvailable(backend: "cpu" | "metal"): { available: boolean; reason: string } {
  let probe = probes.get(backend);
  if (probe) return probe;
  if (backend === "metal" && !HAS_METAL) {
    probe = { available: false, reason: NO_METAL_REASON };
  } else {
    try {
      Device.openSync({ backend }).close();
      probe = { available: true, reason: "" };
    } catch (error) {
      const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
      probe = {
        available: false,
        reason: `skipped: the ${backend} backend does not open here: ${why}`,
      };
    }
  }
  probes.set(backend, probe);
  return probe;
}

/** {@linkcode backendAvailable} for the CPU backend. */
export function cpuBackend(): { available: boolean; reason: string } {
  return backendAvailable("cpu");
}

/** The device and registry a test file shares (compiling each shader once per file). */
export interface TestContext {
  device: Device;
  registry: KernelRegistry;
}

/**
 * Opens the test device and a registry for one test file. They close themselves when the
 * file's tests are done (the module's `unload` event), so no test exists only to tear down.
 */
export function testContext(): TestContext {
  const device = openTestDevice();
  const registry = new KernelRegistry();
  globalThis.addEventListener("unload", () => {
    registry.close();
    device.close();
  });
  return { device, registry };
}

/** Runs a tool to completion, or returns `null` when it is not installed. */
export function runTool(command: string, args: string[]): Deno.CommandOutput | null {
  try {
    return new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).outputSync();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
