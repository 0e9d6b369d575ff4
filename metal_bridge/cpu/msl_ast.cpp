// msl_ast.cpp — reads clang's text AST dump into AstFacts (see msl_ast.h).
//
// One node a line: a tree prefix ("| |-"), the node kind, its address, for declarations
// "parent"/"prev" addresses, the source range in <...>, for declarations their location, then
// names, types and flags. clang prints each location relative to the one printed before it
// ("col:7" keeps the file and line, "line:9:6" keeps the file, "@src:9:6" names it), so the
// reader follows the locations in print order. Line markers make the file and line those of the
// .metal source (`@src`), as in clang's diagnostics; columns are the rewritten text's.
#include "msl_ast.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

#include "msl_lex.h"
#include "msl_rewrite.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int dump_number(const std::string& s, size_t* p) {
  int n = 0;
  while (*p < s.size() && is_digit(s[*p])) n = n * 10 + (s[(*p)++] - '0');
  return n;
}

}  // namespace

AstDumpLoc AstDumpLocReader::read(const std::string& s, size_t* i) {
  AstDumpLoc l;
  size_t p = *i;
  if (s.compare(p, 14, "<invalid sloc>") == 0) {
    *i = p + 14;
    return l;
  }
  if (s.compare(p, 4, "col:") == 0 && p + 4 < s.size() && is_digit(s[p + 4])) {
    p += 4;
    l.col = dump_number(s, &p);
  } else if (s.compare(p, 5, "line:") == 0 && p + 5 < s.size() && is_digit(s[p + 5])) {
    p += 5;
    line_ = dump_number(s, &p);
    if (p >= s.size() || s[p] != ':') return AstDumpLoc{};
    ++p;
    l.col = dump_number(s, &p);
  } else {
    // FILE:LINE:COL, FILE possibly holding spaces ("<scratch space>"): the first ":L:C" that
    // ends a token.
    bool found = false;
    for (size_t q = p; q < s.size() && s[q] != '\''; ++q) {
      if (s[q] != ':' || q + 1 >= s.size() || !is_digit(s[q + 1])) continue;
      size_t r = q + 1;
      while (r < s.size() && is_digit(s[r])) ++r;
      if (r >= s.size() || s[r] != ':' || r + 1 >= s.size() || !is_digit(s[r + 1])) continue;
      size_t t = r + 1;
      while (t < s.size() && is_digit(s[t])) ++t;
      if (t < s.size() && s[t] != ' ' && s[t] != ',' && s[t] != '>') continue;
      const std::string file = s.substr(p, q - p);
      file_ = file == kSourceFile ? kSource : file == kEntryFile ? kEntry : kOther;
      line_ = atoi(s.c_str() + q + 1);
      l.col = atoi(s.c_str() + r + 1);
      p = t;
      found = true;
      break;
    }
    if (!found) return AstDumpLoc{};
  }
  l.valid = true;
  l.line = line_;
  l.in_source = file_ == kSource;
  l.in_entry = file_ == kEntry;
  *i = p;
  // A location in a macro expansion is followed by where it was spelled.
  if (s.compare(p, 11, " <Spelling=") == 0) {
    size_t k = p + 11;
    read(s, &k);
    if (k < s.size() && s[k] == '>') ++k;
    *i = k;
  }
  return l;
}

namespace {

using Loc = AstDumpLoc;
using LocationReader = AstDumpLocReader;

uint64_t hex_at(const std::string& s, size_t p) {
  if (s.compare(p, 2, "0x") != 0) return 0;
  return strtoull(s.c_str() + p + 2, nullptr, 16);
}

bool is_function_kind(const std::string& k) {
  return k == "FunctionDecl" || k == "CXXMethodDecl" || k == "CXXConstructorDecl" ||
         k == "CXXDestructorDecl" || k == "CXXConversionDecl";
}

bool is_program_scope_kind(const std::string& k) {
  return k == "TranslationUnitDecl" || k == "NamespaceDecl" || k == "LinkageSpecDecl" ||
         k == "VarTemplateDecl" || k == "ExportDecl";
}

// The first quoted string of `rest` (the declared type as written), and the word before it
// (the declaration's name, "" for an unnamed parameter).
void name_and_type(const std::string& rest, std::string* name, std::string* type) {
  size_t q = rest.find('\'');
  if (q == std::string::npos) return;
  size_t e = rest.find('\'', q + 1);
  *type = rest.substr(q + 1, e == std::string::npos ? std::string::npos : e - q - 1);
  size_t end = q;
  while (end > 0 && rest[end - 1] == ' ') --end;
  size_t b = end;
  while (b > 0 && rest[b - 1] != ' ') --b;
  *name = rest.substr(b, end - b);
}

// The type of a declaration line without its sugar: `x 'const uint':'const unsigned int'` ->
// `unsigned int` (outer const dropped).
std::string desugared_type(const std::string& rest) {
  std::string name, type;
  name_and_type(rest, &name, &type);
  const size_t q = rest.find('\'');
  const size_t e = q == std::string::npos ? q : rest.find('\'', q + 1);
  if (e != std::string::npos && rest.compare(e + 1, 2, ":'") == 0) {
    const size_t f = rest.find('\'', e + 3);
    if (f != std::string::npos) type = rest.substr(e + 3, f - e - 3);
  }
  if (type.rfind("const ", 0) == 0) type.erase(0, 6);
  return type;
}

// `float (*)(float)`, `void (&)(int)`, `float (S::*)(float) const`: a parenthesised declarator
// ending in * or & followed by a parameter list.
bool is_function_pointer_type(const std::string& t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '(') continue;
    int depth = 0;
    size_t j = i;
    for (; j < t.size(); ++j) {
      if (t[j] == '(') ++depth;
      if (t[j] == ')' && --depth == 0) break;
    }
    if (j >= t.size() || j + 1 >= t.size() || t[j + 1] != '(') continue;
    std::string inner = t.substr(i + 1, j - i - 1);
    while (!inner.empty() && inner.back() == ' ') inner.pop_back();
    if (inner.size() >= 5 && inner.compare(inner.size() - 5, 5, "const") == 0)
      inner.erase(inner.size() - 5);
    while (!inner.empty() && inner.back() == ' ') inner.pop_back();
    if (!inner.empty() && (inner.back() == '*' || inner.back() == '&')) return true;
  }
  return false;
}

// Whether the object of type `t` (as clang prints it) is itself const: the qualifier after the
// last top-level pointer or reference, else anywhere outside template arguments and parentheses.
bool is_const_type(std::string t) {
  while (!t.empty() && t.back() == ']') {  // an array is const when its elements are
    size_t open = t.rfind('[');
    if (open == std::string::npos) break;
    t.erase(open);
    while (!t.empty() && t.back() == ' ') t.pop_back();
  }
  auto has_const_word = [](const std::string& s) {
    int depth = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '<' || s[i] == '(') ++depth;
      if (s[i] == '>' || s[i] == ')') --depth;
      if (depth == 0 && s.compare(i, 5, "const") == 0 && (i == 0 || !isalnum(s[i - 1])) &&
          (i + 5 >= s.size() || (!isalnum(s[i + 5]) && s[i + 5] != '_')))
        return true;
    }
    return false;
  };
  int depth = 0;
  size_t last = std::string::npos;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '<' || t[i] == '(') ++depth;
    if (t[i] == '>' || t[i] == ')') --depth;
    if (depth == 0 && (t[i] == '*' || t[i] == '&')) last = i;
  }
  return has_const_word(last == std::string::npos ? t : t.substr(last + 1));
}

// One line of the dump, split into its parts.
struct Node {
  int depth = 0;
  std::string kind;  // "" for a missing child (<<<NULL>>>), which still counts as one
  uint64_t addr = 0, prev = 0;
  Loc begin, end, loc;  // the source range; a declaration's own location
  std::string rest;     // names, types and flags after the locations
  bool last = false;    // its parent's last child (the dump draws it with a backquote)
};

// Parses one line of the dump; false for lines that are no node (blank, or continuing a node).
bool parse_node(const std::string& s, LocationReader& locs, Node* n) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '|' || s[i] == '`' || s[i] == '-')) ++i;
  n->depth = (int)(i / 2);
  n->last = i >= 2 && s[i - 2] == '`';
  n->kind.clear();
  n->addr = n->prev = 0;
  n->begin = n->end = n->loc = Loc{};
  n->rest.clear();
  if (s.compare(i, 10, "<<<NULL>>>") == 0) return true;
  if (i >= s.size() || !isalpha((unsigned char)s[i])) return false;
  size_t k = s.find(' ', i);
  if (k == std::string::npos) k = s.size();
  n->kind = s.substr(i, k - i);
  i = k;
  if (s.compare(i, 3, " 0x") == 0) {
    n->addr = hex_at(s, i + 1);
    i = s.find(' ', i + 1);
    if (i == std::string::npos) i = s.size();
  }
  while (s.compare(i, 8, " parent ") == 0 || s.compare(i, 6, " prev ") == 0) {
    bool is_prev = s.compare(i, 6, " prev ") == 0;
    size_t a = i + (is_prev ? 6 : 8);
    if (is_prev) n->prev = hex_at(s, a);
    i = s.find(' ', a);
    if (i == std::string::npos) i = s.size();
  }
  if (s.compare(i, 2, " <") == 0) {
    size_t p = i + 2;
    n->begin = locs.read(s, &p);
    n->end = n->begin;
    if (s.compare(p, 2, ", ") == 0) {
      p += 2;
      n->end = locs.read(s, &p);
    }
    if (p < s.size() && s[p] == '>') ++p;
    i = p;
    const std::string& kind = n->kind;
    if (i < s.size() && s[i] == ' ' && kind.size() > 4 &&
        kind.compare(kind.size() - 4, 4, "Decl") == 0) {
      size_t q = i + 1;
      n->loc = locs.read(s, &q);
      if (n->loc.valid || s.compare(i + 1, 14, "<invalid sloc>") == 0) i = q;
    }
  }
  if (i < s.size()) n->rest = s.substr(i);
  return true;
}

// What a DeclRefExpr or MemberExpr line refers to.
struct Ref {
  uint64_t target = 0;
  std::string name;
  bool function = false;  // a function, method, constructor, ...; else a variable or a field
};

bool parse_reference(const Node& n, Ref* r) {
  const std::string& rest = n.rest;
  if (n.kind == "DeclRefExpr") {
    size_t at = std::string::npos;
    for (const char* k : {" Function 0x", " CXXMethod 0x", " CXXConstructor 0x",
                          " CXXConversion 0x", " CXXDestructor 0x", " Var 0x"}) {
      size_t f = rest.find(k);
      if (f != std::string::npos && f < at) {
        at = f;
        r->function = strcmp(k, " Var 0x") != 0;
      }
    }
    if (at == std::string::npos) return false;
    const size_t a = rest.find("0x", at);
    r->target = hex_at(rest, a);
    const size_t q = rest.find('\'', a);
    const size_t e = q == std::string::npos ? q : rest.find('\'', q + 1);
    if (e != std::string::npos) r->name = rest.substr(q + 1, e - q - 1);
    return r->target != 0;
  }
  if (n.kind == "MemberExpr") {
    size_t skip = 3, dot = rest.find("' .");
    if (dot == std::string::npos) dot = rest.find("' ->"), skip = 4;
    if (dot == std::string::npos) return false;
    const size_t sp = rest.find(" 0x", dot + skip);
    if (sp == std::string::npos) return false;
    r->name = rest.substr(dot + skip, sp - dot - skip);
    r->target = hex_at(rest, sp + 1);
    r->function = rest.find("'<bound member function type>'") != std::string::npos;
    return r->target != 0;
  }
  return false;
}

// A type of the compatibility header whose operations are shared out over a SIMD-group's lanes
// (each lane holds part of the value), named in a quoted type of the line.
bool names_lane_shared_type(const std::string& rest) {
  if (rest.find('\'') == std::string::npos) return false;
  for (const std::string& t : lane_shared_types())
    for (size_t at = rest.find(t); at != std::string::npos; at = rest.find(t, at + 1))
      if ((at == 0 || !ident_char(rest[at - 1])) &&
          (at + t.size() >= rest.size() || !ident_char(rest[at + t.size()])))
        return true;
  return false;
}

struct StackEntry {
  int depth;
  std::string kind;
  bool function;  // a function-kind node
  bool global;    // a variable declared outside any function
  uint64_t addr;
  bool last;          // its parent's last child
  std::string scope;  // a named namespace or class: its name, as a type's name spells it
};

// The scope a namespace or class line opens, as clang spells it in a type's name: "" for an
// anonymous or inline namespace (printed types leave both out) and for other nodes.
std::string scope_name(const std::string& kind, const std::string& rest) {
  if (kind == "NamespaceDecl") {
    if (rest.find(" inline") != std::string::npos) return "";
    const size_t e = rest.find_last_not_of(' ');
    if (e == std::string::npos) return "";
    const size_t b = rest.find_last_of(' ', e);
    return rest.substr(b + 1, e - b);
  }
  if (kind == "CXXRecordDecl" || kind == "ClassTemplateSpecializationDecl" ||
      kind == "ClassTemplatePartialSpecializationDecl") {
    for (const char* tag : {" struct ", " class ", " union "}) {
      const size_t t = rest.find(tag);
      if (t == std::string::npos) continue;
      const size_t b = t + strlen(tag), e = rest.find(' ', b);
      const std::string name = rest.substr(b, e == std::string::npos ? e : e - b);
      return name == "definition" ? "" : name;
    }
  }
  return "";
}

// The class a constructed or destroyed object's type names, as scope_name spells classes:
// `'ns::U<float>[4]'` (or its desugared form after `:`) -> "ns::U".
std::string class_of_type(const std::string& rest) {
  std::string t = desugared_type(rest);
  std::string out;
  int depth = 0;
  for (char c : t) {
    if (c == '<') ++depth;
    if (depth == 0 && c != '[' && c != '>') out += c;
    if (c == '>') --depth;
    if (depth == 0 && c == '[') break;
  }
  for (const char* drop : {"(anonymous namespace)::", "struct ", "class ", "union "}) {
    size_t k;
    while ((k = out.find(drop)) != std::string::npos) out.erase(k, strlen(drop));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A constructor or destructor by its class and signature ("~" for a destructor), as one key
// (no dump line holds a newline).
std::string special_key(const std::string& cls, const std::string& signature) {
  return cls + '\n' + signature;
}

// Whether a reference (the node above `stack`) is the callee of a call in tail position: the call
// is, through returns, blocks, ifs, casts and parentheses only, the last thing its function does
// (`return f(x);`, or `f(x);` closing the body or an if's last branch). A compiler turns a
// function calling itself there into a loop; recursion anywhere else needs a stack.
bool in_tail_position(const Vec<StackEntry>& stack) {
  size_t i = stack.size();
  while (i > 0 && stack[i - 1].kind == "ImplicitCastExpr") --i;  // function-to-pointer decay
  if (i == 0 || (stack[i - 1].kind != "CallExpr" && stack[i - 1].kind != "CXXMemberCallExpr"))
    return false;
  for (--i; i > 0; --i) {
    const StackEntry& e = stack[i];
    if (stack[i - 1].function) return e.kind == "CompoundStmt";  // the body
    static const char* const kPassThrough[] = {
        "CallExpr",  "CXXMemberCallExpr", "ExprWithCleanups", "ImplicitCastExpr",
        "ParenExpr", "ReturnStmt",        "CompoundStmt",     "IfStmt"};
    bool through = false;
    for (const char* k : kPassThrough) through |= e.kind == k;
    if (!through || !e.last) return false;
  }
  return false;
}

struct Range {
  Loc begin, end;
};

// Per function node of the first pass (by address; redeclarations are separate nodes).
struct RawFunction {
  AstFacts::Function f;
  bool library = false;  // declared on a .metal line
  bool anchor = false;   // a kernel anchor (declared in kernel_anchors()' text)
  Vec<Range> ranges;
  size_t dump_begin = 0, dump_end = 0;  // its lines in the dump
  LocationReader locs_before;           // the location state its first line is read with
  bool open = false;                    // its lines are still being read
};

struct RawVariable {
  AstFacts::Named named;
  Vec<Range> ranges;
};

// One id per function: the first declaration of each redeclaration chain.
struct Canonical {
  const SortedMap<uint64_t, uint64_t>& prev_of;  // redeclaration -> the declaration before it
  const SortedMap<uint64_t, RawFunction>& raw;
  uint64_t operator()(uint64_t a) const {
    for (int guard = 0; guard < 64; ++guard) {
      auto p = prev_of.find(a);
      if (p == prev_of.end() || !raw.count(p->second)) break;
      a = p->second;
    }
    return a;
  }
};

struct RawRef {
  uint64_t caller, callee;
  AstSite site;
  bool function;
  bool tail;                  // in_tail_position
  bool by_signature = false;  // AstFacts::Reference::by_signature
};

// The roles of a control statement's children in dump order (msl_ast.h: AstStatement::role);
// an empty role leaves the child out. Compound statements hold statements only.
Vec<std::string> child_roles(const std::string& kind, const std::string& flags) {
  auto has = [&](const char* f) { return flags.find(f) != std::string::npos; };
  Vec<std::string> r;
  if (kind == "IfStmt") {
    if (has(" has_init")) r.push_back("init");
    if (has(" has_var")) r.push_back("var");
    r.insert(r.end(), {"cond", "then"});
    if (has(" has_else")) r.push_back("else");
  } else if (kind == "ForStmt") {
    r = {"init", "var", "cond", "inc", "body"};
  } else if (kind == "WhileStmt") {
    if (has(" has_var")) r.push_back("var");
    r.insert(r.end(), {"cond", "body"});
  } else if (kind == "DoStmt") {
    r = {"body", "cond"};
  } else if (kind == "SwitchStmt") {
    if (has(" has_init")) r.push_back("init");
    if (has(" has_var")) r.push_back("var");
    r.insert(r.end(), {"cond", "body"});
  } else if (kind == "CXXForRangeStmt") {
    r = {"init", "range", "begin", "end", "cond", "inc", "loopvar", "body"};
  } else if (kind == "CaseStmt") {
    r = {"cond"};
    if (has(" gnu_range")) r.push_back("cond");
    r.push_back("body");
  } else if (kind == "DefaultStmt" || kind == "LabelStmt" || kind == "AttributedStmt") {
    r = {"body"};
  }
  return r;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The program-scope variables named in the rewritten text (the text clang read) within a
// source range, memoised by range (a template's instantiations share their pattern's text).
class NamedVariables {
 public:
  NamedVariables(const Rewritten& rw, const SortedMap<std::string, Vec<uint64_t>>& by_name)
      : rw_(rw), by_name_(by_name), lines_(split_lines(rw.text)) {}
  // The rewritten text of .metal line `line`, or "".
  std::string line_text(int line) const {
    auto t = rw_.text_line_of.find(line);
    return t == rw_.text_line_of.end() || (size_t)t->second >= lines_.size()
               ? std::string()
               : lines_[(size_t)t->second];
  }
  const Vec<uint64_t>& in(const Range& r) {
    SortedMap<uint64_t, Vec<uint64_t>>& by_end = memo_[place(r.begin)];
    auto it = by_end.find(place(r.end));
    if (it != by_end.end()) return it->second;
    Vec<uint64_t>& out = by_end[place(r.end)];
    for (int line = r.begin.line; line <= r.end.line; ++line) {
      auto t = rw_.text_line_of.find(line);
      if (t == rw_.text_line_of.end() || (size_t)t->second >= lines_.size()) continue;
      Vec<int> cols;
      Vec<std::string> toks;
      lex_line(lines_[(size_t)t->second], false, &cols, &toks);
      for (size_t k = 0; k < toks.size(); ++k) {
        if (line == r.begin.line && cols[k] < r.begin.col) continue;
        if (line == r.end.line && cols[k] > r.end.col) break;
        if (toks[k].empty() || !ident_start(toks[k][0])) continue;
        auto v = by_name_.find(toks[k]);
        if (v != by_name_.end()) out.insert(out.end(), v->second.begin(), v->second.end());
      }
    }
    return out;
  }

 private:
  const Rewritten& rw_;
  const SortedMap<std::string, Vec<uint64_t>>& by_name_;
  Vec<std::string> lines_;
  // By the range's begin, then its end (each line and column as one number).
  SortedMap<uint64_t, SortedMap<uint64_t, Vec<uint64_t>>> memo_;
  static uint64_t place(const Loc& l) { return (uint64_t)(uint32_t)l.line << 32 | (uint32_t)l.col; }
};

// The statements of a kernel's body (msl_ast.h: AstStatement), read again from its lines of the
// dump, with where barriers and collectives are.
void read_body(const std::string& dump, const RawFunction& fn, const Canonical& canonical,
               const AstFacts& facts, const std::set<uint64_t>& sync, KernelFacts* k) {
  struct Open {
    int depth;
    int stmt;        // the innermost statement this node is in (-1: outside the body)
    bool container;  // its children are statements (roles: child_roles)
    Vec<std::string> roles;
    size_t children = 0;
  };
  LocationReader locs = fn.locs_before;
  Vec<Open> open;
  std::set<int> typed;  // statements given a site for a lane-shared type
  int fn_depth = -1;
  bool in_param = false, param_attr = false;  // within a parameter; within its annotation
  std::string fn_attr;                        // the function annotation being read ("kernel")
  int tg_depth = -1;                          // depth of a threadgroup size declarator
  Node n;
  size_t pos = fn.dump_begin;
  while (pos < fn.dump_end) {
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos || eol > fn.dump_end) eol = fn.dump_end;
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;
    if (!parse_node(s, locs, &n)) continue;
    if (fn_depth < 0) {  // the function's own line
      fn_depth = n.depth;
      std::string type;
      name_and_type(n.rest, &k->name, &type);
      k->returns_void = type.rfind("void (", 0) == 0 || type.rfind("void(", 0) == 0;
      continue;
    }
    // The function's own annotations (after its body): `kernel`, max_total_threads_per_threadgroup.
    if (n.depth == fn_depth + 1) {
      fn_attr.clear();
      if (n.kind == "AnnotateAttr") {
        const size_t q = n.rest.find("\"msl.");
        if (q != std::string::npos) fn_attr = n.rest.substr(q + 5, n.rest.find('"', q + 5) - q - 5);
        if (fn_attr == "kernel") k->is_kernel = true;
      }
    } else if (fn_attr == "max_total_threads_per_threadgroup" && n.depth == fn_depth + 3 &&
               n.kind == "value:" && n.rest.compare(0, 5, " Int ") == 0) {
      k->max_threads = strtol(n.rest.c_str() + 5, nullptr, 10);
    }
    // The sizes of a threadgroup declaration's variables (msl_declarations.cpp: an annotated
    // second declarator): AnnotateAttr, ConstantExpr, value per argument.
    if (tg_depth >= 0 && n.depth <= tg_depth) tg_depth = -1;
    if (tg_depth >= 0 && n.depth == tg_depth + 3 && n.kind == "value:" &&
        n.rest.compare(0, 5, " Int ") == 0)
      k->threadgroup.back().bytes.push_back(strtoull(n.rest.c_str() + 5, nullptr, 10));
    // Parameters and their annotations (msl_ast.h AstParameter), before the body.
    if (n.depth == fn_depth + 1) param_attr = false;
    if (n.depth == fn_depth + 1 && n.kind == "ParmVarDecl" && k->body.empty()) {
      AstParameter p;
      name_and_type(n.rest, &p.name, &p.type);
      k->parameters.push_back(p);
      in_param = true;
    } else if (n.depth == fn_depth + 1) {
      in_param = false;
    } else if (in_param && n.depth == fn_depth + 2) {
      param_attr = n.kind == "AnnotateAttr" && n.rest.compare(0, 6, " \"msl.") == 0;
      if (param_attr) {
        const size_t e = n.rest.find('"', 6);
        k->parameters.back().attributes.push_back({n.rest.substr(6, e - 6)});
      }
    } else if (param_attr && n.depth > fn_depth + 2) {
      AstParameter::Attribute& a = k->parameters.back().attributes.back();
      Ref r;
      if (n.kind == "value:" && !a.has_value && n.rest.compare(0, 5, " Int ") == 0) {
        a.has_value = true;
        a.value = strtol(n.rest.c_str() + 5, nullptr, 10);
      } else if (n.kind == "DeclRefExpr" && !a.variable && parse_reference(n, &r) && !r.function) {
        a.variable = r.target;
      }
    }
    while (!open.empty() && open.back().depth >= n.depth) open.pop_back();
    int stmt = open.empty() ? -1 : open.back().stmt;
    bool container = false;
    if (open.empty()) {
      if (n.kind == "CompoundStmt" && k->body.empty() && n.depth == fn_depth + 1) {
        k->body.push_back({n.kind, "", -1, {n.begin.line, n.begin.col}, {n.end.line, n.end.col}});
        stmt = 0;
        container = true;
      }
    } else if (open.back().container && !ends_with(n.kind, "Attr")) {
      Open& parent = open.back();
      const size_t index = parent.children++;
      std::string role;
      if (index < parent.roles.size()) role = parent.roles[index];
      const bool compound = k->body[(size_t)parent.stmt].kind == "CompoundStmt";
      if (!n.kind.empty() && (compound || !role.empty())) {
        k->body.push_back({n.kind,
                           compound ? "" : role,
                           parent.stmt,
                           {n.begin.line, n.begin.col},
                           {n.end.line, n.end.col}});
        stmt = (int)k->body.size() - 1;
        container = n.kind == "CompoundStmt" || !child_roles(n.kind, n.rest).empty();
      }
    }
    if (stmt > 0 && n.kind == "VarDecl" && !open.empty() && open.back().depth == n.depth - 1 &&
        k->body[(size_t)stmt].kind == "DeclStmt") {
      AstLocal local;
      name_and_type(n.rest, &local.name, &local.type);
      if (local.name.rfind("__mb_tg_", 0) == 0) {  // sizes, not a variable of the kernel's
        k->threadgroup.push_back({});
        k->threadgroup.back().statement = stmt;
        tg_depth = n.depth;
        local.name.clear();
      }
      local.site =
          n.loc.valid ? AstSite{n.loc.line, n.loc.col} : AstSite{n.begin.line, n.begin.col};
      local.is_static = n.rest.find(" static") != std::string::npos;
      if (!local.name.empty()) k->body[(size_t)stmt].locals.push_back(local);
    }
    if (stmt >= 0) {
      bool reaches = false;
      Ref r;
      if ((n.kind == "DeclRefExpr" || n.kind == "MemberExpr") && parse_reference(n, &r) &&
          r.function) {
        reaches = sync.count(canonical(r.target)) > 0;
      }
      if (!reaches && names_lane_shared_type(n.rest)) reaches = typed.insert(stmt).second;
      if (reaches) {
        k->sync_sites.push_back({n.begin.line, n.begin.col});
        for (int p = stmt; p >= 0; p = k->body[(size_t)p].parent)
          k->body[(size_t)p].reaches_sync = true;
      }
    }
    Open o{n.depth, stmt, container, {}};
    if (container) o.roles = child_roles(n.kind, n.rest);
    open.push_back(std::move(o));
  }
}

// A string literal as clang's dump prints it (`"k_f\n32"`: quotes, escapes) -> its bytes.
std::string dumped_string(const std::string& s) {
  std::string out;
  const size_t a = s.find('"'), b = s.rfind('"');
  if (a == std::string::npos || b <= a) return out;
  for (size_t i = a + 1; i < b; ++i) {
    if (s[i] != '\\' || i + 1 >= b) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (c >= '0' && c <= '7') {
      int v = 0;
      for (int d = 0; d < 3 && i < b && s[i] >= '0' && s[i] <= '7'; ++d) v = v * 8 + (s[i++] - '0');
      --i;
      out += (char)v;
      continue;
    }
    static const char kFrom[] = "abfnrtv", kTo[] = "\a\b\f\n\r\t\v";
    const char* e = strchr(kFrom, c);
    out += e && c ? kTo[e - kFrom] : c;
  }
  return out;
}

// The anchor's annotate("msl.host_name", ARGS): the string clang built from ARGS (a string
// literal: AnnotateAttr > ConstantExpr > ImplicitCastExpr > StringLiteral), or an error.
void read_host_name(const std::string& dump, const RawFunction& fn, KernelFacts* k) {
  LocationReader locs = fn.locs_before;
  Node n;
  int attr_depth = -1;
  size_t pos = fn.dump_begin;
  while (pos < fn.dump_end) {
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos || eol > fn.dump_end) eol = fn.dump_end;
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;
    if (!parse_node(s, locs, &n)) continue;
    if (attr_depth >= 0 && n.depth <= attr_depth) break;
    if (n.kind == "AnnotateAttr" && n.rest.find("\"msl.host_name\"") != std::string::npos) {
      attr_depth = n.depth;
      k->has_host_name = true;
      k->host_name_error = true;
    } else if (attr_depth >= 0 && n.kind == "StringLiteral" && n.depth == attr_depth + 3) {
      k->host_name = dumped_string(n.rest);
      k->host_name_error = false;
    }
  }
}

// A threadgroup declaration whose size depends on a function constant, spelled as a namespace-
// scope `sizeof(TYPE [BOUNDS])` from its text (clang's range, one variable on one line), or "" when
// a name in it is neither a builtin type nor a program-scope variable (a template parameter, a
// local constant).
std::string namespace_scope_size(const AstStatement& st, const NamedVariables& named,
                                 const SortedMap<std::string, Vec<uint64_t>>& program) {
  if (st.locals.size() != 1 || st.begin.line != st.end.line ||
      st.locals[0].site.line != st.begin.line)
    return "";
  const std::string line = named.line_text(st.begin.line);
  const AstLocal& v = st.locals[0];
  const size_t b = (size_t)st.begin.col - 1, at = (size_t)v.site.col - 1;
  const size_t after = at + v.name.size(), end = line.find("__mb_msl_tg", after);
  if (b >= at || at >= line.size() || end == std::string::npos) return "";
  std::string type = line.substr(b, at - b), bounds = line.substr(after, end - after);
  for (const char* word : {"static", "thread_local"}) {
    const size_t w = type.find(word);
    if (w != std::string::npos) type.erase(w, strlen(word));
  }
  Vec<int> cols;
  Vec<std::string> toks;
  lex_line(type + " " + bounds, false, &cols, &toks);
  for (const auto& t : toks)
    if (!t.empty() && ident_start(t[0]) && !builtin_type_word(t) && t != "sizeof" &&
        !program.count(t))
      return "";
  return "sizeof(" + type + bounds + ")";
}

// Per kernel anchor: the function it names, whether it reaches a barrier or collective, the
// function constants it reads, its body.
void read_kernels(const std::string& dump, const SortedMap<uint64_t, RawFunction>& raw,
                  const SortedMap<uint64_t, RawVariable>& vars,
                  const std::set<uint64_t>& lane_shared, const Canonical& canonical,
                  const Rewritten& rw, AstFacts* facts) {
  SortedMap<uint64_t, Vec<uint64_t>> edges, callers;
  for (const auto& r : facts->references) {
    edges[r.caller].push_back(r.callee);
    callers[r.callee].push_back(r.caller);
  }
  // What reaches a barrier or collective: backwards from the compatibility header's (by their
  // names: its vocabulary) and from the functions that use a lane-shared type.
  std::set<uint64_t> sync;
  Vec<uint64_t> work;
  auto mark = [&](uint64_t id) {
    if (sync.insert(id).second) work.push_back(id);
  };
  for (uint64_t a : lane_shared) mark(canonical(a));
  for (const auto& [id, f] : facts->functions)
    if (f.external && is_sync_name(f.name)) mark(id);
  while (!work.empty()) {
    const uint64_t id = work.back();
    work.pop_back();
    auto c = callers.find(id);
    if (c == callers.end()) continue;
    for (uint64_t caller : c->second)
      if (!facts->functions.count(caller) || !facts->functions.at(caller).external) mark(caller);
  }

  // Function constants: the variables annotated as such (AstFacts::constants), reached through
  // references, and
  // through variables named in the text of what is reached (clang folds a constant used in a
  // type, `float tg[fc_size]`, leaving no reference).
  SortedMap<std::string, Vec<uint64_t>> vars_by_name;
  SortedMap<uint64_t, uint32_t> constant_of;
  for (const auto& [addr, v] : vars) vars_by_name[v.named.name].push_back(addr);
  for (const auto& c : facts->constants)
    if (c.has_index) constant_of[c.variable] = (uint32_t)c.index;
  SortedMap<uint64_t, Vec<Range>> ranges;
  for (const auto& [addr, f] : raw)
    if (f.library)
      for (const auto& r : f.ranges) ranges[canonical(addr)].push_back(r);
  for (const auto& [addr, v] : vars) ranges[addr] = v.ranges;
  NamedVariables named(rw, vars_by_name);
  SortedMap<uint64_t, const RawFunction*> definitions;  // function -> its definition's node
  for (const auto& [addr, f] : raw)
    if (f.f.defined && f.library && !definitions.count(canonical(addr)))
      definitions[canonical(addr)] = &f;

  // The function constants read from `from` (functions, variables), through clang's references
  // and the variables named in the text of what is reached. What a program-scope variable
  // reaches is worked out once (`reached_by_variable`): MLX's templates declare members such as
  // `BM` in every instantiation, so a name can stand for hundreds of variables, and walking them
  // again per kernel made a library's facts cubic in its instantiations.
  SortedMap<uint64_t, std::set<uint32_t>> reached_by_variable;
  // `self` is `reach` itself (a lambda cannot name itself).
  auto reach = [&](const auto& self, const Vec<uint64_t>& from,
                   uint64_t own) -> std::set<uint32_t> {
    std::set<uint64_t> seen(from.begin(), from.end());
    Vec<uint64_t> queue(seen.begin(), seen.end());
    std::set<uint32_t> constants;
    for (size_t q = 0; q < queue.size(); ++q) {
      const uint64_t id = queue[q];
      auto c = constant_of.find(id);
      if (c != constant_of.end()) constants.insert(c->second);
      if (id != own && vars.count(id)) {
        auto memo = reached_by_variable.find(id);
        if (memo == reached_by_variable.end()) {
          reached_by_variable[id];  // in progress: a cycle adds nothing
          std::set<uint32_t> r = self(self, {id}, id);
          memo = reached_by_variable.find(id);
          memo->second = std::move(r);
        }
        constants.insert(memo->second.begin(), memo->second.end());
        continue;
      }
      auto next = [&](uint64_t to) {
        if (seen.insert(to).second) queue.push_back(to);
      };
      auto out = edges.find(id);
      if (out != edges.end())
        for (uint64_t to : out->second) next(to);
      auto rs = ranges.find(id);
      if (rs != ranges.end())
        for (const auto& r : rs->second)
          for (uint64_t to : named.in(r)) next(to);
    }
    return constants;
  };
  auto reached_constants = [&](const Vec<uint64_t>& from) { return reach(reach, from, 0); };

  facts->kernels.resize(rw.kernels.size());  // empty until now
  for (const auto& [addr, f] : raw) {
    if (!f.anchor) continue;
    const size_t index = strtoul(f.f.name.c_str() + 12, nullptr, 10);
    if (index >= facts->kernels.size()) continue;
    KernelFacts& k = facts->kernels[index];
    read_host_name(dump, f, &k);
    auto e = edges.find(canonical(addr));
    if (e == edges.end()) continue;
    for (uint64_t callee : e->second)
      if (facts->functions.count(callee)) {
        k.function = callee;
        break;
      }
    if (!k.function) continue;
    k.uses_sync = sync.count(k.function) > 0;
    const std::set<uint32_t> constants = reached_constants({k.function});
    k.constants.assign(constants.begin(), constants.end());
    // The body of the function's definition (a template kernel's: the instantiation's).
    auto def = definitions.find(k.function);
    if (def != definitions.end()) read_body(dump, *def->second, canonical, *facts, sync, &k);
    for (AstThreadgroupDecl& d : k.threadgroup) {
      const AstStatement& st = k.body[(size_t)d.statement];
      Vec<uint64_t> from;
      for (uint64_t v : named.in(Range{{true, true, false, st.begin.line, st.begin.col},
                                       {true, true, false, st.end.line, st.end.col}}))
        from.push_back(v);
      d.reads_constant = !reached_constants(from).empty();
      if (d.reads_constant) d.size_expr = namespace_scope_size(st, named, vars_by_name);
    }
  }
}

}  // namespace

void read_sync_declarations(const std::string& dump, std::set<std::string>* functions,
                            std::set<std::string>* types) {
  LocationReader locs;
  Node n;
  Vec<std::pair<std::string, std::string>> owners;   // per depth: kind, name
  Vec<std::pair<std::string, std::string>> aliases;  // alias name, its type line
  size_t pos = 0;
  while (pos < dump.size()) {
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos) eol = dump.size();
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;
    if (!parse_node(s, locs, &n) || n.kind.empty()) continue;
    owners.resize((size_t)n.depth + 1);
    std::string name, type;
    if (is_function_kind(n.kind)) {
      name_and_type(n.rest, &name, &type);
    } else if (n.kind == "CXXRecordDecl") {
      name = scope_name(n.kind, n.rest);
    } else if (n.kind == "TypedefDecl" || n.kind == "TypeAliasDecl") {
      name_and_type(n.rest, &name, &type);
      aliases.push_back({name, n.rest});
    }
    owners[(size_t)n.depth] = {n.kind, name};
    if (n.kind != "AnnotateAttr" || n.depth == 0 ||
        n.rest.find("\"msl.sync\"") == std::string::npos)
      continue;
    const auto& [kind, owner] = owners[(size_t)n.depth - 1];
    if (owner.empty()) continue;
    (kind == "CXXRecordDecl" ? types : functions)->insert(owner);
  }
  // Aliases of the types (`typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;`).
  for (const auto& [name, rest] : aliases)
    for (const auto& t : *types) {
      const size_t at = rest.find(t);
      if (at != std::string::npos && at > 0 && !ident_char(rest[at - 1]) &&
          (at + t.size() >= rest.size() || !ident_char(rest[at + t.size()]))) {
        types->insert(name);
        break;
      }
    }
}

std::string kernel_anchors(const Rewritten& rw) {
  std::string a = "\n";
  for (size_t n = 0; n < rw.kernels.size(); ++n) {
    const RwKernel& k = rw.kernels[n];
    a += "# " + std::to_string(k.line) + " \"" + kEntryFile + "\"\n";
    if (!k.host_args.empty())
      a += "__attribute__((annotate(\"msl.host_name\", " + k.host_args + ")))\n";
    a += "void __mb_kernel_" + std::to_string(n) + "() { (void)&" + k.expr + "; }\n";
  }
  return a;
}

AstFacts read_ast_dump(const std::string& dump, const Rewritten* rw) {
  AstFacts facts;
  LocationReader locs;
  Vec<StackEntry> stack;
  SortedMap<uint64_t, uint64_t> prev_of;  // redeclaration -> the declaration before it
  SortedMap<uint64_t, RawFunction> raw;
  SortedMap<uint64_t, RawVariable> vars;
  SortedMap<uint64_t, std::string> referenced_names;  // functions referenced, by address
  std::set<uint64_t> lane_shared;                     // functions naming a lane-shared type
  Vec<RawRef> refs;
  Vec<uint64_t> open_functions;  // functions whose lines are being read
  int constant_attr_depth = -1;  // depth of a function constant's annotation being read
  // Constructors and destructors by (class, signature; "~" for a destructor: special_key()), and
  // the constructions and destructions (CXXConstructExpr, destroyed variables, bound
  // temporaries), which the dump names only that way: matched after the dump is read.
  SortedMap<std::string, Vec<uint64_t>> special;
  struct Construction {
    uint64_t caller;
    std::string callee;  // special_key()
    AstSite site;
  };
  Vec<Construction> constructions;
  std::string parent_type;          // the last VarDecl's type, desugared
  std::string parent_written_type;  // and as written
  Node n;

  size_t pos = 0;
  while (pos < dump.size()) {
    const size_t line_start = pos;
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos) eol = dump.size();
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;

    const LocationReader before = locs;
    if (!parse_node(s, locs, &n) || n.kind.empty()) continue;
    const int depth = n.depth;
    const std::string& kind = n.kind;
    const std::string& rest = n.rest;

    while (!stack.empty() && stack.back().depth >= depth) {
      if (stack.back().function) {
        auto f = raw.find(stack.back().addr);
        if (f != raw.end() && f->second.open) {
          f->second.dump_end = line_start;
          f->second.open = false;
        }
      }
      stack.pop_back();
    }
    const StackEntry* parent = stack.empty() ? nullptr : &stack.back();
    uint64_t caller = 0;
    bool in_function = false;
    for (auto it = stack.rbegin(); it != stack.rend(); ++it)
      if (it->function) {
        caller = it->addr;
        in_function = true;
        break;
      }
    if (!in_function)
      for (auto it = stack.rbegin(); it != stack.rend(); ++it)
        if (it->global) {
          caller = it->addr;
          break;
        }
    const AstSite site{n.begin.line, n.begin.col};
    bool is_global_var = false;

    if (is_function_kind(kind) && n.addr) {
      auto& f = raw[n.addr];
      std::string type;
      name_and_type(rest, &f.f.name, &type);
      f.f.site = n.loc.valid ? AstSite{n.loc.line, n.loc.col} : site;
      f.library = n.loc.valid ? n.loc.in_source : n.begin.in_source;
      f.anchor = n.loc.in_entry && f.f.name.rfind("__mb_kernel_", 0) == 0;
      if (n.begin.in_source && n.end.in_source) f.ranges.push_back({n.begin, n.end});
      if (n.prev) prev_of[n.addr] = n.prev;
      if (rest.find(" default") != std::string::npos) f.f.defined = true;
      if (f.library || f.anchor) {
        f.dump_begin = line_start;
        f.dump_end = dump.size();
        f.locs_before = before;
        f.open = true;
      }
    } else if ((kind == "CompoundStmt" || kind == "CXXTryStmt") && parent && parent->function) {
      raw[parent->addr].f.defined = true;
    } else if (kind == "LambdaExpr" && n.begin.in_source) {
      facts.lambdas.push_back(site);
    } else if (kind == "DeclRefExpr" || kind == "MemberExpr") {
      Ref r;
      // is_function_constant_defined(x) reads __mb_fcd_x, a name the macro pastes (its location
      // is the paste's scratch space, not a .metal line).
      if (kind == "DeclRefExpr" && parse_reference(n, &r) && !r.function &&
          r.name.rfind("__mb_fcd_", 0) == 0)
        facts.asked_defined.insert(r.name.substr(9));
      r = Ref{};
      if (caller && (n.begin.in_source || n.begin.in_entry) && parse_reference(n, &r)) {
        refs.push_back({caller, r.target, site, r.function, in_tail_position(stack)});
        if (r.function) referenced_names.emplace(r.target, r.name);
      }
    } else if (kind == "VarDecl" && !in_function && n.addr) {
      // A namespace- or class-scope variable: a node of the reference graph (its initializer's
      // references are its own).
      is_global_var = true;
      auto& v = vars[n.addr];
      std::string type;
      name_and_type(rest, &v.named.name, &type);
      v.named.site = n.loc.valid ? AstSite{n.loc.line, n.loc.col} : site;
      if (n.begin.in_source && n.end.in_source) v.ranges.push_back({n.begin, n.end});
    } else if (kind == "AnnotateAttr" && parent && parent->global &&
               rest.find("\"msl.function_constant\"") != std::string::npos) {
      // A function constant (msl_declarations.cpp): its variable, declared type and index.
      AstFacts::Constant c;
      c.variable = parent->addr;
      const RawVariable& v = vars[parent->addr];
      c.name = v.named.name;
      c.site = v.named.site;
      c.type = parent_type;
      c.written_type = parent_written_type;
      facts.constants.push_back(c);
      constant_attr_depth = depth;
    } else if (kind == "value:" && constant_attr_depth >= 0 && depth == constant_attr_depth + 2 &&
               rest.compare(0, 5, " Int ") == 0 && !facts.constants.back().has_index) {
      facts.constants.back().has_index = true;
      facts.constants.back().index = strtol(rest.c_str() + 5, nullptr, 10);
    }
    if (constant_attr_depth >= 0 && depth <= constant_attr_depth && kind != "AnnotateAttr")
      constant_attr_depth = -1;
    if (kind == "VarDecl") {
      std::string name;
      name_and_type(rest, &name, &parent_written_type);
      if (parent_written_type.rfind("const ", 0) == 0) parent_written_type.erase(0, 6);
      parent_type = desugared_type(rest);
    }
    if (in_function && caller && names_lane_shared_type(rest)) lane_shared.insert(caller);

    if ((kind == "VarDecl" || kind == "ParmVarDecl" || kind == "FieldDecl" ||
         kind == "TypedefDecl" || kind == "TypeAliasDecl") &&
        n.loc.in_source && rest.find(" implicit ") == std::string::npos) {
      std::string name, type;
      name_and_type(rest, &name, &type);
      const AstSite at = n.loc.valid ? AstSite{n.loc.line, n.loc.col} : site;  // the declared name
      // `template <typename T> using F = void (*)(T);` (MLX's FFT radix codelets) types a
      // template's non-type parameter, a compile-time constant: Apple's compiler accepts it.
      const bool alias_template =
          kind == "TypeAliasDecl" && parent && parent->kind == "TypeAliasTemplateDecl";
      if (is_function_pointer_type(type) && !alias_template)
        (kind == "VarDecl" && in_function ? facts.local_fn_pointers : facts.function_pointers)
            .push_back({name, at});
      if (kind == "VarDecl" && parent && is_program_scope_kind(parent->kind) &&
          !is_const_type(type) && rest.find(" constexpr") == std::string::npos)
        facts.mutable_globals.push_back({name, at});
    }
    // Constructions and destructions: calls the dump names by class and signature only.
    if ((kind == "CXXConstructorDecl" || kind == "CXXDestructorDecl") && n.addr) {
      std::string name, type, cls;
      name_and_type(rest, &name, &type);
      for (const auto& e : stack)
        if (!e.scope.empty()) cls += (cls.empty() ? "" : "::") + e.scope;
      special[special_key(cls, kind == "CXXConstructorDecl" ? type : "~")].push_back(n.addr);
    } else if ((kind == "CXXConstructExpr" || kind == "CXXTemporaryObjectExpr") && caller &&
               (n.begin.in_source || n.begin.in_entry)) {
      // ` 'TYPE' 'void (ARGS)'`: the constructor's signature is the second quoted type.
      const size_t q = rest.find("' '");
      const size_t e = q == std::string::npos ? q : rest.find('\'', q + 3);
      if (e != std::string::npos)
        constructions.push_back(
            {caller, special_key(class_of_type(rest), rest.substr(q + 3, e - q - 3)), site});
    }
    if (((kind == "VarDecl" && in_function && rest.find(" destroyed") != std::string::npos) ||
         kind == "CXXBindTemporaryExpr") &&
        caller && (n.begin.in_source || n.begin.in_entry))
      constructions.push_back({caller, special_key(class_of_type(rest), "~"), site});
    stack.push_back({depth, kind, is_function_kind(kind), is_global_var, n.addr, n.last,
                     scope_name(kind, rest)});
  }
  for (const auto& [addr, f] : raw)
    if (f.open) f.dump_end = dump.size();

  const Canonical canonical{prev_of, raw};
  std::set<uint64_t> library;  // functions some declaration of which the library makes
  for (const auto& [addr, f] : raw) {
    const uint64_t id = canonical(addr);
    auto& c = facts.functions[id];
    if (id == addr) c.site = f.f.site;
    if (c.name.empty()) c.name = f.f.name;
    c.defined |= f.f.defined;
    if (f.library || f.anchor) library.insert(id);
  }
  for (const auto& [id, f] : facts.functions) f.external = !library.count(id);
  // Functions the library only references: the compatibility header's.
  for (const auto& [addr, name] : referenced_names)
    if (!raw.count(addr)) {
      auto& c = facts.functions[addr];
      c.name = name;
      c.external = true;
    }
  for (const auto& c : constructions) {
    auto it = special.find(c.callee);
    if (it != special.end())
      for (uint64_t f : it->second) refs.push_back({c.caller, f, c.site, true, false, true});
  }
  for (const auto& r : refs) {
    const uint64_t callee = r.function ? canonical(r.callee) : r.callee;
    if (r.function ? facts.functions.count(callee) > 0 : vars.count(callee) > 0)
      facts.references.push_back({raw.count(r.caller) ? canonical(r.caller) : r.caller, callee,
                                  r.site, r.tail, r.by_signature});
  }
  for (const auto& [addr, v] : vars) facts.variables[addr] = v.named;
  if (rw) read_kernels(dump, raw, vars, lane_shared, canonical, *rw, &facts);
  return facts;
}

}  // namespace mbcpu
