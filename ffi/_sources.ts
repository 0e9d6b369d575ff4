// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * The bridge sources as text imports (private). JSR installs only the module graph, so the
 * native sources travel as text and are built on the user's machine; literal specifiers keep
 * every file in the published graph. `tests/ffi_test.ts` checks this list against the files
 * under `metal_bridge/`.
 *
 * @module
 */
import header from "../metal_bridge/metal_bridge.h" with { type: "text" };
import objcBridge from "../metal_bridge/metal_bridge.m" with { type: "text" };
import commonContractH from "../metal_bridge/common/contract.h" with { type: "text" };
import abiGuardH from "../metal_bridge/cpu/abi_guard.h" with { type: "text" };
import checkedCpp from "../metal_bridge/cpu/checked.cpp" with { type: "text" };
import checkedH from "../metal_bridge/cpu/checked.h" with { type: "text" };
import commandsCpp from "../metal_bridge/cpu/commands.cpp" with { type: "text" };
import compilerCpp from "../metal_bridge/cpu/compiler.cpp" with { type: "text" };
import compilerH from "../metal_bridge/cpu/compiler.h" with { type: "text" };
import deviceCpp from "../metal_bridge/cpu/device.cpp" with { type: "text" };
import diskCacheCpp from "../metal_bridge/cpu/disk_cache.cpp" with { type: "text" };
import diskCacheH from "../metal_bridge/cpu/disk_cache.h" with { type: "text" };
import failureMessagesCpp from "../metal_bridge/cpu/failure_messages.cpp" with {
  type: "text",
};
import fiberCpp from "../metal_bridge/cpu/fiber.cpp" with { type: "text" };
import fiberH from "../metal_bridge/cpu/fiber.h" with { type: "text" };
import platformH from "../metal_bridge/cpu/platform.h" with { type: "text" };
import hasherCpp from "../metal_bridge/cpu/hasher.cpp" with { type: "text" };
import kernelModuleH from "../metal_bridge/cpu/kernel_module.h" with { type: "text" };
import libraryInfoH from "../metal_bridge/cpu/library_info.h" with { type: "text" };
import mslMetalCompatH from "../metal_bridge/cpu/msl/metal_compat.h" with { type: "text" };
import mslMetalTensorH from "../metal_bridge/cpu/msl/metal_tensor.h" with { type: "text" };
import mslAddressSpacesCpp from "../metal_bridge/cpu/msl_address_spaces.cpp" with { type: "text" };
import mslAddressSpacesH from "../metal_bridge/cpu/msl_address_spaces.h" with { type: "text" };
import mslAstCpp from "../metal_bridge/cpu/msl_ast.cpp" with { type: "text" };
import mslAstH from "../metal_bridge/cpu/msl_ast.h" with { type: "text" };
import mslDeclarationsCpp from "../metal_bridge/cpu/msl_declarations.cpp" with { type: "text" };
import mslEntryCpp from "../metal_bridge/cpu/msl_entry.cpp" with { type: "text" };
import mslExclusionsCpp from "../metal_bridge/cpu/msl_exclusions.cpp" with { type: "text" };
import mslExclusionsH from "../metal_bridge/cpu/msl_exclusions.h" with { type: "text" };
import mslExpressionsCpp from "../metal_bridge/cpu/msl_expressions.cpp" with { type: "text" };
import mslKernelsCpp from "../metal_bridge/cpu/msl_kernels.cpp" with { type: "text" };
import mslLexCpp from "../metal_bridge/cpu/msl_lex.cpp" with { type: "text" };
import mslLexH from "../metal_bridge/cpu/msl_lex.h" with { type: "text" };
import mslRefusalsCpp from "../metal_bridge/cpu/msl_refusals.cpp" with { type: "text" };
import mslRewriteCpp from "../metal_bridge/cpu/msl_rewrite.cpp" with { type: "text" };
import mslRewriteH from "../metal_bridge/cpu/msl_rewrite.h" with { type: "text" };
import mslRewriterH from "../metal_bridge/cpu/msl_rewriter.h" with { type: "text" };
import mslSourceMapCpp from "../metal_bridge/cpu/msl_source_map.cpp" with { type: "text" };
import mslSpaceCastsCpp from "../metal_bridge/cpu/msl_space_casts.cpp" with { type: "text" };
import mslSpaceVariantsCpp from "../metal_bridge/cpu/msl_space_variants.cpp" with { type: "text" };
import mslVocabularyCpp from "../metal_bridge/cpu/msl_vocabulary.cpp" with { type: "text" };
import mslVocabularyH from "../metal_bridge/cpu/msl_vocabulary.h" with { type: "text" };
import mslWorkItemsCpp from "../metal_bridge/cpu/msl_work_items.cpp" with { type: "text" };
import mslWorkItemsH from "../metal_bridge/cpu/msl_work_items.h" with { type: "text" };
import poolCpp from "../metal_bridge/cpu/pool.cpp" with { type: "text" };
import poolH from "../metal_bridge/cpu/pool.h" with { type: "text" };
import runtimeCpp from "../metal_bridge/cpu/runtime.cpp" with { type: "text" };
import runtimeH from "../metal_bridge/cpu/runtime.h" with { type: "text" };
import sandboxCpp from "../metal_bridge/cpu/sandbox.cpp" with { type: "text" };
import sandboxH from "../metal_bridge/cpu/sandbox.h" with { type: "text" };
import sortedMapH from "../metal_bridge/cpu/sorted_map.h" with { type: "text" };
import vecH from "../metal_bridge/cpu/vec.h" with { type: "text" };
import workerCpp from "../metal_bridge/cpu/worker.cpp" with { type: "text" };
import workerH from "../metal_bridge/cpu/worker.h" with { type: "text" };
import type { Backend } from "../backend.ts";

/** One source file: its path relative to the build directory, and its text. */
export interface NativeSource {
  /** Path under the build directory, e.g. `metal_bridge/cpu/runtime.cpp`. */
  path: string;
  /** The file's contents. */
  text: string;
}

/** `metal_bridge/metal_bridge.h`, the one ABI. */
export const HEADER_SOURCE: NativeSource = { path: "metal_bridge/metal_bridge.h", text: header };

/** `metal_bridge/common/contract.h`: the checks and wording both backends share. */
const CONTRACT_SOURCE: NativeSource = {
  path: "metal_bridge/common/contract.h",
  text: commonContractH,
};

/** Every file each backend's build needs. */
export const SOURCES: Record<Backend, readonly NativeSource[]> = {
  cpu: [
    HEADER_SOURCE,
    CONTRACT_SOURCE,
    { path: "metal_bridge/cpu/abi_guard.h", text: abiGuardH },
    { path: "metal_bridge/cpu/checked.cpp", text: checkedCpp },
    { path: "metal_bridge/cpu/checked.h", text: checkedH },
    { path: "metal_bridge/cpu/commands.cpp", text: commandsCpp },
    { path: "metal_bridge/cpu/compiler.cpp", text: compilerCpp },
    { path: "metal_bridge/cpu/compiler.h", text: compilerH },
    { path: "metal_bridge/cpu/device.cpp", text: deviceCpp },
    { path: "metal_bridge/cpu/disk_cache.cpp", text: diskCacheCpp },
    { path: "metal_bridge/cpu/disk_cache.h", text: diskCacheH },
    { path: "metal_bridge/cpu/failure_messages.cpp", text: failureMessagesCpp },
    { path: "metal_bridge/cpu/fiber.cpp", text: fiberCpp },
    { path: "metal_bridge/cpu/fiber.h", text: fiberH },
    { path: "metal_bridge/cpu/platform.h", text: platformH },
    { path: "metal_bridge/cpu/hasher.cpp", text: hasherCpp },
    { path: "metal_bridge/cpu/kernel_module.h", text: kernelModuleH },
    { path: "metal_bridge/cpu/library_info.h", text: libraryInfoH },
    { path: "metal_bridge/cpu/msl/metal_compat.h", text: mslMetalCompatH },
    { path: "metal_bridge/cpu/msl/metal_tensor.h", text: mslMetalTensorH },
    { path: "metal_bridge/cpu/msl_address_spaces.cpp", text: mslAddressSpacesCpp },
    { path: "metal_bridge/cpu/msl_address_spaces.h", text: mslAddressSpacesH },
    { path: "metal_bridge/cpu/msl_ast.cpp", text: mslAstCpp },
    { path: "metal_bridge/cpu/msl_ast.h", text: mslAstH },
    { path: "metal_bridge/cpu/msl_declarations.cpp", text: mslDeclarationsCpp },
    { path: "metal_bridge/cpu/msl_entry.cpp", text: mslEntryCpp },
    { path: "metal_bridge/cpu/msl_exclusions.cpp", text: mslExclusionsCpp },
    { path: "metal_bridge/cpu/msl_exclusions.h", text: mslExclusionsH },
    { path: "metal_bridge/cpu/msl_expressions.cpp", text: mslExpressionsCpp },
    { path: "metal_bridge/cpu/msl_kernels.cpp", text: mslKernelsCpp },
    { path: "metal_bridge/cpu/msl_lex.cpp", text: mslLexCpp },
    { path: "metal_bridge/cpu/msl_lex.h", text: mslLexH },
    { path: "metal_bridge/cpu/msl_refusals.cpp", text: mslRefusalsCpp },
    { path: "metal_bridge/cpu/msl_rewrite.cpp", text: mslRewriteCpp },
    { path: "metal_bridge/cpu/msl_rewrite.h", text: mslRewriteH },
    { path: "metal_bridge/cpu/msl_rewriter.h", text: mslRewriterH },
    { path: "metal_bridge/cpu/msl_source_map.cpp", text: mslSourceMapCpp },
    { path: "metal_bridge/cpu/msl_space_casts.cpp", text: mslSpaceCastsCpp },
    { path: "metal_bridge/cpu/msl_space_variants.cpp", text: mslSpaceVariantsCpp },
    { path: "metal_bridge/cpu/msl_vocabulary.cpp", text: mslVocabularyCpp },
    { path: "metal_bridge/cpu/msl_vocabulary.h", text: mslVocabularyH },
    { path: "metal_bridge/cpu/msl_work_items.cpp", text: mslWorkItemsCpp },
    { path: "metal_bridge/cpu/msl_work_items.h", text: mslWorkItemsH },
    { path: "metal_bridge/cpu/pool.cpp", text: poolCpp },
    { path: "metal_bridge/cpu/pool.h", text: poolH },
    { path: "metal_bridge/cpu/runtime.cpp", text: runtimeCpp },
    { path: "metal_bridge/cpu/runtime.h", text: runtimeH },
    { path: "metal_bridge/cpu/sandbox.cpp", text: sandboxCpp },
    { path: "metal_bridge/cpu/sandbox.h", text: sandboxH },
    { path: "metal_bridge/cpu/sorted_map.h", text: sortedMapH },
    { path: "metal_bridge/cpu/vec.h", text: vecH },
    { path: "metal_bridge/cpu/worker.cpp", text: workerCpp },
    { path: "metal_bridge/cpu/worker.h", text: workerH },
  ],
  metal: [
    HEADER_SOURCE,
    CONTRACT_SOURCE,
    { path: "metal_bridge/metal_bridge.m", text: objcBridge },
  ],
};
