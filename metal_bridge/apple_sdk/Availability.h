/*
 * Availability.h (declaration-only stand-in) — which macOS SDK the stand-in headers simulate.
 *
 * Apple's SDK defines __MAC_OS_X_VERSION_MAX_ALLOWED as its own version (Availability.h via
 * AvailabilityInternal.h): 140000 in the macOS 14 SDK (Xcode 15), 150000 in macOS 15 (Xcode 16),
 * 260000 in macOS 26 (Xcode 26). Code that names an API from a newer SDK must test it at
 * compile time; `@available` only guards at run time and does not make an undeclared name
 * compile. Here MB_APPLE_SDK_VERSION (14, 15 or 26; default 26) selects the simulated SDK, and
 * every declaration newer than macOS 14 in these headers exists only when the simulated SDK has
 * it. tests/bridge_typecheck_test.ts type-checks metal_bridge.m once per SDK.
 */
#ifndef MB_APPLE_SDK_AVAILABILITY_H
#define MB_APPLE_SDK_AVAILABILITY_H

#define __MAC_13_0 130000
#define __MAC_14_0 140000
#define __MAC_15_0 150000
#define __MAC_26_0 260000

#ifndef MB_APPLE_SDK_VERSION
#define MB_APPLE_SDK_VERSION 26
#endif

#if MB_APPLE_SDK_VERSION == 14
#define __MAC_OS_X_VERSION_MAX_ALLOWED __MAC_14_0
#elif MB_APPLE_SDK_VERSION == 15
#define __MAC_OS_X_VERSION_MAX_ALLOWED __MAC_15_0
#elif MB_APPLE_SDK_VERSION == 26
#define __MAC_OS_X_VERSION_MAX_ALLOWED __MAC_26_0
#else
#error "apple_sdk: MB_APPLE_SDK_VERSION must be 14, 15 or 26"
#endif

/* Set by clang from -target arm64-apple-macosxNN / -mmacosx-version-min (as Apple's header does).
 */
#ifdef __ENVIRONMENT_MAC_OS_X_VERSION_MIN_REQUIRED__
#define __MAC_OS_X_VERSION_MIN_REQUIRED __ENVIRONMENT_MAC_OS_X_VERSION_MIN_REQUIRED__
#endif

#endif
