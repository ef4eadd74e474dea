# CMake toolchain for the armhf guest's addon (Debian's cross compilers:
# gcc-arm-linux-gnueabihf, g++-arm-linux-gnueabihf). Used by
# lib/harness/image/foreign.ts (crossAddon) through scripts/build-addon.mjs --cmake:
#   node scripts/build-addon.mjs --cmake --out build/armhf --CDCMAKE_TOOLCHAIN_FILE=native/toolchain-armhf.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
# Headers come from the host's Node (N-API is ABI-stable across
# architectures and versions); nothing else is looked up on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
