// msl_declarations.cpp — the structural pass (see msl_rewriter.h): scopes, templates,
// namespace-scope constants and function constants, threadgroup variables, and the MSL
// attributes of kernels and their parameters spelled as clang annotations.
//
// What an attribute means is clang's to say: `kernel`, `[[kernel]]`,
// `[[max_total_threads_per_threadgroup(N)]]` (written before the name, between the return type
// and the name: the function's text stays plain C++ from its return type on), `[[buffer(N)]]`,
// `[[thread_position_in_grid]]`, ... become `__mb_msl(annotate("msl.NAME", ARGS))`, which the
// facts pass defines as
// `__attribute__((...))` (nothing elsewhere): clang attaches them to the declarations they belong
// to, instantiates them with each template specialisation and evaluates ARGS (template
// parameters, constexpr names, macros), and msl_ast.cpp reads the values back from its AST. A
// threadgroup declaration gets `__mb_msl_tg(N, sizeof(v)...)` before its `;`: for the facts pass a
// second declarator (a pointer, always declarable) annotated with the size of each variable, so
// clang evaluates the sizes where the variables are in scope. The tokens only locate: where a
// kernel candidate is and the C++ expression naming it (msl_kernels.cpp), where an attribute or
// a declared name is.
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

// Parses `[[a(x), b]]` at i; returns the index of the last `]`.
size_t Rewriter::parse_attrs(size_t i, Vec<Attr>* attrs) {
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

bool Rewriter::standard_attr(const std::string& n) {
  static const std::set<std::string> std_attrs = {
      "maybe_unused", "likely", "unlikely", "fallthrough", "nodiscard", "noreturn", "deprecated"};
  return std_attrs.count(n) || n.find("::") != std::string::npos;
}

void Rewriter::structural_pass() {
  bool pending_template = false;
  Vec<Attr> pending_attrs;  // namespace-scope attributes before a declaration
  for (size_t i = 0; i < t_.size(); ++i) {
    const Tok& tk = t_[i];
    if (tk.kind == IDENT) {
      std::string w = txt(i);
      if (w == "template" && !in_function()) {
        if (is(i + 1, "<")) {
          i = template_header(i + 1);
          pending_template = true;
        } else {
          i = explicit_instantiation(i);
        }
        continue;
      }
      if (w == "kernel" && (is(i + 1, "void") || is_attr_open(i + 1) || t_[i + 1].kind == IDENT) &&
          !in_function()) {
        blank(i, i);
        i = kernel(i + 1, pending_template, pending_attrs);
        pending_attrs.clear();
        continue;
      }
      if (w == "constant" && at_namespace_scope() && !in_parentheses(i)) {
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
      Vec<Attr> attrs;
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
        i = kernel(end + 1, pending_template, pending_attrs);
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

// Whether token i sits between an open `(` and its `)` (a parameter list: `const constant T&`
// there is a parameter, not a namespace-scope constant). Walks back over balanced groups to the
// statement's start.
bool Rewriter::in_parentheses(size_t i) const {
  for (size_t k = i; k-- > 0;) {
    if ((is(k, ")") || is(k, "]")) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "(")) return true;
    if (is(k, ";") || is(k, "{") || is(k, "}")) return false;
  }
  return false;
}

void Rewriter::open_scope(size_t i) {
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
    if (sc.name != "operator") fn_defs_.insert(sc.name);
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

// `template <...>` at i (the `<`): records its type parameters' names; returns the index of `>`.
size_t Rewriter::template_header(size_t i) {
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
      // A type parameter (not `int N`): casts to it may be vector conversions.
      if (!name.empty() && name != "typename" && name != "class" &&
          (is(part_start, "typename") || is(part_start, "class")))
        template_param_names_.insert(name);
      part_start = j + 1;
    }
    if (close && depth == 0) return j;
  }
  return t_.size() - 1;
}

// `template [[host_name("x")]] [[kernel]] decltype(f<T>) f<T>;` (or `... void f<T>(...);`, or
// `... kernel alias_t f<T>;`): a candidate kernel. The tokens locate the name it instantiates and
// the host_name argument; clang resolves the specialisation, says whether it is a kernel and
// evaluates the name (msl_ast.h).
size_t Rewriter::explicit_instantiation(size_t i) {
  size_t end = i + 1;
  while (end < t_.size() && !is(end, ";")) {
    if ((is(end, "(") || is(end, "[")) && match_[end] >= 0) end = (size_t)match_[end];
    ++end;
  }
  KernelDef cand;
  bool has_host = false;
  Vec<size_t> decl;  // declarator tokens (attributes and `kernel` removed)
  for (size_t k = i + 1; k < end; ++k) {
    if (is_attr_open(k)) {
      Vec<Attr> attrs;
      size_t e = parse_attrs(k, &attrs);
      for (const auto& a : attrs)
        if (a.name == "host_name") {
          has_host = true;
          cand.host_args = a.args;
        }
      blank(k, e);
      k = e;
      continue;
    }
    if (is(k, "kernel")) {  // the template's own `kernel` says it (clang: inherited)
      blank(k, k);
      continue;
    }
    decl.push_back(k);
  }
  if (!has_host) return end;
  cand.line = line(i);
  cand.pre_col = col(i);
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
  const std::string qualified = (expr.rfind("::", 0) == 0 ? "" : ns_prefix() + "::") + expr;
  if (lt == b && b > a && b < decl.size() && t_[decl[b - 1]].kind == IDENT &&
      match_[decl[b]] >= 0) {
    // `template [[host_name("x")]] [[kernel]] void f(const device float* in, ...);`: the
    // template arguments are deduced from the parameter types, so the specialisation is named
    // by converting the template's name to a pointer of exactly that signature.
    std::string params;
    for (size_t k = b + 1; k < decl.size() && decl[k] < (size_t)match_[decl[b]]; ++k)
      params += (params.empty() ? "" : " ") + txt(decl[k]);
    cand.qualified = "(*static_cast<void (*)(" + params + ")>(&" + qualified + "))";
    kernels_.push_back(cand);
    return end;
  }
  if (lt == b || lt == a) {
    error(i, "cannot read the kernel instantiated as [[host_name(" + cand.host_args + ")]]");
    return end;
  }
  cand.qualified = qualified;
  kernels_.push_back(cand);
  return end;
}

// After `kernel` / `[[kernel]]`: `[[attrs]]* RET NAME ( params ) [[attrs]]* {`. A definition is a
// candidate kernel (a template's are its instantiations); its attributes and its parameters'
// become annotations; `constant` parameters are annotated too (msl.constant: read-only for the
// dispatch). Whether it returns void is clang's to say.
size_t Rewriter::kernel(size_t i, bool is_template, const Vec<Attr>& pre_attrs) {
  KernelDef k;
  Vec<Attr> attrs = pre_attrs;
  while (is_attr_open(i)) {
    size_t e = parse_attrs(i, &attrs);
    blank(i, e);
    i = e + 1;
  }
  // The declarator's name: the identifier before the first `(` of the declaration.
  size_t open = i;
  while (open < t_.size() && !is(open, "(") && !is(open, ";") && !is(open, "{")) ++open;
  if (open >= t_.size() || !is(open, "(") || match_[open] < 0 || open == i ||
      t_[open - 1].kind != IDENT) {
    error(i, "cannot read this kernel declaration");
    return i;
  }
  const size_t name = open - 1;
  k.qualified = ns_prefix() + "::" + txt(name);
  k.line = line(name);
  k.pre_col = col(name);
  const size_t close = (size_t)match_[open];
  // Parameters: split at top-level commas.
  bool any = false, indirect = false, in_space = false;
  size_t param_start = open + 1;
  int angle = 0;
  for (size_t j = open + 1; j <= close; ++j) {
    if (j == close || (is(j, ",") && angle == 0)) {
      // Metal: a pointer or reference argument of a kernel names its address space.
      if (any && indirect && !in_space)
        error(param_start, "kernel '" + txt(name) +
                               "': a pointer or reference parameter must be declared in the "
                               "device, constant or threadgroup address space");
      any = indirect = in_space = false;
      param_start = j + 1;
      continue;
    }
    any = true;
    if (is(j, "constant") && angle == 0 && !indirect && !check_)
      edit(t_[j].pos + t_[j].len, 0, " __mb_msl(annotate(\"msl.constant\"))");
    if (address_space_word(txt(j))) in_space = true;
    if ((is(j, "*") || is(j, "&")) && angle == 0) indirect = true;
    if (is(j, "<")) ++angle;
    if (is(j, ">") && angle > 0) --angle;
    if (is_attr_open(j)) {
      Vec<Attr> attrs;
      size_t e = parse_attrs(j, &attrs);
      annotate_parameter(j, e, attrs);
      j = e;
    } else if (is(j, "(") && match_[j] >= 0) {
      j = (size_t)match_[j];
    }
  }
  size_t j = close + 1;
  while (is(j, "const") || is(j, "noexcept")) ++j;
  while (is_attr_open(j)) {
    size_t e = parse_attrs(j, &attrs);
    blank(j, e);
    j = e + 1;
  }
  // The attributes as annotations between the return type and the name, where they name the
  // function and keep its text (from the return type, through `(...)`, to its body) C++.
  std::string list = "annotate(\"msl.kernel\")";
  for (const auto& a : attrs) {
    if (a.name == "host_name") k.host_args = a.args;
    if (a.name == "max_total_threads_per_threadgroup" && !a.args.empty())
      list += ", annotate(\"msl.max_total_threads_per_threadgroup\", " + a.args + ")";
  }
  edit(t_[name].pos, 0, "__mb_msl(" + list + ") ");
  if (is(j, "{") && !is_template) kernels_.push_back(k);
  return close;  // the main loop then opens the body scope
}

// Replaces tokens [a, b] with `text`, on their first line; the lines they span stay lines (blank,
// padded so what follows the last keeps its column).
void Rewriter::spell(size_t a, size_t b, const std::string& text) {
  const size_t p = t_[a].pos, e = t_[b].pos + t_[b].len;
  std::string r = text;
  const size_t nl = s_.rfind('\n', e - 1);
  if (nl != std::string::npos && nl >= p) {
    for (size_t q = p; q < e; ++q)
      if (s_[q] == '\n') r += '\n';
    r += std::string(e - nl - 1, ' ');
  }
  // `tgpig[[threadgroup_position_in_grid]]`: a name must not run into the macro's.
  if (p > 0 && ident_char(s_[p - 1]) && !text.empty()) r = " " + r;
  edit(p, e - p, r);
  for (size_t k = a; k <= b; ++k) handled_[k] = true;
}

// A kernel parameter's `[[attrs]]` (tokens [a, b]) become `__mb_msl(annotate("msl.NAME", ARGS),
// ...)` (see the file comment): [[buffer(N)]], [[threadgroup(N)]], [[function_constant(c)]]
// with their argument, the position attributes without. An attribute the CPU backend does not
// know keeps its name only (`annotate("msl.stage_in")`), so the kernel is refused naming it
// (apply_kernel_facts); standard attributes (`[[maybe_unused]]`) are dropped.
void Rewriter::annotate_parameter(size_t a, size_t b, const Vec<Attr>& attrs) {
  std::string list;
  for (const auto& at : attrs) {
    if (standard_attr(at.name)) continue;
    const bool indexed =
        at.name == "buffer" || at.name == "threadgroup" || at.name == "function_constant";
    std::string name;
    for (char c : at.name)
      if (c != '"' && c != '\\') name += c;
    list += std::string(list.empty() ? "" : ", ") + "annotate(\"msl." + name + "\"" +
            (indexed && !at.args.empty() ? ", " + at.args : "") + ")";
  }
  if (list.empty())
    blank(a, b);
  else
    spell(a, b, "__mb_msl(" + list + ")");
}

// `constant T name [[function_constant(i)]];` or any other namespace-scope `constant` decl.
size_t Rewriter::namespace_constant(size_t i) {
  size_t end = i + 1;
  while (end < t_.size() && !is(end, ";")) {
    if ((is(end, "(") || is(end, "[") || is(end, "{")) && match_[end] >= 0)
      end = (size_t)match_[end];
    ++end;
  }
  for (size_t k = i + 1; k < end; ++k) {
    if (!is_attr_open(k)) continue;
    Vec<Attr> attrs;
    size_t e = parse_attrs(k, &attrs);
    for (const auto& a : attrs) {
      if (a.name != "function_constant") continue;
      // `static constant constexpr const bool x [[function_constant(0)]]` (MLX's STEEL_CONST):
      // `constant` becomes the one constexpr. The name, type and index are clang's to read
      // (msl_ast.h AstFacts::constants); the value converts to the declared type (the prelude's
      // __mb_fc, compiler.cpp), and __mb_fcd_NAME says whether it was given
      // (is_function_constant_defined).
      for (size_t q = i + 1; q + 1 < k; ++q)
        if (is(q, "constexpr")) blank(q, q);
      const std::string index = "(" + a.args + ")";
      edit(t_[i].pos, t_[i].len, "constexpr");
      handled_[i] = true;
      spell(k, e,
            "__mb_msl(annotate(\"msl.function_constant\", " + index + ")) = ::__mb_fc<" + index +
                ">{}");
      if (k > 0 && t_[k - 1].kind == IDENT && end < t_.size())
        edit(t_[end].pos + 1, 0,
             " constexpr bool __mb_fcd_" + txt(k - 1) + " = ::__mb_fc_bits<" + index +
                 ">::defined;");
      return end;
    }
    blank(k, e);
    k = e;
  }
  if (!check_) edit(t_[i].pos, t_[i].len, "const");  // the check keeps the constant space
  handled_[i] = true;
  return i;  // the rest of the declaration gets the ordinary token rewrites
}

// `threadgroup T name[N];` in a function: a per-worker static (see the file comment).
void Rewriter::threadgroup_decl(size_t i) {
  if (i == 0 || !(is(i - 1, ";") || is(i - 1, "{") || is(i - 1, "}") || is(i - 1, ":"))) return;
  size_t end = i + 1;
  while (end < t_.size() && !is(end, ";")) {
    if ((is(end, "(") || is(end, "[") || is(end, "{")) && match_[end] >= 0)
      end = (size_t)match_[end];
    ++end;
  }
  // Declarators split at top-level commas; a pointer or reference is no variable to share.
  Vec<std::pair<size_t, size_t>> parts;
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
  // Their sizes, as clang evaluates them (see the file comment; msl_ast.h KernelFacts).
  std::string sizes;
  for (size_t p = 0; p < parts.size(); ++p) {
    const size_t name = p == 0 ? type_end : parts[p].first;
    if (t_[name].kind == IDENT) sizes += ", sizeof(" + txt(name) + ")";
  }
  if (!sizes.empty() && !check_ && end < t_.size())
    edit(t_[end].pos, 0, " __mb_msl_tg(" + std::to_string(threadgroup_decls_++) + sizes + ")");
}

}  // namespace msl
}  // namespace mbcpu
