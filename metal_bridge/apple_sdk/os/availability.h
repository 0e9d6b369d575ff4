/*
 * os/availability.h (declaration-only stand-in) — API_AVAILABLE / API_DEPRECATED /
 * API_UNAVAILABLE, mapped onto clang's availability attribute the way Apple's
 * <os/availability.h> does. Only the `macos(...)` and `ios(...)` platform spellings are
 * supported, which is all the stand-in headers use. See ../README.md.
 */
#ifndef MB_APPLE_SDK_OS_AVAILABILITY_H
#define MB_APPLE_SDK_OS_AVAILABILITY_H

#define __MB_AV_macos(v) __attribute__((availability(macos, introduced = v)))
#define __MB_AV_ios(v) __attribute__((availability(ios, introduced = v)))
#define __MB_AV_ONE(p) __MB_AV_##p
#define __MB_AV_GET(_1, _2, _3, NAME, ...) NAME
#define __MB_AV_1(a) __MB_AV_ONE(a)
#define __MB_AV_2(a, b) __MB_AV_ONE(a) __MB_AV_ONE(b)
#define __MB_AV_3(a, b, c) __MB_AV_ONE(a) __MB_AV_ONE(b) __MB_AV_ONE(c)
#define API_AVAILABLE(...) __MB_AV_GET(__VA_ARGS__, __MB_AV_3, __MB_AV_2, __MB_AV_1, 0)(__VA_ARGS__)

/* API_DEPRECATED("message", macos(introduced, deprecated), ...) */
#define __MB_DEP_macos(i, d) macos, introduced = i, deprecated = d
#define __MB_DEP_ios(i, d) ios, introduced = i, deprecated = d
#define __MB_DEP_ONE(m, p) __attribute__((availability(__MB_DEP_##p, message = m)))
#define __MB_DEP_1(m, a) __MB_DEP_ONE(m, a)
#define __MB_DEP_2(m, a, b) __MB_DEP_ONE(m, a) __MB_DEP_ONE(m, b)
#define __MB_DEP_GET(_1, _2, NAME, ...) NAME
#define API_DEPRECATED(m, ...) __MB_DEP_GET(__VA_ARGS__, __MB_DEP_2, __MB_DEP_1, 0)(m, __VA_ARGS__)

#endif
