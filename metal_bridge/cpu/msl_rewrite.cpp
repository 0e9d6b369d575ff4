// msl_rewrite.cpp — preprocessed MSL -> C++ for the CPU backend (see msl_rewrite.h): the passes
// in order. The rewriter's parts (msl_rewriter.h): msl_source_map, msl_space_variants,
// msl_space_casts, msl_declarations, msl_refusals, msl_expressions, msl_kernels; msl_lex (tokens,
// literal values), msl_vocabulary (names it must recognise), msl_entry (the generated entry
// points).
//
// Works on tokens of clang -E output. Every rewrite stays on its line (line markers keep .metal
// line numbers); rewrites that change a line's length record an Edit so diagnostics columns can
// be mapped back. What is rewritten, and why:
//   [[attributes]]                MSL-only attributes are blanked (clang rejects or misreads them;
//                                 `[[threadgroup(0)]]` would also collide with the macro); those
//                                 of kernels and their parameters become clang annotations,
//                                 which only the facts pass sees (msl_declarations.cpp).
//   kernel void f(...)            `kernel` becomes `annotate("msl.kernel")` before the name; the
//                                 definition is a candidate kernel (msl_kernels.cpp).
//   template [[host_name("x")]]   attributes blanked (the rest is a valid explicit
//                                 instantiation); a candidate kernel, whose name clang evaluates.
//   threadgroup T v[N];           (a variable in a function) -> static thread_local: shared by the
//                                 threads of a group, which run as fibers on one worker thread;
//                                 clang gives each variable's size (__mb_msl_tg).
//   constant (namespace scope)    -> const (constexpr for function constants, whose attribute
//                                 becomes an annotation and `= ::__mb_fc<(index)>{}`, a value
//                                 defined per specialisation; see msl_declarations.cpp).
//   float4(a, b)                  -> ::metal::__mb_make<::metal::float4>(a, b): clang's functional
//                                 cast takes one argument and a vector C-cast is a bitcast.
//   static_cast<float4>(v)        -> ::metal::__mb_cast<float4>(v) (a value conversion in MSL).
//   1.5 / 1.5h                    -> 1.5f / 1.5f16: MSL floating literals are float (or half).
//   double                        -> an error, as on Metal.
#include "msl_rewrite.h"

#include "msl_rewriter.h"

namespace mbcpu {
namespace msl {

void Rewriter::run() {
  lex();
  match_brackets();
  address_space_variants();
  structural_pass();
  check_metal_rules();
  token_pass();
  if (check_) address_space_casts();
  apply_edits();
  build_kernels();
}

}  // namespace msl

Rewritten rewrite_msl(const std::string& preprocessed, const std::string& original,
                      bool address_space_check) {
  Rewritten rw;
  msl::Rewriter r(preprocessed, &rw, address_space_check);
  r.run();
  rw.pre_lines = split_lines(preprocessed);
  rw.src_lines = split_lines(original);
  rw.src_lines.insert(rw.src_lines.begin(), std::string());
  // Which source lines start inside a block comment (for the column mapping's lexer).
  rw.src_line_in_comment.assign(rw.src_lines.size(), false);
  bool in_comment = false;
  for (size_t ln = 1; ln < rw.src_lines.size(); ++ln) {
    rw.src_line_in_comment[ln] = in_comment;
    const std::string& l = rw.src_lines[ln];
    for (size_t i = 0; i < l.size(); ++i) {
      if (in_comment) {
        if (l.compare(i, 2, "*/") == 0) {
          in_comment = false;
          ++i;
        }
      } else if (l.compare(i, 2, "//") == 0) {
        break;
      } else if (l.compare(i, 2, "/*") == 0) {
        in_comment = true;
        ++i;
      } else if (l[i] == '"' || l[i] == '\'') {
        char q = l[i];
        for (++i; i < l.size() && l[i] != q; ++i)
          if (l[i] == '\\') ++i;
      }
    }
  }
  return rw;
}

int Rewritten::map_column(int line, int col) const {
  auto t = text_line_of.find(line);
  if (t == text_line_of.end()) return col;
  auto e = line_edits.find(t->second);
  int pre_col = col;
  if (e != line_edits.end()) {
    int delta = 0;
    for (const auto& ed : e->second) {
      if (col >= ed.out_end)
        delta = ed.in_end - ed.out_end;
      else if (col >= ed.out_start) {
        delta = ed.in_start - col;
        break;
      } else
        break;
    }
    pre_col = col + delta;
  }
  return map_pre_column(line, pre_col);
}

int Rewritten::map_pre_column(int line, int col) const {
  auto t = text_line_of.find(line);
  if (t == text_line_of.end() || (size_t)t->second >= pre_lines.size() ||
      (size_t)line >= src_lines.size())
    return col;
  // clang -E keeps each line's indentation but collapses other whitespace and drops comments:
  // find the token at `col` and the same token (by position in the line) in the source.
  Vec<int> pc, sc;
  Vec<std::string> pt, st;
  lex_line(pre_lines[(size_t)t->second], false, &pc, &pt);
  lex_line(src_lines[(size_t)line], src_line_in_comment[(size_t)line], &sc, &st);
  long k = -1;
  for (size_t i = 0; i < pc.size(); ++i)
    if (pc[i] <= col) k = (long)i;
  if (k < 0 || (size_t)k >= st.size() || pt[(size_t)k] != st[(size_t)k]) return col;
  // Tokens before it must match too, or a macro expanded here and the column stays as is.
  for (long i = 0; i < k; ++i)
    if (pt[(size_t)i] != st[(size_t)i]) return col;
  int within = col - pc[(size_t)k];
  if (within >= (int)st[(size_t)k].size()) within = (int)st[(size_t)k].size();
  return sc[(size_t)k] + within;
}

Vec<std::string> format_errors(const Rewritten& rw, const std::string& source_name) {
  Vec<std::string> out;
  for (const auto& e : rw.errors)
    out.push_back(source_name + ":" + std::to_string(e.line) + ":" +
                  std::to_string(e.rewritten_col ? rw.map_column(e.line, e.pre_col)
                                                 : rw.map_pre_column(e.line, e.pre_col)) +
                  ": error: " + e.msg);
  return out;
}

std::string rename_stdin_markers(const std::string& text) {
  std::string out;
  size_t pos = 0;
  const std::string from = "<stdin>";
  while (true) {
    size_t k = text.find(from, pos);
    if (k == std::string::npos) break;
    out.append(text, pos, k - pos);
    out += kSourceFile;
    pos = k + from.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace mbcpu
