// msl_work_items.cpp — barrier kernels as work-item loops (see msl_work_items.h).
//
// Reads clang's text AST dump into a tree (one node a line; `<<<NULL>>>` marks an absent child of
// a `for`), finds each synchronising kernel's definition (the template pattern for a kernel
// template: one loop version serves every instantiation), and rebuilds its body as items:
//   Plain    statements without synchronisation: one loop over the group's threads
//   Barrier  threadgroup_barrier / simdgroup_barrier: the boundary between two loops
//   Collect  the collectives of one statement: per collective a deposit loop and a collect loop
//            (the statement itself opens the next Plain loop, reading each lane's result)
//   Matrix   a SIMD-group matrix load or store (one loop of its own, after every lane's earlier
//            statements) or multiply (a deposit loop of the operands, then a loop computing)
//   If/For/While/Do  with a synchronising body: a loop that evaluates the condition per thread
//            into a mask, then the body's items under that mask (a loop some `continue` goes on
//            with: under a copy of it, which the thread that continues leaves)
// Text comes from the rewritten library by the AST's locations (the .metal line maps to a line
// of the rewritten text; clang's columns are that line's), so the loops run the kernel's own
// statements, compiled in the kernel's own namespace and template.
#include "msl_work_items.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>

#include "msl_ast.h"
#include "msl_lex.h"
#include "msl_vocabulary.h"
#include "sorted_map.h"
#include "vec.h"

namespace mbcpu {

// ---- thread positions (shared with msl_entry.cpp's entry points) --------------------------------

std::string thread_id_expression(const std::string& attr, const std::string& type,
                                 const ThreadIdNames& n) {
  const std::string& G = n.group;
  auto id = [&](const std::string& x, const std::string& y, const std::string& z) {
    return "::metal::__mb_id<" + type + ">(" + x + ", " + y + ", " + z + ")";
  };
  auto id3 = [&](const std::string& field) {
    return "::metal::__mb_id3<" + type + ">(" + G + "." + field + ")";
  };
  if (attr == "thread_position_in_grid")
    return id(G + ".grid_origin[0] + " + n.x, G + ".grid_origin[1] + " + n.y,
              G + ".grid_origin[2] + " + n.z);
  if (attr == "thread_position_in_threadgroup") return id(n.x, n.y, n.z);
  if (attr == "threadgroup_position_in_grid") return id3("threadgroup_position_in_grid");
  if (attr == "threads_per_threadgroup") return id3("threads_per_threadgroup");
  if (attr == "dispatch_threads_per_threadgroup") return id3("dispatch_threads_per_threadgroup");
  if (attr == "threadgroups_per_grid") return id3("threadgroups_per_grid");
  if (attr == "threads_per_grid") return id3("threads_per_grid");
  if (attr == "thread_index_in_threadgroup") return id(n.li, "0", "0");
  if (attr == "thread_index_in_simdgroup") return id(n.li + " % 32u", "0", "0");
  if (attr == "simdgroup_index_in_threadgroup") return id(n.li + " / 32u", "0", "0");
  if (attr == "simdgroups_per_threadgroup" || attr == "dispatch_simdgroups_per_threadgroup")
    return id("(" + G + ".thread_count + 31u) / 32u", "0", "0");
  if (attr == "thread_execution_width" || attr == "threads_per_simdgroup")
    return id("32u", "0", "0");
  if (attr == "quadgroup_index_in_threadgroup") return id(n.li + " / 4u", "0", "0");
  if (attr == "thread_index_in_quadgroup") return id(n.li + " % 4u", "0", "0");
  if (attr == "quadgroups_per_threadgroup" || attr == "dispatch_quadgroups_per_threadgroup")
    return id("(" + G + ".thread_count + 3u) / 4u", "0", "0");
  return "";
}

bool per_thread_attribute(const std::string& attr) {
  return attr == "thread_position_in_grid" || attr == "thread_position_in_threadgroup" ||
         attr.find("index_in") != std::string::npos;
}

// The rest is internal; a named namespace keeps it apart from the other front-end files, which
// share one translation unit in the bridge's unity build.
namespace work_items {
namespace {

// ---- the dump as a tree -----------------------------------------------------------------------

// Locations are read by msl_ast's reader, the one for every pass over the dump.
using WiLoc = AstDumpLoc;
using WiLocReader = AstDumpLocReader;

struct WiNode {
  std::string kind;  // "NULL" for an absent child
  uint64_t addr = 0;
  WiLoc begin, end, loc;
  std::string rest;  // after the locations: names, types, flags
  int parent = -1;
  Vec<int> kids;
};

uint64_t hex_at(const std::string& s, size_t p) {
  if (s.compare(p, 2, "0x") != 0) return 0;
  return strtoull(s.c_str() + p + 2, nullptr, 16);
}

Vec<WiNode> read_tree(const std::string& dump) {
  Vec<WiNode> nodes;
  Vec<int> stack;  // the open node at each depth
  WiLocReader locs;
  size_t pos = 0;
  while (pos < dump.size()) {
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos) eol = dump.size();
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '|' || s[i] == '`' || s[i] == '-')) ++i;
    if (i >= s.size()) continue;
    const size_t depth = i / 2;
    WiNode n;
    if (s.compare(i, 10, "<<<NULL>>>") == 0) {
      n.kind = "NULL";
    } else {
      if (!isalpha((unsigned char)s[i])) continue;
      size_t k = s.find(' ', i);
      if (k == std::string::npos) k = s.size();
      n.kind = s.substr(i, k - i);
      i = k;
      if (s.compare(i, 3, " 0x") == 0) {
        n.addr = hex_at(s, i + 1);
        i = s.find(' ', i + 1);
        if (i == std::string::npos) i = s.size();
      }
      while (s.compare(i, 8, " parent ") == 0 || s.compare(i, 6, " prev ") == 0) {
        const size_t a = i + (s.compare(i, 6, " prev ") == 0 ? 6 : 8);
        i = s.find(' ', a);
        if (i == std::string::npos) i = s.size();
      }
      if (s.compare(i, 2, " <") == 0) {
        size_t p = i + 2;
        n.begin = locs.read(s, &p);
        if (s.compare(p, 2, ", ") == 0) {
          p += 2;
          n.end = locs.read(s, &p);
        } else {
          n.end = n.begin;
        }
        if (p < s.size() && s[p] == '>') ++p;
        i = p;
        if (i < s.size() && s[i] == ' ' && n.kind.size() > 4 &&
            n.kind.compare(n.kind.size() - 4, 4, "Decl") == 0) {
          size_t q = i + 1;
          n.loc = locs.read(s, &q);
          if (n.loc.valid || s.compare(i + 1, 14, "<invalid sloc>") == 0) i = q;
        }
      }
      n.rest = i < s.size() ? s.substr(i) : std::string();
    }
    while (stack.size() > depth) stack.pop_back();
    n.parent = stack.empty() ? -1 : stack.back();
    const int index = (int)nodes.size();
    if (n.parent >= 0) nodes[n.parent].kids.push_back(index);
    nodes.push_back(std::move(n));
    while (stack.size() < depth) stack.push_back(stack.empty() ? -1 : stack.back());
    stack.push_back(index);
  }
  return nodes;
}

// The first quoted string of `rest` (a declaration's or expression's type as printed).
std::string first_quoted(const std::string& rest) {
  const size_t q = rest.find('\'');
  if (q == std::string::npos) return "";
  const size_t e = rest.find('\'', q + 1);
  return e == std::string::npos ? "" : rest.substr(q + 1, e - q - 1);
}

// A declaration's name: the word before its type.
std::string decl_name(const std::string& rest) {
  size_t end = rest.find('\'');
  if (end == std::string::npos) end = rest.size();
  while (end > 0 && rest[end - 1] == ' ') --end;
  size_t b = end;
  while (b > 0 && rest[b - 1] != ' ') --b;
  return rest.substr(b, end - b);
}

// What a reference expression names: the declaration's kind word, address and name.
struct WiRef {
  std::string kind, name;
  uint64_t addr = 0;
};

WiRef referenced(const WiNode& n) {
  WiRef r;
  const std::string& s = n.rest;
  if (n.kind == "DeclRefExpr") {
    // ... lvalue Var 0x55a1 'm' 'float'  /  Function 0x55a1 'exp' 'float (float)'
    size_t a = s.find(" 0x");
    if (a == std::string::npos) return r;
    size_t k = s.rfind(' ', a - 1);
    r.kind = s.substr(k + 1, a - k - 1);
    r.addr = hex_at(s, a + 1);
    size_t q = s.find('\'', a);
    if (q != std::string::npos) {
      size_t e = s.find('\'', q + 1);
      if (e != std::string::npos) r.name = s.substr(q + 1, e - q - 1);
    }
    return r;
  }
  if (n.kind == "UnresolvedLookupExpr") {
    size_t q = s.find("= '");
    if (q == std::string::npos) return r;
    size_t e = s.find('\'', q + 3);
    if (e != std::string::npos) r.name = s.substr(q + 3, e - q - 3);
    r.kind = "Unresolved";
    return r;
  }
  if (n.kind == "MemberExpr" || n.kind == "UnresolvedMemberExpr" ||
      n.kind == "CXXDependentScopeMemberExpr") {
    // Skip the quoted types, then `.name` or `->name`.
    size_t p = 0;
    bool quoted = false;
    for (; p < s.size(); ++p) {
      if (s[p] == '\'') quoted = !quoted;
      if (quoted) continue;
      if (s[p] == ' ' && p + 1 < s.size() && (s[p + 1] == '.' || s.compare(p + 1, 2, "->") == 0))
        break;
    }
    if (p >= s.size()) return r;
    p += s[p + 1] == '.' ? 2 : 3;
    size_t e = p;
    while (e < s.size() && s[e] != ' ') ++e;
    r.name = s.substr(p, e - p);
    r.kind = "Member";
    if (s.compare(e, 3, " 0x") == 0) r.addr = hex_at(s, e + 1);
  }
  return r;
}

bool is_reference_kind(const std::string& k) {
  return k == "DeclRefExpr" || k == "UnresolvedLookupExpr" || k == "MemberExpr" ||
         k == "UnresolvedMemberExpr" || k == "CXXDependentScopeMemberExpr";
}

bool is_function_kind(const std::string& k) {
  return k == "FunctionDecl" || k == "CXXMethodDecl" || k == "CXXConstructorDecl" ||
         k == "CXXDestructorDecl" || k == "CXXConversionDecl";
}

bool is_barrier_name(const std::string& n) {
  return n == "threadgroup_barrier" || n == "simdgroup_barrier";
}

// Collectives whose result the loops cannot carry: they share work out by thread index in ways
// the deposit/collect split does not model (a tensor operation's lanes cooperate inside the
// compatibility header).
bool is_opaque_collective(const std::string& n) {
  return n == "matmul2d" || n == "cooperative_tensor" || n.rfind("execution_simdgroup", 0) == 0 ||
         n == "__metal_get_thread_index_in_simdgroup";
}

// SIMD-group matrix operations: collectives that return nothing and write through their first
// argument (a load, a multiply) or to memory (a store). Each is a statement of its own, run as
// its own loops (WiItem::Matrix).
bool is_matrix_operation(const std::string& n) {
  return n == "simdgroup_load" || n == "simdgroup_store" || n == "simdgroup_multiply_accumulate" ||
         n == "simdgroup_multiply";
}
// The multiplies read every lane's operands: a deposit loop, then a collect loop that computes.
// Loads and stores touch only the lane's own elements once the lanes' earlier statements are
// done: one loop of their own.
bool is_matrix_multiply(const std::string& n) {
  return n == "simdgroup_multiply_accumulate" || n == "simdgroup_multiply";
}
// The names of the 8x8 matrix type: spelled in a kernel body, harmless in loops whose threads
// set __mb_tid (the diagonal constructor reads the lane).
bool is_matrix_type(const std::string& n) {
  return n == "simdgroup_matrix" ||
         (n.rfind("simdgroup_", 0) == 0 && n.size() > 13 && n.compare(n.size() - 3, 3, "8x8") == 0);
}

// ---- one kernel
// -----------------------------------------------------------------------------------

struct WiPiece {
  int node = -1;
  Vec<int> calls;        // collectives of this statement, read from result areas
  Vec<int> group_calls;  // group-function calls, read from __mb_rID
  Vec<int> group_ids;    // per group-function call, its ID
};

struct WiItem {
  // Call: a call of a library function that synchronises, run as its group function.
  // Matrix: a statement that is one SIMD-group matrix operation (is_matrix_operation).
  enum Kind { Plain, Barrier, Collect, Call, Matrix, If, For, While, Do } kind = Plain;
  Vec<WiPiece> pieces;  // Plain
  Vec<int> calls;       // Collect
  int node = -1;        // the statement (Barrier, If, loops)
  bool simd_barrier = false;
  int cond = -1, init = -1, inc = -1;
  Vec<WiItem> a, b;  // If: then / else; loops: body
  int id = 0;
  std::string group;  // Call: the group function's name in the callee expression's spelling
  Vec<int> loops;     // its thread loops' ids, in emission order (KernelLoops::number_loops)
};

constexpr size_t kMaxResultAreas = 4;  // collectives in one statement (kernel_module.h)

// Asks for the group function of the library function named `name` (generating it first, with
// its callees', when it is not yet): true with its name, or false with why it cannot be one.
// A reference to the generator, which outlives every KernelLoops given it; not a std::function,
// whose <functional> would be the bridge's only reason to parse that header (~0.2 s of every
// first build).
class GroupRequest {
 public:
  GroupRequest() = default;
  template <class Generator>
  explicit GroupRequest(Generator* generator)
      : generator_(generator),
        call_([](void* g, const std::string& name, std::string* group, std::string* why) {
          return (*static_cast<Generator*>(g))(name, group, why);
        }) {}
  bool operator()(const std::string& name, std::string* group, std::string* why) const {
    return call_(generator_, name, group, why);
  }

 private:
  void* generator_ = nullptr;
  bool (*call_)(void*, const std::string&, std::string*, std::string*) = nullptr;
};

// Group functions are named by prefixing the callee's name; the pack function (which evaluates
// one thread's arguments) likewise.
constexpr const char* kGroupPrefix = "__mb_wi_g_";
constexpr const char* kPackPrefix = "__mb_wi_pk_";

class KernelLoops {
 public:
  KernelLoops(const Vec<WiNode>& t, const Rewritten& rw, const Vec<size_t>& line_start,
              const std::set<std::string>& sync_fns, bool ctor_sync,
              const std::set<uint64_t>& library_fns, GroupRequest request)
      : t_(t),
        rw_(rw),
        line_start_(line_start),
        sync_fns_(sync_fns),
        ctor_sync_(ctor_sync),
        library_fns_(library_fns),
        request_(request) {}

  // The loop version of definition `fn` (a FunctionDecl with a body), named `new_name`;
  // "" with reason() set when the kernel is outside the covered subset.
  std::string generate(int fn, const RwKernel& k, const std::string& new_name,
                       const std::string& template_header, const std::string& namespaces_open,
                       const std::string& namespaces_close);
  // The group version of library function `fn` (a FunctionDecl with a body: a template's
  // pattern or a plain function), named kGroupPrefix + its name, preceded by its pack function.
  std::string generate_group(int fn, const std::string& template_header,
                             const std::string& namespaces_open,
                             const std::string& namespaces_close);
  const std::string& reason() const { return reason_; }

 private:
  const Vec<WiNode>& t_;
  const Rewritten& rw_;
  const Vec<size_t>& line_start_;
  const std::set<std::string>& sync_fns_;
  bool ctor_sync_;
  const std::set<uint64_t>& library_fns_;
  GroupRequest request_;
  std::string reason_;
  SortedMap<int, bool> sync_memo_;
  int next_id_ = 0;

  // Analysis results.
  std::set<int> split_nodes_;             // statements turned into loops of loops
  SortedMap<int, Vec<int>> piece_loops_;  // piece root -> loop ids
  int next_loop_ = 0;
  struct Var {
    std::string name, type;
    int decl = -1;       // VarDecl node
    int loop = -1;       // declaring loop
    bool root = false;   // declared by its piece's own DeclStmt (in scope to the loop's end)
    std::set<int> used;  // loops referencing it
    int slot = -1;
  };
  SortedMap<uint64_t, Var> vars_;
  SortedMap<uint64_t, int> params_;                 // per-thread ParmVarDecl addr -> param index
  SortedMap<int, std::set<uint64_t>> loop_params_;  // loop -> per-thread params it reads
  Vec<int> hoisted_;                                // statements emitted once, at function scope
  Vec<std::string> param_names_;
  Vec<std::string> param_attrs_;
  bool collectives_ = false;
  // SIMD-group matrices: every loop sets __mb_tid (what the matrix constructors read).
  bool matrices_ = false;
  // Group mode (generate_group): every parameter is per thread, read from the thread's pack.
  bool group_mode_ = false;
  SortedMap<uint64_t, int> pack_params_;  // ParmVarDecl addr -> parameter index
  int next_call_ = 0;                     // group-function calls (__mb_rN, __mb_aN)

  bool fail(const std::string& why) {
    if (reason_.empty()) reason_ = why;
    return false;
  }
  int line_of(int n) const { return t_[n].begin.line; }

  // ---- text ----
  size_t offset(const WiLoc& l) const {
    if (!l.valid || !l.in_source || l.col < 1) return std::string::npos;
    auto it = rw_.text_line_of.find(l.line);
    if (it == rw_.text_line_of.end() || (size_t)it->second >= line_start_.size())
      return std::string::npos;
    return line_start_[it->second] + (size_t)(l.col - 1);
  }
  size_t token_end(size_t at) const {
    if (at == std::string::npos || at >= rw_.text.size()) return std::string::npos;
    Kind kind;
    const size_t n = lex_one(rw_.text, at, &kind);
    if (n == 0) return std::string::npos;
    if (kind == PUNCT) {  // lex_one splits multi-character operators
      for (const char* op :
           {"<<=", ">>=", "->*", "...", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&",
            "||",  "+=",  "-=",  "*=",  "/=", "%=", "&=", "|=", "^=", ".*", "->", "::"})
        if (rw_.text.compare(at, strlen(op), op) == 0) return at + strlen(op);
    }
    return at + n;
  }
  size_t skip_space(size_t p) const {
    const std::string& s = rw_.text;
    while (p < s.size()) {
      if (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r') {
        ++p;
      } else if (s.compare(p, 2, "//") == 0) {
        p = s.find('\n', p);
        if (p == std::string::npos) return s.size();
      } else if (s.compare(p, 2, "/*") == 0) {
        p = s.find("*/", p + 2);
        if (p == std::string::npos) return s.size();
        p += 2;
      } else {
        break;
      }
    }
    return p;
  }
  // [begin, end) of statement `n` in the rewritten text, its `;` included.
  bool stmt_range(int n, size_t* b, size_t* e) const {
    *b = offset(t_[n].begin);
    if (*b == std::string::npos) *b = declaration_start(n);
    size_t end = token_end(offset(t_[n].end));
    if (*b != std::string::npos && end == std::string::npos) end = simple_statement_end(n, *b);
    if (*b == std::string::npos || end == std::string::npos || end <= *b) return false;
    if (t_[n].kind != "CompoundStmt") {
      const size_t p = skip_space(end);
      if (p < rw_.text.size() && rw_.text[p] == ';' && rw_.text[end - 1] != ';') end = p + 1;
    }
    *e = end;
    return true;
  }
  // The start of a declaration in a compound statement whose first token comes from a macro
  // (`constant float* p = ...;`, `constant` expanding to `const`): after the statement before
  // it, or the compound's `{`.
  size_t declaration_start(int n) const {
    const int parent = t_[n].parent;
    if (t_[n].kind != "DeclStmt" || parent < 0 || t_[parent].kind != "CompoundStmt")
      return std::string::npos;
    const Vec<int>& kids = t_[parent].kids;
    const auto at = std::find(kids.begin(), kids.end(), n);
    size_t from = std::string::npos;
    if (at == kids.begin()) {
      const size_t open = offset(t_[parent].begin);
      if (open != std::string::npos && rw_.text[open] == '{') from = open + 1;
    } else {
      size_t pb, pe;
      if (stmt_range(*(at - 1), &pb, &pe)) from = pe;
    }
    return from == std::string::npos ? from : skip_space(from);
  }
  // The end (after its `;`) of an element of a compound statement that holds no statement
  // (a declaration, an expression, a return) whose last token comes from a macro (`-FLT_MAX`):
  // the first `;` outside brackets.
  size_t simple_statement_end(int n, size_t b) const {
    const std::string& k = t_[n].kind;
    const int parent = t_[n].parent;
    if (parent < 0 || t_[parent].kind != "CompoundStmt" || k == "CompoundStmt" || k == "IfStmt" ||
        k == "ForStmt" || k == "WhileStmt" || k == "DoStmt" || k == "SwitchStmt" ||
        k == "CXXForRangeStmt" || k == "AttributedStmt" || k.find("Label") != std::string::npos ||
        k == "CaseStmt" || k == "DefaultStmt")
      return std::string::npos;
    int depth = 0;
    for (size_t p = b; p < rw_.text.size();) {
      Kind kind;
      const size_t len = lex_one(rw_.text, p, &kind);
      if (len == 0) break;
      const char c = rw_.text[p];
      if (kind == PUNCT && (c == '(' || c == '[' || c == '{')) ++depth;
      if (kind == PUNCT && (c == ')' || c == ']' || c == '}') && --depth < 0) break;
      if (kind == PUNCT && c == ';' && depth == 0) return p + 1;
      if (kind == PUNCT && c == '#') break;  // a line marker: not this statement's text
      p += len;
    }
    return std::string::npos;
  }
  bool expr_range(int n, size_t* b, size_t* e) const {
    *b = offset(t_[n].begin);
    *e = token_end(offset(t_[n].end));
    return *b != std::string::npos && *e != std::string::npos && *e > *b;
  }
  // Text of [b, e) with replacements applied; line markers become blank lines.
  struct Edit {
    size_t b, e;
    std::string with;
  };
  std::string text(size_t b, size_t e, Vec<Edit> edits) const {
    std::sort(edits.begin(), edits.end(), [](const Edit& x, const Edit& y) { return x.b < y.b; });
    std::string out;
    size_t p = b;
    for (const auto& ed : edits) {
      if (ed.b < p || ed.e > e) continue;
      out += rw_.text.substr(p, ed.b - p);
      out += ed.with;
      p = ed.e;
    }
    out += rw_.text.substr(p, e - p);
    // `# 120 "@src"` markers clang -E leaves inside long bodies would renumber what follows.
    for (size_t q = 0; q < out.size();) {
      size_t eol = out.find('\n', q);
      if (eol == std::string::npos) eol = out.size();
      size_t f = out.find_first_not_of(" \t", q);
      if (f < eol && out[f] == '#') out.replace(f, eol - f, std::string(eol - f, ' '));
      q = eol + 1;
    }
    return out;
  }

  // ---- synchronisation ----
  bool names_sync(const std::string& name) const {
    return is_sync_name(name) || sync_fns_.count(name) != 0;
  }
  // A reference to a function that synchronises (a variable that happens to be named like one,
  // `simdgroup_total`, is not).
  bool sync_reference(int n) const {
    if (!is_reference_kind(t_[n].kind)) return false;
    const WiRef r = referenced(t_[n]);
    if (r.kind == "Var" || r.kind == "ParmVar" || r.kind == "Field" || r.kind == "Binding")
      return false;
    return names_sync(r.name);
  }
  // A call of a library function that synchronises (run as its group function), rather than a
  // barrier or collective of the compatibility header.
  bool library_sync_name(const std::string& name) const { return sync_fns_.count(name) != 0; }
  bool has_sync(int n) {
    auto it = sync_memo_.find(n);
    if (it != sync_memo_.end()) return it->second;
    const WiNode& node = t_[n];
    bool s = sync_reference(n);
    if (ctor_sync_ && (node.kind == "CXXConstructExpr" || node.kind == "CXXTemporaryObjectExpr"))
      s = true;
    for (int k : node.kids)
      if (!s && t_[k].kind != "NULL") s = has_sync(k);
    return sync_memo_[n] = s;
  }
  // The name a call expression calls ("" when it is not a named function).
  std::string callee(int call) const {
    if (t_[call].kids.empty()) return "";
    Vec<int> work = {t_[call].kids[0]};
    while (!work.empty()) {
      int n = work.back();
      work.pop_back();
      if (is_reference_kind(t_[n].kind)) return referenced(t_[n]).name;
      for (int k : t_[n].kids) work.push_back(k);
    }
    return "";
  }
  template <class F>
  void walk(int n, F&& f) const {
    if (n < 0 || t_[n].kind == "NULL") return;
    f(n);
    for (int k : t_[n].kids) walk(k, f);
  }
  bool is_ancestor(int a, int n) const {
    for (; n >= 0; n = t_[n].parent)
      if (n == a) return true;
    return false;
  }

  // Arguments evaluated once more in the loops: only values, no writes and no calls into the
  // library's own functions (which could write memory) or atomics.
  bool pure(int n) {
    bool ok = true;
    walk(n, [&](int m) {
      const WiNode& x = t_[m];
      if (x.kind == "CompoundAssignOperator" || x.kind == "LambdaExpr" || x.kind == "StmtExpr")
        ok = false;
      if (x.kind == "BinaryOperator" && x.rest.find("'='") != std::string::npos) ok = false;
      if (x.kind == "UnaryOperator" &&
          (x.rest.find("'++'") != std::string::npos || x.rest.find("'--'") != std::string::npos))
        ok = false;
      if (is_reference_kind(x.kind)) {
        const WiRef r = referenced(x);
        if (r.name.find("atomic") != std::string::npos) ok = false;
        if ((r.kind == "Function" || r.kind == "CXXMethod" || r.kind == "Member") &&
            library_fns_.count(r.addr))
          ok = false;
        if (r.kind == "Unresolved" || x.kind == "UnresolvedMemberExpr" ||
            x.kind == "CXXDependentScopeMemberExpr")
          ok = false;  // resolved per instantiation: cannot tell here
      }
    });
    return ok;
  }

  // ---- structure ----
  bool build_block(const Vec<int>& stmts, Vec<WiItem>* out);
  bool build_stmt(int s, Vec<WiItem>* out);
  // The collectives of synchronising statement `s` (`calls`) and its calls of group functions
  // (`groups`: Call items, their ids not yet given), or false with why not.
  bool collective_statement(int s, Vec<int>* calls, Vec<WiItem>* groups);
  void number_loops(Vec<WiItem>& items);
  void add_piece(int root, int loop) { piece_loops_[root].push_back(loop); }
  bool analyse_uses(int body);
  // A reference to a variable that only reads its value.
  bool read_only_use(int ref) const {
    const int p = t_[ref].parent;
    if (p < 0) return false;
    auto is_read = [&](int n) {
      return n >= 0 && t_[n].kind == "ImplicitCastExpr" &&
             t_[n].rest.find("<LValueToRValue>") != std::string::npos;
    };
    if (is_read(p)) return true;
    if ((t_[p].kind == "ExtVectorElementExpr" || t_[p].kind == "MemberExpr") &&
        is_read(t_[p].parent))
      return true;
    return first_quoted(t_[ref].rest).rfind("const ", 0) == 0;  // declared const
  }
  // In every instantiation of template definition `fn`, the thread-position parameters are
  // only read.
  bool instantiations_read_only(int fn);

  // The checks and analyses shared by kernels and group functions, up to the hoisted
  // declarations; then the code of the prepared body.
  bool prepare(int fn, int body, Vec<WiItem>* items, std::string* hoisted);
  // Adds the names `items` split at (barriers, collectives, group-function calls, nested ones
  // too) to `names`.
  void split_callees(const Vec<WiItem>& items, std::set<std::string>* names) const {
    for (const auto& it : items) {
      if (it.kind == WiItem::Barrier || it.kind == WiItem::Call) names->insert(callee(it.node));
      for (int c : it.calls) names->insert(callee(c));
      split_callees(it.a, names);
      split_callees(it.b, names);
    }
  }
  std::string body_code(const Vec<WiItem>& items, const std::string& mask);

  // ---- emission ----
  std::string loop(int loop, const std::string& mask, const std::string& skip,
                   const std::string& body, bool set_tid);
  // What a thread loop's body starts with: the thread's parameters and kept variables it reads.
  std::string prologue(int loop);
  // The callee expression of `call` with `prefix` before the callee's name.
  std::string callee_named(int call, const char* prefix) const;
  // Per group-function call, at function scope: the lambda that evaluates a thread's arguments
  // (__mb_aN; everything it reads is at function scope: parameters, kept copies, statics) and
  // the threads' values (__mb_rN).
  std::string call_setup(const Vec<WiItem>& items);
  std::string emit(const Vec<WiItem>& items, const std::string& mask);
  // emit() under a mask of the masks_ chain (a thread that returns leaves every one of them).
  std::string masked_emit(const Vec<WiItem>& items, const std::string& mask, int owner = -1) {
    masks_.push_back(mask);
    mask_owners_.push_back(owner);
    std::string g = emit(items, mask);
    masks_.pop_back();
    mask_owners_.pop_back();
    return g;
  }
  // Some `return` comes before a barrier or collective: each thread's liveness is kept in
  // __mb_live, the outermost mask, and a thread that returns leaves it and every inner mask.
  bool early_returns_ = false;
  Vec<std::string> masks_;  // the masks of the statements being emitted, outermost first
  Vec<int> mask_owners_;    // per mask, the split loop it is the mask of (else -1)
  // The split loop a `break` leaves (-1: a loop or switch inside its piece, left as written).
  int split_break_target(int brk) const {
    int p = t_[brk].parent;
    while (p >= 0 && t_[p].kind != "ForStmt" && t_[p].kind != "WhileStmt" &&
           t_[p].kind != "DoStmt" && t_[p].kind != "SwitchStmt")
      p = t_[p].parent;
    return p >= 0 && split_nodes_.count(p) ? p : -1;
  }
  // The split loop a `continue` goes on with (-1: a loop inside its piece, left as written).
  int split_continue_target(int cont) const {
    int p = t_[cont].parent;
    while (p >= 0 && t_[p].kind != "ForStmt" && t_[p].kind != "WhileStmt" && t_[p].kind != "DoStmt")
      p = t_[p].parent;
    return p >= 0 && split_nodes_.count(p) ? p : -1;
  }
  // Split loops some `continue` goes on with: their bodies run under a mask of their own
  // (__mb_mIDe), which a thread that continues leaves until the loop's next condition.
  std::set<int> continued_;
  std::string piece_text(const WiPiece& p, int loop, std::string* saves);
};

bool KernelLoops::collective_statement(int s, Vec<int>* calls, Vec<WiItem>* groups) {
  const WiNode& st = t_[s];
  const bool decl = st.kind == "DeclStmt";
  const bool ret = st.kind == "ReturnStmt";
  const bool expr = st.kind.size() > 4 && (st.kind.rfind("Expr") == st.kind.size() - 4 ||
                                           st.kind.rfind("Operator") == st.kind.size() - 8 ||
                                           st.kind == "ExprWithCleanups");
  if (!decl && !expr && !ret)
    return fail("a barrier or SIMD-group function inside a " + st.kind + " (line " +
                std::to_string(line_of(s)) + ")");
  if (decl)
    for (int k : st.kids)
      if (t_[k].kind != "VarDecl" || t_[k].rest.find(" static") != std::string::npos)
        return fail("a SIMD-group function initialising a static or non-variable (line " +
                    std::to_string(line_of(s)) + ")");
  bool ok = true;
  Vec<int> group_calls;
  walk(s, [&](int m) {
    if (!ok || !sync_reference(m)) return;
    const std::string name = referenced(t_[m]).name;
    // The reference must be the callee of a call (through implicit casts).
    int call = t_[m].parent;
    while (call >= 0 && (t_[call].kind == "ImplicitCastExpr" || t_[call].kind == "ParenExpr"))
      call = t_[call].parent;
    // (A method's call reaches the refusal of methods below.)
    if (call < 0 || (t_[call].kind != "CallExpr" && t_[call].kind != "CXXMemberCallExpr") ||
        t_[call].kids.empty() || !is_ancestor(t_[call].kids[0], m)) {
      ok = fail("'" + name + "' used other than as a call (line " + std::to_string(line_of(s)) +
                ")");
      return;
    }
    const bool library = library_sync_name(name);
    if (!library && is_matrix_operation(name)) {
      ok = fail("'" + name + "' other than as a statement of its own (line " +
                std::to_string(line_of(s)) + ")");
      return;
    }
    if (!library && is_opaque_collective(name)) {
      ok = fail("'" + name +
                "', whose lanes cooperate inside the compatibility header: the loops cannot "
                "split it (line " +
                std::to_string(line_of(s)) + ")");
      return;
    }
    if (!library && (!is_sync_name(name) || is_barrier_name(name))) {
      ok = fail("a call to '" + name + "' inside an expression (line " +
                std::to_string(line_of(s)) + ")");
      return;
    }
    if (library && t_[m].kind != "DeclRefExpr" && t_[m].kind != "UnresolvedLookupExpr") {
      ok = fail("a call to method '" + name +
                "' that synchronises: group functions are free functions only (line " +
                std::to_string(line_of(s)) + ")");
      return;
    }
    if (!library && first_quoted(t_[call].rest) == "void") {
      ok = fail("'" + name + "' returns nothing (line " + std::to_string(line_of(s)) + ")");
      return;
    }
    for (size_t a = 1; a < t_[call].kids.size(); ++a) {
      const int arg = t_[call].kids[a];
      if (t_[arg].kind == "CXXDefaultArgExpr") continue;
      // A collective's arguments are evaluated again by its loops; a group function's once,
      // before the rest of the statement (as in a thread, for the operands below).
      if (has_sync(arg) || (!library && !pure(arg))) {
        ok = fail("the arguments of '" + name + "' are not plain values (line " +
                  std::to_string(line_of(s)) + ")");
        return;
      }
    }
    // Evaluated by every lane: not under ?:, && or || within the statement.
    for (int p = t_[call].parent; p >= 0 && p != s; p = t_[p].parent) {
      const WiNode& x = t_[p];
      if (x.kind == "ConditionalOperator" || x.kind == "BinaryConditionalOperator" ||
          (x.kind == "BinaryOperator" &&
           (x.rest.find("'&&'") != std::string::npos || x.rest.find("'||'") != std::string::npos ||
            x.rest.find("','") != std::string::npos))) {
        ok = fail("'" + name + "' evaluated conditionally (line " + std::to_string(line_of(s)) +
                  ")");
        return;
      }
    }
    size_t b, e;
    if (!expr_range(call, &b, &e) || !expr_range(t_[call].kids[0], &b, &e)) {
      ok = fail("'" + name + "' spelled through a macro (line " + std::to_string(line_of(s)) + ")");
      return;
    }
    if (library) {
      std::string group, why;
      if (!request_(name, &group, &why)) {
        ok = fail("'" + name + "' as a group function: " + why);
        return;
      }
      WiItem c;  // its id is the caller's to give
      c.kind = WiItem::Call;
      c.node = call;
      c.group = group;
      groups->push_back(c);
      group_calls.push_back(call);
    } else {
      calls->push_back(call);
    }
  });
  if (!ok) return false;
  if (calls->empty() && groups->empty())
    return fail("a synchronising statement (line " + std::to_string(line_of(s)) + ")");
  if (calls->size() > kMaxResultAreas)
    return fail("more than " + std::to_string(kMaxResultAreas) +
                " SIMD-group functions in one statement (line " + std::to_string(line_of(s)) + ")");
  if (!groups->empty()) {
    // The group functions run before the rest of the statement: what the rest does must not
    // be something their arguments could see (only the statement's own assignment writes).
    std::set<int> inside(group_calls.begin(), group_calls.end());
    Vec<int> work = {s};
    int top = s;
    while (t_[top].kind == "ExprWithCleanups" && !t_[top].kids.empty()) top = t_[top].kids[0];
    while (!work.empty()) {
      const int n = work.back();
      work.pop_back();
      if (n < 0 || t_[n].kind == "NULL" || inside.count(n)) continue;
      const WiNode& x = t_[n];
      const bool assigns = x.kind == "CompoundAssignOperator" ||
                           (x.kind == "BinaryOperator" && x.rest.find("'='") != std::string::npos);
      const bool steps = x.kind == "UnaryOperator" && (x.rest.find("'++'") != std::string::npos ||
                                                       x.rest.find("'--'") != std::string::npos);
      bool calls_library = false;
      if (is_reference_kind(x.kind)) {
        const WiRef r = referenced(x);
        calls_library = r.name.find("atomic") != std::string::npos ||
                        ((r.kind == "Function" || r.kind == "CXXMethod" || r.kind == "Member") &&
                         library_fns_.count(r.addr));
      }
      if ((assigns && n != top) || steps || calls_library || x.kind == "LambdaExpr")
        return fail(
            "a statement that writes beside its call of a function that synchronises "
            "(line " +
            std::to_string(line_of(s)) + ")");
      for (int k : x.kids) work.push_back(k);
    }
  }
  // A statement that declares a variable with a collective inside another collective's
  // arguments was refused above (has_sync of the arguments).
  return true;
}

bool KernelLoops::build_stmt(int s, Vec<WiItem>* out) {
  const WiNode& st = t_[s];
  {
    size_t b, e;  // every statement is copied by its range in the rewritten text
    if (!stmt_range(s, &b, &e))
      return fail("a statement spelled through a macro (line " + std::to_string(line_of(s)) + ")");
  }
  if (!has_sync(s)) {
    if (out->empty() || out->back().kind != WiItem::Plain) out->push_back(WiItem{});
    out->back().pieces.push_back({s, {}});
    return true;
  }
  const std::string line = std::to_string(line_of(s));
  if (st.kind == "CallExpr" && is_barrier_name(callee(s))) {
    for (size_t a = 1; a < st.kids.size(); ++a)
      if (has_sync(st.kids[a]))
        return fail("a barrier's argument synchronises (line " + line + ")");
    WiItem it;
    it.kind = WiItem::Barrier;
    it.node = s;
    it.simd_barrier = callee(s) == "simdgroup_barrier";
    out->push_back(it);
    return true;
  }
  {
    int call = s;
    while (t_[call].kind == "ExprWithCleanups" && t_[call].kids.size() == 1)
      call = t_[call].kids[0];
    if (t_[call].kind == "CallExpr" && is_matrix_operation(callee(call))) {
      // Every lane runs it with its own arguments (evaluated again by each of its loops).
      for (size_t a = 1; a < t_[call].kids.size(); ++a) {
        const int arg = t_[call].kids[a];
        if (t_[arg].kind == "CXXDefaultArgExpr") continue;
        if (has_sync(arg) || !pure(arg))
          return fail("the arguments of '" + callee(call) + "' are not plain values (line " + line +
                      ")");
      }
      WiItem it;
      it.kind = WiItem::Matrix;
      it.node = s;
      it.calls = {call};
      collectives_ = true;
      matrices_ = true;
      out->push_back(it);
      return true;
    }
  }
  if (st.kind == "CompoundStmt") return build_block(st.kids, out);
  if (st.kind == "AttributedStmt") {
    // `[[unroll]] for (...)`: the statement itself (a hint the split loop does not need).
    int inner = -1;
    for (int k : st.kids)
      if (t_[k].kind.size() < 4 || t_[k].kind.compare(t_[k].kind.size() - 4, 4, "Attr") != 0)
        inner = k;
    if (inner < 0) return fail("an unreadable attributed statement (line " + line + ")");
    return build_stmt(inner, out);
  }
  auto body_block = [&](int b, Vec<WiItem>* items) {
    if (b < 0 || t_[b].kind == "NULL") return true;
    if (t_[b].kind == "CompoundStmt") return build_block(t_[b].kids, items);
    return build_stmt(b, items);
  };
  auto plain_expr = [&](int e, const char* what) {
    if (e < 0 || t_[e].kind == "NULL") return true;
    size_t b, x;
    if (has_sync(e)) {
      // A library function that cannot be a group function: that is the reason to give.
      std::string why;
      walk(e, [&](int m) {
        if (!why.empty() || !sync_reference(m)) return;
        const std::string name = referenced(t_[m]).name;
        std::string group, no;
        if (library_sync_name(name) && !request_(name, &group, &no))
          why = "'" + name + "' as a group function: " + no;
      });
      if (!why.empty()) return fail(why);
      return fail(std::string("a SIMD-group function in the ") + what + " of a statement (line " +
                  line + ")");
    }
    if (!stmt_range(e, &b, &x))
      return fail(std::string("the ") + what + " of a statement spelled through a macro (line " +
                  line + ")");
    return true;
  };
  WiItem it;
  it.node = s;
  if (st.kind == "IfStmt" || st.kind == "ForStmt" || st.kind == "WhileStmt" || st.kind == "DoStmt")
    it.id = next_id_++;
  if (st.kind == "IfStmt") {
    if (st.rest.find("has_init") != std::string::npos ||
        st.rest.find("has_var") != std::string::npos ||
        st.rest.find("constexpr") != std::string::npos ||
        st.rest.find("consteval") != std::string::npos)
      return fail("an if with an initialiser or declaration that synchronises (line " + line + ")");
    if (st.kids.size() < 2) return fail("an unreadable if (line " + line + ")");
    it.kind = WiItem::If;
    it.cond = st.kids[0];
    if (!plain_expr(it.cond, "condition")) return false;
    if (!body_block(st.kids[1], &it.a)) return false;
    if (st.kids.size() > 2 && !body_block(st.kids[2], &it.b)) return false;
  } else if (st.kind == "ForStmt") {
    if (st.kids.size() != 5) return fail("an unreadable for (line " + line + ")");
    if (t_[st.kids[1]].kind != "NULL")
      return fail("a for with a condition variable (line " + line + ")");
    if (t_[st.kids[2]].kind == "NULL")
      return fail("a for without a condition that synchronises (line " + line + ")");
    it.kind = WiItem::For;
    it.init = t_[st.kids[0]].kind == "NULL" ? -1 : st.kids[0];
    it.cond = st.kids[2];
    it.inc = t_[st.kids[3]].kind == "NULL" ? -1 : st.kids[3];
    if (!plain_expr(it.init, "initialiser") || !plain_expr(it.cond, "condition") ||
        !plain_expr(it.inc, "increment"))
      return false;
    if (!body_block(st.kids[4], &it.a)) return false;
  } else if (st.kind == "WhileStmt") {
    if (st.rest.find("has_var") != std::string::npos || st.kids.size() != 2)
      return fail("a while with a condition variable (line " + line + ")");
    it.kind = WiItem::While;
    it.cond = st.kids[0];
    if (!plain_expr(it.cond, "condition") || !body_block(st.kids[1], &it.a)) return false;
  } else if (st.kind == "DoStmt") {
    if (st.kids.size() != 2) return fail("an unreadable do (line " + line + ")");
    it.kind = WiItem::Do;
    it.cond = st.kids[1];
    if (!plain_expr(it.cond, "condition") || !body_block(st.kids[0], &it.a)) return false;
  } else {
    Vec<int> calls;
    Vec<WiItem> groups;
    if (!collective_statement(s, &calls, &groups)) return false;
    WiItem p;
    p.pieces.push_back({s, calls, {}, {}});
    // Group functions first (each keeps its values apart), then the collectives (whose result
    // areas the group functions' own collectives would overwrite), then the statement.
    for (WiItem& c : groups) {
      c.id = next_call_++;
      p.pieces[0].group_calls.push_back(c.node);
      p.pieces[0].group_ids.push_back(c.id);
      out->push_back(c);
    }
    if (!calls.empty()) {
      collectives_ = true;
      WiItem c;
      c.kind = WiItem::Collect;
      c.calls = calls;
      c.node = s;
      out->push_back(c);
    }
    out->push_back(p);
    return true;
  }
  split_nodes_.insert(s);
  out->push_back(std::move(it));
  return true;
}

bool KernelLoops::build_block(const Vec<int>& stmts, Vec<WiItem>* out) {
  for (int s : stmts) {
    if (t_[s].kind == "NULL" || t_[s].kind == "NullStmt") continue;
    if (!build_stmt(s, out)) return false;
    // The statement after a collective opens the loop that reads the collective's results.
    if (out->size() >= 2 && out->back().kind == WiItem::Plain &&
        (*out)[out->size() - 2].kind == WiItem::Plain) {
      auto& prev = (*out)[out->size() - 2].pieces;
      auto& last = out->back().pieces;
      prev.insert(prev.end(), last.begin(), last.end());
      out->pop_back();
    }
  }
  return true;
}

// Assigns every thread loop an id, in emission order, and records which nodes each reads.
void KernelLoops::number_loops(Vec<WiItem>& items) {
  for (auto& it : items) {
    Vec<int>& loops = it.loops;
    switch (it.kind) {
      case WiItem::Plain: {
        const int l = next_loop_++;
        loops.push_back(l);
        for (const auto& p : it.pieces) add_piece(p.node, l);
        break;
      }
      case WiItem::Barrier:
        break;
      case WiItem::Call: {
        const int l = next_loop_++;
        loops.push_back(l);
        add_piece(it.node, l);
        break;
      }
      case WiItem::Matrix:
        for (int n = is_matrix_multiply(callee(it.calls[0])) ? 2 : 1; n > 0; --n) {
          const int l = next_loop_++;
          loops.push_back(l);
          add_piece(it.node, l);
        }
        break;
      case WiItem::Collect:
        for (int c : it.calls) {
          const int dep = next_loop_++, col = next_loop_++;
          loops.push_back(dep);
          loops.push_back(col);
          add_piece(c, dep);
          add_piece(c, col);
        }
        break;
      case WiItem::If: {
        const int l = next_loop_++;
        loops.push_back(l);
        add_piece(it.cond, l);
        number_loops(it.a);
        number_loops(it.b);
        break;
      }
      case WiItem::For:
      case WiItem::While:
      case WiItem::Do: {
        int init = -1, cond = -1, inc = -1;
        if (it.init >= 0) init = next_loop_++;
        if (it.kind == WiItem::Do) number_loops(it.a);
        cond = next_loop_++;
        if (it.kind != WiItem::Do) number_loops(it.a);
        if (it.inc >= 0) inc = next_loop_++;
        loops = {init, cond, inc};
        if (init >= 0) add_piece(it.init, init);
        add_piece(it.cond, cond);
        if (inc >= 0) add_piece(it.inc, inc);
        break;
      }
    }
  }
}

bool KernelLoops::instantiations_read_only(int fn) {
  const int tmpl = t_[fn].parent;
  if (tmpl < 0 || t_[tmpl].kind != "FunctionTemplateDecl") return true;
  std::set<size_t> positions;
  for (const auto& [addr, p] : params_) positions.insert((size_t)p);
  for (int inst : t_[tmpl].kids) {
    if (inst == fn || t_[inst].kind != "FunctionDecl") continue;
    Vec<int> parms;
    for (int c : t_[inst].kids)
      if (t_[c].kind == "ParmVarDecl") parms.push_back(c);
    std::set<uint64_t> watched;
    for (size_t p : positions)
      if (p < parms.size()) watched.insert(t_[parms[p]].addr);
    bool ok = true;
    walk(inst, [&](int m) {
      if (!ok || t_[m].kind != "DeclRefExpr") return;
      const WiRef r = referenced(t_[m]);
      if (r.kind == "ParmVar" && watched.count(r.addr) && !read_only_use(m))
        ok = fail("thread-position parameter '" + r.name + "' used other than by value (line " +
                  std::to_string(line_of(m)) + ")");
    });
    if (!ok) return false;
  }
  return true;
}

bool KernelLoops::analyse_uses(int body) {
  // Declarations: the loop of the innermost piece holding them.
  auto loops_of = [&](int n, bool innermost) {
    Vec<int> out;
    for (int p = n; p >= 0 && p != t_[body].parent; p = t_[p].parent) {
      auto it = piece_loops_.find(p);
      if (it == piece_loops_.end()) continue;
      out.insert(out.end(), it->second.begin(), it->second.end());
      if (innermost) break;
    }
    return out;
  };
  bool ok = true;
  walk(body, [&](int m) {
    const WiNode& x = t_[m];
    if (!ok) return;
    if (x.kind == "GotoStmt" || x.kind == "LabelStmt" || x.kind == "IndirectGotoStmt" ||
        x.kind == "CXXTryStmt" || x.kind == "LambdaExpr" || x.kind == "CoreturnStmt") {
      ok = fail("a " + x.kind + " (line " + std::to_string(line_of(m)) + ")");
      return;
    }
    if (x.kind == "VarDecl") {
      Var v;
      v.name = decl_name(x.rest);
      v.type = first_quoted(x.rest);
      v.decl = m;
      Vec<int> l = loops_of(m, true);
      v.loop = l.empty() ? -1 : l.back();
      const int stmt = x.parent;
      v.root = stmt >= 0 && t_[stmt].kind == "DeclStmt" && piece_loops_.count(stmt);
      vars_[x.addr] = v;
    }
  });
  if (!ok) return false;
  walk(body, [&](int m) {
    const WiNode& x = t_[m];
    if (!ok || x.kind != "DeclRefExpr") return;
    const WiRef r = referenced(x);
    if (r.kind == "ParmVar" && pack_params_.count(r.addr)) {
      for (int l : loops_of(m, false)) loop_params_[l].insert(r.addr);
      return;
    }
    if (r.kind == "ParmVar" && params_.count(r.addr)) {
      for (int l : loops_of(m, false)) loop_params_[l].insert(r.addr);
      // A thread-position parameter is recomputed in every loop: it must not be written. In
      // a template, a use inside a dependent expression is judged in the instantiations.
      if (!read_only_use(m) && t_[x.parent].rest.find("<dependent type>") == std::string::npos &&
          t_[x.parent].kind != "CXXUnresolvedConstructExpr" &&
          t_[x.parent].kind != "ParenListExpr" && t_[x.parent].kind != "InitListExpr") {
        ok = fail("thread-position parameter '" + r.name + "' used other than by value (line " +
                  std::to_string(line_of(m)) + ")");
      }
      return;
    }
    if (r.kind != "Var") return;
    auto v = vars_.find(r.addr);
    if (v == vars_.end()) return;  // a program-scope variable
    for (int l : loops_of(m, false)) v->second.used.insert(l);
  });
  if (!ok) return false;
  int slots = 0;
  for (const auto& [addr, v] : vars_) {
    if (v.loop < 0) continue;
    bool other = false;
    for (int l : v.used) other |= l != v.loop;
    if (!other) continue;
    const std::string& rest = t_[v.decl].rest;
    if (rest.find(" static") != std::string::npos || rest.find(" constexpr") != std::string::npos) {
      // Hoisted to function scope with its statement (see generate).
      continue;
    }
    if (!v.root)
      return fail("variable '" + v.name +
                  "' declared inside a statement and used after a "
                  "barrier (line " +
                  std::to_string(line_of(v.decl)) + ")");
    const std::string& type = v.type;
    if (type.empty() || type.find("auto") != std::string::npos ||
        type.find("(lambda") != std::string::npos || type.find("(unnamed") != std::string::npos ||
        type.find("(anonymous") != std::string::npos ||
        type.find("dependent") != std::string::npos || type.back() == '&')
      return fail("variable '" + v.name + "' of type '" + type + "' lives across a barrier (line " +
                  std::to_string(line_of(v.decl)) + ")");
    v.slot = slots++;
  }
  return true;
}

std::string KernelLoops::loop(int l, const std::string& mask, const std::string& skip,
                              const std::string& body, bool set_tid) {
  std::string g =
      "for (uint32_t __mb_z = 0; __mb_z < __mb_nz; ++__mb_z)\n"
      "for (uint32_t __mb_y = 0; __mb_y < __mb_ny; ++__mb_y)\n"
      "for (uint32_t __mb_x = 0; __mb_x < __mb_nx; ++__mb_x) {\n"
      "const uint32_t __mb_li = __mb_x + __mb_nx * (__mb_y + __mb_ny * __mb_z);\n";
  if (!mask.empty()) g += "if (!" + mask + "[__mb_li]) { " + skip + "continue; }\n";
  g += "::metal::__mb_wi_here(__mb_G, __mb_li);\n";
  if (set_tid || matrices_) g += "::metal::__mb_tid = __mb_li;\n";
  g += prologue(l);
  g += "{\n" + body + "\n}\n__mb_next" + std::to_string(l) + ":;\n}\n";
  return g;
}

std::string KernelLoops::callee_named(int call, const char* prefix) const {
  size_t fb, fe;
  expr_range(t_[call].kids[0], &fb, &fe);
  const std::string callee_text = text(fb, fe, {});
  const std::string name = callee(call);
  // The callee's name at template depth 0 (after any qualifier, before its arguments).
  size_t at = std::string::npos;
  int depth = 0;
  for (size_t p = 0; p < callee_text.size();) {
    Kind kind;
    const size_t n = lex_one(callee_text, p, &kind);
    if (n == 0) break;
    if (callee_text[p] == '<') ++depth;
    if (callee_text[p] == '>') --depth;
    if (kind == IDENT && depth == 0 && n == name.size() && callee_text.compare(p, n, name) == 0)
      at = p;
    p += n;
  }
  if (at == std::string::npos) throw std::runtime_error("unreadable callee " + callee_text);
  return callee_text.substr(0, at) + prefix + callee_text.substr(at);
}

std::string KernelLoops::call_setup(const Vec<WiItem>& items) {
  std::string g;
  for (const auto& it : items) {
    if (it.kind == WiItem::Call) {
      const std::string id = std::to_string(it.id);
      size_t cb, ce, fb, fe;
      expr_range(it.node, &cb, &ce);
      expr_range(t_[it.node].kids[0], &fb, &fe);
      g += "auto __mb_a" + id +
           " = [&](uint32_t __mb_x, uint32_t __mb_y, uint32_t __mb_z, uint32_t __mb_li) {\n"
           "(void)__mb_x; (void)__mb_y; (void)__mb_z; (void)__mb_li;\n" +
           prologue(it.loops[0]) + "return " + callee_named(it.node, kPackPrefix) +
           text(fe, ce, {}) + ";\n};\n";
      g += "using __mb_R" + id + " = ::metal::__mb_wi_value_t<decltype(__mb_a" + id +
           "(0u, 0u, 0u, 0u))>;\n";
      g += "__mb_R" + id + "* const __mb_r" + id + " = static_cast<__mb_R" + id +
           "*>(__builtin_alloca_with_align(sizeof(__mb_R" + id + ") * __mb_n, 8 * alignof(__mb_R" +
           id + ")));\n";
    }
    g += call_setup(it.a);
    g += call_setup(it.b);
  }
  return g;
}

std::string KernelLoops::prologue(int l) {
  std::string g;
  const ThreadIdNames names{"__mb_G", "__mb_x", "__mb_y", "__mb_z", "__mb_li"};
  for (uint64_t addr : loop_params_[l]) {
    auto pk = pack_params_.find(addr);
    if (pk != pack_params_.end()) {
      g += "auto&& " + param_names_[pk->second] + " = __mb_pk[__mb_li].template get<" +
           std::to_string(pk->second) + ">();\n";
      continue;
    }
    const int p = params_[addr];
    const std::string type = "__mb_p" + std::to_string(p);
    g += type + " " + param_names_[p] + " = " + thread_id_expression(param_attrs_[p], type, names) +
         ";\n";
  }
  for (const auto& [addr, v] : vars_)
    if (v.slot >= 0 && v.loop != l && v.used.count(l))
      g += "auto& " + v.name + " = __mb_s" + std::to_string(v.slot) + "[__mb_li];\n";
  return g;
}

std::string KernelLoops::piece_text(const WiPiece& p, int l, std::string* saves) {
  size_t b, e;
  stmt_range(p.node, &b, &e);
  Vec<Edit> edits;
  for (size_t i = 0; i < p.calls.size(); ++i) {
    size_t cb, ce;
    expr_range(p.calls[i], &cb, &ce);
    std::string call = text(cb, ce, {});
    // The type of the call with its site given: clang-19 crashes generating code for a
    // non-dependent decltype whose call takes __builtin_source_location() by default.
    const Vec<int>& args = t_[p.calls[i]].kids;
    if (args.size() > 1 && t_[args.back()].kind == "CXXDefaultArgExpr" &&
        t_[args.back()].rest.find("__mb_site") != std::string::npos && call.back() == ')')
      call.insert(call.size() - 1, args.size() > 2 ? ", nullptr" : "nullptr");
    edits.push_back({cb, ce,
                     "::metal::__mb_wi_take<decltype(" + call + ")>(__mb_w, " + std::to_string(i) +
                         "u, __mb_li)"});
  }
  for (size_t i = 0; i < p.group_calls.size(); ++i) {
    const int call = p.group_calls[i];
    size_t cb, ce;
    expr_range(call, &cb, &ce);
    const bool none = first_quoted(t_[call].rest) == "void";
    edits.push_back(
        {cb, ce, none ? "(void)0" : "__mb_r" + std::to_string(p.group_ids[i]) + "[__mb_li]"});
  }
  // A break leaves the masks of its loop and of those within it; a continue only the ones
  // within its loop's own (the loop goes on for that thread).
  walk(p.node, [&](int m) {
    const bool is_break = t_[m].kind == "BreakStmt";
    if (!is_break && t_[m].kind != "ContinueStmt") return;
    const int target = is_break ? split_break_target(m) : split_continue_target(m);
    if (target < 0) return;
    std::string leave;
    bool inside = false;
    for (size_t i = 0; i < masks_.size(); ++i) {
      const bool own = mask_owners_[i] == target;
      if (is_break && own) inside = true;
      if (inside) leave += masks_[i] + "[__mb_li] = false; ";
      if (own) inside = true;
    }
    if (!inside || leave.empty())
      throw std::runtime_error(std::string("a ") + (is_break ? "break" : "continue") +
                               " outside its loop's mask");
    size_t sb, se;
    stmt_range(m, &sb, &se);
    edits.push_back({sb, se, "{ " + leave + "goto __mb_next" + std::to_string(l) + "; }"});
  });
  walk(p.node, [&](int m) {
    if (t_[m].kind != "ReturnStmt") return;
    const size_t rb = offset(t_[m].begin);
    std::string next;
    if (early_returns_)
      for (const auto& mask : masks_) next += mask + "[__mb_li] = false; ";
    next += "goto __mb_next" + std::to_string(l);
    if (t_[m].kids.empty()) {
      size_t sb, se;
      stmt_range(m, &sb, &se);
      edits.push_back({sb, se, "{ " + next + "; }"});
      return;
    }
    // A group function's value: kept for the caller's next loop (only group mode allows it).
    size_t sb, se, vb, ve;
    stmt_range(m, &sb, &se);
    expr_range(t_[m].kids[0], &vb, &ve);
    edits.push_back({rb, vb, "{ ::metal::__mb_wi_put(__mb_rv, __mb_li, ("});
    edits.push_back({ve, se, ")); " + next + "; }"});
  });
  if (t_[p.node].kind == "DeclStmt")
    for (int k : t_[p.node].kids) {
      auto v = vars_.find(t_[k].addr);
      if (v != vars_.end() && v->second.slot >= 0 && v->second.loop == l)
        *saves += "::metal::__mb_wi_save(__mb_s" + std::to_string(v->second.slot) + "[__mb_li], " +
                  v->second.name + ");\n";
    }
  return text(b, e, edits) + "\n";
}

std::string KernelLoops::emit(const Vec<WiItem>& items, const std::string& mask) {
  std::string g;
  const std::string all = mask.empty() ? "nullptr" : mask;
  for (const auto& it : items) {
    const Vec<int>& loops = it.loops;
    switch (it.kind) {
      case WiItem::Plain: {
        std::string body, saves;
        for (const auto& p : it.pieces) {
          if (std::find(hoisted_.begin(), hoisted_.end(), p.node) != hoisted_.end()) continue;
          body += piece_text(p, loops[0], &saves);
        }
        g += loop(loops[0], mask, "", body + saves, false);
        break;
      }
      case WiItem::Barrier:
        if (mask == "__mb_live" && !group_mode_ && !it.simd_barrier)
          g += "::metal::__mb_wi_barrier_live(__mb_live, __mb_n);\n";
        else if (!mask.empty())
          g += "::metal::__mb_wi_barrier(" + mask + ", __mb_n, " +
               (it.simd_barrier ? "true" : "false") + ", " + std::to_string(line_of(it.node)) +
               ");\n";
        break;
      case WiItem::Call: {
        // The group function over the threads under the mask (see call_setup).
        const std::string id = std::to_string(it.id);
        g += "::metal::__mb_wi_call(__mb_a" + id + ", [&](auto* __mb_tag) { " +
             callee_named(it.node, kGroupPrefix) + "(__mb_G, " +
             (mask.empty() ? "__mb_all" : mask) + ", __mb_tag, __mb_a" + id + ", __mb_r" + id +
             "); });\n";
        break;
      }
      case WiItem::Matrix: {
        size_t b, e;
        stmt_range(it.node, &b, &e);
        const std::string stmt = text(b, e, {});
        if (loops.size() == 2) {
          // Deposit every lane's operands (the multiply returns before writing), then each lane
          // computes its own elements of the product from all of them.
          g += "::metal::__mb_wi_deposit(__mb_w);\n";
          g += loop(loops[0], mask, "", stmt, true);
          g += "::metal::__mb_wi_collect(__mb_w, " + all + ", __mb_n);\n";
          g += loop(loops[1], mask, "", stmt, true);
          g += "::metal::__mb_wi_done(__mb_w);\n";
        } else {
          g += loop(loops[0], mask, "", stmt, true);
        }
        break;
      }
      case WiItem::Collect:
        for (size_t i = 0; i < it.calls.size(); ++i) {
          size_t b, e;
          expr_range(it.calls[i], &b, &e);
          const std::string call = text(b, e, {});
          g += "::metal::__mb_wi_deposit(__mb_w);\n";
          g += loop(loops[2 * i], mask, "", "(void)(" + call + ");", true);
          g += "::metal::__mb_wi_collect(__mb_w, " + all + ", __mb_n);\n";
          g += loop(
              loops[2 * i + 1], mask, "",
              "::metal::__mb_wi_keep(__mb_w, " + std::to_string(i) + "u, __mb_li, " + call + ");",
              true);
        }
        g += "::metal::__mb_wi_done(__mb_w);\n";
        break;
      case WiItem::If: {
        const std::string m = "__mb_m" + std::to_string(it.id);
        size_t b, e;
        expr_range(it.cond, &b, &e);
        g += loop(loops[0], mask, m + "[__mb_li] = false; ",
                  m + "[__mb_li] = static_cast<bool>(" + text(b, e, {}) + ");", false);
        g += "if (::metal::__mb_wi_any(" + m + ", __mb_n)) {\n" + masked_emit(it.a, m) + "}\n";
        if (!it.b.empty()) {
          const std::string me = m + "e";
          g += "for (uint32_t __mb_i = 0; __mb_i < __mb_n; ++__mb_i) " + me +
               "[__mb_i] = " + (mask.empty() ? "true" : mask + "[__mb_i]") + " && !" + m +
               "[__mb_i];\n";
          g += "if (::metal::__mb_wi_any(" + me + ", __mb_n)) {\n" + masked_emit(it.b, me) + "}\n";
        }
        break;
      }
      case WiItem::For:
      case WiItem::While:
      case WiItem::Do: {
        const std::string m = "__mb_m" + std::to_string(it.id);
        if (it.init >= 0) {
          size_t b, e;
          stmt_range(it.init, &b, &e);
          std::string init = text(b, e, {});
          if (t_[it.init].kind != "DeclStmt") init += ";";
          std::string saves;
          for (int k : t_[it.init].kids) {
            auto v = vars_.find(t_[k].addr);
            if (v != vars_.end() && v->second.slot >= 0)
              saves += "::metal::__mb_wi_save(__mb_s" + std::to_string(v->second.slot) +
                       "[__mb_li], " + v->second.name + ");\n";
          }
          g += loop(loops[0], mask, "", init + "\n" + saves, false);
        }
        g += "for (uint32_t __mb_i = 0; __mb_i < __mb_n; ++__mb_i) " + m +
             "[__mb_i] = " + (mask.empty() ? "true" : mask + "[__mb_i]") + ";\n";
        size_t b, e;
        expr_range(it.cond, &b, &e);
        const std::string cond =
            loop(loops[1], m, "", m + "[__mb_li] = static_cast<bool>(" + text(b, e, {}) + ");",
                 false) +
            "if (!::metal::__mb_wi_any(" + m + ", __mb_n)) break;\n";
        g += "for (;;) {\n";
        if (it.kind != WiItem::Do) g += cond;
        if (continued_.count(it.node)) {
          // The body under its own mask, a copy of the loop's: a thread that continues leaves
          // it (and the masks inside), not the loop's.
          const std::string mb = m + "e";
          g += "for (uint32_t __mb_i = 0; __mb_i < __mb_n; ++__mb_i) " + mb + "[__mb_i] = " + m +
               "[__mb_i];\n";
          masks_.push_back(m);
          mask_owners_.push_back(it.node);
          g += masked_emit(it.a, mb);
          masks_.pop_back();
          mask_owners_.pop_back();
        } else {
          g += masked_emit(it.a, m, it.node);
        }
        if (it.kind == WiItem::Do) g += cond;
        if (it.inc >= 0) {
          size_t ib, ie;
          expr_range(it.inc, &ib, &ie);
          g += loop(loops[2], m, "", "(void)(" + text(ib, ie, {}) + ");", false);
        }
        g += "}\n";
        break;
      }
    }
  }
  return g;
}

bool KernelLoops::prepare(int fn, int body, Vec<WiItem>* items_out, std::string* hoisted) {
  Vec<WiItem>& items = *items_out;
  // `a * b` of two SIMD-group matrices is a product over the lanes inside an expression, which
  // the loops would compute lane by lane: refused, in the definition and (a template's pattern
  // may not resolve the operator) every instantiation.
  {
    Vec<int> defs = {fn};
    const int tmpl = t_[fn].parent;
    if (tmpl >= 0 && t_[tmpl].kind == "FunctionTemplateDecl")
      for (int inst : t_[tmpl].kids)
        if (inst != fn && t_[inst].kind == "FunctionDecl") defs.push_back(inst);
    int product = -1;
    for (int d : defs)
      walk(d, [&](int m) {
        if (product < 0 && is_reference_kind(t_[m].kind) && referenced(t_[m]).name == "operator*" &&
            t_[m].rest.find("simdgroup_matrix") != std::string::npos)
          product = m;
      });
    if (product >= 0)
      return fail("a SIMD-group matrix product written as '*' (line " +
                  std::to_string(line_of(product)) +
                  "): the loops split simdgroup_multiply(_accumulate) statements only");
  }
  if (!build_block(t_[body].kids, &items)) return false;
  // What synchronises inside the compatibility header (the tensor API's operations, a
  // simdgroup matrix's lanes) is not in the AST of the library: refuse any such word the body
  // spells other than as the barriers and collectives split above (or a variable's name).
  {
    std::set<std::string> handled;
    walk(body, [&](int m) {
      if (t_[m].kind == "VarDecl") handled.insert(decl_name(t_[m].rest));
    });
    split_callees(items, &handled);
    size_t b = offset(t_[body].begin), e = token_end(offset(t_[body].end));
    if (b == std::string::npos || e == std::string::npos)
      return fail("a body spelled through a macro");
    for (size_t p = b; p < e;) {
      Kind kind;
      const size_t n = lex_one(rw_.text, p, &kind);
      if (n == 0) break;
      if (kind == IDENT) {
        const std::string word = rw_.text.substr(p, n);
        const bool value_type = word == "simd_vote" || word == "quad_vote";
        if (is_matrix_type(word)) {
          matrices_ = true;
        } else if (is_sync_name(word) && !value_type && !handled.count(word)) {
          return fail("'" + word + "' synchronises inside the compatibility header");
        }
      }
      p += n;
    }
  }
  number_loops(items);
  if (!analyse_uses(body) || (!group_mode_ && !instantiations_read_only(fn))) return false;

  // `return` only after the last synchronisation, at the body's top level (with a value only
  // in a group function); `break` and `continue` only inside the statement that holds their
  // loop.
  size_t last_sync = 0;
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].kind != WiItem::Plain) last_sync = i + 1;
  std::set<int> tail;
  for (size_t i = last_sync; i < items.size(); ++i)
    for (const auto& p : items[i].pieces) tail.insert(p.node);
  bool ok = true;
  walk(body, [&](int m) {
    if (!ok) return;
    const WiNode& x = t_[m];
    if (x.kind == "ReturnStmt") {
      int top = m;
      while (t_[top].parent != body) top = t_[top].parent;
      if (!x.kids.empty() && !group_mode_)
        ok = fail("a return with a value (line " + std::to_string(line_of(m)) + ")");
      else if (!tail.count(top))
        early_returns_ = true;
    } else if (x.kind == "BreakStmt" || x.kind == "ContinueStmt") {
      int p = x.parent;
      while (p >= 0 && t_[p].kind != "ForStmt" && t_[p].kind != "WhileStmt" &&
             t_[p].kind != "DoStmt" && (x.kind == "ContinueStmt" || t_[p].kind != "SwitchStmt"))
        p = t_[p].parent;
      // A break leaves its split loop's mask (and the masks inside it), a continue the mask of
      // its split loop's body: see piece_text.
      if (p < 0)
        ok = fail("a " + std::string(x.kind == "ContinueStmt" ? "continue" : "break") +
                  " outside a loop (line " + std::to_string(line_of(m)) + ")");
      else if (split_nodes_.count(p) && x.kind == "ContinueStmt")
        continued_.insert(p);
    }
  });
  if (!ok) return false;

  // Statements emitted once at function scope: static and constexpr variables (threadgroup
  // variables are static thread_local here), and declarations of types.
  walk(body, [&](int m) {
    if (t_[m].kind != "DeclStmt" || !piece_loops_.count(m)) return;
    bool once = !t_[m].kids.empty();
    for (int d : t_[m].kids) {
      const std::string& r = t_[d].rest;
      const bool var = t_[d].kind == "VarDecl";
      if (var && r.find(" static") == std::string::npos &&
          r.find(" constexpr") == std::string::npos)
        once = false;
    }
    if (!once) return;
    size_t b, e;
    if (!stmt_range(m, &b, &e)) {
      ok = fail("a declaration spelled through a macro (line " + std::to_string(line_of(m)) + ")");
      return;
    }
    *hoisted += text(b, e, {}) + "\n";
    hoisted_.push_back(m);
  });
  if (!ok) return false;

  // Names the loops declare must not collide (a variable and a shadowing one both read in one
  // loop).
  SortedMap<int, std::set<std::string>> names;
  for (const auto& [addr, v] : vars_)
    if (v.slot >= 0)
      for (int l : v.used)
        if (l != v.loop && !names[l].insert(v.name).second)
          return fail("two variables named '" + v.name + "' in one region");
  for (const auto& [l, ps] : loop_params_)
    for (uint64_t a : ps) {
      const std::string& name =
          pack_params_.count(a) ? param_names_[pack_params_[a]] : param_names_[params_[a]];
      if (!names[l].insert(name).second) return fail("a variable shadows parameter '" + name + "'");
    }
  return true;
}

// The per-thread copies, the masks and the loops of a prepared body.
std::string KernelLoops::body_code(const Vec<WiItem>& items, const std::string& mask) {
  std::string g;
  for (const auto& [addr, v] : vars_) {
    if (v.slot < 0) continue;
    const std::string s = std::to_string(v.slot);
    g += "using __mb_t" + s + " = __remove_cv(" + v.type + ");\n";
    g += "__mb_t" + s + "* const __mb_s" + s + " = static_cast<__mb_t" + s +
         "*>(__builtin_alloca_with_align(sizeof(__mb_t" + s + ") * __mb_n, 8 * alignof(__mb_t" + s +
         ")));\n";
  }
  // The copies live on the stack of whatever thread runs the group: at most 1 KiB a thread
  // (1 MiB for 1024 threads); a kernel keeping more fails to compile here and keeps fibers.
  std::string kept = "0";
  for (const auto& [addr, v] : vars_)
    if (v.slot >= 0) kept += " + sizeof(__mb_t" + std::to_string(v.slot) + ")";
  g += "static_assert(" + kept + " <= 1024, \"work-item loops keep at most 1 KiB a thread\");\n";
  for (int id = 0; id < next_id_; ++id) {
    const std::string m = "__mb_m" + std::to_string(id);
    g += "bool* const " + m + " = static_cast<bool*>(__builtin_alloca(__mb_n));\n";
    g += "bool* const " + m + "e = static_cast<bool*>(__builtin_alloca(__mb_n));\n";
    g += "(void)" + m + "; (void)" + m + "e;\n";
  }
  if (next_call_ > 0 && mask.empty())
    g +=
        "bool* const __mb_all = ::metal::__mb_wi_all(static_cast<bool*>(__builtin_alloca(__mb_n)), "
        "__mb_n);\n";
  g += call_setup(items);
  if (!early_returns_) return g + emit(items, mask);
  g += "bool* const __mb_live = static_cast<bool*>(__builtin_alloca(__mb_n));\n";
  g += "for (uint32_t __mb_i = 0; __mb_i < __mb_n; ++__mb_i) __mb_live[__mb_i] = " +
       (mask.empty() ? std::string("true") : mask + "[__mb_i]") + ";\n";
  return g + masked_emit(items, "__mb_live");
}

std::string KernelLoops::generate(int fn, const RwKernel& k, const std::string& new_name,
                                  const std::string& template_header,
                                  const std::string& namespaces_open,
                                  const std::string& namespaces_close) {
  const WiNode& f = t_[fn];
  int body = -1;
  Vec<int> parms;
  for (int c : f.kids) {
    if (t_[c].kind == "ParmVarDecl") parms.push_back(c);
    if (t_[c].kind == "CompoundStmt") body = c;
  }
  if (body < 0) return fail("no body"), "";
  if (parms.size() != k.param_attrs.size()) return fail("unreadable parameters"), "";
  for (size_t p = 0; p < parms.size(); ++p) {
    param_names_.push_back(decl_name(t_[parms[p]].rest));
    param_attrs_.push_back(k.param_attrs[p]);
    if (per_thread_attribute(k.param_attrs[p]) && !param_names_.back().empty())
      params_[t_[parms[p]].addr] = (int)p;
  }
  Vec<WiItem> items;
  std::string hoisted;
  if (!prepare(fn, body, &items, &hoisted)) return "";

  // The signature: the kernel's own, renamed, with the group appended.
  size_t sb = offset(f.begin), name_at = offset(f.loc), body_at = offset(t_[body].begin);
  if (sb == std::string::npos || name_at == std::string::npos || body_at == std::string::npos ||
      name_at < sb || body_at < name_at)
    return fail("a signature spelled through a macro"), "";
  const std::string name = decl_name(f.rest);
  if (rw_.text.compare(name_at, name.size(), name) != 0) return fail("unreadable name"), "";
  const size_t close = rw_.text.rfind(')', body_at);
  if (close == std::string::npos || close < name_at) return fail("unreadable signature"), "";
  const bool no_params = parms.empty();
  std::string signature = text(sb, name_at, {}) + new_name +
                          text(name_at + name.size(), close, {}) + (no_params ? "" : ", ") +
                          "const ::mbk_group& __mb_G" + text(close, body_at, {});

  std::string g = "\n" + namespaces_open + "\n" + template_header + signature + "{\n";
  g += "const uint32_t __mb_nx = __mb_G.threads_per_threadgroup[0], __mb_ny = "
       "__mb_G.threads_per_threadgroup[1], __mb_nz = __mb_G.threads_per_threadgroup[2];\n";
  g += "const uint32_t __mb_n = __mb_G.thread_count; (void)__mb_n;\n";
  // The work-item space is this group's while its loops (and group functions) run.
  const bool space = collectives_ || next_call_ > 0;
  if (space) g += "::mbk_work_item_space& __mb_w = ::metal::__mb_wi_begin(__mb_G); (void)__mb_w;\n";
  for (const auto& [addr, p] : params_)
    g += "using __mb_p" + std::to_string(p) + " = __remove_cvref(decltype(" + param_names_[p] +
         "));\n";
  g += hoisted;
  g += body_code(items, "");
  if (space) g += "::metal::__mb_wi_end();\n";
  g += "}\n" + namespaces_close + "\n";
  return g;
}

std::string KernelLoops::generate_group(int fn, const std::string& template_header,
                                        const std::string& namespaces_open,
                                        const std::string& namespaces_close) {
  group_mode_ = true;
  const WiNode& f = t_[fn];
  int body = -1;
  Vec<int> parms;
  for (int c : f.kids) {
    if (t_[c].kind == "ParmVarDecl") parms.push_back(c);
    if (t_[c].kind == "CompoundStmt") body = c;
  }
  if (body < 0) return fail("no body"), "";
  const std::string name = decl_name(f.rest);
  // Each parameter's type as written (the group function deduces the template's arguments
  // from them): the text from the `(` or `,` before it to its name (its own start may be an
  // address-space word the rewriter spelled through a macro).
  const size_t open_at = offset(f.loc) == std::string::npos
                             ? std::string::npos
                             : skip_space(offset(f.loc) + name.size());
  if (open_at == std::string::npos || open_at >= rw_.text.size() || rw_.text[open_at] != '(')
    return fail("a signature spelled through a macro"), "";
  Vec<size_t> starts;  // after the `(` and after each top-level `,`
  {
    int depth = 0;
    for (size_t p = open_at; p < rw_.text.size();) {
      Kind kind;
      const size_t n = lex_one(rw_.text, p, &kind);
      if (n == 0) break;
      const char c = rw_.text[p];
      if (kind == PUNCT && (c == '(' || c == '[' || c == '{' || c == '<')) {
        if (depth++ == 0) starts.push_back(p + 1);
      } else if (kind == PUNCT && (c == ')' || c == ']' || c == '}' || c == '>')) {
        if (--depth == 0) break;
      } else if (kind == PUNCT && c == ',' && depth == 1) {
        starts.push_back(p + 1);
      }
      p += n;
    }
  }
  Vec<std::string> types;
  for (size_t p = 0; p < parms.size(); ++p) {
    const WiNode& d = t_[parms[p]];
    const std::string pn = decl_name(d.rest);
    const size_t dn = offset(d.loc);
    if (pn.empty() || dn == std::string::npos || p >= starts.size() || dn <= starts[p] ||
        rw_.text.compare(dn, pn.size(), pn) != 0 || (p + 1 < starts.size() && dn >= starts[p + 1]))
      return fail("an unnamed parameter or one spelled through a macro"), "";
    const size_t after = skip_space(dn + pn.size());
    if (after < rw_.text.size() && rw_.text[after] == '[')
      return fail("an array parameter ('" + pn + "')"), "";
    if (d.rest.find("...") != std::string::npos) return fail("a parameter pack"), "";
    types.push_back(text(starts[p], dn, {}));
    param_names_.push_back(pn);
    param_attrs_.push_back("");
    pack_params_[d.addr] = (int)p;
  }
  Vec<WiItem> items;
  std::string hoisted;
  if (!prepare(fn, body, &items, &hoisted)) return "";

  size_t name_at = offset(f.loc), body_at = offset(t_[body].begin);
  if (name_at == std::string::npos || body_at == std::string::npos || body_at < name_at ||
      rw_.text.compare(name_at, name.size(), name) != 0)
    return fail("a signature spelled through a macro"), "";
  const size_t close = rw_.text.rfind(')', body_at);
  if (close == std::string::npos || close < name_at) return fail("unreadable signature"), "";
  const std::string params = text(name_at + name.size(), close + 1, {});  // "(...)"

  // The template's parameters by name (to call the callee itself in the pack function).
  std::string targs;
  const int tmpl = f.parent;
  if (tmpl >= 0 && t_[tmpl].kind == "FunctionTemplateDecl") {
    for (int c : t_[tmpl].kids) {
      const std::string& kind = t_[c].kind;
      if (kind != "TemplateTypeParmDecl" && kind != "NonTypeTemplateParmDecl" &&
          kind != "TemplateTemplateParmDecl")
        continue;
      std::string r = t_[c].rest;
      while (!r.empty() && r.back() == ' ') r.pop_back();
      const size_t sp = r.rfind(' ');
      const std::string tn = sp == std::string::npos ? r : r.substr(sp + 1);
      if (tn.empty() || tn.back() == '\'' || tn == "typename" || tn == "class" ||
          (tn.size() > 5 && tn.compare(0, 5, "index") == 0) || isdigit((unsigned char)tn[0]))
        return fail("an unnamed template parameter"), "";
      targs +=
          (targs.empty() ? "" : ", ") + tn + (r.find(" ...") != std::string::npos ? "..." : "");
    }
    targs = "<" + targs + ">";
  }
  std::string header = template_header;
  std::string extra = "class __mb_R, class __mb_A";
  if (header.empty()) {
    header = "template <" + extra + ">\n";
  } else {
    const size_t gt = header.rfind('>');
    if (gt == std::string::npos) return fail("an unreadable template header"), "";
    const size_t lt = header.find('<');
    const bool empty = lt != std::string::npos && header.find_first_not_of(" \t\n", lt + 1) == gt;
    header = header.substr(0, gt) + (empty ? "" : ", ") + extra + header.substr(gt);
  }
  std::string call_args, decltypes;
  for (size_t p = 0; p < param_names_.size(); ++p) {
    call_args += (p ? ", " : "") + param_names_[p];
    decltypes += ", decltype(" + param_names_[p] + ")";
  }
  std::string tag_types;
  for (const auto& ty : types) tag_types += ", " + ty;

  std::string g = "\n" + namespaces_open + "\n";
  // The pack function: one thread's arguments, with the callee's overload resolution and
  // deduction.
  g += template_header + "inline auto " + kPackPrefix + name + params + " {\n";
  g += "  return ::metal::__mb_wi_pack<decltype(" + name + targs + "(" + call_args + "))" +
       decltypes + ">(" + call_args + ");\n}\n";
  g += header + "void " + kGroupPrefix + name +
       "(const ::mbk_group& __mb_G, const bool* __mb_cm, ::metal::__mb_wi_pack<__mb_R" + tag_types +
       ">* __mb_tag, __mb_A& __mb_args, ::metal::__mb_wi_value_t<::metal::__mb_wi_pack<__mb_R" +
       tag_types + ">>* __mb_rv) {\n";
  g += "(void)__mb_tag;\n";
  g += "const uint32_t __mb_nx = __mb_G.threads_per_threadgroup[0], __mb_ny = "
       "__mb_G.threads_per_threadgroup[1], __mb_nz = __mb_G.threads_per_threadgroup[2];\n";
  g += "const uint32_t __mb_n = __mb_G.thread_count; (void)__mb_n;\n";
  g += "(void)__mb_rv;\n";
  g += "using __mb_Pk = ::metal::__mb_wi_pack<__mb_R" + tag_types + ">;\n";
  g += "__mb_Pk* const __mb_pk = static_cast<__mb_Pk*>(__builtin_alloca_with_align(sizeof(__mb_Pk) "
       "* __mb_n, 8 * alignof(__mb_Pk)));\n";
  g += "::metal::__mb_wi_fill(__mb_pk, __mb_cm, __mb_args, __mb_G);\n";
  if (collectives_ || next_call_ > 0)
    g += "::mbk_work_item_space& __mb_w = *static_cast<::mbk_work_item_space*>("
         "__mb_G.work_item_space); (void)__mb_w;\n";
  g += hoisted;
  g += body_code(items, "__mb_cm");
  g += "}\n" + namespaces_close + "\n";
  return g;
}

// ---- the library
// ----------------------------------------------------------------------------------

// Names of the library's functions that synchronise, directly or through others (by name: an
// overload set synchronises when one of its members does).
std::set<std::string> syncing_functions(const Vec<WiNode>& t, bool* ctor_sync,
                                        std::set<uint64_t>* library_fns) {
  SortedMap<std::string, std::set<std::string>> calls;  // function name -> names it references
  std::set<std::string> ctors;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!is_function_kind(t[i].kind)) continue;
    library_fns->insert(t[i].addr);
    int body = -1;
    for (int k : t[i].kids)
      if (t[k].kind == "CompoundStmt") body = k;
    if (body < 0) continue;
    const std::string name = decl_name(t[i].rest);
    if (t[i].kind != "FunctionDecl" && t[i].kind != "CXXMethodDecl") ctors.insert(name);
    std::set<std::string>& refs = calls[name];
    Vec<int> work = {body};
    while (!work.empty()) {
      int n = work.back();
      work.pop_back();
      if (is_reference_kind(t[n].kind)) refs.insert(referenced(t[n]).name);
      for (int k : t[n].kids) work.push_back(k);
    }
  }
  std::set<std::string> sync;
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& [name, refs] : calls) {
      if (sync.count(name)) continue;
      for (const auto& r : refs)
        if (is_sync_name(r) || sync.count(r)) {
          sync.insert(name);
          changed = true;
          break;
        }
    }
  }
  *ctor_sync = false;
  for (const auto& c : ctors) *ctor_sync |= sync.count(c) != 0;
  return sync;
}

}  // namespace
}  // namespace work_items

std::string generate_work_items(const std::string& ast_dump, Rewritten& rw) {
  using namespace work_items;
  bool any = false;
  for (const auto& k : rw.kernels) any |= k.uses_sync;
  if (!any) return "";
  const Vec<WiNode> t = read_tree(ast_dump);
  Vec<size_t> line_start = {0};
  for (size_t i = 0; i < rw.text.size(); ++i)
    if (rw.text[i] == '\n') line_start.push_back(i + 1);
  bool ctor_sync = false;
  std::set<uint64_t> library_fns;
  const std::set<std::string> sync_fns = syncing_functions(t, &ctor_sync, &library_fns);

  // Definitions of functions named `name`: FunctionDecls with a body, the pattern of a template
  // or a plain function, at namespace scope; in the namespace `qualifier` names ("::ns::"), or
  // in any namespace when it is empty.
  // The FunctionDecls by name, read once: a library of thousands of kernels looks up each.
  SortedMap<std::string, Vec<size_t>> functions_named;
  for (size_t i = 0; i < t.size(); ++i)
    if (t[i].kind == "FunctionDecl") functions_named[decl_name(t[i].rest)].push_back(i);
  auto definitions = [&](const std::string& name, const std::string& qualifier) {
    Vec<int> defs;
    auto named = functions_named.find(name);
    if (named == functions_named.end()) return defs;
    for (size_t i : named->second) {
      bool has_body = false;
      for (int c : t[i].kids) has_body |= t[c].kind == "CompoundStmt";
      if (!has_body || t[i].rest.find("explicit_instantiation") != std::string::npos) continue;
      bool instantiation = false;
      for (int c : t[i].kids) instantiation |= t[c].kind == "TemplateArgument";
      if (instantiation) continue;
      std::string q = "::";
      bool plain_scope = true;
      Vec<std::string> ns;
      for (int p = t[i].parent; p >= 0; p = t[p].parent) {
        if (t[p].kind == "NamespaceDecl") {
          std::string n = decl_name(t[p].rest + " '");
          ns.insert(ns.begin(), n == "inline" ? "" : n);
        } else if (t[p].kind != "FunctionTemplateDecl" && t[p].kind != "TranslationUnitDecl") {
          plain_scope = false;
        }
      }
      if (!plain_scope) continue;
      for (const auto& n : ns)
        if (!n.empty()) q += n + "::";
      if (qualifier.empty() || q == qualifier) defs.push_back((int)i);
    }
    return defs;
  };
  // Where definition `fn` lives: its `template <...>` as written (from the template's start to
  // the function's) and its namespaces, opened and closed. False for a header spelled through a
  // macro.
  auto scope = [&](int fn, std::string* header, std::string* open, std::string* close) {
    const int parent = t[fn].parent;
    if (parent >= 0 && t[parent].kind == "FunctionTemplateDecl") {
      WiLoc b = t[parent].begin, e = t[fn].begin;
      auto off = [&](const WiLoc& l) -> size_t {
        auto it = rw.text_line_of.find(l.line);
        if (!l.valid || !l.in_source || it == rw.text_line_of.end()) return std::string::npos;
        return line_start[it->second] + (size_t)(l.col - 1);
      };
      const size_t hb = off(b), he = off(e);
      if (hb == std::string::npos || he == std::string::npos || he < hb) return false;
      *header = rw.text.substr(hb, he - hb);
      for (auto& c : *header)
        if (c == '#') c = ' ';
    }
    for (int p = t[fn].parent; p >= 0; p = t[p].parent)
      if (t[p].kind == "NamespaceDecl") {
        std::string n = decl_name(t[p].rest + " '");
        *open = "namespace " + (n == "inline" ? std::string() : n) + " { " + *open;
        *close += "}";
      }
    return true;
  };

  std::string out;
  // Group functions, generated on a kernel's (or another group function's) first call, callees
  // before their callers.
  SortedMap<int, std::string> group_refused;  // definition node -> why not ("" generated)
  std::set<int> generating;                   // recursion
  GroupRequest request;
  auto generate = [&](const std::string& name, std::string* group, std::string* why) -> bool {
    const Vec<int> defs = definitions(name, "");
    if (defs.size() != 1) {
      *why = defs.empty() ? "no definition at namespace scope" : "overloaded or defined twice";
      return false;
    }
    const int fn = defs[0];
    auto known = group_refused.find(fn);
    if (known == group_refused.end()) {
      if (generating.count(fn)) {
        *why = "recursion";
        return false;
      }
      std::string header, open, close, code, reason;
      if (!scope(fn, &header, &open, &close)) {
        reason = "a template header spelled through a macro";
      } else {
        generating.insert(fn);
        KernelLoops gen(t, rw, line_start, sync_fns, ctor_sync, library_fns, request);
        try {
          code = gen.generate_group(fn, header, open, close);
          reason = gen.reason();
        } catch (const std::exception& e) {
          code.clear();
          reason = std::string("internal: ") + e.what();
        }
        generating.erase(fn);
      }
      if (!code.empty()) {
        reason.clear();
        out += "# " + std::to_string(t[fn].begin.line) + " \"" + kEntryFile + "\"\n" + code;
      } else if (reason.empty()) {
        reason = "not generated";
      }
      known = group_refused.emplace(fn, reason).first;
    }
    if (!known->second.empty()) {
      *why = known->second;
      return false;
    }
    *group = kGroupPrefix + name;
    return true;
  };
  request = GroupRequest(&generate);

  SortedMap<int, std::string> done;  // definition node -> loop function name ("" refused)
  SortedMap<int, std::string> refused;
  for (auto& k : rw.kernels) {
    if (!k.uses_sync) continue;
    // The kernel's unqualified name and its qualification, from `::ns::name<args>`.
    size_t name_end = k.expr.size();
    int depth = 0;
    for (size_t i = 0; i < k.expr.size(); ++i) {
      if (k.expr[i] == '<' && depth++ == 0) {
        name_end = i;
        break;
      }
    }
    const size_t colons = k.expr.rfind("::", name_end);
    const size_t name_start = colons == std::string::npos ? 0 : colons + 2;
    const std::string name = k.expr.substr(name_start, name_end - name_start);
    const std::string qualifier = k.expr.substr(0, name_start);  // "::" or "::ns::"
    const Vec<int> defs = definitions(name, qualifier);
    if (defs.size() != 1) {
      k.work_items_reason = defs.empty() ? "definition not found" : "overloaded definition";
      continue;
    }
    const int fn = defs[0];
    if (!done.count(fn)) {
      const std::string new_name = "__mb_wi_" + name;
      std::string header, open, close;
      if (!scope(fn, &header, &open, &close)) {
        done[fn] = "";
        refused[fn] = "a template header spelled through a macro";
      } else {
        KernelLoops gen(t, rw, line_start, sync_fns, ctor_sync, library_fns, request);
        std::string code, why;
        try {
          code = gen.generate(fn, k, new_name, header, open, close);
          why = gen.reason();
        } catch (const std::exception& e) {  // a shape this reader does not know: fibers
          code.clear();
          why = std::string("internal: ") + e.what();
        }
        if (code.empty()) {
          done[fn] = "";
          refused[fn] = why;
        } else {
          done[fn] = new_name;
          out += "# " + std::to_string(t[fn].begin.line) + " \"" + kEntryFile + "\"\n" + code;
        }
      }
    }
    if (done[fn].empty()) {
      k.work_items_reason = refused[fn];
    } else {
      k.work_items = qualifier + done[fn] + k.expr.substr(name_end);
    }
  }
  // METAL_COMPUTE_CPU_WORK_ITEMS_LOG=1: one line per barrier kernel on stderr, its strategy and
  // why a kernel keeps fibers (bench/work_items.ts prints the catalogue's from it).
  // METAL_COMPUTE_CPU_WORK_ITEMS_LOG=code: the generated code too.
  const char* log = getenv("METAL_COMPUTE_CPU_WORK_ITEMS_LOG");
  if (log && (strcmp(log, "1") == 0 || strcmp(log, "code") == 0)) {
    for (const auto& k : rw.kernels)
      if (k.uses_sync)
        fprintf(
            stderr, "work-items: %s: %s\n", k.host_name.c_str(),
            k.work_items.empty() ? ("fibers: " + k.work_items_reason).c_str() : "work-item-loops");
    if (strcmp(log, "code") == 0) fprintf(stderr, "%s\n", out.c_str());
  }
  if (out.empty()) return "";
  return "\n#if " + std::string(kWorkItemsMacro) + "\n" + out + "#endif\n";
}

}  // namespace mbcpu
