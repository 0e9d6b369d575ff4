/*
 * common/contract.h — what both implementations of metal_bridge.h share: status names, the
 * device config parser, and every argument check whose refusal the ABI promises (status code
 * and wording). metal_bridge.m (Objective-C) and cpu/ (C++) both include it, so a bad input
 * gets the same status and the same message on Metal and on the CPU backend;
 * tests/bridge_parity_test.ts holds the table of refusals and checks both.
 *
 * Plain C, header-only, no C library (the Objective-C bridge builds freestanding): messages are
 * written into a caller buffer by the small mbc_text writer below. Every check returns MB_OK or
 * the status to return, with the message in `text`.
 */
#ifndef METAL_BRIDGE_COMMON_CONTRACT_H
#define METAL_BRIDGE_COMMON_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "../metal_bridge.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the ABI (metal_bridge.h). */
#define MBC_MAX_BINDINGS 31u       /* [[buffer(i)]] / [[threadgroup(i)]]: i < 31 */
#define MBC_MAX_SET_BYTES 4096u    /* mb_encoder_set_bytes */
#define MBC_BUFFER_OFFSET_ALIGN 4u /* mb_encoder_set_buffer offsets */
#define MBC_THREADGROUP_LENGTH_ALIGN 16u
#define MBC_MAX_WORKERS 1024u
#define MBC_MAX_CACHE_MB (1ull << 32)
#define MBC_MESSAGE_CAPACITY 512u /* enough for every message below, names included */

/* ---- Status names ------------------------------------------------------------------------- */

static inline const char* mbc_status_name(mb_status status) {
  switch (status) {
    case MB_OK:
      return "MB_OK";
    case MB_ERR_INVALID_ARG:
      return "MB_ERR_INVALID_ARG";
    case MB_ERR_NOT_FOUND:
      return "MB_ERR_NOT_FOUND";
    case MB_ERR_COMPILE:
      return "MB_ERR_COMPILE";
    case MB_ERR_OOM:
      return "MB_ERR_OOM";
    case MB_ERR_UNSUPPORTED:
      return "MB_ERR_UNSUPPORTED";
    case MB_ERR_EXECUTION:
      return "MB_ERR_EXECUTION";
    case MB_ERR_LIMIT:
      return "MB_ERR_LIMIT";
    case MB_ERR_INTERNAL:
      return "MB_ERR_INTERNAL";
    case MB_ERR_IO:
      return "MB_ERR_IO";
    default:
      return "MB_UNKNOWN";
  }
}

/* ---- Message text --------------------------------------------------------------------------- */

/* A NUL-terminated message in a fixed buffer; text past the capacity is dropped. */
typedef struct mbc_text {
  char data[MBC_MESSAGE_CAPACITY];
  size_t length;
} mbc_text;

static inline void mbc_put_n(mbc_text* text, const char* s, size_t n) {
  for (size_t i = 0; i < n && text->length + 1 < MBC_MESSAGE_CAPACITY; i++)
    text->data[text->length++] = s[i];
  text->data[text->length] = '\0';
}

static inline void mbc_put(mbc_text* text, const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  mbc_put_n(text, s, n);
}

static inline void mbc_put_u64(mbc_text* text, uint64_t value) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) mbc_put_n(text, &digits[--n], 1);
}

/* "AxBxC" */
static inline void mbc_put_size(mbc_text* text, const uint32_t v[3]) {
  mbc_put_u64(text, v[0]);
  mbc_put(text, "x");
  mbc_put_u64(text, v[1]);
  mbc_put(text, "x");
  mbc_put_u64(text, v[2]);
}

static inline mb_status mbc_refuse(mbc_text* text, mb_status status, const char* message) {
  text->length = 0;
  text->data[0] = '\0';
  mbc_put(text, message);
  return status;
}

/* ---- Device config ("key=value" lines, mb_device_create) ------------------------------------ */

/* A piece of the config text (not NUL-terminated); length 0 when the key was not given. */
typedef struct mbc_slice {
  const char* data;
  size_t length;
} mbc_slice;

/* The keys of mb_device_create. Numbers are 0 (and `checked` -1) when not given. */
typedef struct mbc_device_options {
  mbc_slice cache_dir;
  mbc_slice support_dir; /* CPU backend */
  mbc_slice clang;       /* CPU backend */
  uint64_t cache_max_mb;
  uint32_t workers; /* CPU backend */
  int32_t checked;  /* CPU backend: -1 not given, 0 or 1 */
} mbc_device_options;

static inline int mbc_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static inline int mbc_slice_is(mbc_slice s, const char* word) {
  size_t i = 0;
  for (; i < s.length; i++) {
    if (word[i] == '\0' || word[i] != s.data[i]) return 0;
  }
  return word[i] == '\0';
}

/* A decimal number of 1 to 20 digits with nothing else, at most `max`. */
static inline int mbc_parse_decimal(mbc_slice s, uint64_t max, uint64_t* out) {
  if (s.length == 0 || s.length > 20) return 0;
  uint64_t value = 0;
  for (size_t i = 0; i < s.length; i++) {
    char c = s.data[i];
    if (c < '0' || c > '9') return 0;
    uint64_t digit = (uint64_t)(c - '0');
    if (value > (max - digit) / 10) return 0;
    value = value * 10 + digit;
  }
  *out = value;
  return 1;
}

static inline void mbc_bad_option(mbc_text* text, const char* key, const char* expected,
                                  mbc_slice value) {
  mbc_refuse(text, MB_ERR_INVALID_ARG, "device config: ");
  mbc_put(text, key);
  mbc_put(text, " must be ");
  mbc_put(text, expected);
  mbc_put(text, ", got \"");
  mbc_put_n(text, value.data, value.length);
  mbc_put(text, "\"");
}

/*
 * Parses `config` (NULL or "key=value" lines; blanks around keys and values are trimmed;
 * lines without '=' and unknown keys are ignored). A bad value for a known key is
 * MB_ERR_INVALID_ARG: workers 1 to 1024, cache_max_mb 1 to 2^32, checked 0/1/true/false.
 */
static inline mb_status mbc_parse_device_options(const char* config, mbc_device_options* out,
                                                 mbc_text* text) {
  mbc_device_options o = {{0, 0}, {0, 0}, {0, 0}, 0, 0, -1};
  const char* p = config;
  while (p != 0 && *p != '\0') {
    const char* end = p;
    while (*end != '\0' && *end != '\n') end++;
    const char* eq = p;
    while (eq < end && *eq != '=') eq++;
    if (eq < end) {
      mbc_slice key = {p, (size_t)(eq - p)}, value = {eq + 1, (size_t)(end - eq - 1)};
      while (key.length > 0 && mbc_is_blank(*key.data)) key.data++, key.length--;
      while (key.length > 0 && mbc_is_blank(key.data[key.length - 1])) key.length--;
      while (value.length > 0 && mbc_is_blank(*value.data)) value.data++, value.length--;
      while (value.length > 0 && mbc_is_blank(value.data[value.length - 1])) value.length--;
      uint64_t n = 0;
      if (mbc_slice_is(key, "cache_dir")) {
        o.cache_dir = value;
      } else if (mbc_slice_is(key, "support_dir")) {
        o.support_dir = value;
      } else if (mbc_slice_is(key, "clang")) {
        o.clang = value;
      } else if (mbc_slice_is(key, "workers")) {
        if (!mbc_parse_decimal(value, MBC_MAX_WORKERS, &n) || n < 1) {
          mbc_bad_option(text, "workers", "1 to 1024", value);
          return MB_ERR_INVALID_ARG;
        }
        o.workers = (uint32_t)n;
      } else if (mbc_slice_is(key, "cache_max_mb")) {
        if (!mbc_parse_decimal(value, MBC_MAX_CACHE_MB, &n) || n < 1) {
          mbc_bad_option(text, "cache_max_mb", "a positive integer (MiB, at most 4294967296)",
                         value);
          return MB_ERR_INVALID_ARG;
        }
        o.cache_max_mb = n;
      } else if (mbc_slice_is(key, "checked")) {
        if (mbc_slice_is(value, "1") || mbc_slice_is(value, "true"))
          o.checked = 1;
        else if (mbc_slice_is(value, "0") || mbc_slice_is(value, "false"))
          o.checked = 0;
        else {
          mbc_bad_option(text, "checked", "0 or 1", value);
          return MB_ERR_INVALID_ARG;
        }
      }
    }
    p = *end == '\n' ? end + 1 : end;
  }
  *out = o;
  return MB_OK;
}

/* ---- Library options (mb_library_create) ---------------------------------------------------- */

static inline mb_status mbc_check_math_mode(int32_t math_mode, mbc_text* text) {
  if (math_mode >= MB_MATH_SAFE && math_mode <= MB_MATH_FAST) return MB_OK;
  mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_library_create: unknown math mode ");
  if (math_mode < 0) {
    mbc_put(text, "-");
    mbc_put_u64(text, (uint64_t)(-(int64_t)math_mode));
  } else {
    mbc_put_u64(text, (uint64_t)math_mode);
  }
  mbc_put(text, " (MB_MATH_SAFE, MB_MATH_RELAXED or MB_MATH_FAST)");
  return MB_ERR_INVALID_ARG;
}

/* 0 (the backend's default) or a Metal Shading Language version Metal has: 1.1, 1.2, 2.0 to
 * 2.4, 3.0 to 3.2, 4.0. Whether this system's Metal has it is the backend's to say. */
static inline mb_status mbc_check_language_version(uint32_t version, mbc_text* text) {
  const uint32_t major = version >> 16, minor = version & 0xFFFFu;
  const int known = version == 0 || (major == 1 && (minor == 1 || minor == 2)) ||
                    (major == 2 && minor <= 4) || (major == 3 && minor <= 2) ||
                    (major == 4 && minor == 0);
  if (known) return MB_OK;
  mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_library_create: unknown Metal language version ");
  mbc_put_u64(text, major);
  mbc_put(text, ".");
  mbc_put_u64(text, minor);
  mbc_put(text, " (known: 1.1, 1.2, 2.0-2.4, 3.0-3.2, 4.0)");
  return MB_ERR_INVALID_ARG;
}

/*
 * `macros` of mb_library_create: NULL or lines of "NAME=VALUE" or "NAME" (blanks around them
 * ignored, empty lines skipped), NAME a C identifier. The first bad line is refused.
 */
static inline mb_status mbc_check_macros(const char* macros, mbc_text* text) {
  const char* p = macros;
  while (p != 0 && *p != '\0') {
    const char* end = p;
    while (*end != '\0' && *end != '\n') end++;
    const char *a = p, *b = end;
    while (a < b && mbc_is_blank(*a)) a++;
    while (b > a && mbc_is_blank(b[-1])) b--;
    if (b > a) {
      const char* name_end = a;
      while (name_end < b && *name_end != '=') name_end++;
      const char* trimmed = name_end;
      while (trimmed > a && mbc_is_blank(trimmed[-1])) trimmed--;
      int ok = trimmed > a;
      for (const char* c = a; ok && c < trimmed; c++) {
        const int alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
        const int digit = *c >= '0' && *c <= '9';
        ok = alpha || (digit && c != a);
      }
      if (!ok) {
        mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_library_create: bad macro line \"");
        mbc_put_n(text, a, (size_t)(b - a));
        mbc_put(text, "\": expected NAME=VALUE or NAME");
        return MB_ERR_INVALID_ARG;
      }
    }
    p = *end == '\n' ? end + 1 : end;
  }
  return MB_OK;
}

/* ---- Function constants (mb_pipeline_create) ------------------------------------------------ */

/*
 * Checks constant `i` of `count` (3 words each: index, MB_CONSTANT_* type, value bits) on its
 * own: a known type, a bool of 0 or 1, 16-bit values (half, short, ushort) in the low 16 bits,
 * an index not given twice.
 * Whether the kernel declares the constant with that type is the backend's to check.
 */
static inline mb_status mbc_check_constant(const uint32_t* constants, uint32_t i, mbc_text* text) {
  const uint32_t index = constants[3 * i], type = constants[3 * i + 1], bits = constants[3 * i + 2];
  mbc_refuse(text, MB_OK, "function constant at index ");
  mbc_put_u64(text, index);
  if (type < MB_CONSTANT_BOOL || type > MB_CONSTANT_USHORT) {
    mbc_put(text, ": unknown type ");
    mbc_put_u64(text, type);
    return MB_ERR_INVALID_ARG;
  }
  if (type == MB_CONSTANT_BOOL && bits > 1) {
    mbc_put(text, ": a bool must be 0 or 1, got ");
    mbc_put_u64(text, bits);
    return MB_ERR_INVALID_ARG;
  }
  if ((type == MB_CONSTANT_HALF || type == MB_CONSTANT_SHORT || type == MB_CONSTANT_USHORT) &&
      bits > 0xFFFFu) {
    mbc_put(text, type == MB_CONSTANT_HALF ? ": half bits must fit in the low 16 bits, got "
                                           : ": a 16-bit value must fit in the low 16 bits, got ");
    mbc_put_u64(text, bits);
    return MB_ERR_INVALID_ARG;
  }
  for (uint32_t j = 0; j < i; j++) {
    if (constants[3 * j] == index) {
      mbc_put(text, " is given twice");
      return MB_ERR_INVALID_ARG;
    }
  }
  text->length = 0;
  text->data[0] = '\0';
  return MB_OK;
}

/* ---- Encoder arguments (recorded by set_*, returned by the next dispatch) ------------------- */

static inline mb_status mbc_check_index(const char* call, uint32_t index, mbc_text* text) {
  if (index < MBC_MAX_BINDINGS) return MB_OK;
  mbc_refuse(text, MB_ERR_INVALID_ARG, call);
  mbc_put(text, ": index ");
  mbc_put_u64(text, index);
  mbc_put(text, " is out of range (must be < 31)");
  return MB_ERR_INVALID_ARG;
}

/* An offset within the buffer (the end itself allowed: an empty view) and 4-byte aligned. */
static inline mb_status mbc_check_buffer_offset(uint64_t offset, uint64_t length, uint32_t index,
                                                mbc_text* text) {
  if (offset > length) {
    mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_encoder_set_buffer: offset ");
    mbc_put_u64(text, offset);
    mbc_put(text, " is past the end of the ");
    mbc_put_u64(text, length);
    mbc_put(text, "-byte buffer at index ");
    mbc_put_u64(text, index);
    return MB_ERR_INVALID_ARG;
  }
  if (offset % MBC_BUFFER_OFFSET_ALIGN != 0) {
    mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_encoder_set_buffer: offset ");
    mbc_put_u64(text, offset);
    mbc_put(text, " of the buffer at index ");
    mbc_put_u64(text, index);
    mbc_put(text, " is not a multiple of 4 bytes");
    return MB_ERR_INVALID_ARG;
  }
  return MB_OK;
}

static inline mb_status mbc_check_set_bytes(const void* bytes, uint64_t length, uint32_t index,
                                            mbc_text* text) {
  if (bytes != 0 && length > 0 && length <= MBC_MAX_SET_BYTES) return MB_OK;
  mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_encoder_set_bytes: index ");
  mbc_put_u64(text, index);
  mbc_put(text, " needs 1 to 4096 bytes, got ");
  mbc_put_u64(text, length);
  if (bytes == 0) mbc_put(text, " at NULL");
  return MB_ERR_INVALID_ARG;
}

static inline mb_status mbc_check_threadgroup_length(uint64_t length, uint32_t index,
                                                     mbc_text* text) {
  if (length % MBC_THREADGROUP_LENGTH_ALIGN == 0) return MB_OK;
  mbc_refuse(text, MB_ERR_INVALID_ARG, "mb_encoder_set_threadgroup_memory_length: length ");
  mbc_put_u64(text, length);
  mbc_put(text, " at index ");
  mbc_put_u64(text, index);
  mbc_put(text, " is not a multiple of 16");
  return MB_ERR_INVALID_ARG;
}

/* ---- Dispatch -------------------------------------------------------------------------------- */

/* "dispatch of kernel "NAME": " */
static inline void mbc_put_dispatch(mbc_text* text, const char* kernel) {
  text->length = 0;
  text->data[0] = '\0';
  mbc_put(text, "dispatch of kernel \"");
  mbc_put(text, kernel);
  mbc_put(text, "\": ");
}

/*
 * dispatchThreadgroups: the grid (groups x threads) must fit in 32 bits per dimension, as the
 * kernel's thread_position_in_grid is a uint. Writes the grid in threads to `grid`.
 */
static inline mb_status mbc_check_group_grid(const uint32_t groups[3], const uint32_t threads[3],
                                             uint32_t grid[3], mbc_text* text) {
  for (int d = 0; d < 3; d++) {
    uint64_t total = (uint64_t)groups[d] * threads[d];
    if (total > 0xFFFFFFFFull) {
      mbc_refuse(text, MB_ERR_LIMIT, "dispatch: grid of ");
      mbc_put_size(text, groups);
      mbc_put(text, " threadgroups of ");
      mbc_put_size(text, threads);
      mbc_put(text, " threads exceeds 2^32-1 threads per dimension");
      return MB_ERR_LIMIT;
    }
    grid[d] = (uint32_t)total;
  }
  return MB_OK;
}

static inline mb_status mbc_check_dispatch_sizes(const char* kernel, const uint32_t grid[3],
                                                 const uint32_t threads[3], mbc_text* text) {
  for (int d = 0; d < 3; d++) {
    if (grid[d] == 0 || threads[d] == 0) {
      mbc_put_dispatch(text, kernel);
      mbc_put(text, "sizes must be nonzero (grid ");
      mbc_put_size(text, grid);
      mbc_put(text, ", threadgroup ");
      mbc_put_size(text, threads);
      mbc_put(text, ")");
      return MB_ERR_INVALID_ARG;
    }
  }
  return MB_OK;
}

/* In the words of Metal's API validation (MTLDebugComputeCommandEncoder). `device_max` is the
 * device's total limit, `pipeline_max` the pipeline's (<= device_max). */
static inline mb_status mbc_check_threadgroup_size(const char* kernel, const uint32_t threads[3],
                                                   uint32_t pipeline_max, uint32_t device_max,
                                                   mbc_text* text) {
  const uint64_t per_group = (uint64_t)threads[0] * threads[1] * threads[2];
  if (per_group <= pipeline_max) return MB_OK;
  mbc_put_dispatch(text, kernel);
  mbc_put(text, "(threadsPerThreadgroup.width(");
  mbc_put_u64(text, threads[0]);
  mbc_put(text, ") * threadsPerThreadgroup.height(");
  mbc_put_u64(text, threads[1]);
  mbc_put(text, ") * threadsPerThreadgroup.depth(");
  mbc_put_u64(text, threads[2]);
  mbc_put(text, "))(");
  mbc_put_u64(text, per_group);
  mbc_put(text, ") must be <= ");
  mbc_put_u64(text, pipeline_max);
  mbc_put(text, pipeline_max < device_max ? ". (kernel threadgroup size limit)"
                                          : ". (device threadgroup size limit)");
  return MB_ERR_LIMIT;
}

static inline mb_status mbc_check_threadgroup_memory(const char* kernel, uint64_t set_total,
                                                     uint64_t static_length, uint64_t device_max,
                                                     mbc_text* text) {
  if (set_total + static_length <= device_max) return MB_OK;
  mbc_put_dispatch(text, kernel);
  mbc_put(text, "Threadgroup memory size (");
  mbc_put_u64(text, set_total + static_length);
  mbc_put(text, ") exceeds the maximum threadgroup memory allowed (");
  mbc_put_u64(text, device_max);
  mbc_put(text, ") (");
  mbc_put_u64(text, set_total);
  mbc_put(text, " set with setThreadgroupMemoryLength + ");
  mbc_put_u64(text, static_length);
  mbc_put(text, " static)");
  return MB_ERR_LIMIT;
}

/*
 * Every [[buffer(i)]] the kernel uses is bound and every [[threadgroup(i)]] it uses has a
 * length (bit i of each mask). An unbound buffer is a GPU fault on Metal, not a zero read.
 */
static inline mb_status mbc_check_bindings(const char* kernel, uint32_t buffers_used,
                                           uint32_t buffers_bound, uint32_t threadgroups_used,
                                           uint32_t threadgroups_set, mbc_text* text) {
  for (uint32_t i = 0; i < MBC_MAX_BINDINGS; i++) {
    if (((buffers_used >> i) & 1u) && !((buffers_bound >> i) & 1u)) {
      mbc_put_dispatch(text, kernel);
      mbc_put(text, "[[buffer(");
      mbc_put_u64(text, i);
      mbc_put(text, ")]] is not bound");
      return MB_ERR_INVALID_ARG;
    }
    if (((threadgroups_used >> i) & 1u) && !((threadgroups_set >> i) & 1u)) {
      mbc_put_dispatch(text, kernel);
      mbc_put(text, "[[threadgroup(");
      mbc_put_u64(text, i);
      mbc_put(text, ")]] has no length (call mb_encoder_set_threadgroup_memory_length)");
      return MB_ERR_INVALID_ARG;
    }
  }
  return MB_OK;
}

/*
 * Refusal: a bound [[buffer(i)]] shorter than its argument's type (a `constant Params&` given
 * fewer bytes than sizeof(Params)). `min_lengths` may be NULL (nothing known).
 */
static inline mb_status mbc_check_binding_lengths(const char* kernel, uint32_t buffers_used,
                                                  const uint64_t* min_lengths,
                                                  const uint64_t* lengths, mbc_text* text) {
  if (min_lengths == NULL) return MB_OK;
  for (uint32_t i = 0; i < MBC_MAX_BINDINGS; i++) {
    if (((buffers_used >> i) & 1u) && lengths[i] < min_lengths[i]) {
      mbc_put_dispatch(text, kernel);
      mbc_put(text, "[[buffer(");
      mbc_put_u64(text, i);
      mbc_put(text, ")]] has ");
      mbc_put_u64(text, lengths[i]);
      mbc_put(text, " bytes from its offset, but its argument's type needs ");
      mbc_put_u64(text, min_lengths[i]);
      return MB_ERR_INVALID_ARG;
    }
  }
  return MB_OK;
}

#ifdef __cplusplus
}
#endif

#endif /* METAL_BRIDGE_COMMON_CONTRACT_H */
