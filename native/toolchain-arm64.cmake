# CMake toolchain for the arm64 guest's addon (Debian's cross compilers:
# gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu). Used by
# lib/harness/image/foreign.ts (crossAddon) through scripts/build-addon.mjs --cmake:
#   node scripts/build-addon.mjs --cmake --out build/arm64 --CDCMAKE_TOOLCHAIN_FILE=native/toolchain-arm64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Headers come from the host's Node (N-API is ABI-stable across
# architectures and versions); nothing else is looked up on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
