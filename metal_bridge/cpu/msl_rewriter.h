// msl_rewriter.h — the rewriter's shared state (internal to the MSL front end). One class,
// its members defined by idea across files:
//   msl_rewrite.cpp       the passes in order, and rewrite_msl()
//   msl_source_map.cpp    tokens with their .metal lines; edits applied; columns mapped back
//   msl_space_variants.cpp  declarations that differ only in address space
//   msl_space_casts.cpp   casts naming an address space (the address-space check's text only)
//   msl_declarations.cpp  scopes, templates, constants, threadgroup variables; MSL attributes as
//                         clang annotations (msl_ast.h reads them back)
//   msl_kernels.cpp       candidate kernels (definitions, [[host_name]] instantiations), completed
//                         from clang's facts (apply_kernel_facts)
//   msl_refusals.cpp      what C++ accepts and Metal refuses
//   msl_expressions.cpp   context-free rewrites of expressions (casts, constructors, literals)
#pragma once

#include <cstring>
#include <set>
#include <string>

#include "msl_lex.h"
#include "msl_rewrite.h"
#include "vec.h"

namespace mbcpu {
namespace msl {

struct Attr {
  std::string name, args;  // "buffer", "0"
};

// A candidate kernel the tokens located: a `kernel` function definition, or an explicit
// instantiation carrying `[[host_name]]`. Clang decides what it is (msl_ast.h KernelFacts).
struct KernelDef {
  std::string qualified;  // the C++ expression naming it: "::ns::name", "::ns::name<float>"
  std::string host_args;  // its [[host_name(...)]] argument's tokens, or ""
  int line = 0, pre_col = 0;
};

class Rewriter {
 public:
  Rewriter(const std::string& pre, Rewritten* out, bool address_space_check)
      : s_(pre), out_(out), check_(address_space_check) {}

  // Every pass, in order (msl_rewrite.cpp).
  void run();

 private:
  struct EditRec {
    size_t pos, len;
    std::string repl;
    size_t seq = 0;
  };
  enum ScopeKind { NS, FUNC, CLASS, OTHER };
  struct Scope {
    ScopeKind kind;
    std::string name;
    bool in_func;
  };

  const std::string& s_;
  Rewritten* out_;
  // The text for the address-space check (msl_address_spaces.h), where the spaces are real:
  // overloads and partial specialisations by space stay, program-scope `constant` and
  // threadgroup variables keep their space, casts naming a space are checked.
  const bool check_;
  Vec<Tok> t_;
  Vec<size_t> line_start_;
  Vec<int> src_line_;  // per preprocessed line: .metal line, or 0 for other files
  Vec<long> match_;    // matching bracket token index, or -1
  Vec<EditRec> edits_;
  Vec<bool> handled_;  // tokens the structural pass owns (no token-pass rewrite)
  Vec<Scope> scopes_;
  Vec<KernelDef> kernels_;                      // candidates, in source order
  std::set<std::string> fn_defs_;               // names of the functions the source defines
  std::set<std::string> template_param_names_;  // names of template type parameters
  int threadgroup_decls_ = 0;                   // threadgroup declarations annotated so far
  std::set<size_t> vector_direct_inits_;        // `float2 v(a, b)`: the name's token

  // ---- basics ----
  std::string txt(size_t i) const {
    return i < t_.size() ? s_.substr(t_[i].pos, t_[i].len) : std::string();
  }
  bool is(size_t i, const char* w) const {
    return i < t_.size() && t_[i].len == strlen(w) && s_.compare(t_[i].pos, t_[i].len, w) == 0;
  }
  int col(size_t i) const { return (int)(t_[i].pos - line_start_[t_[i].line]) + 1; }
  int line(size_t i) const { return src_line_[t_[i].line]; }
  void error(size_t i, const std::string& msg) { out_->errors.push_back({line(i), col(i), msg}); }
  void edit(size_t pos, size_t len, std::string repl) {
    edits_.push_back({pos, len, std::move(repl)});
  }
  // Replaces tokens [a, b] with spaces (newlines kept, so columns and lines stay put).
  void blank(size_t a, size_t b) {
    size_t p = t_[a].pos, e = t_[b].pos + t_[b].len;
    std::string r = s_.substr(p, e - p);
    for (char& c : r)
      if (c != '\n') c = ' ';
    edit(p, e - p, r);
    for (size_t k = a; k <= b; ++k) handled_[k] = true;
  }
  bool is_attr_open(size_t i) const {
    return is(i, "[") && is(i + 1, "[") && match_[i] >= 0 && match_[i + 1] >= 0;
  }
  std::string join(size_t a, size_t b) const {  // tokens [a, b) with single spaces
    std::string r;
    for (size_t k = a; k < b; ++k) {
      if (!r.empty()) r += ' ';
      r += txt(k);
    }
    return r;
  }
  bool in_function() const { return !scopes_.empty() && scopes_.back().in_func; }
  bool at_namespace_scope() const {
    for (const auto& sc : scopes_)
      if (sc.kind != NS) return false;
    return true;
  }
  std::string ns_prefix() const {
    std::string p;
    for (const auto& sc : scopes_)
      if (sc.kind == NS && !sc.name.empty()) p += "::" + sc.name;
    return p;
  }
  std::string current_function() const {
    for (const auto& sc : scopes_)
      if (sc.kind == FUNC) return sc.name;
    return "";
  }

  // ---- tokens and .metal lines; edits (msl_source_map.cpp) ----
  void lex();
  // `# N "file" flags` markers set the .metal line of the following lines; "<stdin>" is renamed.
  // Returns whether the line was a marker (other directives are lines of the source).
  bool directive(size_t ln, size_t i, size_t e, int* cur_line, bool* cur_main);
  void match_brackets();
  void apply_edits();

  // ---- address-space variants (msl_space_variants.cpp) ----
  static bool address_space_word(const std::string& w);
  // A `{` that opens a namespace or a class body (declarations inside, not statements).
  bool declaration_scope_brace(long b) const;
  // Functions that differ only in address spaces (`S() thread = default; S() device = default;`,
  // `f(device float*)` beside `f(threadgroup float*)`) collide once the address spaces are erased.
  // On the CPU one memory serves every space, so the variant for `thread` (or the first) is kept
  // and the others are blanked. Variants that differ otherwise (types, constness) stay overloads.
  void address_space_variants();
  // Tokens [a, b) with address spaces taken out (`constant` leaves `const`: it is read-only),
  // joined; the spaces found are appended to `spaces` with their positions.
  // Whether two definitions [a, a_end] and [b, b_end] differ once their address spaces are taken
  // out (a declaration without a body never does: it names one of the definitions).
  bool differs(size_t a, size_t a_end, size_t b, size_t b_end) const;
  std::string erase_spaces(size_t a, size_t b, std::string* spaces,
                           bool constant_is_const = true) const;
  // `struct NAME ... {` -> NAME (empty for other braces).
  std::string class_name(long brace) const;

  // ---- structural pass: scopes, kernels, templates, constants, threadgroup variables
  // (msl_declarations.cpp) ---- Parses `[[a(x), b]]` at i; returns the index of the last `]`.
  size_t parse_attrs(size_t i, Vec<Attr>* attrs);
  static bool standard_attr(const std::string& n);
  void structural_pass();
  void open_scope(size_t i);
  // `template <...>` at i (the `<`): records its type parameters' names; returns the index of `>`.
  size_t template_header(size_t i);
  // `template [[host_name("x")]] [[kernel]] decltype(f<T>) f<T>;` (or `... void f<T>(...);`):
  // a candidate kernel.
  size_t explicit_instantiation(size_t i);
  // After `kernel` / `[[kernel]]`: `[[attrs]]* RET NAME ( params ) [[attrs]]* {`; a non-template
  // definition is a candidate kernel.
  size_t kernel(size_t i, bool is_template, const Vec<Attr>& pre_attrs);
  // Replaces tokens [a, b] with `text`, keeping the lines they span.
  void spell(size_t a, size_t b, const std::string& text);
  // A kernel parameter's attributes (tokens [a, b]) spelled as clang annotations (msl_ast.h).
  void annotate_parameter(size_t a, size_t b, const Vec<Attr>& attrs);
  // `constant T name [[function_constant(i)]];` or any other namespace-scope `constant` decl.
  size_t namespace_constant(size_t i);
  bool in_parentheses(size_t i) const;
  // `threadgroup T name[N];` in a function: a per-worker static (see the file comment).
  void threadgroup_decl(size_t i);

  // ---- what Metal refuses (msl_refusals.cpp) ----
  // What C++ accepts but Metal refuses: recursion, dynamic allocation, exceptions, function
  // pointers (`double` is refused by the token pass). Each is reported at its .metal line.
  void check_metal_rules();
  // Metal has no mutable program-scope variables: one at namespace scope must be `constant`
  // (const and constexpr are accepted too); `device`, `threadgroup` and `thread` are refused.
  void check_program_scope_variables();
  void program_scope_statement(size_t a, size_t b);

  // ---- token pass: context-free rewrites (msl_expressions.cpp) ----
  // Names declared as aliases of vector types (`typedef vec<T, 4> T4;`, `using out4 = half4;`):
  // their functional casts `T4(x)` need the value-converting constructor too.
  std::set<std::string> vector_aliases() const;
  // Tokens that can begin the operand of a cast.
  bool starts_operand(size_t k) const;
  // The last token of the unary expression (a cast's operand) starting at k, or -1.
  long operand_end(size_t k) const;
  // `(float4)x`: a value conversion in MSL, a bitcast (or a size error) in clang. Rewritten to
  // ::metal::__mb_cast<float4>(x); the closing parenthesis goes into `late` so it lands after
  // any rewrite at the operand's end (a float literal's suffix).
  bool vector_c_cast(size_t i, const std::set<std::string>& aliases, Vec<EditRec>* late);
  // `float4(a > b)`: a comparison of vectors is an int vector of -1/0 in clang, a bool vector in
  // MSL (true converts to 1). A constructor whose one argument is a comparison gets it through
  // ::metal::__mb_truth, which turns an int vector into a bool vector.
  void wrap_comparison(size_t open, Vec<EditRec>* late);
  void token_pass();
  bool braced_argument(size_t i) const;

  // ---- the address-space check's casts (msl_space_casts.cpp) ----
  void address_space_casts();
  size_t cast_operand_end(size_t k) const;
  size_t cast_operand_end_if_cast(size_t k) const;

  // ---- output: the candidate kernels (msl_kernels.cpp) ----
  void build_kernels();
};

}  // namespace msl
}  // namespace mbcpu
