// msl_ast.cpp — reads clang's text AST dump into AstFacts (see msl_ast.h).
//
// One node a line: a tree prefix ("| |-"), the node kind, its address, for declarations
// "parent"/"prev" addresses, the source range in <...>, for declarations their location, then
// names, types and flags. clang prints each location relative to the one printed before it
// ("col:7" keeps the file and line, "line:9:6" keeps the file, "@src:9:6" names it), so the
// reader follows the locations in print order. Line markers make the file and line those of the
// .metal source (`@src`), as in clang's diagnostics; columns are the rewritten text's.
#include "msl_ast.h"

#include <cstdlib>
#include <cstring>

#include "msl_rewrite.h"

namespace mbcpu {
namespace {

struct Loc {
  bool valid = false;
  bool in_source = false;  // on a .metal line (kSourceFile)
  int line = 0, col = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Follows the dumper's location shorthand.
class LocationReader {
 public:
  // Reads the location at s[*i] (advancing *i past it), or returns an invalid Loc and leaves *i.
  Loc read(const std::string& s, size_t* i) {
    Loc l;
    size_t p = *i;
    if (s.compare(p, 14, "<invalid sloc>") == 0) {
      *i = p + 14;
      return l;
    }
    if (s.compare(p, 4, "col:") == 0 && p + 4 < s.size() && is_digit(s[p + 4])) {
      p += 4;
      l.col = number(s, &p);
    } else if (s.compare(p, 5, "line:") == 0 && p + 5 < s.size() && is_digit(s[p + 5])) {
      p += 5;
      line_ = number(s, &p);
      if (p >= s.size() || s[p] != ':') return Loc{};
      ++p;
      l.col = number(s, &p);
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
        file_ = s.substr(p, q - p);
        line_ = atoi(s.c_str() + q + 1);
        l.col = atoi(s.c_str() + r + 1);
        p = t;
        found = true;
        break;
      }
      if (!found) return Loc{};
    }
    l.valid = true;
    l.line = line_;
    l.in_source = file_ == kSourceFile;
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

 private:
  static int number(const std::string& s, size_t* p) {
    int n = 0;
    while (*p < s.size() && is_digit(s[*p])) n = n * 10 + (s[(*p)++] - '0');
    return n;
  }
  std::string file_;
  int line_ = 0;
};

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

struct StackEntry {
  int depth;
  std::string kind;
  uint64_t addr;
};

}  // namespace

AstFacts read_ast_dump(const std::string& dump) {
  AstFacts facts;
  LocationReader locs;
  std::vector<StackEntry> stack;
  std::map<uint64_t, uint64_t> prev_of;  // redeclaration -> the declaration before it
  std::map<uint64_t, AstFacts::Function> raw;
  struct RawRef {
    uint64_t caller, callee;
    AstSite site;
  };
  std::vector<RawRef> refs;

  size_t pos = 0;
  while (pos < dump.size()) {
    size_t eol = dump.find('\n', pos);
    if (eol == std::string::npos) eol = dump.size();
    const std::string s = dump.substr(pos, eol - pos);
    pos = eol + 1;

    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '|' || s[i] == '`' || s[i] == '-')) ++i;
    if (i >= s.size() || !isalpha((unsigned char)s[i])) continue;
    const int depth = (int)(i / 2);
    size_t k = s.find(' ', i);
    if (k == std::string::npos) k = s.size();
    const std::string kind = s.substr(i, k - i);
    i = k;
    uint64_t addr = 0;
    if (s.compare(i, 3, " 0x") == 0) {
      addr = hex_at(s, i + 1);
      i = s.find(' ', i + 1);
      if (i == std::string::npos) i = s.size();
    }
    uint64_t prev = 0;
    while (s.compare(i, 8, " parent ") == 0 || s.compare(i, 6, " prev ") == 0) {
      bool is_prev = s.compare(i, 6, " prev ") == 0;
      size_t a = i + (is_prev ? 6 : 8);
      if (is_prev) prev = hex_at(s, a);
      i = s.find(' ', a);
      if (i == std::string::npos) i = s.size();
    }
    Loc begin, loc;
    if (s.compare(i, 2, " <") == 0) {
      size_t p = i + 2;
      begin = locs.read(s, &p);
      if (s.compare(p, 2, ", ") == 0) {
        p += 2;
        locs.read(s, &p);
      }
      if (p < s.size() && s[p] == '>') ++p;
      i = p;
      if (i < s.size() && s[i] == ' ' && kind.size() > 4 &&
          kind.compare(kind.size() - 4, 4, "Decl") == 0) {
        size_t q = i + 1;
        loc = locs.read(s, &q);
        if (loc.valid || s.compare(i + 1, 14, "<invalid sloc>") == 0) i = q;
      }
    }
    const std::string rest = i < s.size() ? s.substr(i) : std::string();

    while (!stack.empty() && stack.back().depth >= depth) stack.pop_back();
    const StackEntry* parent = stack.empty() ? nullptr : &stack.back();
    uint64_t caller = 0;
    for (auto it = stack.rbegin(); it != stack.rend(); ++it)
      if (is_function_kind(it->kind)) {
        caller = it->addr;
        break;
      }
    AstSite site{begin.line, begin.col};

    if (is_function_kind(kind) && addr) {
      auto& f = raw[addr];
      std::string type;
      name_and_type(rest, &f.name, &type);
      f.site = loc.valid ? AstSite{loc.line, loc.col} : site;
      if (prev) prev_of[addr] = prev;
      if (rest.find(" default") != std::string::npos) f.defined = true;
    } else if ((kind == "CompoundStmt" || kind == "CXXTryStmt") && parent &&
               is_function_kind(parent->kind)) {
      raw[parent->addr].defined = true;
    } else if (kind == "LambdaExpr" && begin.in_source) {
      facts.lambdas.push_back(site);
    } else if (kind == "DeclRefExpr" || kind == "MemberExpr") {
      size_t at = std::string::npos;
      for (const char* ref : {" Function 0x", " CXXMethod 0x", " CXXConstructor 0x"}) {
        size_t f = rest.find(ref);
        if (f != std::string::npos && f < at) at = rest.find("0x", f);
      }
      if (kind == "MemberExpr") {
        size_t dot = rest.find("' .");
        if (dot == std::string::npos) dot = rest.find("' ->");
        if (dot != std::string::npos) at = rest.find(" 0x", dot);
        if (at != std::string::npos) ++at;
      }
      if (at != std::string::npos && caller && begin.in_source)
        refs.push_back({caller, hex_at(rest, at), site});
    }

    if ((kind == "VarDecl" || kind == "ParmVarDecl" || kind == "FieldDecl" ||
         kind == "TypedefDecl" || kind == "TypeAliasDecl") &&
        loc.in_source && rest.find(" implicit ") == std::string::npos) {
      std::string name, type;
      name_and_type(rest, &name, &type);
      const AstSite at = loc.valid ? AstSite{loc.line, loc.col} : site;  // the declared name
      // `template <typename T> using F = void (*)(T);` (MLX's FFT radix codelets) types a
      // template's non-type parameter, a compile-time constant: Apple's compiler accepts it.
      const bool alias_template =
          kind == "TypeAliasDecl" && parent && parent->kind == "TypeAliasTemplateDecl";
      if (is_function_pointer_type(type) && !alias_template)
        (kind == "VarDecl" && caller ? facts.local_fn_pointers : facts.function_pointers)
            .push_back({name, at});
      if (kind == "VarDecl" && parent && is_program_scope_kind(parent->kind) &&
          !is_const_type(type) && rest.find(" constexpr") == std::string::npos)
        facts.mutable_globals.push_back({name, at});
    }
    stack.push_back({depth, kind, addr});
  }

  // One id per function: the first declaration of each redeclaration chain.
  auto canonical = [&](uint64_t a) {
    for (int guard = 0; guard < 64; ++guard) {
      auto p = prev_of.find(a);
      if (p == prev_of.end() || !raw.count(p->second)) break;
      a = p->second;
    }
    return a;
  };
  for (const auto& [addr, f] : raw) {
    const uint64_t id = canonical(addr);
    auto& c = facts.functions[id];
    if (id == addr) c.site = f.site;
    if (c.name.empty()) c.name = f.name;
    c.defined |= f.defined;
  }
  for (const auto& r : refs)
    if (raw.count(r.callee))
      facts.references.push_back({canonical(r.caller), canonical(r.callee), r.site});
  return facts;
}

}  // namespace mbcpu
