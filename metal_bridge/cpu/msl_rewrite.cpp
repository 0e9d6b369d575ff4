// msl_rewrite.cpp — preprocessed MSL -> C++ for the CPU backend (see msl_rewrite.h). Its parts:
// msl_lex (tokens, literal values), msl_vocabulary (names it must recognise), msl_entry (the
// generated entry points); this file reads the structure, refuses what Metal refuses, and rewrites.
//
// Works on tokens of clang -E output. Every rewrite stays on its line (line markers keep .metal
// line numbers); rewrites that change a line's length record an Edit so diagnostics columns can
// be mapped back. What is rewritten, and why:
//   [[attributes]]                MSL-only attributes are blanked (clang rejects or misreads them;
//                                 `[[threadgroup(0)]]` would also collide with the macro).
//   kernel void f(...)            `kernel` blanked; the kernel and its parameter attributes
//   recorded. template [[host_name("x")]]   attributes blanked (the rest is a valid explicit
//   instantiation);
//                                 an entry point named x is generated.
//   threadgroup T v[N];           (a variable in a function) -> static thread_local: shared by the
//                                 threads of a group, which run as fibers on one worker thread.
//   constant (namespace scope)    -> const (constexpr for function constants, whose attribute
//                                 becomes `= __mb_fcv_<index>`, defined per specialisation).
//   float4(a, b)                  -> ::metal::__mb_make<::metal::float4>(a, b): clang's functional
//                                 cast takes one argument and a vector C-cast is a bitcast.
//   static_cast<float4>(v)        -> ::metal::__mb_cast<float4>(v) (a value conversion in MSL).
//   1.5 / 1.5h                    -> 1.5f / 1.5f16: MSL floating literals are float (or half).
//   double                        -> an error, as on Metal.
#include "msl_rewrite.h"

#include "msl_lex.h"
#include "msl_vocabulary.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "../metal_bridge.h"

namespace mbcpu {
namespace {

struct Attr {
  std::string name, args;  // "buffer", "0"
};

struct KernelDef {
  std::string name;
  std::string qualified;  // with namespaces, "::ns::name"
  bool is_template = false;
  std::vector<std::string> tparams;
  std::vector<std::vector<Attr>> params;
  std::vector<bool> param_constant;  // declared in the constant address space
  std::string max_threads;
  int line = 0, pre_col = 0;
};

struct Instance {
  std::string host_name, expr, tmpl_name;
  std::vector<std::string> targs;
  int line = 0, pre_col = 0;
};

struct TgVar {
  std::vector<std::string> tokens;  // type and declarator without the name: float [32]
};

class Rewriter {
 public:
  Rewriter(const std::string& pre, Rewritten* out, bool address_space_check)
      : s_(pre), out_(out), check_(address_space_check) {}

  void run() {
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
  std::vector<Tok> t_;
  std::vector<size_t> line_start_;
  std::vector<int> src_line_;  // per preprocessed line: .metal line, or 0 for other files
  std::vector<long> match_;    // matching bracket token index, or -1
  std::vector<EditRec> edits_;
  std::vector<bool> handled_;  // tokens the structural pass owns (no token-pass rewrite)
  std::vector<Scope> scopes_;
  std::vector<KernelDef> kernel_defs_;
  std::vector<Instance> instances_;
  std::map<std::string, std::set<std::string>> body_idents_;  // function name -> identifiers used
  std::map<std::string, std::vector<TgVar>> tg_vars_;         // function name -> threadgroup vars
  std::set<std::string> ns_idents_;                           // identifiers seen at namespace scope
  // Call graph for the recursion check (by name; see check_metal_rules).
  struct FnDef {
    size_t name_tok;
    int min_args, max_args;
  };
  struct Call {
    std::string callee;
    size_t tok;
    int args;
  };
  std::map<std::string, std::vector<FnDef>> fn_defs_;        // function name -> definitions
  std::map<std::string, std::vector<Call>> calls_;           // function name -> unqualified calls
  std::vector<std::pair<size_t, size_t>> template_headers_;  // `template <...>` token ranges
  std::set<std::string> template_param_names_;               // names of template type parameters
  std::set<size_t> vector_direct_inits_;                     // `float2 v(a, b)`: the name's token

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

  // ---- lexing ----
  void lex() {
    line_start_.push_back(0);
    for (size_t i = 0; i < s_.size(); ++i)
      if (s_[i] == '\n') line_start_.push_back(i + 1);
    src_line_.assign(line_start_.size(), 0);
    int cur_line = 0;
    bool cur_main = false;
    for (size_t ln = 0; ln < line_start_.size(); ++ln) {
      size_t b = line_start_[ln];
      size_t e = ln + 1 < line_start_.size() ? line_start_[ln + 1] - 1 : s_.size();
      size_t i = b;
      while (i < e && (s_[i] == ' ' || s_[i] == '\t')) ++i;
      if (i < e && s_[i] == '#') {
        directive(ln, i, e, &cur_line, &cur_main);
        continue;
      }
      src_line_[ln] = cur_main ? cur_line : 0;
      if (cur_main && !out_->text_line_of.count(cur_line)) out_->text_line_of[cur_line] = (int)ln;
      ++cur_line;
      while (i < e) {
        char c = s_[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
          ++i;
          continue;
        }
        Kind k;
        size_t n = lex_one(s_, i, &k);
        if (i + n > e) n = e - i;
        t_.push_back({k, i, n, (int)ln});
        i += n;
      }
    }
    handled_.assign(t_.size(), false);
  }

  // `# N "file" flags` markers set the .metal line of the following lines; "<stdin>" is renamed.
  void directive(size_t ln, size_t i, size_t e, int* cur_line, bool* cur_main) {
    size_t j = i + 1;
    while (j < e && s_[j] == ' ') ++j;
    if (s_.compare(j, 6, "pragma") == 0) {
      // A loop hint whose count names a macro (`#pragma unroll(MIN(N, 4))`): clang -E leaves
      // pragma arguments unexpanded and the macro is gone by the compile, so the hint goes (it
      // only ever tunes speed). Hints with literal counts stay.
      std::string rest = s_.substr(j + 6, e - j - 6);
      size_t open = rest.find('(');
      if ((rest.find("unroll") != std::string::npos ||
           rest.find("clang loop") != std::string::npos) &&
          open != std::string::npos) {
        for (size_t k = open; k < rest.size(); ++k) {
          if (!ident_start(rest[k]) || (k > 0 && ident_char(rest[k - 1]))) continue;
          size_t end = k;
          while (end < rest.size() && ident_char(rest[end])) ++end;
          std::string word = rest.substr(k, end - k);
          if (word != "full" && word != "enable" && word != "disable" && word != "assume_safety") {
            edit(i, e - i, std::string(e - i, ' '));
            break;
          }
          k = end;
        }
      }
      return;
    }
    if (s_.compare(j, 4, "line") == 0) j += 4;
    while (j < e && s_[j] == ' ') ++j;
    if (j >= e || !digit(s_[j])) return;  // other directives: kept as they are
    int n = atoi(s_.c_str() + j);
    size_t q = s_.find('"', j);
    if (q == std::string::npos || q >= e) return;
    size_t q2 = s_.find('"', q + 1);
    std::string file = s_.substr(q + 1, q2 - q - 1);
    *cur_main = file == "<stdin>";
    *cur_line = n;
    if (*cur_main) edit(q, q2 - q + 1, std::string("\"") + kSourceFile + "\"");
    (void)ln;
  }

  void match_brackets() {
    match_.assign(t_.size(), -1);
    std::vector<size_t> st;
    for (size_t i = 0; i < t_.size(); ++i) {
      if (t_[i].kind != PUNCT || t_[i].len != 1) continue;
      char c = s_[t_[i].pos];
      if (c == '(' || c == '[' || c == '{')
        st.push_back(i);
      else if (c == ')' || c == ']' || c == '}') {
        char open = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (!st.empty() && s_[t_[st.back()].pos] == open) {
          match_[i] = (long)st.back();
          match_[st.back()] = (long)i;
          st.pop_back();
        }
      }
    }
  }

  static bool address_space_word(const std::string& w) {
    return w == "thread" || w == "device" || w == "constant" || w == "threadgroup" ||
           w == "threadgroup_imageblock" || w == "ray_data" || w == "object_data";
  }

  // A `{` that opens a namespace or a class body (declarations inside, not statements).
  bool declaration_scope_brace(long b) const {
    if (b < 0) return true;
    for (long k = b - 1;
         k >= 0 && !is((size_t)k, ";") && !is((size_t)k, "{") && !is((size_t)k, "}"); --k) {
      if (is((size_t)k, "(") || is((size_t)k, ")") || is((size_t)k, "=")) return false;
      if (is((size_t)k, "struct") || is((size_t)k, "class") || is((size_t)k, "union") ||
          is((size_t)k, "namespace"))
        return true;
    }
    return false;
  }

  // Functions that differ only in address spaces (`S() thread = default; S() device = default;`,
  // `f(device float*)` beside `f(threadgroup float*)`) collide once the address spaces are erased.
  // On the CPU one memory serves every space, so the variant for `thread` (or the first) is kept
  // and the others are blanked. Variants that differ otherwise (types, constness) stay overloads.
  void address_space_variants() {
    struct Variant {
      std::string spaces;
      size_t begin, end;
      bool member;  // a member function of a class (not a free function, not a specialisation)
    };
    std::map<std::string, std::vector<Variant>> groups;
    // Per class body: its constructors, and whether each is `NAME() [space] = default;`.
    struct Ctor {
      bool defaulted;
      size_t begin, end;
    };
    std::map<long, std::vector<Ctor>> ctors;
    std::vector<long> enclosing(t_.size(), -1);
    std::vector<long> stack;
    for (size_t i = 0; i < t_.size(); ++i) {
      enclosing[i] = stack.empty() ? -1 : stack.back();
      if (is(i, "{"))
        stack.push_back((long)i);
      else if (is(i, "}") && !stack.empty())
        stack.pop_back();
    }
    for (size_t i = 0; i < t_.size(); ++i) {
      if (!is(i, ")") || match_[i] < 0 || line(i) == 0) continue;
      size_t open = (size_t)match_[i];
      if (open == 0) continue;
      size_t name = open - 1;
      std::string fname;
      const bool op_angle = is(name, ">") && ((name >= 1 && is(name - 1, "operator")) ||
                                              (name >= 2 && is(name - 2, "operator")));
      if (is(name, ">") &&
          !op_angle) {  // a constructor spelled with its template arguments: `S<T>() device`
        long lt = (long)name;
        for (int depth = 0; lt >= 0; --lt) {
          if (is((size_t)lt, ">")) ++depth;
          if (is((size_t)lt, "<") && --depth == 0) break;
        }
        if (lt < 1 || t_[(size_t)lt - 1].kind != IDENT) continue;
        for (size_t k = (size_t)lt - 1; k <= name; ++k) fname += txt(k);
        name = (size_t)lt - 1;
      } else if (t_[name].kind == IDENT) {
        fname = txt(name);
      } else if (t_[name].kind ==
                 PUNCT) {  // operator+= and friends (lexed one character at a time)
        size_t k = name;
        std::string op;
        while (k > 0 && t_[k].kind == PUNCT && name - k < 3) op = txt(k--) + op;
        if (!is(k, "operator")) continue;
        fname = "operator" + op;  // also operator(): `operator ( ) (`
        name = k;
      } else {
        continue;
      }
      if (fname == "if" || fname == "for" || fname == "while" || fname == "switch" ||
          fname == "return" || fname == "sizeof" || fname == "decltype" || fname == "alignas" ||
          fname == "static_assert")
        continue;
      if (!declaration_scope_brace(enclosing[i])) continue;
      // Trailing qualifiers: const / volatile / an address space, then = { ; : noexcept ->.
      std::string spaces, key_quals;
      std::vector<size_t> this_spaces;
      size_t q = i + 1;
      while (q < t_.size() && (is(q, "const") || is(q, "volatile") || address_space_word(txt(q)))) {
        if (address_space_word(txt(q))) {
          spaces += " this:" + txt(q);
          this_spaces.push_back(q);
        } else {
          key_quals += " " + txt(q);
        }
        ++q;
      }
      if (!(is(q, "=") || is(q, "{") || is(q, ";") || is(q, ":") || is(q, "noexcept") ||
            is(q, "->")))
        continue;
      // Parameters with their address spaces taken out (the spaces are what may differ).
      std::string params = erase_spaces(open + 1, i, &spaces);
      // The declaration's extent: back to the previous declaration, on to its `;` or body.
      long b = (long)name - 1;
      while (b >= 0 && !is((size_t)b, ";") && !is((size_t)b, "{") && !is((size_t)b, "}") &&
             !(is((size_t)b, ":") && b > 0 &&
               (is((size_t)b - 1, "public") || is((size_t)b - 1, "private") ||
                is((size_t)b - 1, "protected")))) {
        if ((is((size_t)b, "]") || is((size_t)b, ")")) && match_[(size_t)b] >= 0)
          b = match_[(size_t)b];
        --b;
      }
      size_t end = q;
      if (is(q, "=")) {
        while (end < t_.size() && !is(end, ";")) ++end;
      } else if (!is(q, ";")) {
        while (end < t_.size() && !is(end, ";")) {
          if (is(end, "(") && match_[end] >= 0) {
            end = (size_t)match_[end] + 1;
            continue;
          }
          // A constructor's member initialisers `: a(x), b{y}` come before the body.
          if (is(end, "{") && match_[end] >= 0) {
            bool initialiser = end > 0 && t_[end - 1].kind == IDENT && !is(end - 1, "const") &&
                               !is(end - 1, "noexcept") && !address_space_word(txt(end - 1)) &&
                               is(q, ":");
            if (!initialiser) {
              end = (size_t)match_[end];
              break;
            }
            end = (size_t)match_[end] + 1;
            continue;
          }
          ++end;
        }
      }
      if (end >= t_.size()) continue;
      std::string cls = class_name(enclosing[i]);
      groups[std::to_string(enclosing[i]) + " " + fname + "(" + params + ")" + key_quals].push_back(
          {spaces, (size_t)(b + 1), end, !cls.empty()});
      // The check's C++ has no member functions qualified by a space (clang refuses them outside
      // OpenCL): the qualifier goes (`constant` leaves `const`), and calls on objects in other
      // spaces are left to code generation, where one memory serves every space.
      if (check_ && !cls.empty())
        for (size_t k : this_spaces) {
          edit(t_[k].pos, t_[k].len, is(k, "constant") ? "const" : "");
          handled_[k] = true;
        }
      if (!cls.empty() && (fname == cls || fname.rfind(cls + "<", 0) == 0))
        ctors[enclosing[i]].push_back(
            {params.empty() && is(q, "=") && is(q + 1, "default"), (size_t)(b + 1), end});
    }
    // Partial specialisations by address space: `template <class T> struct P<device T*>` beside
    // `struct P<thread T*>`.
    for (size_t i = 0; i + 2 < t_.size(); ++i) {
      if (!(is(i, "struct") || is(i, "class")) || t_[i + 1].kind != IDENT || !is(i + 2, "<") ||
          line(i) == 0)
        continue;
      size_t close = i + 2;
      for (int depth = 0; close < t_.size(); ++close) {
        if ((is(close, "(") || is(close, "[")) && match_[close] >= 0) {
          close = (size_t)match_[close];
          continue;
        }
        if (is(close, "<")) ++depth;
        if (is(close, ">") && --depth == 0) break;
        if (is(close, ";") || is(close, "{")) break;
      }
      if (close >= t_.size() || !is(close, ">")) continue;
      std::string spaces;
      std::string args = erase_spaces(i + 3, close, &spaces);
      if (spaces.empty()) continue;
      size_t end = close + 1;
      while (end < t_.size() && !is(end, "{") && !is(end, ";")) ++end;
      if (end >= t_.size()) continue;
      if (is(end, "{")) {
        if (match_[end] < 0) continue;
        end = (size_t)match_[end];
        if (is(end + 1, ";")) ++end;
      }
      size_t begin = i;
      if (i > 0 && is(i - 1, ">")) {  // its `template <...>` header
        long k = (long)i - 1;
        for (int depth = 0; k >= 0; --k) {
          if (is((size_t)k, ">")) ++depth;
          if (is((size_t)k, "<") && --depth == 0) break;
        }
        if (k >= 1 && is((size_t)k - 1, "template")) begin = (size_t)k - 1;
      }
      groups[std::to_string(enclosing[i]) + " struct " + txt(i + 1) + "<" + args + ">"].push_back(
          {spaces, begin, end, false});
    }
    for (auto& [key, variants] : groups) {
      if (variants.size() < 2) continue;
      std::set<std::string> distinct;
      for (const auto& v : variants) distinct.insert(v.spaces);
      if (distinct.size() < 2) continue;
      // Keep the variant with the fewest non-thread spaces (the generic one), blank the others.
      auto weight = [](const std::string& sp) {
        int n = 0;
        for (size_t at = sp.find(':'); at != std::string::npos; at = sp.find(':', at + 1))
          if (sp.compare(at + 1, 6, "thread") != 0 || sp.compare(at + 1, 11, "threadgroup") == 0)
            ++n;
        return n;
      };
      size_t keep = 0;
      for (size_t v = 1; v < variants.size(); ++v)
        if (weight(variants[v].spaces) < weight(variants[keep].spaces)) keep = v;
      for (size_t v = 0; v < variants.size(); ++v) {
        if (v == keep || variants[v].spaces == variants[keep].spaces) continue;
        if (check_ && !variants[v].member) continue;  // the check keeps them: the spaces differ
        // Keeping one is only right when they all do the same thing: refuse variants that do
        // different things rather than run the wrong one.
        if (!check_ &&
            differs(variants[v].begin, variants[v].end, variants[keep].begin, variants[keep].end))
          error(variants[v].begin,
                "the CPU backend runs one of the declarations that differ only in address space "
                "(one memory serves every space), so they must do the same thing; this one "
                "differs from the one on line " +
                    std::to_string(line(variants[keep].begin)));
        blank(variants[v].begin, variants[v].end);
      }
    }
    // `S() = default;` (once per address space) as a class's only constructors: MSL follows
    // C++17, where such a class is still an aggregate (`return {0, 0};`); C++20 says it is not.
    // Without the declarations the implicit constructor is the same one, and the class stays an
    // aggregate under C++20 too.
    for (const auto& [brace, list] : ctors) {
      bool all_defaulted = true;
      for (const auto& c : list) all_defaulted &= c.defaulted;
      if (all_defaulted)
        for (const auto& c : list) blank(c.begin, c.end);
    }
  }

  // Whether two definitions [a, a_end] and [b, b_end] differ once their address spaces are taken
  // out (a declaration without a body never does: it names one of the definitions).
  bool differs(size_t a, size_t a_end, size_t b, size_t b_end) const {
    if (is(a_end, ";") && a_end > a && is(a_end - 1, "}")) --a_end;  // `struct P<...> {...};`
    if (is(b_end, ";") && b_end > b && is(b_end - 1, "}")) --b_end;
    if (!is(a_end, "}") || !is(b_end, "}")) return false;
    std::string ignored;
    return erase_spaces(a, a_end + 1, &ignored) != erase_spaces(b, b_end + 1, &ignored);
  }

  // Tokens [a, b) with address spaces taken out (`constant` leaves `const`: it is read-only),
  // joined; the spaces found are appended to `spaces` with their positions.
  std::string erase_spaces(size_t a, size_t b, std::string* spaces) const {
    std::vector<std::string> out;
    for (size_t k = a; k < b; ++k) {
      const std::string w = txt(k);
      if (address_space_word(w)) {
        *spaces += " " + std::to_string(k - a) + ":" + w;
        if (w == "constant" && (out.empty() || out.back() != "const")) out.push_back("const");
        continue;
      }
      if (w == "const" && !out.empty() && out.back() == "const") continue;
      out.push_back(w);
    }
    std::string r;
    for (const auto& w : out) r += " " + w;
    return r;
  }

  // `struct NAME ... {` -> NAME (empty for other braces).
  std::string class_name(long brace) const {
    if (brace < 0) return "";
    for (long k = brace - 1;
         k >= 0 && !is((size_t)k, ";") && !is((size_t)k, "{") && !is((size_t)k, "}"); --k)
      if ((is((size_t)k, "struct") || is((size_t)k, "class") || is((size_t)k, "union")) &&
          (size_t)k + 1 < (size_t)brace && t_[(size_t)k + 1].kind == IDENT)
        return txt((size_t)k + 1);
    return "";
  }

  // Parses `[[a(x), b]]` at i; returns the index of the last `]`.
  size_t parse_attrs(size_t i, std::vector<Attr>* attrs) {
    size_t end = (size_t)match_[i + 1];  // inner ']'
    size_t k = i + 2;
    while (k < end) {
      Attr a;
      while (k < end && !is(k, ",") && !is(k, "(")) a.name += txt(k++);
      if (is(k, "(") && match_[k] >= 0) {
        a.args = join(k + 1, (size_t)match_[k]);
        k = (size_t)match_[k] + 1;
      }
      if (!a.name.empty()) attrs->push_back(a);
      if (is(k, ",")) ++k;
    }
    return (size_t)match_[i];
  }

  static bool standard_attr(const std::string& n) {
    static const std::set<std::string> std_attrs = {
        "maybe_unused", "likely", "unlikely", "fallthrough", "nodiscard", "noreturn", "deprecated"};
    return std_attrs.count(n) || n.find("::") != std::string::npos;
  }

  // ---- structural pass: scopes, kernels, templates, constants, threadgroup variables ----
  void structural_pass() {
    bool pending_template = false;
    std::vector<std::string> pending_tparams;
    std::vector<Attr> pending_attrs;  // namespace-scope attributes before a declaration
    for (size_t i = 0; i < t_.size(); ++i) {
      const Tok& tk = t_[i];
      if (tk.kind == IDENT) {
        std::string w = txt(i);
        if (in_function()) {
          body_idents_[current_function()].insert(w);
          for (const auto& sc : scopes_)
            if (sc.kind == CLASS && !sc.name.empty()) body_idents_[sc.name].insert(w);
          // An unqualified call `name(`; member calls and qualified names are other functions.
          if (is(i + 1, "(") && match_[i + 1] >= 0 &&
              !(i > 0 && (is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "::")))) {
            int n = 0, d = 0;
            bool v = false;
            count_args(i + 1, (size_t)match_[i + 1], &n, &d, &v);
            calls_[current_function()].push_back({w, i, n});
          }
        } else if (at_namespace_scope())
          ns_idents_.insert(w);
        if (w == "is_function_constant_defined" && is(i + 1, "("))
          out_->tests_defined.insert(txt(i + 2));
        if (w == "template" && !in_function()) {
          if (is(i + 1, "<")) {
            size_t j = template_header(i + 1, &pending_tparams);
            pending_template = true;
            i = j;
          } else {
            i = explicit_instantiation(i);
          }
          continue;
        }
        if (w == "kernel" && (is(i + 1, "void") || is_attr_open(i + 1)) && !in_function()) {
          blank(i, i);
          i = kernel(i + 1, pending_template, pending_tparams, pending_attrs);
          pending_attrs.clear();
          continue;
        }
        if (w == "constant" && at_namespace_scope() &&
            !(i > 0 && (is(i - 1, "(") || is(i - 1, ",")))) {
          i = namespace_constant(i);
          continue;
        }
        if (w == "threadgroup" && in_function()) threadgroup_decl(i);
        // `short2 offset(a, b);` in a function: direct-initialisation of a vector, which clang
        // reads as a cast of one value; rewritten to `short2 offset = make(a, b);` below.
        if (in_function() && vector_type_names().count(w) && i > 0 && i + 2 < t_.size() &&
            t_[i + 1].kind == IDENT && is(i + 2, "(") &&
            (is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}") || is(i - 1, "const") ||
             is(i - 1, "constexpr") || is(i - 1, "thread")))
          vector_direct_inits_.insert(i + 1);
        if (w == "device" && in_function() && i > 0 &&
            (is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}"))) {
          // `device float x;` in a function: only pointers and references may name device memory.
          bool indirect = false;
          size_t end = i + 1;
          for (; end < t_.size() && !is(end, ";") && !is(end, "=") && !is(end, "{"); ++end) {
            if ((is(end, "(") || is(end, "[")) && match_[end] >= 0) {
              end = (size_t)match_[end];
              continue;
            }
            indirect |= is(end, "*") || is(end, "&");
          }
          if (!indirect && end > i + 2)
            error(i, "a local variable cannot be declared in the device address space");
        }
        continue;
      }
      if (is_attr_open(i)) {
        std::vector<Attr> attrs;
        size_t end = parse_attrs(i, &attrs);
        bool all_std = !attrs.empty();
        bool is_kernel = false;
        for (const auto& a : attrs) {
          all_std &= standard_attr(a.name);
          is_kernel |= a.name == "kernel";
        }
        if (!all_std) blank(i, end);
        if (is_kernel && !in_function()) {
          for (const auto& a : attrs) pending_attrs.push_back(a);
          i = kernel(end + 1, pending_template, pending_tparams, pending_attrs);
          pending_attrs.clear();
          continue;
        }
        if (!in_function())
          for (const auto& a : attrs) pending_attrs.push_back(a);
        i = end;
        continue;
      }
      if (is(i, "{")) {
        open_scope(i);
        pending_template = false;
        pending_attrs.clear();
      } else if (is(i, "}")) {
        if (!scopes_.empty()) scopes_.pop_back();
        pending_template = false;
        pending_attrs.clear();
      } else if (is(i, ";")) {
        if (!in_function()) {
          pending_template = false;
          pending_attrs.clear();
        }
      }
    }
  }

  void open_scope(size_t i) {
    Scope sc{OTHER, "", in_function()};
    if (sc.in_func) {
      scopes_.push_back(sc);
      return;
    }
    if (i >= 1 &&
        (is(i - 1, "namespace") || (i >= 2 && is(i - 2, "namespace") && t_[i - 1].kind == IDENT))) {
      sc.kind = NS;
      if (!is(i - 1, "namespace")) sc.name = txt(i - 1);
      scopes_.push_back(sc);
      return;
    }
    // Walk back over trailing qualifiers and (blanked) attributes to find `) {`.
    long k = (long)i - 1;
    while (k >= 0) {
      if (is((size_t)k, "const") || is((size_t)k, "noexcept") || is((size_t)k, "override") ||
          is((size_t)k, "final") || is((size_t)k, "mutable") || is((size_t)k, "volatile")) {
        --k;
        continue;
      }
      if (is((size_t)k, "]") && match_[(size_t)k] >= 0) {
        k = match_[(size_t)k] - 1;
        continue;
      }
      break;
    }
    if (k >= 0 && is((size_t)k, ")") && match_[(size_t)k] > 0) {
      size_t open = (size_t)match_[(size_t)k];
      sc.kind = FUNC;
      sc.in_func = true;
      sc.name = t_[open - 1].kind == IDENT ? txt(open - 1) : "";
      // operator() and friends: name the body after the class scope's function-call operator.
      if (sc.name.empty() || sc.name == "operator") sc.name = "operator";
      if (sc.name != "operator") {
        int n = 0, defaults = 0;
        bool variadic = false;
        count_args(open, (size_t)k, &n, &defaults, &variadic);
        fn_defs_[sc.name].push_back({open - 1, n - defaults, variadic ? 1 << 20 : n});
      }
      scopes_.push_back(sc);
      return;
    }
    sc.kind = CLASS;
    // `struct NAME ... {`: the name, so a kernel that uses the type reaches what its methods use.
    for (long b = (long)i - 1;
         b >= 0 && !is((size_t)b, ";") && !is((size_t)b, "{") && !is((size_t)b, "}"); --b)
      if ((is((size_t)b, "struct") || is((size_t)b, "class") || is((size_t)b, "union")) &&
          (size_t)b + 1 < i && t_[(size_t)b + 1].kind == IDENT)
        sc.name = txt((size_t)b + 1);
    scopes_.push_back(sc);
  }

  // Top-level comma-separated items between brackets `open` and `close`; `defaults` counts the
  // items holding a top-level `=`; `variadic` is set by `...`.
  void count_args(size_t open, size_t close, int* n, int* defaults, bool* variadic) const {
    *n = 0;
    *defaults = 0;
    bool any = false, eq = false;
    int angle = 0;
    for (size_t j = open + 1; j <= close; ++j) {
      if (j == close || (is(j, ",") && angle == 0)) {
        if (any) ++*n;
        if (eq) ++*defaults;
        any = eq = false;
        continue;
      }
      if ((is(j, "(") || is(j, "[") || is(j, "{")) && match_[j] >= 0) {
        j = (size_t)match_[j];
        any = true;
        continue;
      }
      if (is(j, "<")) ++angle;
      if (is(j, ">") && angle > 0) --angle;
      if (is(j, "=") && angle == 0) eq = true;
      if (is(j, ".") && is(j + 1, ".") && is(j + 2, ".")) *variadic = true;
      any = true;
    }
    if (*n == 1 && close == open + 2 && is(open + 1, "void")) *n = 0;
  }

  // What C++ accepts but Metal refuses: recursion, dynamic allocation, exceptions, function
  // pointers (`double` is refused by the token pass). Each is reported at its .metal line.
  void check_metal_rules() {
    for (size_t i = 0; i < t_.size(); ++i) {
      if (line(i) == 0) continue;
      const std::string w = txt(i);
      if (t_[i].kind == IDENT) {
        if (w == "new" || (w == "delete" && !(i > 0 && is(i - 1, "=")))) {
          error(i, "'" + w + "': dynamic memory allocation is not supported in Metal");
        } else if ((w == "malloc" || w == "calloc" || w == "realloc" || w == "free" ||
                    w == "aligned_alloc") &&
                   is(i + 1, "(") && !fn_defs_.count(w) &&
                   !(i > 0 && (is(i - 1, ".") || is(i - 1, "->")))) {
          error(i, "'" + w + "': dynamic memory allocation is not supported in Metal");
        } else if (w == "throw" || w == "try" || w == "catch") {
          error(i, "'" + w + "': exceptions are not supported in Metal");
        } else if (w == "goto") {
          error(i, "'goto' is not supported in Metal");
        } else if (w == "virtual") {
          error(i, "virtual functions and virtual base classes are not supported in Metal");
        } else if (w == "dynamic_cast" || w == "typeid") {
          error(i, "'" + w + "': run-time type information is not supported in Metal");
        } else if (w == "thread_local" || w == "register") {
          error(i, "'" + w + "' storage is not supported in Metal");
        } else if (w == "asm" || w == "__asm__" || w == "__asm") {
          out_->facts.inline_asm.push_back({w, line(i)});
        }
        // `noexcept` is in the specification's list too, but Apple's compiler accepts it (MLX's
        // kernels use it), so it is accepted here as well.
        continue;
      }
      // A lambda: `[captures](...)` / `[captures]{` where an expression starts.
      if (is(i, "[") && !is(i + 1, "[") && !(i > 0 && is(i - 1, "[")) && match_[i] >= 0 && i > 0 &&
          ((t_[i - 1].kind == PUNCT && !is(i - 1, ")") && !is(i - 1, "]") && !is(i - 1, ">")) ||
           is(i - 1, "return"))) {
        size_t close = (size_t)match_[i];
        if (is(close + 1, "(") || is(close + 1, "{") || is(close + 1, "mutable") ||
            is(close + 1, "<")) {
          error(i, "lambda expressions are not supported in Metal");
          continue;
        }
      }
      // Function pointers: a declarator `T (*name)(...)` / `T (&name)(...)` (an address taken with
      // `&f` is not caught: telling it from `&variable` needs types). A template's non-type
      // parameter of function-pointer type is a compile-time constant, which Metal accepts.
      auto in_template_header = [&] {
        for (const auto& [a, b] : template_headers_)
          if (i > a && i < b) return true;
        return false;
      };
      if (is(i, "(") && (is(i + 1, "*") || is(i + 1, "&")) && i > 0 && !in_template_header() &&
          (t_[i - 1].kind == IDENT || is(i - 1, ">")) && !is(i - 1, "return") &&
          !is(i - 1, "sizeof") && !is(i - 1, "decltype")) {
        size_t k = i + 2;
        if (k < t_.size() && t_[k].kind == IDENT) ++k;
        if (is(k, ")") && is(k + 1, "(")) {
          error(i + 1, "function pointers are not supported in Metal");
          continue;
        }
      }
    }
    check_recursion();
    check_program_scope_variables();
  }

  // Metal has no mutable program-scope variables: one at namespace scope must be `constant`
  // (const and constexpr are accepted too); `device`, `threadgroup` and `thread` are refused.
  void check_program_scope_variables() {
    size_t stmt = 0;
    for (size_t k = 0; k < t_.size(); ++k) {
      if (is(k, "{")) {
        const bool ns = (k >= 1 && is(k - 1, "namespace")) ||
                        (k >= 2 && is(k - 2, "namespace") && t_[k - 1].kind == IDENT) ||
                        (k >= 1 && t_[k - 1].kind == STRING && k >= 2 && is(k - 2, "extern"));
        if (ns) {
          stmt = k + 1;
          continue;
        }
        if (match_[k] < 0) return;
        k = (size_t)match_[k];
        if (!is(k + 1, ";") && !is(k + 1, ",") && t_.size() > k + 1 && t_[k + 1].kind != IDENT)
          stmt = k + 1;
        else if (!is(k + 1, ";") && !is(k + 1, ",") && t_.size() > k + 1 &&
                 t_[k + 1].kind == IDENT) {
          // `struct S {...} s;` declares a variable; a function body is followed by a new
          // declaration.
          bool type_body = false;
          for (size_t q = stmt; q < (size_t)match_[k]; ++q)
            type_body |= is(q, "struct") || is(q, "class") || is(q, "union") || is(q, "enum");
          if (!type_body) stmt = k + 1;
        }
        continue;
      }
      if (is(k, "}")) {
        stmt = k + 1;
        continue;
      }
      if ((is(k, "(") || is(k, "[")) && match_[k] >= 0) {
        k = (size_t)match_[k];
        continue;
      }
      if (is(k, ";")) {
        program_scope_statement(stmt, k);
        stmt = k + 1;
      }
    }
  }

  void program_scope_statement(size_t a, size_t b) {
    if (a >= b || line(a) == 0) return;
    static const std::set<std::string> not_variables = {
        "typedef", "using", "template", "static_assert", "namespace", "friend", "enum",
        "struct",  "class", "union",    "extern",        "kernel",    "vertex", "fragment"};
    if (not_variables.count(txt(a)) && !is(a, "extern") && !is(a, "kernel")) return;
    bool readonly = false;
    for (size_t k = a; k < b; ++k) {
      if (is(k, "(") || is(k, "operator")) {
        // A function declaration (facts: is it ever defined?) or a constructor call.
        if (is(k, "(") && k > a && t_[k - 1].kind == IDENT && !fn_defs_.count(txt(k - 1)))
          out_->facts.undefined_functions.push_back({txt(k - 1), line(k - 1)});
        return;
      }
      if (is_attr_open(k) && match_[k] >= 0) {
        k = (size_t)match_[k];
        continue;
      }
      if (is(k, "{") && match_[k] >= 0) {
        k = (size_t)match_[k];
        continue;
      }
      if (is(k, "=")) {
        for (size_t q = k + 1; q < b; ++q)
          if (is(q, "(") && t_[q - 1].kind == IDENT) {
            out_->facts.program_scope_calls.push_back({txt(q - 1), line(q - 1)});
            break;
          }
        break;
      }
      const std::string w = txt(k);
      readonly |= w == "constant" || w == "const" || w == "constexpr";
      if (w == "device" || w == "threadgroup" || w == "thread") {
        error(k, "program-scope variables must be declared in the constant address space, not '" +
                     w + "'");
        return;
      }
    }
    if (!readonly)
      error(a,
            "program-scope variables must be declared in the constant address space (Metal has no "
            "mutable "
            "program-scope variables)");
  }

  // A cycle in the call graph. Calls are matched to definitions by name and argument count;
  // names with several definitions (overloads, specialisations) and calls with explicit
  // template arguments (compile-time recursion) are left out, so nothing legal is refused.
  void check_recursion() {
    std::map<std::string, std::vector<const Call*>> edges;
    for (const auto& [fn, calls] : calls_) {
      auto d = fn_defs_.find(fn);
      if (d == fn_defs_.end() || d->second.size() != 1) continue;
      for (const auto& c : calls) {
        auto t = fn_defs_.find(c.callee);
        if (t == fn_defs_.end() || t->second.size() != 1) continue;
        if (c.args < t->second[0].min_args || c.args > t->second[0].max_args) continue;
        edges[fn].push_back(&c);
      }
    }
    std::set<std::string> reported;
    for (const auto& [start, first_calls] : edges) {
      // Shortest path from `start` back to itself (breadth first).
      std::map<std::string, std::pair<std::string, const Call*>> prev;
      std::vector<std::string> queue = {start};
      const Call* closing = nullptr;
      std::string last;
      for (size_t q = 0; q < queue.size() && !closing; ++q) {
        auto e = edges.find(queue[q]);
        if (e == edges.end()) continue;
        for (const Call* c : e->second) {
          if (c->callee == start) {
            closing = c;
            last = queue[q];
            break;
          }
          if (!prev.count(c->callee)) {
            prev[c->callee] = {queue[q], c};
            queue.push_back(c->callee);
          }
        }
      }
      if (!closing) continue;
      std::vector<std::string> cycle = {start};
      for (std::string f = last; f != start; f = prev[f].first) cycle.insert(cycle.begin() + 1, f);
      std::set<std::string> members(cycle.begin(), cycle.end());
      bool seen = false;
      for (const auto& m : members) seen |= reported.count(m) > 0;
      if (seen) continue;
      reported.insert(members.begin(), members.end());
      // Report at the call in `start` that begins the cycle.
      const Call* at = closing;
      if (cycle.size() > 1)
        for (const Call* c : edges[start])
          if (c->callee == cycle[1]) {
            at = c;
            break;
          }
      std::string path;
      for (const auto& f : cycle) path += "'" + f + "' -> ";
      path += "'" + start + "'";
      error(at->tok, cycle.size() == 1
                         ? "recursion is not supported in Metal: '" + start + "' calls itself"
                         : "recursion is not supported in Metal: " + path);
    }
  }

  // `template <...>` at i (the `<`): records parameter names; returns the index of `>`.
  size_t template_header(size_t i, std::vector<std::string>* names) {
    names->clear();
    template_headers_.push_back({i, i});
    int depth = 0;
    size_t part_start = i + 1;
    for (size_t j = i; j < t_.size(); ++j) {
      if (is(j, "(") && match_[j] >= 0) {
        j = (size_t)match_[j];
        continue;
      }
      // `<` opens an argument list after a name (`enable_if_t<`); after `)` or a number it is a
      // comparison (`sizeof(T) < 8`).
      if (is(j, "<") && (j == i || t_[j - 1].kind == IDENT)) ++depth;
      bool close = is(j, ">");
      if (close) --depth;
      if ((is(j, ",") && depth == 1) || (close && depth == 0)) {
        // The parameter's name: the last identifier before any default (`= ...`).
        std::string name;
        for (size_t k = part_start; k < j && !is(k, "="); ++k)
          if (t_[k].kind == IDENT) name = txt(k);
        if (!name.empty() && name != "typename" && name != "class") {
          names->push_back(name);
          // A type parameter (not `int N`): casts to it may be vector conversions.
          if (is(part_start, "typename") || is(part_start, "class"))
            template_param_names_.insert(name);
        }
        part_start = j + 1;
      }
      if (close && depth == 0) return template_headers_.back().second = j;
    }
    return template_headers_.back().second = t_.size() - 1;
  }

  // `template [[host_name("x")]] [[kernel]] decltype(f<T>) f<T>;` (or `... void f<T>(...);`).
  size_t explicit_instantiation(size_t i) {
    size_t end = i + 1;
    while (end < t_.size() && !is(end, ";")) {
      if ((is(end, "(") || is(end, "[")) && match_[end] >= 0) end = (size_t)match_[end];
      ++end;
    }
    Instance inst;
    bool has_host = false;
    std::vector<size_t> decl;  // declarator tokens (attributes and `kernel` removed)
    for (size_t k = i + 1; k < end; ++k) {
      if (is_attr_open(k)) {
        std::vector<Attr> attrs;
        size_t e = parse_attrs(k, &attrs);
        for (const auto& a : attrs)
          if (a.name == "host_name") {
            has_host = true;
            inst.host_name = string_literal_value(a.args);
          }
        blank(k, e);
        k = e;
        continue;
      }
      if (is(k, "kernel")) {
        blank(k, k);
        continue;
      }
      decl.push_back(k);
    }
    if (!has_host) return end;
    inst.line = line(i);
    inst.pre_col = col(i);
    // The instantiated name: after decltype(...), or between the return type and `(`.
    size_t a = 0, b = decl.size();
    if (!decl.empty() && is(decl[0], "decltype") && decl.size() > 1 && match_[decl[1]] >= 0) {
      size_t close = (size_t)match_[decl[1]];
      while (a < decl.size() && decl[a] <= close) ++a;
    } else {
      int angle = 0;
      for (size_t k = 0; k < decl.size(); ++k) {
        if (is(decl[k], "<")) ++angle;
        if (is(decl[k], ">")) --angle;
        if (is(decl[k], "(") && angle == 0) {
          b = k;
          break;
        }
      }
      if (a < b && is(decl[a], "void")) ++a;
      if (b == decl.size() && b > 0 && is(decl[b - 1], ">")) {
        // `kernel alias_t name<T>;` (a type alias of the function type, the ggml pattern): the
        // name is the final template-id, with its qualification.
        long k = (long)b - 1;
        for (int depth = 0; k >= 0; --k) {
          if (is(decl[(size_t)k], ">")) ++depth;
          if (is(decl[(size_t)k], "<") && --depth == 0) break;
        }
        k -= 1;
        while (k >= 2 && is(decl[(size_t)k - 1], "::") && t_[decl[(size_t)k - 2]].kind == IDENT)
          k -= 2;
        if (k >= 1 && is(decl[(size_t)k - 1], "::")) --k;
        if (k > (long)a) a = (size_t)k;
      }
    }
    std::string expr;
    size_t lt = b;
    for (size_t k = a; k < b; ++k) {
      if (lt == b && is(decl[k], "<")) lt = k;
      expr += txt(decl[k]);
      if (k + 1 < b && t_[decl[k]].kind == IDENT && t_[decl[k + 1]].kind == IDENT) expr += ' ';
    }
    if (lt == b || lt == a) {
      error(i, "cannot read the kernel instantiated as \"" + inst.host_name + "\"");
      return end;
    }
    inst.tmpl_name = txt(decl[lt - 1]);
    // Template arguments: split at top-level commas.
    int depth = 0;
    std::string arg;
    for (size_t k = lt + 1; k < b; ++k) {
      const std::string w = txt(decl[k]);
      if (w == "<" || w == "(") ++depth;
      if (w == ">" || w == ")") {
        if (depth == 0) break;
        --depth;
      }
      if (w == "," && depth == 0) {
        inst.targs.push_back(arg);
        arg.clear();
        continue;
      }
      if (!arg.empty()) arg += ' ';
      arg += w;
    }
    inst.targs.push_back(arg);
    inst.expr = (expr.rfind("::", 0) == 0 ? "" : ns_prefix() + "::") + expr;
    instances_.push_back(inst);
    return end;
  }

  // After `kernel` / `[[kernel]]`: `[[attrs]]* void NAME ( params ) [[attrs]]* {`.
  size_t kernel(size_t i, bool is_template, const std::vector<std::string>& tparams,
                const std::vector<Attr>& pre_attrs) {
    KernelDef k;
    k.is_template = is_template;
    k.tparams = tparams;
    for (const auto& a : pre_attrs)
      if (a.name == "max_total_threads_per_threadgroup") k.max_threads = a.args;
    while (is_attr_open(i)) {
      std::vector<Attr> attrs;
      size_t e = parse_attrs(i, &attrs);
      for (const auto& a : attrs)
        if (a.name == "max_total_threads_per_threadgroup") k.max_threads = a.args;
      blank(i, e);
      i = e + 1;
    }
    while (is(i, "static") || is(i, "inline") || is(i, "extern")) ++i;
    if (!is(i, "void")) {
      error(i, "a kernel function must return void");
      return i;
    }
    size_t name = i + 1;
    if (t_.size() <= name + 1 || t_[name].kind != IDENT || !is(name + 1, "(") ||
        match_[name + 1] < 0) {
      error(i, "cannot read this kernel declaration");
      return i;
    }
    k.name = txt(name);
    k.qualified = ns_prefix() + "::" + k.name;
    k.line = line(name);
    k.pre_col = col(name);
    size_t open = name + 1, close = (size_t)match_[open];
    // Parameters: split at top-level commas; collect each one's attributes.
    std::vector<Attr> cur;
    bool any = false, in_constant = false, indirect = false, in_space = false;
    size_t param_start = open + 1;
    int angle = 0;
    for (size_t j = open + 1; j <= close; ++j) {
      if (j == close || (is(j, ",") && angle == 0)) {
        if (any) k.params.push_back(cur), k.param_constant.push_back(in_constant);
        // Metal: a pointer or reference argument of a kernel names its address space.
        if (any && indirect && !in_space)
          error(param_start, "kernel '" + k.name +
                                 "': a pointer or reference parameter must be declared in the "
                                 "device, constant or threadgroup address space");
        cur.clear();
        any = in_constant = indirect = in_space = false;
        param_start = j + 1;
        continue;
      }
      any = true;
      if (is(j, "constant")) in_constant = true;
      if (address_space_word(txt(j))) in_space = true;
      if ((is(j, "*") || is(j, "&")) && angle == 0) indirect = true;
      if (is(j, "<")) ++angle;
      if (is(j, ">") && angle > 0) --angle;
      if (is_attr_open(j)) {
        size_t e = parse_attrs(j, &cur);
        blank(j, e);
        j = e;
      } else if ((is(j, "(") || is(j, "<")) && is(j, "(") && match_[j] >= 0) {
        j = (size_t)match_[j];
      }
    }
    size_t j = close + 1;
    while (is_attr_open(j)) {
      std::vector<Attr> attrs;
      size_t e = parse_attrs(j, &attrs);
      for (const auto& a : attrs)
        if (a.name == "max_total_threads_per_threadgroup") k.max_threads = a.args;
      blank(j, e);
      j = e + 1;
    }
    if (is(j, "{")) kernel_defs_.push_back(k);
    return close;  // the main loop then opens the body scope (named k.name)
  }

  // `constant T name [[function_constant(i)]];` or any other namespace-scope `constant` decl.
  size_t namespace_constant(size_t i) {
    size_t end = i + 1;
    while (end < t_.size() && !is(end, ";")) {
      if ((is(end, "(") || is(end, "[") || is(end, "{")) && match_[end] >= 0)
        end = (size_t)match_[end];
      ++end;
    }
    for (size_t k = i + 1; k < end; ++k) {
      if (!is_attr_open(k)) continue;
      std::vector<Attr> attrs;
      size_t e = parse_attrs(k, &attrs);
      for (const auto& a : attrs) {
        if (a.name != "function_constant") continue;
        RwConstant c;
        c.name = txt(k - 1);
        long index = -1;
        if (!eval_int(a.args, &index) || index < 0 || index > 65535)
          error(k, "[[function_constant(" + a.args + ")]] needs an index from 0 to 65535");
        c.index = (uint32_t)index;
        std::string type = join(i + 1, k - 1);
        c.type = type == "bool"                         ? MB_CONSTANT_BOOL
                 : (type == "int" || type == "int32_t") ? MB_CONSTANT_INT
                 : (type == "uint" || type == "unsigned int" || type == "uint32_t")
                     ? MB_CONSTANT_UINT
                 : type == "float"                        ? MB_CONSTANT_FLOAT
                 : type == "half"                         ? MB_CONSTANT_HALF
                 : (type == "short" || type == "int16_t") ? MB_CONSTANT_SHORT
                 : (type == "ushort" || type == "unsigned short" || type == "uint16_t")
                     ? MB_CONSTANT_USHORT
                     : 0;
        if (c.type == 0) {
          error(k - 1,
                "function constant '" + c.name + "' has type '" + type +
                    "'; the CPU backend supports bool, int, uint, short, ushort, float and half");
        }
        out_->constants.push_back(c);
        edit(t_[i].pos, t_[i].len, "constexpr");
        handled_[i] = true;
        size_t p = t_[k].pos, len = t_[e].pos + 1 - p;
        edit(p, len, "= __mb_fcv_" + std::to_string(c.index));
        for (size_t q = k; q <= e; ++q) handled_[q] = true;
        return end;
      }
      blank(k, e);
      k = e;
    }
    // A derived constant (`constant bool x = fc_a && fc_b;`): whoever uses x uses what it reads.
    size_t name = 0;
    for (size_t k = i + 1; k < end && !is(k, "=") && !is(k, "{") && !is(k, "[") && !is(k, "("); ++k)
      if (t_[k].kind == IDENT) name = k;
    if (name)
      for (size_t k = name + 1; k < end; ++k)
        if (t_[k].kind == IDENT) body_idents_[txt(name)].insert(txt(k));
    if (!check_) edit(t_[i].pos, t_[i].len, "const");  // the check keeps the constant space
    handled_[i] = true;
    return i;  // the rest of the declaration gets the ordinary token rewrites
  }

  // `threadgroup T name[N];` in a function: a per-worker static (see the file comment).
  void threadgroup_decl(size_t i) {
    if (i == 0 || !(is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}") || is(i - 1, ":"))) return;
    size_t end = i + 1;
    while (end < t_.size() && !is(end, ";")) {
      if ((is(end, "(") || is(end, "[") || is(end, "{")) && match_[end] >= 0)
        end = (size_t)match_[end];
      ++end;
    }
    // Declarators split at top-level commas; a pointer or reference is no variable to share.
    std::vector<std::pair<size_t, size_t>> parts;
    size_t ps = i + 1;
    for (size_t k = i + 1; k <= end; ++k) {
      if ((is(k, "(") || is(k, "[") || is(k, "{")) && match_[k] >= 0 && k < end) {
        k = (size_t)match_[k];
        continue;
      }
      if (k == end || is(k, ",")) {
        parts.push_back({ps, k});
        ps = k + 1;
      }
    }
    if (parts.empty()) return;
    size_t type_end = parts[0].first;  // the first part: type tokens, then the name
    for (size_t k = parts[0].first; k < parts[0].second; ++k) {
      if (is(k, "=")) {
        bool indirect = false;
        for (size_t q = parts[0].first; q < k; ++q) indirect |= is(q, "*") || is(q, "&");
        if (!indirect) error(k, "a threadgroup variable cannot have an initializer");
        return;
      }
      if (is(k, "*") || is(k, "&") || is(k, "(")) return;  // pointer/reference/init
      if (is(k, "[") || is(k, "<")) {
        if (is(k, "[")) break;
        if (match_[k] < 0) {  // template argument list: skip to '>'
          int d = 0;
          for (; k < parts[0].second; ++k) {
            if (is(k, "<")) ++d;
            if (is(k, ">") && --d == 0) break;
          }
        }
        continue;
      }
      if (t_[k].kind == IDENT) type_end = k;
    }
    edit(t_[i].pos, t_[i].len, check_ ? "static thread_local threadgroup" : "static thread_local");
    handled_[i] = true;
    for (size_t p = 0; p < parts.size(); ++p) {
      TgVar v;
      size_t name = p == 0 ? type_end : parts[p].first;
      for (size_t k = parts[0].first; k < type_end; ++k) v.tokens.push_back(txt(k));
      for (size_t k = name + 1; k < parts[p].second; ++k) v.tokens.push_back(txt(k));
      tg_vars_[current_function()].push_back(v);
    }
  }

  // ---- the address-space check's casts ----
  // A C-style cast to a pointer type naming an address space, `(device float4*)p`, becomes
  // `::metal::__mb_as_cast<device float4*>(p)`, which refuses a change of space (clang's
  // C-style cast would accept it; Metal refuses it). Casts without a space word are left alone.
  void address_space_casts() {
    for (size_t i = 0; i + 1 < t_.size(); ++i) {
      if (!is(i, "(") || match_[i] < 0 || line(i) == 0 || handled_[i]) continue;
      size_t close = (size_t)match_[i];
      if (close < i + 3 || !is(close - 1, "*")) continue;
      // Preceded by a name, `)` or `]`, the parentheses are a call or a declarator.
      if (i > 0 && (t_[i - 1].kind == IDENT || t_[i - 1].kind == NUMBER || is(i - 1, ")") ||
                    is(i - 1, "]") || is(i - 1, ">")))
        if (!(is(i - 1, "return") || is(i - 1, "case"))) continue;
      bool type = true, space = false;
      for (size_t k = i + 1; k < close && type; ++k) {
        space |= address_space_word(txt(k));
        type = t_[k].kind == IDENT || is(k, "*") || is(k, "::") || is(k, "<") || is(k, ">") ||
               is(k, ",") || t_[k].kind == NUMBER;
      }
      if (!type || !space) continue;
      size_t end = cast_operand_end(close + 1);
      if (end == 0) continue;
      edit(t_[i].pos, 1, "::metal::__mb_as_cast<");
      edit(t_[close].pos, 1, ">(");
      edit(t_[end].pos + t_[end].len, 0, ")");
    }
  }

  // The last token of the operand of a cast that starts at token k (a unary expression:
  // prefix operators, then a primary with its postfix operators), or 0 when it is not one.
  size_t cast_operand_end(size_t k) const {
    while (k < t_.size() &&
           (is(k, "&") || is(k, "*") || is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~")))
      ++k;
    if (k >= t_.size()) return 0;
    size_t last;
    if (is(k, "(") && match_[k] >= 0) {
      last = (size_t)match_[k];
      // `(T*)(U*)x`: a cast of a cast.
      size_t inner = last + 1 < t_.size() ? cast_operand_end_if_cast(k) : 0;
      if (inner) return inner;
    } else if (t_[k].kind == IDENT || t_[k].kind == NUMBER) {
      last = k;
      while (is(last + 1, "::") && last + 2 < t_.size() && t_[last + 2].kind == IDENT) last += 2;
    } else {
      return 0;
    }
    for (;;) {
      size_t n = last + 1;
      if (n >= t_.size()) break;
      if ((is(n, "[") || is(n, "(")) && match_[n] >= 0) {
        last = (size_t)match_[n];
      } else if ((is(n, ".") || is(n, "->")) && n + 1 < t_.size() && t_[n + 1].kind == IDENT) {
        last = n + 1;
      } else if ((is(n, "+") && is(n + 1, "+")) || (is(n, "-") && is(n + 1, "-"))) {
        last = n + 1;
      } else {
        break;
      }
    }
    return last;
  }
  // When the parentheses at k hold a type followed by an operand, the operand's last token.
  size_t cast_operand_end_if_cast(size_t k) const {
    size_t close = (size_t)match_[k];
    if (!is(close - 1, "*") && !is(close - 1, "&")) return 0;
    for (size_t q = k + 1; q < close; ++q)
      if (!(t_[q].kind == IDENT || is(q, "*") || is(q, "&") || is(q, "::") || is(q, "<") ||
            is(q, ">") || is(q, ",")))
        return 0;
    size_t n = close + 1;
    if (n >= t_.size() ||
        !(t_[n].kind == IDENT || t_[n].kind == NUMBER || is(n, "(") || is(n, "&") || is(n, "*")))
      return 0;
    return cast_operand_end(n);
  }

  // ---- token pass: context-free rewrites ----
  // Names declared as aliases of vector types (`typedef vec<T, 4> T4;`, `using out4 = half4;`):
  // their functional casts `T4(x)` need the value-converting constructor too.
  std::set<std::string> vector_aliases() const {
    std::set<std::string> names;
    for (size_t i = 0; i < t_.size(); ++i) {
      bool td = is(i, "typedef"),
           us = is(i, "using") && i + 2 < t_.size() && t_[i + 1].kind == IDENT && is(i + 2, "=");
      if (!td && !us) continue;
      size_t end = i + 1;
      while (end < t_.size() && !is(end, ";") && !is(end, "{") && !is(end, "}")) ++end;
      if (end >= t_.size() || !is(end, ";")) continue;
      bool vector = false;
      for (size_t k = i + 1; k < end; ++k)
        vector |= vector_type_names().count(txt(k)) > 0 || is(k, "vec");
      if (!vector) continue;
      if (us)
        names.insert(txt(i + 1));
      else if (t_[end - 1].kind == IDENT)
        names.insert(txt(end - 1));
    }
    for (const auto& n : vector_type_names()) names.erase(n);
    return names;
  }

  // Tokens that can begin the operand of a cast.
  bool starts_operand(size_t k) const {
    if (k >= t_.size()) return false;
    if (t_[k].kind == IDENT) return true;
    if (t_[k].kind == NUMBER) return true;
    return is(k, "(") || is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~") || is(k, "*") ||
           is(k, "&");
  }

  // The last token of the unary expression (a cast's operand) starting at k, or -1.
  long operand_end(size_t k) const {
    const size_t n = t_.size();
    while (k < n &&
           (is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~") || is(k, "*") || is(k, "&")))
      ++k;
    if (k >= n) return -1;
    size_t last;
    if (is(k, "(")) {
      if (match_[k] < 0) return -1;
      size_t m = (size_t)match_[k];
      if (m == k + 2 && t_[k + 1].kind == IDENT && builtin_type_word(txt(k + 1)) &&
          starts_operand(m + 1))
        return operand_end(m + 1);  // a nested cast: (float4)(half4)x
      last = m;
    } else if (t_[k].kind == IDENT || t_[k].kind == NUMBER || t_[k].kind == STRING) {
      last = k;
      while (t_[last].kind == IDENT) {
        if (is(last + 1, "::") && last + 2 < n && t_[last + 2].kind == IDENT) {
          last += 2;
          continue;
        }
        if (is(last + 1, "<")) {  // template arguments, when a call or scope follows them
          size_t c = last + 1;
          int depth = 0;
          for (; c < n && c < last + 64; ++c) {
            if ((is(c, "(") || is(c, "[")) && match_[c] >= 0) {
              c = (size_t)match_[c];
              continue;
            }
            if (is(c, "<")) ++depth;
            if (is(c, ">") && --depth == 0) break;
            if (is(c, ";") || is(c, "{") || is(c, "}")) {
              c = n;
              break;
            }
          }
          if (c < n && is(c, ">") && (is(c + 1, "(") || is(c + 1, "::") || is(c + 1, "{"))) {
            last = c;
            if (is(last + 1, "::") && last + 2 < n && t_[last + 2].kind == IDENT) {
              last += 2;
              continue;
            }
          }
        }
        break;
      }
    } else {
      return -1;
    }
    while (true) {
      if ((is(last + 1, "(") || is(last + 1, "[") || is(last + 1, "{")) && match_[last + 1] >= 0) {
        last = (size_t)match_[last + 1];
        continue;
      }
      if ((is(last + 1, ".") || is(last + 1, "->")) && last + 2 < n && t_[last + 2].kind == IDENT) {
        last += 2;
        continue;
      }
      break;
    }
    return (long)last;
  }

  // `(float4)x`: a value conversion in MSL, a bitcast (or a size error) in clang. Rewritten to
  // ::metal::__mb_cast<float4>(x); the closing parenthesis goes into `late` so it lands after
  // any rewrite at the operand's end (a float literal's suffix).
  bool vector_c_cast(size_t i, const std::set<std::string>& aliases, std::vector<EditRec>* late) {
    if (!is(i, "(") || i + 3 >= t_.size() || !is(i + 2, ")") || t_[i + 1].kind != IDENT)
      return false;
    const std::string type = txt(i + 1);
    // half <-> bfloat has no direct conversion in clang; __mb_cast goes through float.
    // A template parameter may stand for a vector type (`(type4)(*src)` with type4 = half4).
    if (!vector_type_names().count(type) && !aliases.count(type) && type != "half" &&
        type != "bfloat" && !template_param_names_.count(type))
      return false;
    if (i > 0) {
      const bool expr_keyword =
          is(i - 1, "return") || is(i - 1, "case") || is(i - 1, "else") || is(i - 1, "do");
      if ((t_[i - 1].kind == IDENT && !expr_keyword) || t_[i - 1].kind == NUMBER ||
          is(i - 1, ")") || is(i - 1, "]"))
        return false;
    }
    if (!starts_operand(i + 3)) return false;
    long end = operand_end(i + 3);
    if (end < 0) return false;
    edit(t_[i].pos, t_[i + 2].pos + 1 - t_[i].pos, "::metal::__mb_cast<" + type + ">(");
    handled_[i] = handled_[i + 1] = handled_[i + 2] = true;
    late->push_back({t_[(size_t)end].pos + t_[(size_t)end].len, 0, ")"});
    return true;
  }

  // `float4(a > b)`: a comparison of vectors is an int vector of -1/0 in clang, a bool vector in
  // MSL (true converts to 1). A constructor whose one argument is a comparison gets it through
  // ::metal::__mb_truth, which turns an int vector into a bool vector.
  void wrap_comparison(size_t open, std::vector<EditRec>* late) {
    if (!is(open, "(") || match_[open] < 0) return;
    size_t close = (size_t)match_[open];
    bool comparison = false, angle_open = false, angle_close = false;
    for (size_t k = open + 1; k < close; ++k) {
      if ((is(k, "(") || is(k, "[") || is(k, "{")) && match_[k] >= 0) {
        k = (size_t)match_[k];
        continue;
      }
      if (is(k, ",") || is(k, "?")) return;  // several arguments, or a conditional: left alone
      const bool shift = (is(k, "<") && (is(k + 1, "<") || is(k - 1, "<"))) ||
                         (is(k, ">") && (is(k + 1, ">") || is(k - 1, ">")));
      if (is(k, "<") && !shift) angle_open = comparison = true;
      if (is(k, ">") && !shift && !is(k - 1, "-")) angle_close = comparison = true;
      if ((is(k, "=") || is(k, "!")) && is(k + 1, "=")) comparison = true;
    }
    if (!comparison || (angle_open && angle_close)) return;  // `<` with `>`: template arguments
    edit(t_[open].pos + 1, 0, "::metal::__mb_truth(");
    late->push_back({t_[close].pos, 0, ")"});
  }

  void token_pass() {
    const std::set<std::string> aliases = vector_aliases();
    std::vector<EditRec> late;
    for (size_t i = 0; i < t_.size(); ++i) {
      if (handled_[i]) continue;
      const Tok& tk = t_[i];
      if (vector_c_cast(i, aliases, &late)) continue;
      if (vector_direct_inits_.count(i)) {
        edit(tk.pos + tk.len, 0, " = ::metal::__mb_make<::metal::" + txt(i - 1) + ">");
        continue;
      }
      if (tk.kind == NUMBER) {
        std::string w = txt(i);
        if (!is_floating_literal(w)) continue;
        char last = w.back();
        if (last == 'h' || last == 'H')
          edit(tk.pos + tk.len - 1, 1, "f16");
        else if (last != 'f' && last != 'F' && last != 'l' && last != 'L')
          edit(tk.pos + tk.len, 0, "f");
        continue;
      }
      if (tk.kind != IDENT) continue;
      std::string w = txt(i);
      if (w == "double") error(i, "'double' is not supported in Metal");
      if (vector_type_names().count(w) && is(i + 1, "(") &&
          !(i > 0 && (is(i - 1, "operator") || is(i - 1, ".") || is(i - 1, "->")))) {
        if (i > 0 && is(i - 1, "::")) {
          if (i > 1 && is(i - 2, "metal")) edit(tk.pos, tk.len, "__mb_make<::metal::" + w + ">");
        } else {
          edit(tk.pos, tk.len, "::metal::__mb_make<::metal::" + w + ">");
        }
        wrap_comparison(i + 1, &late);
      } else if (template_param_names_.count(w) && is(i + 1, "(") && i > 0 &&
                 (t_[i - 1].kind == PUNCT || is(i - 1, "return") || is(i - 1, "case")) &&
                 !(is(i - 1, "::") || is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "~") ||
                   is(i - 1, ">") || is(i - 1, "<") || is(i - 1, "*") || is(i - 1, "&") ||
                   is(i - 1, "}") || is(i - 1, ";") || is(i - 1, "{") || is(i - 1, ")"))) {
        // `T(x)` with a template type parameter that may be a vector: MSL converts the value.
        // (After `;`, `{`, `}` or `)` it may begin a declaration, after `*`/`&` it may be one.)
        edit(tk.pos, tk.len, "::metal::__mb_make<" + w + ">");
        wrap_comparison(i + 1, &late);
      } else if (aliases.count(w) && is(i + 1, "(") &&
                 !(i > 0 && (is(i - 1, "operator") || is(i - 1, ".") || is(i - 1, "->") ||
                             is(i - 1, "::") || is(i - 1, "typedef") || is(i - 1, "using")))) {
        edit(tk.pos, tk.len, "::metal::__mb_make<" + w + ">");
        wrap_comparison(i + 1, &late);
      } else if (w == "vec" && is(i + 1, "<") &&
                 !(i > 0 && (is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "operator")))) {
        // vec<T, N>(...): the same value-converting constructor as float4(...).
        size_t close = i + 1;
        for (int depth = 0; close < t_.size(); ++close) {
          if (is(close, "(") && match_[close] >= 0) {
            close = (size_t)match_[close];
            continue;
          }
          if (is(close, "<")) ++depth;
          if (is(close, ">") && --depth == 0) break;
          if (is(close, ";") || is(close, "{")) break;
        }
        if (close < t_.size() && is(close, ">") && is(close + 1, "(")) {
          bool qualified = i > 0 && is(i - 1, "::");
          if (!qualified || (i > 1 && is(i - 2, "metal"))) {
            edit(tk.pos, tk.len,
                 qualified ? "__mb_make<::metal::vec" : "::metal::__mb_make<::metal::vec");
            edit(t_[close].pos + 1, 0, ">");
          }
        }
      } else if (w == "static_cast" && is(i + 1, "<") && is(i + 3, ">") &&
                 t_[i + 2].kind == IDENT && is(i + 4, "(") &&
                 (vector_type_names().count(txt(i + 2)) || !builtin_type_word(txt(i + 2)) ||
                  txt(i + 2) == "half" || txt(i + 2) == "bfloat")) {
        // A vector type, half/bfloat, or a name that may stand for one (a template parameter,
        // an alias): MSL converts values where clang would bitcast or refuse.
        edit(tk.pos, tk.len, "::metal::__mb_cast");
      }
    }
    for (auto& e : late) edits_.push_back(std::move(e));
  }

  // ---- output ----
  void apply_edits() {
    // Sorted by position; at one position, in the order made (insertions before replacements).
    for (size_t k = 0; k < edits_.size(); ++k) edits_[k].seq = k;
    std::sort(edits_.begin(), edits_.end(), [](const EditRec& a, const EditRec& b) {
      return a.pos != b.pos ? a.pos < b.pos : a.seq < b.seq;
    });
    std::string& o = out_->text;
    o.reserve(s_.size() + s_.size() / 8);
    size_t pos = 0;
    for (const auto& e : edits_) {
      if (e.pos < pos) continue;  // overlapping edit: the first wins
      o.append(s_, pos, e.pos - pos);
      if (e.repl.size() != e.len) {
        size_t ln = std::upper_bound(line_start_.begin(), line_start_.end(), e.pos) -
                    line_start_.begin() - 1;
        size_t out_ls = o.rfind('\n');
        int out_col = (int)(o.size() - (out_ls == std::string::npos ? 0 : out_ls + 1)) + 1;
        int in_col = (int)(e.pos - line_start_[ln]) + 1;
        out_->line_edits[(int)ln].push_back(
            {out_col, out_col + (int)e.repl.size(), in_col, in_col + (int)e.len});
      }
      o += e.repl;
      pos = e.pos + e.len;
    }
    o.append(s_, pos, std::string::npos);
    if (o.empty() || o.back() != '\n') o += '\n';
  }

  // Every name `fn` reaches through the names its body (and what those name) uses.
  std::set<std::string> reachable(const std::string& fn) const {
    std::set<std::string> seen;
    std::vector<std::string> work = {fn};
    while (!work.empty()) {
      std::string f = work.back();
      work.pop_back();
      if (!seen.insert(f).second) continue;
      auto it = body_idents_.find(f);
      if (it == body_idents_.end()) continue;
      for (const auto& w : it->second)
        if (!seen.count(w)) work.push_back(w);
    }
    return seen;
  }

  bool uses_sync(const std::string& fn) const {
    std::set<std::string> seen;
    std::vector<std::string> work = {fn};
    while (!work.empty()) {
      std::string f = work.back();
      work.pop_back();
      if (!seen.insert(f).second) continue;
      auto it = body_idents_.find(f);
      if (it == body_idents_.end()) continue;
      for (const auto& w : it->second) {
        if (is_sync_name(w)) return true;
        if (body_idents_.count(w)) work.push_back(w);
      }
    }
    return false;
  }

  // A sizeof() operand or attribute expression is usable outside the kernel when every name in
  // it is a builtin type word or declared at namespace scope (after template substitution).
  bool portable(const std::vector<std::string>& toks) const {
    for (const auto& w : toks)
      if (ident_start(w[0]) && !builtin_type_word(w) && !ns_idents_.count(w)) return false;
    return true;
  }

  static std::vector<std::string> substitute(const std::vector<std::string>& toks,
                                             const std::map<std::string, std::string>& m) {
    std::vector<std::string> r;
    for (const auto& w : toks) {
      auto it = m.find(w);
      // Values are parenthesised (precedence); types are not (`(float) [8]` is no type-id).
      bool value = it != m.end() && !it->second.empty() &&
                   (digit(it->second[0]) || it->second[0] == '-' || it->second[0] == '(');
      r.push_back(it == m.end() ? w : value ? "(" + it->second + ")" : it->second);
    }
    return r;
  }
  static std::string concat(const std::vector<std::string>& toks) {
    std::string r;
    for (const auto& w : toks) r += (r.empty() ? "" : " ") + w;
    return r;
  }
  static std::vector<std::string> tokens_of(const std::string& text) {
    std::vector<int> cols;
    std::vector<std::string> toks;
    lex_line(text, false, &cols, &toks);
    return toks;
  }

  void add_kernel(const KernelDef& def, const std::string& host, const std::string& expr,
                  const std::map<std::string, std::string>& subst, int line, int pre_col) {
    static const std::set<std::string> id_attrs = {"thread_position_in_grid",
                                                   "thread_position_in_threadgroup",
                                                   "threadgroup_position_in_grid",
                                                   "threads_per_threadgroup",
                                                   "threadgroups_per_grid",
                                                   "threads_per_grid",
                                                   "thread_index_in_threadgroup",
                                                   "thread_index_in_simdgroup",
                                                   "simdgroup_index_in_threadgroup",
                                                   "simdgroups_per_threadgroup",
                                                   "thread_execution_width",
                                                   "threads_per_simdgroup",
                                                   "dispatch_threads_per_threadgroup",
                                                   "quadgroup_index_in_threadgroup",
                                                   "thread_index_in_quadgroup",
                                                   "quadgroups_per_threadgroup",
                                                   "dispatch_simdgroups_per_threadgroup",
                                                   "dispatch_quadgroups_per_threadgroup"};
    for (const auto& k : out_->kernels)
      if (k.host_name == host) {
        out_->errors.push_back({line, pre_col, "a kernel named '" + host + "' is already defined"});
        return;
      }
    RwKernel k;
    k.host_name = host;
    k.expr = expr;
    k.line = line;
    for (size_t p = 0; p < def.params.size(); ++p) {
      std::string attr;
      uint32_t index = 0;
      for (const auto& a : def.params[p]) {
        if (a.name == "function_constant") continue;  // optional binding: bound or not at run time
        if (a.name == "buffer" || a.name == "threadgroup") {
          long v = -1;
          if (!eval_int(a.args, &v) || v < 0 || v >= 31) {
            out_->errors.push_back({def.line, def.pre_col,
                                    "kernel '" + host + "': [[" + a.name + "(" + a.args +
                                        ")]] needs an index from 0 to 30"});
            return;
          }
          index = (uint32_t)v;
          attr = a.name;
          (a.name == "buffer" ? k.buffer_mask : k.threadgroup_mask) |= 1u << index;
        } else if (id_attrs.count(a.name)) {
          attr = a.name;
        } else {
          out_->errors.push_back({def.line, def.pre_col,
                                  "kernel '" + host + "': parameter " + std::to_string(p + 1) +
                                      " has attribute [[" + a.name +
                                      "]], which the CPU backend does not support"});
          return;
        }
      }
      k.param_attrs.push_back(attr);
      k.param_index.push_back(index);
      k.param_constant.push_back(p < def.param_constant.size() && def.param_constant[p]);
    }
    // Parameters with no attribute are buffers: Metal gives them the free indices in order.
    for (size_t p = 0; p < k.param_attrs.size(); ++p) {
      if (!k.param_attrs[p].empty()) continue;
      uint32_t index = 0;
      while (index < 31 && (k.buffer_mask >> index & 1)) ++index;
      if (index == 31) {
        out_->errors.push_back({def.line, def.pre_col,
                                "kernel '" + host + "': parameter " + std::to_string(p + 1) +
                                    " has no [[buffer(n)]] and no buffer index is left"});
        return;
      }
      k.param_attrs[p] = "buffer";
      k.param_index[p] = index;
      k.buffer_mask |= 1u << index;
    }
    k.uses_sync = uses_sync(def.name);
    // The function constants this kernel reads (Metal resolves required constants per function).
    {
      std::set<std::string> names = reachable(def.name);
      for (const auto& [param, value] : subst)
        names.insert(value);  // constants as template arguments
      for (const auto& attrs : def.params)
        for (const auto& a : attrs)
          if (a.name == "function_constant")
            names.insert(a.args);  // an optional binding's condition
      for (const auto& c : out_->constants)
        if (names.count(c.name)) k.constants.push_back(c.index);
    }
    auto it = tg_vars_.find(def.name);
    if (it != tg_vars_.end())
      for (const auto& v : it->second) {
        auto toks = substitute(v.tokens, subst);
        if (portable(tokens_of(concat(toks)))) k.tg_sizes.push_back(concat(toks));
      }
    if (!def.max_threads.empty()) {
      auto toks = substitute(tokens_of(def.max_threads), subst);
      if (portable(toks)) k.max_threads_expr = concat(toks);
    }
    out_->kernels.push_back(k);
  }

  void build_kernels() {
    for (const auto& d : kernel_defs_)
      if (!d.is_template) add_kernel(d, d.name, d.qualified, {}, d.line, d.pre_col);
    for (const auto& inst : instances_) {
      const KernelDef* def = nullptr;
      for (const auto& d : kernel_defs_)
        if (d.is_template && d.name == inst.tmpl_name) def = &d;
      if (!def) {
        out_->errors.push_back({inst.line, inst.pre_col,
                                "'" + inst.host_name + "' instantiates '" + inst.tmpl_name +
                                    "', which is not a kernel template"});
        continue;
      }
      std::map<std::string, std::string> subst;
      for (size_t a = 0; a < def->tparams.size() && a < inst.targs.size(); ++a)
        subst[def->tparams[a]] = inst.targs[a];
      add_kernel(*def, inst.host_name, inst.expr, subst, inst.line, inst.pre_col);
    }
  }
};

}  // namespace

Rewritten rewrite_msl(const std::string& preprocessed, const std::string& original,
                      bool address_space_check) {
  Rewritten rw;
  Rewriter r(preprocessed, &rw, address_space_check);
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
  std::vector<int> pc, sc;
  std::vector<std::string> pt, st;
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

std::vector<std::string> format_errors(const Rewritten& rw, const std::string& source_name) {
  std::vector<std::string> out;
  for (const auto& e : rw.errors)
    out.push_back(source_name + ":" + std::to_string(e.line) + ":" +
                  std::to_string(rw.map_pre_column(e.line, e.pre_col)) + ": error: " + e.msg);
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
