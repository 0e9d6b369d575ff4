// msl_entry.cpp — the kernel_module.h entry points of a rewritten library: per kernel a
// run_group (a plain loop over the group's threads, group-invariant arguments hoisted; for a
// kernel with barriers or collectives, its work-item loops when msl_work_items.h generated them)
// and a run_thread (one thread, for fibers), and the table the runtime reads (see msl_rewrite.h).
#include "kernel_module.h"
#include "msl_rewrite.h"
#include "msl_work_items.h"

namespace mbcpu {
namespace {

// The entry points name the group `G` and the thread's coordinates x, y, z and li.
std::string id_expr(const std::string& attr, const std::string& type) {
  return thread_id_expression(attr, type, ThreadIdNames{"G", "x", "y", "z", "li"});
}

// `s` as a C++ string literal (a host name is any string clang evaluated: quotes, escapes).
std::string cpp_string_literal(const std::string& s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      const char oct[] = {'\\', char('0' + (c >> 6)), char('0' + (c >> 3 & 7)), char('0' + (c & 7)),
                          0};
      r += oct;
    } else {
      r += (char)c;
    }
  }
  return r + "\"";
}

}  // namespace

std::string generate_entry_points(const Rewritten& rw) {
  std::string g = "\n";
  for (size_t n = 0; n < rw.kernels.size(); ++n) {
    const RwKernel& k = rw.kernels[n];
    std::string ns = "__mbk_" + std::to_string(n);
    g += "# " + std::to_string(k.line) + " \"" + kEntryFile + "\"\n";
    g += "namespace " + ns + " {\n";
    g += "using F = decltype(&" + k.expr + ");\n";
    g += "template <int I> using A = typename ::metal::__mb_sig<F>::template arg<I>;\n";
    // Arguments: group-invariant ones are hoisted out of run_group's loop.
    std::string hoisted, call_group, call_thread;
    Vec<std::string> min_lengths(MBK_MAX_BINDINGS, "0");
    std::string gated_buffers;  // clears the bits of bindings whose function constant is false
    for (size_t p = 0; p < k.param_attrs.size(); ++p) {
      const std::string& a = k.param_attrs[p];
      std::string type = "A<" + std::to_string(p) + ">";
      const std::string& gate = k.param_gate[p];
      if (a == "buffer") {
        const std::string bit = "(1u << " + std::to_string(k.param_index[p]) + ")";
        min_lengths[k.param_index[p]] = "::metal::__mb_min_length<" + type + ">()";
        if (!gate.empty()) {
          min_lengths[k.param_index[p]] =
              "(" + gate + " ? " + min_lengths[k.param_index[p]] + " : 0)";
          gated_buffers += " & ~(" + gate + " ? 0u : " + bit + ")";
        }
      }
      std::string e;
      if (a == "buffer")
        e = "::metal::__mb_bind<" + type + ">(B.buffers[" + std::to_string(k.param_index[p]) + "])";
      else if (a == "threadgroup")
        e = "::metal::__mb_bind<" + type + ">(G.threadgroup_memory[" +
            std::to_string(k.param_index[p]) + "])";
      else
        e = id_expr(a, type);
      std::string sep = p ? ", " : "";
      call_thread += sep + e;
      if (per_thread_attribute(a)) {
        call_group += sep + e;
      } else if (a == "buffer" && k.param_constant[p]) {
        // `constant T& p`: read-only for the dispatch, so copied once per group; the kernel's
        // stores cannot alias the copy, and its fields stay in registers across the loop.
        std::string i = std::to_string(k.param_index[p]), v = "a" + std::to_string(p);
        hoisted += "  ::metal::__mb_group_constant<" + type + "> c" + std::to_string(p) +
                   "(B.buffers[" + i + "], B.buffer_lengths[" + i + "]);\n";
        hoisted += "  " + type + " " + v + " = c" + std::to_string(p) + ".get();\n";
        call_group += sep + v;
      } else {
        std::string v = "a" + std::to_string(p);
        hoisted += "  " + type + " " + v + " = " + e + ";\n";
        call_group += sep + v;
      }
    }
    g += "constexpr uint32_t buffer_mask = " + std::to_string(k.buffer_mask) + "u" + gated_buffers +
         ";\n";
    g += "const uint64_t min_lengths[" + std::to_string(MBK_MAX_BINDINGS) + "] = {";
    for (size_t i = 0; i < min_lengths.size(); ++i) g += (i ? ", " : "") + min_lengths[i];
    g += "};\n";
    std::string run_thread =
        "void run_thread(const mbk_bindings* b, const mbk_group* g, uint32_t li)";
    if (k.uses_sync) {
      g += run_thread + ";\n";
      if (!k.work_items.empty()) {
        // The whole group as work-item loops: thread-position arguments are recomputed inside
        // the loops, so they are passed as placeholders.
        std::string call;
        for (size_t p = 0; p < k.param_attrs.size(); ++p) {
          const std::string type = "A<" + std::to_string(p) + ">";
          const std::string& a = k.param_attrs[p];
          const std::string e = per_thread_attribute(a) ? type + "{}" : "a" + std::to_string(p);
          call += e + ", ";
        }
        g += std::string("#if ") + kWorkItemsMacro + "\n";
        g += "constexpr uint32_t sync = 2u;\n";
        g += "void run_group(const mbk_bindings* b, const mbk_group* g) {\n";
        g += "  const mbk_bindings& B = *b;\n  const mbk_group G = *g;\n" + hoisted;
        g += "  " + k.work_items + "(" + call + "G);\n}\n";
        g += "#else\n";
      }
      // Never run as a plain loop (the runtime uses fibers); keep it small to compile.
      g += "constexpr uint32_t sync = 1u;\n";
      g += "void run_group(const mbk_bindings* b, const mbk_group* g) {\n";
      g += "  for (uint32_t li = 0; li < g->thread_count; ++li) run_thread(b, g, li);\n}\n";
      if (!k.work_items.empty()) g += "#endif\n";
    } else {
      g += "void run_group(const mbk_bindings* b, const mbk_group* g) {\n";
      g += "  const mbk_bindings& B = *b;\n  const mbk_group G = *g;\n" + hoisted;
      g += "  const uint32_t nx = G.threads_per_threadgroup[0], ny = G.threads_per_threadgroup[1], "
           "nz = G.threads_per_threadgroup[2];\n";
      g += "  for (uint32_t z = 0; z < nz; ++z)\n    for (uint32_t y = 0; y < ny; ++y)\n";
      g += "      for (uint32_t x = 0; x < nx; ++x) {\n";
      g += "        const uint32_t li = x + nx * (y + ny * z); (void)li;\n";
      g += "        [[clang::always_inline]] " + k.expr + "(" + call_group + ");\n      }\n}\n";
    }
    g += run_thread + " {\n";
    g += "  const mbk_bindings& B = *b;\n  const mbk_group& G = *g;\n  ::metal::__mb_tid = li;\n";
    if (k.uses_sync) g += "  ::metal::__mb_wi = nullptr;  // collectives go through the fibers\n";
    g += "  const uint32_t nx = G.threads_per_threadgroup[0], ny = G.threads_per_threadgroup[1];\n";
    g += "  const uint32_t x = li % nx, y = li / nx % ny, z = li / (nx * ny); (void)x; (void)y; "
         "(void)z;\n";
    g += "  " + k.expr + "(" + call_thread + ");\n}\n";
    g += "}  // namespace " + ns + "\n";
  }
  g += "# 1 \"" + std::string(kEntryFile) + "\"\n";
  g += "extern \"C\" {\n";
  g += "__attribute__((visibility(\"default\"))) uint32_t mbk_module_abi(void) { return "
       "MBK_MODULE_ABI; }\n";
  // Sites are __builtin_source_location() records (see the compat header's collectives).
  g += "__attribute__((visibility(\"default\"))) uint32_t mbk_module_site_format(void) { return "
       "MBK_SITE_SOURCE_LOCATION; }\n";
  g += "__attribute__((visibility(\"default\"))) void mbk_module_init(const mbk_runtime* r) { "
       "::metal::__mb_rt = r; }\n";
  g += "__attribute__((visibility(\"default\"))) const mbk_kernel_info* "
       "mbk_module_kernels(uint32_t* count) {\n";
  if (rw.kernels.empty()) {
    g += "  *count = 0;\n  return nullptr;\n}\n}\n";
    return g;
  }
  g += "  static const mbk_kernel_info table[] = {\n";
  for (size_t n = 0; n < rw.kernels.size(); ++n) {
    const RwKernel& k = rw.kernels[n];
    std::string ns = "__mbk_" + std::to_string(n);
    g += "    {" + cpp_string_literal(k.host_name) + ", " + ns + "::run_group, " + ns +
         "::run_thread, " + (k.uses_sync ? ns + "::sync" : "0u") + ", " +
         std::to_string(k.max_threads) + "u, (uint64_t)(" + k.tg_bytes + "), " + ns +
         "::buffer_mask, " + std::to_string(k.threadgroup_mask) + "u, " + ns + "::min_lengths},\n";
  }
  g += "  };\n  *count = " + std::to_string(rw.kernels.size()) + ";\n  return table;\n}\n}\n";
  return g;
}

}  // namespace mbcpu
