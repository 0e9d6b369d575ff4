// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's hit path (private): name -> (device, constants as given) -> pipeline, found
 * without normalising the constants. Filled after a pipeline is found the slow way.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import type { Pipeline } from "./pipeline.ts";

/** Pipelines by name, then by a cheap key of (device, constants). */
export class HotPipelines {
  #byName = new Map<string, Map<number | string, Pipeline>>();

  /**
   * The cached, open pipeline for exactly these arguments, if any.
   *
   * @returns The pipeline, or undefined (then take the normalising path).
   */
  get(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
  ): Pipeline | undefined {
    const byName = this.#byName.get(name);
    if (byName === undefined) return undefined;
    const key = hotKeyOf(device, constants);
    if (key === undefined) return undefined;
    const pipeline = byName.get(key);
    return pipeline === undefined || pipeline.closed ? undefined : pipeline;
  }

  /** Remembers `pipeline` for these arguments (a no-op for constants without a cheap key). */
  set(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
    pipeline: Pipeline,
  ): void {
    const key = hotKeyOf(device, constants);
    if (key === undefined) return;
    let byName = this.#byName.get(name);
    if (byName === undefined) this.#byName.set(name, byName = new Map());
    byName.set(key, pipeline);
  }

  /** Forgets every pipeline of `name` (its source changed). */
  delete(name: string): void {
    this.#byName.delete(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.#byName.clear();
  }
}

/**
 * The hit-path key of (device, constants) without normalising them: the device id alone, or
 * the id plus each `index:value` in enumeration order. Integer-like keys enumerate in
 * ascending order, so `{ 200: true, 100: 4 }` and `{ 100: 4, 200: true }` give one key.
 * Spelled-out values (`{ type, value }`) and anything odd take the normalising path
 * (undefined here); two spellings of one specialisation may get two keys for one pipeline.
 */
function hotKeyOf(
  device: Device,
  constants: FunctionConstants | undefined,
): number | string | undefined {
  if (constants === undefined) return device.id;
  let key = `${device.id}`;
  for (const index in constants) {
    const value = constants[index as unknown as number];
    if (typeof value === "boolean") key += value ? `|${index}:t` : `|${index}:f`;
    else if (typeof value === "number") key += `|${index}:${value}`;
    else return undefined;
  }
  return key;
}
