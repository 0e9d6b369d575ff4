// tests/cpu_platform_test.ts builds this with metal_bridge/cpu/fiber.cpp for x86-64 and AArch64
// (run under qemu-aarch64) and runs it.
// Runs two fibers that ping-pong through a scheduler context, checking that callee-saved
// registers (kept live across the switch by the compiler), floating-point values and the
// floating-point control word survive each switch.
#include <cfenv>
#include <cstdio>
#include <cstdlib>

#include "fiber.h"

using namespace mbcpu::rt;

static void* scheduler_sp = nullptr;
static void* fiber_sp[2] = {nullptr, nullptr};
static volatile int steps[2] = {0, 0};
static volatile double sums[2] = {0, 0};
static int rounding_seen_by_1 = -1;

static void body(void* arg) {
  const int id = static_cast<int>(reinterpret_cast<long>(arg));
  if (id == 0) std::fesetround(FE_UPWARD);  // must not leak into fiber 1 or the scheduler
  double a = 1.5 + id, b = 0.25 * (id + 1);
  long x = 100 + id, y = 7 * (id + 3);
  for (int i = 0; i < 1000; ++i) {
    a = a * 1.0000001 + b;
    x = x * 3 + y;
    steps[id] = steps[id] + 1;
    mbcpu_fiber_switch(&fiber_sp[id], scheduler_sp);
  }
  sums[id] = a + static_cast<double>(x % 1000003);
  if (id == 1) rounding_seen_by_1 = std::fegetround();
  for (;;) mbcpu_fiber_switch(&fiber_sp[id], scheduler_sp);
}

static double expected(int id) {
  double a = 1.5 + id, b = 0.25 * (id + 1);
  long x = 100 + id, y = 7 * (id + 3);
  if (id == 0) std::fesetround(FE_UPWARD);
  for (int i = 0; i < 1000; ++i) {
    a = a * 1.0000001 + b;
    x = x * 3 + y;
  }
  std::fesetround(FE_TONEAREST);
  return a + static_cast<double>(x % 1000003);
}

int main() {
  FiberStack stacks[2];
  for (int id = 0; id < 2; ++id) {
    if (!stacks[id].allocate(64 * 1024)) return 2;
    fiber_sp[id] = fiber_prepare(stacks[id], body, reinterpret_cast<void*>(static_cast<long>(id)));
  }
  for (int round = 0; round < 1001; ++round) {
    for (int id = 0; id < 2; ++id) mbcpu_fiber_switch(&scheduler_sp, fiber_sp[id]);
  }
  const int main_rounding = std::fegetround();
  const double e0 = expected(0), e1 = expected(1);
  const bool ok = steps[0] == 1000 && steps[1] == 1000 && sums[0] == e0 && sums[1] == e1 &&
                  rounding_seen_by_1 == FE_TONEAREST && main_rounding == FE_TONEAREST;
  std::printf("steps %d %d sums %.17g/%.17g %.17g/%.17g rounding %d %d -> %s\n", steps[0], steps[1],
              sums[0], e0, sums[1], e1, rounding_seen_by_1, main_rounding, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
