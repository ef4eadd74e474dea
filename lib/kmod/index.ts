// The companion kernel modules on a real machine: their source folders and
// which architectures they build for, a kernel's build tree, a module's
// .modinfo, and building, installing and loading them. `devmap kmod` and
// the guest harness (lib/harness/image/kmods.ts) share it; it loads no addon.
export { INSTALL_DIR, buildKmod, checkBuildTools, checkInstallRoot, firstError, installKmods, modulesDir, type BuiltKmod, type Installed } from './build.js';
export { headersRelease, isBuildTree, kernelGcc, readHeaders, type KernelHeaders } from './headers.js';
export { loadKmods, moduleBytes, type LoadOptions, type LoadReport } from './load.js';
export { noteBuildId, parseModInfo, type ModInfo } from './modinfo.js';
export { KMOD_ROOT, buildsFor, copyModuleSource, installMakeArgs, kbuildModules, moduleArches, moduleSources, modulesMakeArgs, orderedKos, selectModules } from './sources.js';
export { defaultSys, type KmodSys, type RunResult } from './sys.js';
