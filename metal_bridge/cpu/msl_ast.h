// msl_ast.h — facts about a rewritten library taken from clang's own AST (internal to the front
// end). clang parses the rewritten text (`-fsyntax-only -Xclang -ast-dump`, the compatibility
// header as a precompiled header, so only the library's own declarations are printed) and this
// reads its text dump: what spelling cannot tell reliably (a `[` that opens a lambda, a
// declarator that is a function pointer, which overload a call resolves to, whether a
// program-scope variable is const) is read from clang's understanding of the code.
//
// Kernels, in two steps. The rewriter's tokens only locate candidates: a `kernel` function
// definition or a `[[host_name]]` instantiation, with the C++ expression that names it and the
// tokens of its host_name argument (msl_kernels.cpp). The facts pass appends one anchor per
// candidate (kernel_anchors(): `__attribute__((annotate("msl.host_name", ARGS))) void
// __mb_kernel_N() { (void)&EXPR; }`), and clang decides the rest: which function the candidate
// is (the overload, the template specialisation through type aliases, `decltype` and deduced
// arguments), whether it is a kernel (the rewriter spells `kernel` / `[[kernel]]` as
// `annotate("msl.kernel")`, which specialisations inherit from their template), its name (the
// string clang builds from the host_name argument: adjacent literals joined, escapes and macros
// resolved; else the function's own name), its [[max_total_threads_per_threadgroup(N)]] and its
// threadgroup variables' sizes (evaluated per specialisation), its parameters' attributes.
// Everything per kernel (KernelFacts) starts from that function. Cost: the anchors and
// annotations add a few lines to one syntax-only compile the library needed anyway.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "sorted_map.h"
#include "vec.h"

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
  Vec<AstLocal> locals;  // DeclStmt: the variables it declares
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
  Vec<Attribute> attributes;
};

// What clang says about one kernel entry point (AstFacts::kernels, in Rewritten::kernels order).
// Consumers: the entry-point generator (uses_sync, constants) and the work-item-loop
// transformation of barrier kernels (the statement structure of the body, its locals, where the
// barriers and collectives are).
// A threadgroup declaration of a kernel (`threadgroup float a[N], b[M];`): its variables' sizes
// as clang evaluated them (for the facts pass, where function constants are 0).
struct AstThreadgroupDecl {
  Vec<uint64_t> bytes;  // per variable, in declaration order
  int statement = 0;    // its DeclStmt in KernelFacts::body
  // Its size depends on a function constant (clang folds the constant into the type, so the
  // dependence is read from the names in its text): size_expr is then the C++ expression of
  // its size, valid at namespace scope, which each specialisation evaluates; "" when the
  // declaration cannot be spelled there (a template's parameter, a local name), and bytes
  // stands (as if the constants were 0).
  bool reads_constant = false;
  std::string size_expr;
};

struct KernelFacts {
  // Id (in AstFacts::functions) of the function the entry point runs; 0 when clang could not
  // resolve it (the library then fails to compile anyway, with clang's error).
  uint64_t function = 0;
  // The function is a kernel (`kernel` / `[[kernel]]` on it or on its template).
  bool is_kernel = false;
  bool returns_void = true;
  std::string name;  // the function's name as clang prints it
  // The candidate's [[host_name(ARGS)]] as clang evaluated ARGS on the anchor: has_host_name;
  // the string (a string literal, adjacent literals joined) or host_name_error (not a string).
  bool has_host_name = false;
  std::string host_name;
  bool host_name_error = false;
  // [[max_total_threads_per_threadgroup(N)]]: N as clang evaluated it for this function, or -1.
  long max_threads = -1;
  Vec<AstThreadgroupDecl> threadgroup;
  // Some barrier or collective is reachable from it (the runtime then runs its threads as
  // fibers); reachability follows clang's resolved references (overloads, templates, methods).
  bool uses_sync = false;
  // Sites in the kernel's own body of the calls (or uses of lane-shared types) that reach a
  // barrier or collective, in dump order.
  Vec<AstSite> sync_sites;
  // Indices of the function constants it reads, directly or through what it reaches (functions
  // by clang's references, program-scope variables by clang's references and by name where clang
  // folds a constant into a type: `threadgroup float tg[fc_size]`), ascending.
  Vec<uint32_t> constants;
  // Its parameters, in order (the instantiation's, for a template kernel).
  Vec<AstParameter> parameters;
  // The body: [0] is its CompoundStmt; every other statement's parent comes before it.
  Vec<AstStatement> body;
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
    // A construction or destruction, matched to its constructor or destructor by class name and
    // signature (the dump names it no other way): it may stand for several specialisations.
    bool by_signature = false;
  };
  struct Named {
    std::string name;
    AstSite site;
  };
  // A function constant: a program-scope variable the rewriter annotated
  // (`annotate("msl.function_constant", INDEX)`, msl_declarations.cpp), its declared type
  // without sugar or const ("bool", "unsigned int", "_Float16", ...) and INDEX as clang evaluated
  // it.
  struct Constant {
    uint64_t variable = 0;
    std::string name, type;
    std::string written_type;  // as declared ("uint", "half", "float2")
    AstSite site;
    bool has_index = false;
    long index = 0;
  };
  Vec<Constant> constants;  // in declaration order
  // The constants some code asks is_function_constant_defined of (by name: the macro reads
  // __mb_fcd_NAME, declared beside each constant).
  std::set<std::string> asked_defined;
  SortedMap<uint64_t, Function> functions;  // canonical id -> function
  SortedMap<uint64_t, Named> variables;     // namespace- or class-scope variables (and constants)
  Vec<Reference> references;                // in dump order
  Vec<AstSite> lambdas;                     // lambda expressions
  Vec<Named> function_pointers;             // declarations whose type is a pointer to function
  Vec<Named> local_fn_pointers;             // local variables of that type (in a function)
  Vec<Named> mutable_globals;               // program-scope variables that are not const
  Vec<KernelFacts> kernels;                 // per kernel_anchors() anchor, in its order
};

// The compatibility header's barriers, collectives (functions) and lane-shared types (classes,
// with their aliases) from its AST dump: the declarations annotated `msl.sync` (__MB_SYNC).
void read_sync_declarations(const std::string& dump, std::set<std::string>* functions,
                            std::set<std::string>* types);

// Text appended to the rewritten library for the facts pass: one anchor function per kernel of
// `rw` (line markers name kEntryFile at the kernel's line, as the entry points do).
std::string kernel_anchors(const Rewritten& rw);

// Reads the text AST dump of a translation unit whose lines carry `# N "@src"` line markers;
// only what is declared or written on @src lines (and the kernel anchors) is recorded. With
// `rw` (the rewritten text clang read), the kernels' facts are filled in too.
AstFacts read_ast_dump(const std::string& dump, const Rewritten* rw = nullptr);

// Sets rw->constants from `facts` (name, index, type; required unless some code asks
// is_function_constant_defined of it), refusing an index outside 0..65535 or a type the backend
// does not support at the constant's .metal line:column. Then completes `rw`'s candidate kernels
// from `facts` (read with `rw`): refuses a candidate that is no
// kernel, that does not return void, whose host_name is no string or is taken, or whose
// parameter carries an attribute the backend does not know (at the candidate's .metal
// line:column); sets each kernel's name, its parameters' attributes, threadgroup memory,
// max_total_threads_per_threadgroup, whether it needs fibers, the function constants it reads;
// then checks the bindings (finish_bindings). What is wrong is appended to rw->errors. A
// candidate clang could not resolve keeps fibers: its library fails anyway, with clang's error.
// (Defined in msl_kernels.cpp, beside the candidates.)
void apply_kernel_facts(const AstFacts& facts, Rewritten* rw);

}  // namespace mbcpu
