/*
 * objc/objc.h (declaration-only stand-in): BOOL, YES/NO, nil. `id`, `Class` and `SEL` are
 * built into clang's Objective-C mode. See ../README.md.
 *
 * BOOL is `bool` on arm64 (Apple's objc.h sets OBJC_BOOL_IS_BOOL for __arm64__) and
 * `signed char` on x86_64 macOS.
 */
#ifndef MB_APPLE_SDK_OBJC_OBJC_H
#define MB_APPLE_SDK_OBJC_OBJC_H

#include <stdbool.h>

#if defined(__arm64__) || defined(__aarch64__)
typedef bool BOOL;
#else
typedef signed char BOOL;
#endif
#define YES __objc_yes
#define NO __objc_no

#ifndef nil
#define nil ((void*)0)
#endif

#define OBJC_ARC_UNAVAILABLE \
  __attribute__((unavailable("not available in automatic reference counting mode")))

#endif
