// msl_ast.h — facts about a rewritten library taken from clang's own AST (internal to the front
// end). clang parses the rewritten text (`-fsyntax-only -Xclang -ast-dump`, the compatibility
// header as a precompiled header, so only the library's own declarations are printed) and this
// reads its text dump: what spelling cannot tell reliably (a `[` that opens a lambda, a
// declarator that is a function pointer, which overload a call resolves to, whether a
// program-scope variable is const) is read from clang's understanding of the code.
//
// Kernels: the facts pass appends one anchor function per kernel entry point
// (kernel_anchors(): `void __mb_kernel_N() { (void)&EXPR; }`, EXPR the kernel's C++ name as the
// entry point names it), so clang itself says which function each entry point runs: the
// overload, the template specialisation (through type aliases, `decltype`, deduced arguments),
// the method. Everything per kernel (KernelFacts) starts from that function.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mbcpu {

struct Rewritten;

// A place in the library: .metal line, and the column in the rewritten text's line (map it to
// the source with Rewritten::map_column).
struct AstSite {
  int line = 0;
  int col = 0;
};

// A variable declared by a statement of a kernel's body (AstStatement::locals).
struct AstLocal {
  std::string name;
  std::string type;        // as clang prints it (after template substitution)
  AstSite site;            // the declared name
  bool is_static = false;  // static storage: a threadgroup variable (static thread_local)
};

// One statement of a kernel's body, as clang parsed it (the instantiation's body for a template
// kernel). Statements nest through `parent`; an expression is a statement here only where it is
// one (an element of a compound statement, a branch or loop body) or where it is a part of a
// control statement (its condition, increment, ...): the expressions inside are not listed.
struct AstStatement {
  // clang's node kind: "CompoundStmt", "IfStmt", "ForStmt", "WhileStmt", "DoStmt",
  // "SwitchStmt", "CXXForRangeStmt", "DeclStmt", "ReturnStmt", "BreakStmt", "ContinueStmt",
  // "CaseStmt", "DefaultStmt", "AttributedStmt", "NullStmt", or an expression's kind
  // ("CallExpr", "BinaryOperator", "CompoundAssignOperator", "ExprWithCleanups", ...).
  std::string kind;
  // Its place in the parent: "" for an element of a compound statement; "then", "else"
  // (IfStmt); "init", "var", "cond", "inc", "body" (loops, switch, if); "range", "begin",
  // "end", "loopvar" (CXXForRangeStmt's implicit parts); "body" also for what a case, default,
  // label or attributed statement holds.
  std::string role;
  int parent = -1;  // index in KernelFacts::body; -1 for the body's own CompoundStmt (index 0)
  AstSite begin;    // where it starts
  AstSite end;      // where its last token starts (clang's range end)
  // A barrier or SIMD-group/quad collective runs within it: it calls one, directly or through a
  // function of the library that reaches one, or it uses a type whose operations are shared out
  // over the SIMD-group's lanes (simdgroup_matrix, the tensor API's cooperative tensors).
  bool reaches_sync = false;
  std::vector<AstLocal> locals;  // DeclStmt: the variables it declares
};

// A kernel parameter with its MSL attributes as clang read them: the rewriter spells
// `[[buffer(EXPR)]]`, `[[thread_position_in_grid]]`, `[[function_constant(c)]]`, ... as
// `annotate("msl.buffer", EXPR)` etc. for the facts pass, so clang evaluates EXPR per
// instantiation (template parameters, constexpr names, macros already expanded).
struct AstParameter {
  struct Attribute {
    std::string name;        // "buffer", "threadgroup", "function_constant", a position's name
    bool has_value = false;  // the argument's value, when clang evaluated it
    long value = 0;
    uint64_t variable = 0;  // the program-scope variable the argument names (function_constant)
  };
  std::string name;  // "" when unnamed
  std::string type;  // as clang prints it (after template substitution)
  std::vector<Attribute> attributes;
};

// What clang says about one kernel entry point (AstFacts::kernels, in Rewritten::kernels order).
// Consumers: the entry-point generator (uses_sync, constants) and the work-item-loop
// transformation of barrier kernels (the statement structure of the body, its locals, where the
// barriers and collectives are).
struct KernelFacts {
  // Id (in AstFacts::functions) of the function the entry point runs; 0 when clang could not
  // resolve it (the library then fails to compile anyway, with clang's error).
  uint64_t function = 0;
  // Some barrier or collective is reachable from it (the runtime then runs its threads as
  // fibers); reachability follows clang's resolved references (overloads, templates, methods).
  bool uses_sync = false;
  // Sites in the kernel's own body of the calls (or uses of lane-shared types) that reach a
  // barrier or collective, in dump order.
  std::vector<AstSite> sync_sites;
  // Indices of the function constants it reads, directly or through what it reaches (functions
  // by clang's references, program-scope variables by clang's references and by name where clang
  // folds a constant into a type: `threadgroup float tg[fc_size]`), ascending.
  std::vector<uint32_t> constants;
  // Its parameters, in order (the instantiation's, for a template kernel).
  std::vector<AstParameter> parameters;
  // The body: [0] is its CompoundStmt; every other statement's parent comes before it.
  std::vector<AstStatement> body;
};

// A location in clang's text AST dump. Line markers make the file and line those of the
// .metal source (`@src`), as in clang's diagnostics; columns are the rewritten text's.
struct AstDumpLoc {
  bool valid = false;
  bool in_source = false;  // on a .metal line (kSourceFile)
  bool in_entry = false;   // in generated text (kEntryFile: the kernel anchors)
  int line = 0, col = 0;
};

// Follows the dumper's location shorthand ("col:7" keeps the file and line, "line:9:6" keeps
// the file, "FILE:9:6" names it): each location is read relative to the one read before it, so
// one reader reads a dump's lines in print order. A copy holds the state to read from a later
// line on. The one reader of locations for every pass that reads the dump.
class AstDumpLocReader {
 public:
  // Reads the location at s[*i] (advancing *i past it), or returns an invalid one and leaves *i.
  AstDumpLoc read(const std::string& s, size_t* i);

 private:
  enum File { kOther, kSource, kEntry };
  File file_ = kOther;  // the last file named (two words: the state is copied per line)
  int line_ = 0;
};

struct AstFacts {
  // A function (or method, constructor, ...): declared on a .metal line, or (external) declared
  // elsewhere — the compatibility header — and only referenced by the library.
  struct Function {
    std::string name;
    AstSite site;           // where it is first declared
    bool defined = false;   // some declaration of it has a body
    bool external = false;  // not declared by the library (the compatibility header's)
  };
  // A reference from the body of `caller` to `callee` (both canonical ids: redeclarations and
  // the definition share one), at `site`. Resolved by clang: overloads, templates, methods.
  // Callers and callees are functions, or program-scope variables (AstFacts::variables: their
  // initializers' references are theirs).
  struct Reference {
    uint64_t caller, callee;
    AstSite site;
    bool tail = false;  // the callee of a call that is the caller's last action (see msl_ast.cpp)
  };
  struct Named {
    std::string name;
    AstSite site;
  };
  std::map<uint64_t, Function> functions;  // canonical id -> function
  std::map<uint64_t, Named> variables;     // namespace- or class-scope variables (and constants)
  std::vector<Reference> references;       // in dump order
  std::vector<AstSite> lambdas;            // lambda expressions
  std::vector<Named> function_pointers;    // declarations whose type is a pointer to function
  std::vector<Named> local_fn_pointers;    // local variables of that type (in a function)
  std::vector<Named> mutable_globals;      // program-scope variables that are not const
  std::vector<KernelFacts> kernels;        // per kernel_anchors() anchor, in its order
};

// Text appended to the rewritten library for the facts pass: one anchor function per kernel of
// `rw` (line markers name kEntryFile at the kernel's line, as the entry points do).
std::string kernel_anchors(const Rewritten& rw);

// Reads the text AST dump of a translation unit whose lines carry `# N "@src"` line markers;
// only what is declared or written on @src lines (and the kernel anchors) is recorded. With
// `rw` (the rewritten text clang read), the kernels' facts are filled in too.
AstFacts read_ast_dump(const std::string& dump, const Rewritten* rw = nullptr);

// Completes `rw`'s kernels from `facts` (read with `rw`): its parameters' attributes (where
// clang and the spelling disagree, clang wins: it evaluated the arguments), whether each needs
// fibers, and the function constants its code reads (added to those its spelling names); then
// checks the bindings (finish_bindings), appending what is wrong to rw->errors. A kernel clang
// could not resolve keeps fibers (always correct, only slower): its library fails anyway.
void apply_kernel_facts(const AstFacts& facts, Rewritten* rw);

}  // namespace mbcpu
