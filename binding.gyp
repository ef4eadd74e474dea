# node-gyp build of the addon: what `npm install` runs on the host.
# The same sources build with cmake-js from native/CMakeLists.txt (cross builds).
{
  "targets": [
    {
      "target_name": "devmap",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/mapping.cc",
        "native/addon/sys.cc",
        "native/addon/fb.cc",
        "native/addon/ipc.cc",
        "native/addon/watch.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # Exceptions off: every failure path throws a JS error explicitly and
      # returns, so no C++ exception ever crosses the N-API boundary.
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-fvisibility=hidden", "-std=c++17", "-Wall", "-Wextra"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
