// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Shared test helpers: one device per test file, and backend facts for skip reasons.
import { Device } from "../device.ts";

/** True on macOS, where tests can run on Metal. */
export const HAS_METAL: boolean = Deno.build.os === "darwin";

/** Why a Metal-only test is skipped here (shown in its name). */
export const NO_METAL_REASON = `skipped: Metal needs macOS, this is ${Deno.build.os}`;

/**
 * Opens the device tests run on: `METAL_COMPUTE_TEST_BACKEND` ("cpu" or "metal") when set,
 * else the system default. Call once per test file and close it in the last test.
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

let cpuProbe: { available: boolean; reason: string } | undefined;

/**
 * Whether the CPU backend opens on this machine (it needs clang, and on macOS its Mach-O
 * build), and if not, a skip reason naming the cause. Opens and closes a device once.
 */
export function cpuBackend(): { available: boolean; reason: string } {
  if (cpuProbe) return cpuProbe;
  try {
    Device.openSync({ backend: "cpu" }).close();
    cpuProbe = { available: true, reason: "" };
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    cpuProbe = { available: false, reason: `skipped: the CPU backend does not open here: ${why}` };
  }
  return cpuProbe;
}
