// fiber.cpp — context switch (x86-64 System V and AArch64 AAPCS64; ELF and Mach-O) and fiber
// stacks.
#include "fiber.h"

#include <unistd.h>

#include <cstring>

#include "platform.h"  // mmap flags macOS lacks

// ---- context switch (begin): no includes from here to "(end)"; tests/cpu_platform_test.ts
// assembles this section alone for every target, macOS included.
// The switch saves exactly what the calling convention says a callee must preserve, plus the
// floating-point control words (rounding mode, flush-to-zero), so a kernel that changes them
// cannot leak the change into another fiber. The instructions are the same on Linux (ELF) and
// macOS (Mach-O); only the symbol directives differ: Mach-O prefixes C symbols with '_', hides
// them with .private_extern and has no .type/.size. On arm64 macOS, x18 is the platform's
// register and is left alone (it is not callee-saved in AAPCS64 either).
#if defined(__APPLE__) && defined(__MACH__)
#define MBCPU_ASM_FUNCTION(name) \
  ".globl _" #name "\n.private_extern _" #name "\n.p2align 4\n_" #name ":\n"
#define MBCPU_ASM_END(name) ""
#elif defined(__ELF__) && defined(__x86_64__)
#define MBCPU_ASM_FUNCTION(name) \
  ".globl " #name "\n.hidden " #name "\n.type " #name ", @function\n.p2align 4\n" #name ":\n"
#define MBCPU_ASM_END(name) ".size " #name ", .-" #name "\n"
#elif defined(__ELF__)
#define MBCPU_ASM_FUNCTION(name) \
  ".globl " #name "\n.hidden " #name "\n.type " #name ", %function\n.p2align 4\n" #name ":\n"
#define MBCPU_ASM_END(name) ".size " #name ", .-" #name "\n"
#else
#error "metal_bridge/cpu/fiber.cpp: fibers need an ELF (Linux) or Mach-O (macOS) platform"
#endif

#if defined(__x86_64__)
// Frame on the suspended stack, from the saved stack pointer up:
//   +0 mxcsr (4 bytes), +4 x87 control word (2 bytes), +8 r15, +16 r14, +24 r13, +32 r12,
//   +40 rbx, +48 rbp, +56 return address.
asm(".text\n" MBCPU_ASM_FUNCTION(mbcpu_fiber_switch) R"(
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
)" MBCPU_ASM_END(mbcpu_fiber_switch) MBCPU_ASM_FUNCTION(mbcpu_fiber_trampoline) R"(
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
)" MBCPU_ASM_END(mbcpu_fiber_trampoline));
#elif defined(__aarch64__)
// Frame on the suspended stack (176 bytes), from the saved stack pointer up:
//   x19..x30 at +0..+88, d8..d15 at +96..+152, fpcr at +160.
asm(".text\n" MBCPU_ASM_FUNCTION(mbcpu_fiber_switch) R"(
  sub sp, sp, #176
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  ldr x9, [sp, #160]
  msr fpcr, x9
  add sp, sp, #176
  ret
)" MBCPU_ASM_END(mbcpu_fiber_switch) MBCPU_ASM_FUNCTION(mbcpu_fiber_trampoline) R"(
  .cfi_startproc
  .cfi_undefined x30
  mov x0, x19
  blr x20
  brk #0
  .cfi_endproc
)" MBCPU_ASM_END(mbcpu_fiber_trampoline));
#else
#error "metal_bridge/cpu/fiber.cpp: fibers need x86-64 or AArch64"
#endif

// ---- context switch (end)

extern "C" void mbcpu_fiber_trampoline();

namespace mbcpu::rt {

namespace {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

void write_u64(unsigned char* at, uint64_t value) { std::memcpy(at, &value, sizeof value); }

}  // namespace

FiberStack::~FiberStack() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
}

bool FiberStack::allocate(size_t usable_bytes) {
  const size_t page = page_size();
  usable_bytes = (usable_bytes + page - 1) / page * page;
  mapping_bytes_ = usable_bytes + page;
  // MAP_NORESERVE: only the pages a kernel actually touches cost memory.
  void* p = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) {
    mapping_ = nullptr;
    return false;
  }
  mapping_ = p;
  mprotect(p, page, PROT_NONE);  // guard page; best effort
  top_ = static_cast<unsigned char*>(p) + mapping_bytes_;
  return true;
}

bool FiberStack::guard_contains(uintptr_t address) const {
  const auto base = reinterpret_cast<uintptr_t>(mapping_);
  return mapping_ != nullptr && address >= base && address < base + page_size();
}

void* fiber_prepare(const FiberStack& stack, FiberEntry entry, void* arg) {
  auto* top = static_cast<unsigned char*>(stack.top());  // page aligned
  const auto fn = reinterpret_cast<uint64_t>(entry);
  const auto data = reinterpret_cast<uint64_t>(arg);
  const auto trampoline = reinterpret_cast<uint64_t>(&mbcpu_fiber_trampoline);
#if defined(__x86_64__)
  // The trampoline is entered by `ret` with %rsp 16-byte aligned, so that its `call` gives
  // `entry` the ABI's usual (%rsp + 8) % 16 == 0 alignment.
  unsigned char* ret_slot = top - 24;
  unsigned char* sp = ret_slot - 56;
  std::memset(sp, 0, static_cast<size_t>(top - sp));
  const uint32_t mxcsr = 0x1F80;  // all exceptions masked, round to nearest
  const uint16_t fcw = 0x037F;    // x87 default
  std::memcpy(sp, &mxcsr, sizeof mxcsr);
  std::memcpy(sp + 4, &fcw, sizeof fcw);
  write_u64(sp + 24, fn);    // r13
  write_u64(sp + 32, data);  // r12
  write_u64(ret_slot, trampoline);
  return sp;
#else
  unsigned char* sp = top - 176;
  std::memset(sp, 0, 176);
  write_u64(sp + 0, data);         // x19
  write_u64(sp + 8, fn);           // x20
  write_u64(sp + 88, trampoline);  // x30 (link register)
  return sp;                       // fpcr 0: round to nearest, no flush-to-zero
#endif
}

}  // namespace mbcpu::rt
