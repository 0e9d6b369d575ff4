// msl_work_items.cpp — barrier kernels as work-item loops (see msl_work_items.h).
//
// Reads clang's text AST dump into a tree (one node a line; `<<<NULL>>>` marks an absent child of
// a `for`), finds each synchronising kernel's definition (the template pattern for a kernel
// template: one loop version serves every instantiation), and rebuilds its body as items:
//   Plain    statements without synchronisation: one loop over the group's threads
//   Barrier  threadgroup_barrier / simdgroup_barrier: the boundary between two loops
//   Collect  the collectives of one statement: per collective a deposit loop and a collect loop
//            (the statement itself opens the next Plain loop, reading each lane's result)
//   If/For/While/Do  with a synchronising body: a loop that evaluates the condition per thread
//            into a mask, then the body's items under that mask
// Text comes from the rewritten library by the AST's locations (the .metal line maps to a line
// of the rewritten text; clang's columns are that line's), so the loops run the kernel's own
// statements, compiled in the kernel's own namespace and template.
#include "msl_work_items.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "msl_ast.h"
#include "msl_lex.h"
#include "msl_vocabulary.h"

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
  std::vector<int> kids;
};

uint64_t hex_at(const std::string& s, size_t p) {
  if (s.compare(p, 2, "0x") != 0) return 0;
  return strtoull(s.c_str() + p + 2, nullptr, 16);
}

std::vector<WiNode> read_tree(const std::string& dump) {
  std::vector<WiNode> nodes;
  std::vector<int> stack;  // the open node at each depth
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

// Collectives whose result the loops cannot carry: they write through their arguments or
// share work out by thread index in ways the deposit/collect split does not model.
bool is_opaque_collective(const std::string& n) {
  return n == "matmul2d" || n == "cooperative_tensor" || n.rfind("execution_simdgroup", 0) == 0 ||
         n == "simdgroup_load" || n == "simdgroup_store" || n == "simdgroup_multiply_accumulate" ||
         n == "simdgroup_multiply" || n == "__metal_get_thread_index_in_simdgroup";
}

// ---- one kernel
// -----------------------------------------------------------------------------------

struct WiPiece {
  int node = -1;
  std::vector<int> calls;  // collectives of this statement, read from result areas
};

struct WiItem {
  enum Kind { Plain, Barrier, Collect, If, For, While, Do } kind = Plain;
  std::vector<WiPiece> pieces;  // Plain
  std::vector<int> calls;       // Collect
  int node = -1;                // the statement (Barrier, If, loops)
  bool simd_barrier = false;
  int cond = -1, init = -1, inc = -1;
  std::vector<WiItem> a, b;  // If: then / else; loops: body
  int id = 0;
};

constexpr size_t kMaxResultAreas = 4;  // collectives in one statement (kernel_module.h)

class KernelLoops {
 public:
  KernelLoops(const std::vector<WiNode>& t, const Rewritten& rw,
              const std::vector<size_t>& line_start, const std::set<std::string>& sync_fns,
              bool ctor_sync, const std::set<uint64_t>& library_fns)
      : t_(t),
        rw_(rw),
        line_start_(line_start),
        sync_fns_(sync_fns),
        ctor_sync_(ctor_sync),
        library_fns_(library_fns) {}

  // The loop version of definition `fn` (a FunctionDecl with a body), named `new_name`;
  // "" with reason() set when the kernel is outside the covered subset.
  std::string generate(int fn, const RwKernel& k, const std::string& new_name,
                       const std::string& template_header, const std::string& namespaces_open,
                       const std::string& namespaces_close);
  const std::string& reason() const { return reason_; }

 private:
  const std::vector<WiNode>& t_;
  const Rewritten& rw_;
  const std::vector<size_t>& line_start_;
  const std::set<std::string>& sync_fns_;
  bool ctor_sync_;
  const std::set<uint64_t>& library_fns_;
  std::string reason_;
  std::map<int, bool> sync_memo_;
  int next_id_ = 0;

  // Analysis results.
  std::set<int> split_nodes_;                    // statements turned into loops of loops
  std::map<int, std::vector<int>> piece_loops_;  // piece root -> loop ids
  int next_loop_ = 0;
  struct Var {
    std::string name, type;
    int decl = -1;       // VarDecl node
    int loop = -1;       // declaring loop
    bool root = false;   // declared by its piece's own DeclStmt (in scope to the loop's end)
    std::set<int> used;  // loops referencing it
    int slot = -1;
  };
  std::map<uint64_t, Var> vars_;
  std::map<uint64_t, int> params_;                 // per-thread ParmVarDecl addr -> param index
  std::map<int, std::set<uint64_t>> loop_params_;  // loop -> per-thread params it reads
  std::vector<int> hoisted_;                       // statements emitted once, at function scope
  std::vector<std::string> param_names_;
  std::vector<std::string> param_attrs_;
  std::map<int, std::string> piece_label_;  // piece root -> label its `return`s jump to
  bool collectives_ = false;

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
    size_t end = token_end(offset(t_[n].end));
    if (*b == std::string::npos || end == std::string::npos || end <= *b) return false;
    if (t_[n].kind != "CompoundStmt") {
      const size_t p = skip_space(end);
      if (p < rw_.text.size() && rw_.text[p] == ';' && rw_.text[end - 1] != ';') end = p + 1;
    }
    *e = end;
    return true;
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
  std::string text(size_t b, size_t e, std::vector<Edit> edits) const {
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
  bool has_sync(int n) {
    auto it = sync_memo_.find(n);
    if (it != sync_memo_.end()) return it->second;
    const WiNode& node = t_[n];
    bool s = false;
    if (is_reference_kind(node.kind)) s = names_sync(referenced(node).name);
    if (ctor_sync_ && (node.kind == "CXXConstructExpr" || node.kind == "CXXTemporaryObjectExpr"))
      s = true;
    for (int k : node.kids)
      if (!s && t_[k].kind != "NULL") s = has_sync(k);
    return sync_memo_[n] = s;
  }
  // The name a call expression calls ("" when it is not a named function).
  std::string callee(int call) const {
    if (t_[call].kids.empty()) return "";
    std::vector<int> work = {t_[call].kids[0]};
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
  bool build_block(const std::vector<int>& stmts, std::vector<WiItem>* out);
  bool build_stmt(int s, std::vector<WiItem>* out);
  bool collective_statement(int s, std::vector<int>* calls);
  void number_loops(std::vector<WiItem>& items);
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

  // ---- emission ----
  std::string loop(int loop, const std::string& mask, const std::string& skip,
                   const std::string& body, bool set_tid);
  std::string emit(const std::vector<WiItem>& items, const std::string& mask);
  std::string piece_text(const WiPiece& p, int loop, std::string* saves);
  std::map<const WiItem*, std::vector<int>> item_loops_;
};

bool KernelLoops::collective_statement(int s, std::vector<int>* calls) {
  const WiNode& st = t_[s];
  const bool decl = st.kind == "DeclStmt";
  const bool expr = st.kind.size() > 4 && (st.kind.rfind("Expr") == st.kind.size() - 4 ||
                                           st.kind.rfind("Operator") == st.kind.size() - 8 ||
                                           st.kind == "ExprWithCleanups");
  if (!decl && !expr)
    return fail("a barrier or SIMD-group function inside a " + st.kind + " (line " +
                std::to_string(line_of(s)) + ")");
  if (decl)
    for (int k : st.kids)
      if (t_[k].kind != "VarDecl" || t_[k].rest.find(" static") != std::string::npos)
        return fail("a SIMD-group function initialising a static or non-variable (line " +
                    std::to_string(line_of(s)) + ")");
  bool ok = true;
  walk(s, [&](int m) {
    if (!ok || !is_reference_kind(t_[m].kind)) return;
    const std::string name = referenced(t_[m]).name;
    if (!names_sync(name)) return;
    // The reference must be the callee of a call (through implicit casts).
    int call = t_[m].parent;
    while (call >= 0 && (t_[call].kind == "ImplicitCastExpr" || t_[call].kind == "ParenExpr"))
      call = t_[call].parent;
    if (call < 0 || t_[call].kind != "CallExpr" || t_[call].kids.empty() ||
        !is_ancestor(t_[call].kids[0], m)) {
      ok = fail("'" + name + "' used other than as a call (line " + std::to_string(line_of(s)) +
                ")");
      return;
    }
    if (!is_sync_name(name) || is_barrier_name(name) || is_opaque_collective(name)) {
      ok = fail("a call to '" + name + "' inside an expression (line " +
                std::to_string(line_of(s)) + ")");
      return;
    }
    if (first_quoted(t_[call].rest) == "void") {
      ok = fail("'" + name + "' returns nothing (line " + std::to_string(line_of(s)) + ")");
      return;
    }
    for (size_t a = 1; a < t_[call].kids.size(); ++a) {
      const int arg = t_[call].kids[a];
      if (t_[arg].kind == "CXXDefaultArgExpr") continue;
      if (has_sync(arg) || !pure(arg)) {
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
    if (!expr_range(call, &b, &e)) {
      ok = fail("'" + name + "' spelled through a macro (line " + std::to_string(line_of(s)) + ")");
      return;
    }
    calls->push_back(call);
  });
  if (!ok) return false;
  if (calls->empty())
    return fail("a synchronising statement (line " + std::to_string(line_of(s)) + ")");
  if (calls->size() > kMaxResultAreas)
    return fail("more than " + std::to_string(kMaxResultAreas) +
                " SIMD-group functions in one statement (line " + std::to_string(line_of(s)) + ")");
  // A statement that declares a variable with a collective inside another collective's
  // arguments was refused above (has_sync of the arguments).
  return true;
}

bool KernelLoops::build_stmt(int s, std::vector<WiItem>* out) {
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
  if (st.kind == "CompoundStmt") return build_block(st.kids, out);
  auto body_block = [&](int b, std::vector<WiItem>* items) {
    if (b < 0 || t_[b].kind == "NULL") return true;
    if (t_[b].kind == "CompoundStmt") return build_block(t_[b].kids, items);
    return build_stmt(b, items);
  };
  auto plain_expr = [&](int e, const char* what) {
    if (e < 0 || t_[e].kind == "NULL") return true;
    size_t b, x;
    if (has_sync(e))
      return fail(std::string("a SIMD-group function in the ") + what + " of a statement (line " +
                  line + ")");
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
    std::vector<int> calls;
    if (!collective_statement(s, &calls)) return false;
    collectives_ = true;
    WiItem c;
    c.kind = WiItem::Collect;
    c.calls = calls;
    c.node = s;
    out->push_back(c);
    WiItem p;
    p.pieces.push_back({s, calls});
    out->push_back(p);
    return true;
  }
  split_nodes_.insert(s);
  out->push_back(std::move(it));
  return true;
}

bool KernelLoops::build_block(const std::vector<int>& stmts, std::vector<WiItem>* out) {
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
void KernelLoops::number_loops(std::vector<WiItem>& items) {
  for (auto& it : items) {
    std::vector<int>& loops = item_loops_[&it];
    switch (it.kind) {
      case WiItem::Plain: {
        const int l = next_loop_++;
        loops.push_back(l);
        for (const auto& p : it.pieces) add_piece(p.node, l);
        break;
      }
      case WiItem::Barrier:
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
    std::vector<int> parms;
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
    std::vector<int> out;
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
      std::vector<int> l = loops_of(m, true);
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
  for (auto& [addr, v] : vars_) {
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
  if (set_tid) g += "::metal::__mb_tid = __mb_li;\n";
  const ThreadIdNames names{"__mb_G", "__mb_x", "__mb_y", "__mb_z", "__mb_li"};
  for (uint64_t addr : loop_params_[l]) {
    const int p = params_[addr];
    const std::string type = "__mb_p" + std::to_string(p);
    g += type + " " + param_names_[p] + " = " + thread_id_expression(param_attrs_[p], type, names) +
         ";\n";
  }
  for (const auto& [addr, v] : vars_)
    if (v.slot >= 0 && v.loop != l && v.used.count(l))
      g += "auto& " + v.name + " = __mb_s" + std::to_string(v.slot) + "[__mb_li];\n";
  g += "{\n" + body + "\n}\n__mb_next" + std::to_string(l) + ":;\n}\n";
  return g;
}

std::string KernelLoops::piece_text(const WiPiece& p, int l, std::string* saves) {
  size_t b, e;
  stmt_range(p.node, &b, &e);
  std::vector<Edit> edits;
  for (size_t i = 0; i < p.calls.size(); ++i) {
    size_t cb, ce;
    expr_range(p.calls[i], &cb, &ce);
    std::string call = text(cb, ce, {});
    // The type of the call with its site given: clang-19 crashes generating code for a
    // non-dependent decltype whose call takes __builtin_source_location() by default.
    const std::vector<int>& args = t_[p.calls[i]].kids;
    if (args.size() > 1 && t_[args.back()].kind == "CXXDefaultArgExpr" &&
        t_[args.back()].rest.find("__mb_site") != std::string::npos && call.back() == ')')
      call.insert(call.size() - 1, args.size() > 2 ? ", nullptr" : "nullptr");
    edits.push_back({cb, ce,
                     "::metal::__mb_wi_take<decltype(" + call + ")>(__mb_w, " + std::to_string(i) +
                         "u, __mb_li)"});
  }
  walk(p.node, [&](int m) {
    if (t_[m].kind != "ReturnStmt") return;
    const size_t rb = offset(t_[m].begin);
    edits.push_back({rb, rb + 6, "goto __mb_next" + std::to_string(l)});
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

std::string KernelLoops::emit(const std::vector<WiItem>& items, const std::string& mask) {
  std::string g;
  const std::string all = mask.empty() ? "nullptr" : mask;
  for (const auto& it : items) {
    const std::vector<int>& loops = item_loops_[&it];
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
        if (!mask.empty())
          g += "::metal::__mb_wi_barrier(" + mask + ", __mb_n, " +
               (it.simd_barrier ? "true" : "false") + ", " + std::to_string(line_of(it.node)) +
               ");\n";
        break;
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
        g += "if (::metal::__mb_wi_any(" + m + ", __mb_n)) {\n" + emit(it.a, m) + "}\n";
        if (!it.b.empty()) {
          const std::string me = m + "e";
          g += "for (uint32_t __mb_i = 0; __mb_i < __mb_n; ++__mb_i) " + me +
               "[__mb_i] = " + (mask.empty() ? "true" : mask + "[__mb_i]") + " && !" + m +
               "[__mb_i];\n";
          g += "if (::metal::__mb_wi_any(" + me + ", __mb_n)) {\n" + emit(it.b, me) + "}\n";
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
        g += emit(it.a, m);
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

std::string KernelLoops::generate(int fn, const RwKernel& k, const std::string& new_name,
                                  const std::string& template_header,
                                  const std::string& namespaces_open,
                                  const std::string& namespaces_close) {
  const WiNode& f = t_[fn];
  int body = -1;
  std::vector<int> parms;
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
  std::vector<WiItem> items;
  if (!build_block(t_[body].kids, &items)) return "";
  // What synchronises inside the compatibility header (the tensor API's operations, a
  // simdgroup matrix's lanes) is not in the AST of the library: refuse any such word the body
  // spells other than as the barriers and collectives split above.
  {
    std::set<std::string> handled;
    std::vector<const std::vector<WiItem>*> work = {&items};
    while (!work.empty()) {
      const std::vector<WiItem>* list = work.back();
      work.pop_back();
      for (const auto& it : *list) {
        if (it.kind == WiItem::Barrier) handled.insert(callee(it.node));
        for (int c : it.calls) handled.insert(callee(c));
        work.push_back(&it.a);
        work.push_back(&it.b);
      }
    }
    size_t b = offset(t_[body].begin), e = token_end(offset(t_[body].end));
    if (b == std::string::npos || e == std::string::npos)
      return fail("a body spelled through a macro"), "";
    for (size_t p = b; p < e;) {
      Kind kind;
      const size_t n = lex_one(rw_.text, p, &kind);
      if (n == 0) break;
      if (kind == IDENT) {
        const std::string word = rw_.text.substr(p, n);
        const bool value_type = word == "simd_vote" || word == "quad_vote";
        if (is_sync_name(word) && !value_type && !handled.count(word))
          return fail("'" + word + "' synchronises inside the compatibility header"), "";
      }
      p += n;
    }
  }
  number_loops(items);
  if (!analyse_uses(body) || !instantiations_read_only(fn)) return "";

  // `return` only after the last synchronisation, at the body's top level; `break` and
  // `continue` only inside the statement that holds their loop.
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
      if (!x.kids.empty() || !tail.count(top))
        ok = fail("a return before a barrier or SIMD-group function (line " +
                  std::to_string(line_of(m)) + ")");
    } else if (x.kind == "BreakStmt" || x.kind == "ContinueStmt") {
      int p = x.parent;
      while (p >= 0 && t_[p].kind != "ForStmt" && t_[p].kind != "WhileStmt" &&
             t_[p].kind != "DoStmt" && (x.kind == "ContinueStmt" || t_[p].kind != "SwitchStmt"))
        p = t_[p].parent;
      if (p < 0 || split_nodes_.count(p))
        ok = fail("a " + std::string(x.kind == "BreakStmt" ? "break" : "continue") +
                  " out of a loop holding a barrier (line " + std::to_string(line_of(m)) + ")");
    }
  });
  if (!ok) return "";

  // Statements emitted once at function scope: static and constexpr variables (threadgroup
  // variables are static thread_local here), and declarations of types.
  std::string hoisted;
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
    hoisted += text(b, e, {}) + "\n";
    hoisted_.push_back(m);
  });
  if (!ok) return "";

  // Names the loops declare must not collide (a variable and a shadowing one both read in one
  // loop).
  std::map<int, std::set<std::string>> names;
  for (const auto& [addr, v] : vars_)
    if (v.slot >= 0)
      for (int l : v.used)
        if (l != v.loop && !names[l].insert(v.name).second)
          return fail("two variables named '" + v.name + "' in one region"), "";
  for (const auto& [l, ps] : loop_params_)
    for (uint64_t a : ps)
      if (!names[l].insert(param_names_[params_[a]]).second)
        return fail("a variable shadows parameter '" + param_names_[params_[a]] + "'"), "";

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
  if (collectives_) g += "::mbk_work_item_space& __mb_w = ::metal::__mb_wi_begin(__mb_G);\n";
  for (const auto& [addr, p] : params_)
    g += "using __mb_p" + std::to_string(p) + " = __remove_cvref(decltype(" + param_names_[p] +
         "));\n";
  g += hoisted;
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
  g += emit(items, "");
  if (collectives_) g += "::metal::__mb_wi_end();\n";
  g += "}\n" + namespaces_close + "\n";
  return g;
}

// ---- the library
// ----------------------------------------------------------------------------------

// Names of the library's functions that synchronise, directly or through others (by name: an
// overload set synchronises when one of its members does).
std::set<std::string> syncing_functions(const std::vector<WiNode>& t, bool* ctor_sync,
                                        std::set<uint64_t>* library_fns) {
  std::map<std::string, std::set<std::string>> calls;  // function name -> names it references
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
    std::vector<int> work = {body};
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
  const std::vector<WiNode> t = read_tree(ast_dump);
  std::vector<size_t> line_start = {0};
  for (size_t i = 0; i < rw.text.size(); ++i)
    if (rw.text[i] == '\n') line_start.push_back(i + 1);
  bool ctor_sync = false;
  std::set<uint64_t> library_fns;
  const std::set<std::string> sync_fns = syncing_functions(t, &ctor_sync, &library_fns);

  std::map<int, std::string> done;  // definition node -> loop function name ("" refused)
  std::map<int, std::string> refused;
  std::string out;
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
    // Its definition: a FunctionDecl with a body, the pattern of a template or a plain function,
    // in the namespace the expression names.
    std::vector<int> defs;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i].kind != "FunctionDecl" || decl_name(t[i].rest) != name) continue;
      bool has_body = false;
      for (int c : t[i].kids) has_body |= t[c].kind == "CompoundStmt";
      if (!has_body || t[i].rest.find("explicit_instantiation") != std::string::npos) continue;
      bool instantiation = false;
      for (int c : t[i].kids) instantiation |= t[c].kind == "TemplateArgument";
      if (instantiation) continue;
      std::string q = "::";
      bool plain_scope = true;
      std::vector<std::string> ns;
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
      if (q == qualifier) defs.push_back((int)i);
    }
    if (defs.size() != 1) {
      k.work_items_reason = defs.empty() ? "definition not found" : "overloaded definition";
      continue;
    }
    const int fn = defs[0];
    if (!done.count(fn)) {
      const std::string new_name = "__mb_wi_" + name;
      std::string header, open, close;
      const int parent = t[fn].parent;
      if (parent >= 0 && t[parent].kind == "FunctionTemplateDecl") {
        // `template <...>` as written: from the template's start to the function's.
        WiLoc b = t[parent].begin, e = t[fn].begin;
        auto off = [&](const WiLoc& l) -> size_t {
          auto it = rw.text_line_of.find(l.line);
          if (!l.valid || !l.in_source || it == rw.text_line_of.end()) return std::string::npos;
          return line_start[it->second] + (size_t)(l.col - 1);
        };
        const size_t hb = off(b), he = off(e);
        if (hb == std::string::npos || he == std::string::npos || he < hb) {
          done[fn] = "";
          refused[fn] = "a template header spelled through a macro";
        } else {
          header = rw.text.substr(hb, he - hb);
          for (auto& c : header)
            if (c == '#') c = ' ';
        }
      }
      for (int p = t[fn].parent; p >= 0; p = t[p].parent)
        if (t[p].kind == "NamespaceDecl") {
          std::string n = decl_name(t[p].rest + " '");
          open = "namespace " + (n == "inline" ? std::string() : n) + " { " + open;
          close += "}";
        }
      if (!done.count(fn)) {
        KernelLoops gen(t, rw, line_start, sync_fns, ctor_sync, library_fns);
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
  if (out.empty()) return "";
  return "\n#if " + std::string(kWorkItemsMacro) + "\n" + out + "#endif\n";
}

}  // namespace mbcpu
