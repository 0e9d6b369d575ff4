/*
 * kernel_module.h — the interface between a compiled MSL kernel module (a shared object the
 * CPU backend builds from one .metal source and one constant specialisation) and the CPU
 * runtime that loads and runs it. Internal to metal_bridge/cpu; not part of the public ABI.
 *
 * The compiler (compiler.cpp) generates, next to the translated MSL, one entry point per
 * kernel function and the exported table below. The runtime (runtime.cpp) dlopens the module,
 * calls mbk_module_init once with its services, and runs kernels through the table.
 */
#ifndef MB_CPU_KERNEL_MODULE_H
#define MB_CPU_KERNEL_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MBK_MODULE_ABI 4
#define MBK_MAX_BINDINGS 31
#define MBK_SIMD_WIDTH 32

/* What one dispatch binds: [[buffer(i)]] and [[threadgroup(i)]] arguments. */
typedef struct mbk_bindings {
  void* buffers[MBK_MAX_BINDINGS];           /* base + offset; set_bytes data lives here too */
  uint64_t buffer_lengths[MBK_MAX_BINDINGS]; /* bytes from the offset to the end */
} mbk_bindings;

/* Geometry shared by every thread of one threadgroup. */
typedef struct mbk_group {
  uint32_t threadgroup_position_in_grid[3];
  uint32_t threadgroups_per_grid[3];
  uint32_t threads_per_threadgroup[3]; /* this group's actual size (partial at grid edges) */
  uint32_t dispatch_threads_per_threadgroup[3]; /* the size given to the dispatch */
  uint32_t threads_per_grid[3];
  uint32_t grid_origin[3]; /* thread_position_in_grid of this group's thread (0,0,0) */
  void*
      threadgroup_memory[MBK_MAX_BINDINGS]; /* [[threadgroup(i)]] arguments (contents undefined) */
  uint32_t thread_count;                    /* product of threads_per_threadgroup */
  /* uses_sync = 2 kernels run as work-item loops: an mbk_work_item_space for their collectives. */
  void* work_item_space;
} mbk_group;

/*
 * Runs every thread of one threadgroup. For kernels whose `uses_sync` is 0 (no barrier, no
 * SIMD-group or quad collective reachable): a plain loop over the threads, in order. For
 * `uses_sync` = 2: the kernel split at its barriers and collectives into loops over the threads
 * (work-item loops, msl_work_items.h); `group->work_item_space` must then point to an
 * mbk_work_item_space the group owns while it runs.
 */
typedef void (*mbk_run_group_fn)(const mbk_bindings* bindings, const mbk_group* group);

/*
 * Runs the one thread with linear index `thread_index` (x fastest) of a threadgroup. Used
 * for kernels with `uses_sync` = 1: the runtime calls it on a fiber per thread, and the
 * kernel's barriers and collectives call back into the runtime (mbk_runtime).
 */
typedef void (*mbk_run_thread_fn)(const mbk_bindings* bindings, const mbk_group* group,
                                  uint32_t thread_index);

typedef struct mbk_kernel_info {
  const char* name;             /* the kernel's host name */
  mbk_run_group_fn run_group;   /* always present */
  mbk_run_thread_fn run_thread; /* always present */
  /* 0: no barrier or collective (run_group); 1: needs fibers (run_thread per fiber); 2: has
   * barriers or collectives and run_group runs them as work-item loops (run_thread on fibers
   * gives the same results: the runtime may use either). */
  uint32_t uses_sync;
  uint32_t max_total_threads_per_threadgroup; /* [[max_total_threads_per_threadgroup(n)]] or 0 */
  uint64_t static_threadgroup_memory_length;  /* bytes of threadgroup variables in the kernel */
  uint32_t buffer_mask;                       /* bit i set: the kernel reads [[buffer(i)]] */
  uint32_t threadgroup_mask;                  /* bit i set: the kernel has [[threadgroup(i)]] */
  /* Per [[buffer(i)]]: the bytes its type needs (a `constant T&` needs sizeof(T)); 0 for pointers.
   */
  const uint64_t* buffer_min_lengths; /* MBK_MAX_BINDINGS entries */
} mbk_kernel_info;

/*
 * Services the runtime gives a module. All are called from inside a kernel thread running
 * on a fiber (uses_sync kernels only).
 */
typedef struct mbk_runtime {
  /* threadgroup_barrier / simdgroup_barrier: waits for every thread of the group / simdgroup. */
  void (*threadgroup_barrier)(uint32_t mem_flags);
  void (*simdgroup_barrier)(uint32_t mem_flags);
  /*
   * The one SIMD-group collective primitive. The calling lane deposits `size` bytes
   * (<= MBK_SIMD_SLOT_BYTES) and blocks until every live lane of its simdgroup has arrived at
   * a collective; lanes arriving at the same call site (`site`, a unique address per call site)
   * form the active set. Returns 32 slots of MBK_SIMD_SLOT_BYTES, indexed by lane (the start of
   * an mbk_simd_result), and writes the active-lane mask to *active. Slots stay valid until
   * this lane's next collective.
   * Every simd_* / quad_* function of the compatibility header is built on this.
   */
  const void* (*simd_exchange)(const void* value, uint32_t size, const void* site,
                               uint32_t* active);
  /* Reports a fatal kernel error (checked mode) and ends the dispatch; does not return. */
  void (*fail)(const char* message);
  /* 1 when checked mode is on (bounds and barrier checks). */
  uint32_t checked;
} mbk_runtime;

#define MBK_SIMD_SLOT_BYTES 256 /* fits a simdgroup_matrix<float,8,8> lane copy */

/*
 * What simd_exchange returns a pointer to. After the slots, memory the lanes of one collective
 * may use to share work (they run one at a time on one OS thread): the compatibility header
 * lets one lane per group reduce the slots and the others copy its result. `serial` differs
 * for every collective the memory serves (never 0); the runtime writes nothing else after the
 * slots, so a `share` entry is valid only when its serial equals `serial`.
 */
#define MBK_SIMD_SHARED_BYTES 64
typedef struct mbk_simd_share {
  uint64_t serial; /* the collective this entry belongs to */
  const void* tag; /* what was computed (the compat header: one address per reduction type) */
  uint32_t mask;   /* the lanes it covers */
  uint32_t reserved;
} mbk_simd_share;
typedef struct mbk_simd_result {
  unsigned char slots[MBK_SIMD_WIDTH][MBK_SIMD_SLOT_BYTES];
  uint64_t serial;
  mbk_simd_share share[MBK_SIMD_WIDTH];                        /* by the group's first lane */
  unsigned char shared[MBK_SIMD_WIDTH][MBK_SIMD_SHARED_BYTES]; /* its result */
} mbk_simd_result;

/*
 * What a work-item-loop group (uses_sync = 2) uses for its SIMD-group collectives: each lane
 * deposits its operand in `lanes[simdgroup].slots[lane]` (a deposit loop), then every lane
 * computes its result from its simdgroup's slots (a collect loop, `collect` = 1, `active` the
 * participating lanes per simdgroup) and keeps it in one of `results` for the statement after the
 * collective. `serial` numbers the collectives (mbk_simd_result.serial). Written only by
 * module code, on the thread running the group.
 */
#ifdef __cplusplus
#define MBK_ALIGN64 alignas(64)
#else
#define MBK_ALIGN64 _Alignas(64)
#endif
#define MBK_WORK_ITEM_MAX_THREADS 1024
#define MBK_WORK_ITEM_RESULT_AREAS 4 /* collectives in one statement */
typedef struct mbk_work_item_space {
  uint64_t serial;
  uint32_t collect;
  uint32_t thread; /* checked mode: the thread the loops run now (fault reports); ~0u: none */
  uint32_t active[MBK_WORK_ITEM_MAX_THREADS / MBK_SIMD_WIDTH];
  mbk_simd_result lanes[MBK_WORK_ITEM_MAX_THREADS / MBK_SIMD_WIDTH];
  MBK_ALIGN64 unsigned char results[MBK_WORK_ITEM_RESULT_AREAS]
                                   [MBK_WORK_ITEM_MAX_THREADS * MBK_SIMD_SLOT_BYTES];
} mbk_work_item_space;

/* Exported by every module. */
uint32_t mbk_module_abi(void);                    /* MBK_MODULE_ABI */
void mbk_module_init(const mbk_runtime* runtime); /* once, before any kernel runs */
const mbk_kernel_info* mbk_module_kernels(uint32_t* out_count);

/*
 * Optional export: what a `site` passed to simd_exchange points to. When lanes of a simdgroup
 * wait at different sites (divergent code), the runtime must pick which site completes first,
 * as a GPU picks which branch runs before the lanes reconverge. With
 * MBK_SITE_SOURCE_LOCATION, every site points to the record clang's
 * __builtin_source_location() returns (libstdc++'s std::source_location::__impl:
 * const char* file, const char* function, unsigned line, unsigned column), and the runtime
 * runs the site earliest in the source first (like a GPU running the lowest program counter
 * first), so lanes after a branch wait for the lanes still inside it. Without the export
 * (MBK_SITE_OPAQUE), it runs the site whose lanes have completed the fewest collectives.
 */
#define MBK_SITE_OPAQUE 0
#define MBK_SITE_SOURCE_LOCATION 1
uint32_t mbk_module_site_format(void);

#ifdef __cplusplus
}
#endif

#endif
