// msl_ast.h — facts about a rewritten library taken from clang's own AST (internal to the front
// end). clang parses the rewritten text (`-fsyntax-only -Xclang -ast-dump`, the compatibility
// header as a precompiled header, so only the library's own declarations are printed) and this
// reads its text dump: what spelling cannot tell reliably (a `[` that opens a lambda, a
// declarator that is a function pointer, which overload a call resolves to, whether a
// program-scope variable is const) is read from clang's understanding of the code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mbcpu {

// A place in the library: .metal line, and the column in the rewritten text's line (map it to
// the source with Rewritten::map_column).
struct AstSite {
  int line = 0;
  int col = 0;
};

struct AstFacts {
  // A function (or method, constructor, ...) declared on a .metal line.
  struct Function {
    std::string name;
    AstSite site;          // where it is first declared
    bool defined = false;  // some declaration of it has a body
  };
  // A reference from the body of `caller` to `callee` (both canonical ids: redeclarations and
  // the definition share one), at `site`. Resolved by clang: overloads, templates, methods.
  struct Reference {
    uint64_t caller, callee;
    AstSite site;
  };
  struct Named {
    std::string name;
    AstSite site;
  };
  std::map<uint64_t, Function> functions;  // canonical id -> function
  std::vector<Reference> references;       // in dump order
  std::vector<AstSite> lambdas;            // lambda expressions
  std::vector<Named> function_pointers;    // declarations whose type is a pointer to function
  std::vector<Named> local_fn_pointers;    // local variables of that type (in a function)
  std::vector<Named> mutable_globals;      // program-scope variables that are not const
};

// Reads the text AST dump of a translation unit whose lines carry `# N "@src"` line markers;
// only what is declared or written on @src lines is recorded.
AstFacts read_ast_dump(const std::string& dump);

}  // namespace mbcpu
