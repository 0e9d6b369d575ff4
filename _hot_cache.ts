// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The registry's hit path (private): name -> (device, constants as given) -> pipeline, found
 * without normalising the constants, building a string, sorting or enumerating keys. Filled
 * after a pipeline is found the slow way.
 *
 * @module
 */
import type { FunctionConstants } from "./constants.ts";
import type { Device } from "./device.ts";
import type { Pipeline } from "./pipeline.ts";

/**
 * One specialisation seen on the slow path with plain constants (booleans and integers): the
 * value given for each of the kernel's declared indices (`undefined`: not given).
 */
interface Specialisation {
  readonly deviceId: number;
  readonly values: readonly (boolean | number | undefined)[];
  readonly pipeline: Pipeline;
}

/** What the hit path knows about one kernel name. */
interface NameEntry {
  /** The indices of the kernel's function constants, ascending (from its pipeline). */
  readonly declared: readonly number[];
  /** Pipelines without constants, one per device. */
  readonly plain: { deviceId: number; pipeline: Pipeline }[];
  /** Specialisations with plain constants (a name rarely has more than a few). */
  readonly specialised: Specialisation[];
}

/**
 * Pipelines by name: without constants by device id; with plain constants as a short list of
 * specialisations compared value by value.
 *
 * A hit reads exactly the kernel's declared indices of the constants object
 * ({@linkcode Pipeline.functionConstants}), in order, and compares each with the
 * specialisation's value: no key is enumerated. Enumerating is what a hit cannot afford:
 * integer keys live in V8's element store, which every key enumeration (`Object.keys`,
 * `for…in`) walks and turns into strings, about 100 ns for two keys, more than the rest of
 * the hit. The price: a key the kernel does not declare is not seen on a hit; the call
 * returns the pipeline its declared values select. Such a key is refused on the slow path,
 * where every call without a cached specialisation goes (the first use of one included).
 */
export class HotPipelines {
  #names = new Map<string, NameEntry>();

  /**
   * The cached, open pipeline for these arguments, if any.
   *
   * A hit compares each declared index's value with `===`, so `{ 200: true, 100: 4 }` and
   * `{ 100: 4, 200: true }` hit one entry, while `1` and `true`, or `4` and
   * `{ type: "int", value: 4 }`, do not (the latter takes the normalising path, where it is
   * validated). A declared key present with the value `undefined` misses (the slow path
   * refuses it); keys outside the declared indices are not read (see the class doc).
   *
   * @returns The pipeline, or undefined (then take the normalising path).
   */
  get(
    name: string,
    device: Device,
    constants: FunctionConstants | undefined,
  ): Pipeline | undefined {
    const entry = this.#names.get(name);
    if (entry === undefined) return undefined;
    const deviceId = device.id;
    if (constants === undefined) {
      for (const plain of entry.plain) {
        if (plain.deviceId === deviceId) return open(plain.pipeline);
      }
      return undefined;
    }
    if (typeof constants !== "object" || constants === null || Array.isArray(constants)) {
      return undefined;
    }
    const declared = entry.declared;
    next: for (const spec of entry.specialised) {
      if (spec.deviceId !== deviceId) continue;
      const values = spec.values;
      for (let i = 0; i < declared.length; i++) {
        const value = constants[declared[i]];
        if (value !== values[i] || (value === undefined && declared[i] in constants)) {
          continue next;
        }
      }
      return open(spec.pipeline);
    }
    return undefined;
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
    let entry = this.#names.get(name);
    if (entry === undefined) {
      const declared = pipeline.functionConstants.map((constant) => constant.index);
      entry = { declared, plain: [], specialised: [] };
      this.#names.set(name, entry);
    }
    const deviceId = device.id;
    if (constants === undefined) {
      const at = entry.plain.findIndex((plain) => plain.deviceId === deviceId);
      if (at === -1) entry.plain.push({ deviceId, pipeline });
      else entry.plain[at] = { deviceId, pipeline };
      return;
    }
    for (const value of Object.values(constants)) {
      if (typeof value !== "boolean" && typeof value !== "number") return;
    }
    const values = entry.declared.map((index) => constants[index] as boolean | number | undefined);
    const spec = { deviceId, values, pipeline };
    const list = entry.specialised;
    const at = list.findIndex((seen) =>
      seen.deviceId === deviceId && sameItems(seen.values, values)
    );
    if (at === -1) list.push(spec);
    else list[at] = spec;
  }

  /** Forgets every pipeline of `name` (its source changed). */
  delete(name: string): void {
    this.#names.delete(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.#names.clear();
  }
}

function open(pipeline: Pipeline): Pipeline | undefined {
  return pipeline.closed ? undefined : pipeline;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
