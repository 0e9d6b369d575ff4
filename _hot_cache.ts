// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's hit path (private): name -> (device, constants as given) -> pipeline, found
 * without normalising the constants, building a string or sorting. Filled after a pipeline
 * is found the slow way.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * One specialisation seen on the slow path with plain constants (booleans and integers):
 * its indices in ascending order and the value given for each.
 */
interface Specialisation {
  readonly deviceId: number;
  readonly indices: readonly number[];
  readonly values: readonly (boolean | number)[];
  readonly pipeline: Pipeline;
}

/**
 * Pipelines by name: without constants by device id; with plain constants as a short list of
 * specialisations compared value by value (a name rarely has more than a few).
 */
export class HotPipelines {
  #plain = new Map<string, Map<number, Pipeline>>();
  #specialised = new Map<string, Specialisation[]>();

  /**
   * The cached, open pipeline for exactly these arguments, if any.
   *
   * A hit reads each remembered index directly and compares the value with `===`, so
   * `{ 200: true, 100: 4 }` and `{ 100: 4, 200: true }` hit one entry, while `1` and `true`,
   * or `4` and `{ type: "int", value: 4 }`, do not (the latter takes the normalising path,
   * where it is validated). The count of own keys must match too, so an extra or undefined
   * constant misses and is refused on the slow path.
   *
   * @returns The pipeline, or undefined (then take the normalising path).
   */
  get(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
  ): Pipeline | undefined {
    let pipeline: Pipeline | undefined;
    if (constants === undefined) {
      pipeline = this.#plain.get(name)?.get(device.id);
    } else {
      const list = this.#specialised.get(name);
      if (
        list === undefined || constants === null || typeof constants !== "object" ||
        Array.isArray(constants)
      ) return undefined;
      pipeline = find(list, device.id, constants);
    }
    return pipeline === undefined || pipeline.closed ? undefined : pipeline;
  }

  /**
   * Remembers `pipeline` for these arguments, which the slow path accepted. A no-op for
   * constants that are not all plain booleans and integers (they keep the normalising path).
   */
  set(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
    pipeline: Pipeline,
  ): void {
    if (constants === undefined) {
      let byDevice = this.#plain.get(name);
      if (byDevice === undefined) this.#plain.set(name, byDevice = new Map());
      byDevice.set(device.id, pipeline);
      return;
    }
    const indices = Object.keys(constants).map(Number).sort((a, b) => a - b);
    const values: (boolean | number)[] = [];
    for (const index of indices) {
      const value = constants[index];
      if (typeof value !== "boolean" && typeof value !== "number") return;
      values.push(value);
    }
    let list = this.#specialised.get(name);
    if (list === undefined) this.#specialised.set(name, list = []);
    const entry = { deviceId: device.id, indices, values, pipeline };
    const at = list.findIndex((seen) =>
      seen.deviceId === entry.deviceId && sameItems(seen.indices, indices) &&
      sameItems(seen.values, values)
    );
    if (at === -1) list.push(entry);
    else list[at] = entry;
  }

  /** Forgets every pipeline of `name` (its source changed). */
  delete(name: string): void {
    this.#plain.delete(name);
    this.#specialised.delete(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.#plain.clear();
    this.#specialised.clear();
  }
}

/** The entry of `list` on this device whose constants equal `constants`, if any. */
function find(
  list: readonly Specialisation[],
  deviceId: number,
  constants: FunctionConstants,
): Pipeline | undefined {
  // Counting own keys is the one allocation left; it is what keeps extra constants out.
  const count = Object.keys(constants).length;
  next: for (const entry of list) {
    const { indices, values } = entry;
    if (entry.deviceId !== deviceId || indices.length !== count) continue;
    for (let i = 0; i < count; i++) {
      if (constants[indices[i]] !== values[i]) continue next;
    }
    return entry.pipeline;
  }
  return undefined;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
