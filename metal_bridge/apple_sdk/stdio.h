/*
 * stdio.h (declaration-only stand-in) — only what metal_bridge.m uses from the C library:
 * rename(2), which moves the binary archive's temporary file over the cache file atomically.
 * checked: `int rename(const char *__old, const char *__new);` (macOS SDK <stdio.h>, POSIX).
 * See README.md.
 */
#ifndef MB_APPLE_SDK_STDIO_H
#define MB_APPLE_SDK_STDIO_H

int rename(const char* __old, const char* __new);

#endif
