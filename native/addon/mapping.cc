// mmap/munmap/msync/madvise and single-width volatile register access.
//
// A mapping is exposed to JavaScript as an external ArrayBuffer. Lifetime:
//  - unmap(ab): marks the Region unmapped, detaches `ab` (so every view of it
//    now has length 0), then munmap()s. Idempotent.
//  - the ArrayBuffer's finalizer: munmap()s only if unmap() never ran.
// The flag lives in the Region, which only the finalizer frees, so the two
// paths can never both unmap.
#include "common.h"

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace devmap {

static void FinalizeRegion(Napi::Env env, void*, Region* r) {
  if (!r->unmapped) {
    r->unmapped = true;
    State(env)->regions.erase(r->addr);
    munmap(r->addr, r->length);
  }
  delete r;
}

// mmap(2) of checked arguments -> the ArrayBuffer over it (registered, with
// its finalizer), or undefined with a system error pending.
// `path`, when given, goes into the error as node:fs puts it.
static Napi::Value MapRegion(Napi::Env env, int fd, uint64_t length, int prot, int flags, uint64_t offset,
                             const char* path = nullptr) {
  void* addr = mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
  if (addr == MAP_FAILED) {
    ThrowErrno(env, errno, "mmap", path);
    return env.Undefined();
  }
  Region* r = new Region{addr, static_cast<size_t>(length), false};
  State(env)->regions.emplace(addr, r);
  return Napi::ArrayBuffer::New(env, addr, r->length, FinalizeRegion, r);
}

static bool CheckRange(Napi::Env env, uint64_t length, uint64_t offset) {
  if (length == 0 || length > SIZE_MAX || offset > static_cast<uint64_t>(INT64_MAX)) {
    OutOfRange(env, "mmap: length or offset out of range");
    return false;
  }
  return true;
}

// mmap(fd, length, prot, flags, offset) -> ArrayBuffer
static Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    return BadArgs(env, "mmap(fd, length, prot, flags, offset)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint64_t length, offset;
  if (!GetU64(env, info[1], "length", &length) || !GetU64(env, info[4], "offset", &offset))
    return env.Undefined();
  if (!CheckRange(env, length, offset)) return env.Undefined();
  int prot = info[2].As<Napi::Number>().Int32Value();
  int flags = info[3].As<Napi::Number>().Int32Value();
  return MapRegion(env, fd, length, prot, flags, offset);
}

// mapPath(path, openFlags, lengthOf, prot, flags, offset) -> ArrayBuffer
//
// mapFile() in one call: open(2) (close-on-exec), fstat(2), mmap(2),
// close(2); the mapping outlives the fd. How much to map is policy, so it is
// lib/map.ts's: lengthOf(st_mode, st_size) returns the length or throws, and
// its exception is passed on. Through node:fs the same steps cost several
// microseconds more (a Stats object, libuv's request setup), on a call whose
// floor is mmap + munmap. System errors carry `path`, as node:fs's do.
static Napi::Value MapPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction() ||
      !info[3].IsNumber() || !info[4].IsNumber()) {
    return BadArgs(env, "mapPath(path, openFlags, lengthOf, prot, flags, offset)");
  }
  uint64_t offset;
  if (!GetU64(env, info[5], "offset", &offset)) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), info[1].As<Napi::Number>().Int32Value() | O_CLOEXEC);
  if (fd < 0) {
    ThrowErrno(env, errno, "open", path.c_str());
    return env.Undefined();
  }
  struct stat st;
  Napi::Value result = env.Undefined();
  if (fstat(fd, &st) != 0) {
    ThrowErrno(env, errno, "fstat", path.c_str());
  } else {
    Napi::Value len = info[2].As<Napi::Function>().Call(
        {Napi::Number::New(env, st.st_mode), Napi::Number::New(env, static_cast<double>(st.st_size))});
    uint64_t length;
    if (!env.IsExceptionPending() && GetU64(env, len, "length", &length) && CheckRange(env, length, offset)) {
      result = MapRegion(env, fd, length, info[3].As<Napi::Number>().Int32Value(),
                         info[4].As<Napi::Number>().Int32Value(), offset, path.c_str());
    }
  }
  close(fd);
  return result;
}

// munmap(ab) -> true if this call unmapped it, false if it already was.
static Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    return BadArgs(env, "munmap(arrayBuffer)");
  }
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  EnvState* state = State(env);
  auto it = state->regions.find(ab.Data());
  if (ab.IsDetached() || it == state->regions.end() || it->second->unmapped)
    return Napi::Boolean::New(env, false);
  Region* r = it->second;
  state->regions.erase(it);
  r->unmapped = true;
  // Detach first: from here on no JavaScript view can reach the pages.
  ab.Detach();
  if (munmap(r->addr, r->length) != 0) {
    ThrowErrno(env, errno, "munmap");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

// Resolves `ab` plus a byte range [off, off+len) inside it; throws RangeError
// (and returns nullptr) when the range does not fit. A detached buffer has
// length 0, so every access after unmap() fails here.
static uint8_t* Span(Napi::Env env, const Napi::Value& v, uint64_t off, uint64_t len,
                     const char* what) {
  if (!v.IsArrayBuffer()) {
    Napi::TypeError::New(env, std::string(what) + ": expected an ArrayBuffer").ThrowAsJavaScriptException();
    return nullptr;
  }
  Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
  size_t size = ab.ByteLength();
  if (off > size || len > size - off) {
    Napi::RangeError::New(env, std::string(what) + ": range outside the mapping").ThrowAsJavaScriptException();
    return nullptr;
  }
  return static_cast<uint8_t*>(ab.Data()) + off;
}

// msync(ab, offset, length, flags) / madvise(ab, offset, length, advice)
template <int (*Call)(void*, size_t, int)>
static Napi::Value RangeCall(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  if (info.Length() < 4 || !info[3].IsNumber() || !GetU64(env, info[1], "offset", &off) ||
      !GetU64(env, info[2], "length", &len)) {
    return env.IsExceptionPending() ? env.Undefined() : BadArgs(env, name);
  }
  uint8_t* p = Span(env, info[0], off, len, name);
  if (p == nullptr) return env.Undefined();
  if (Call(p, static_cast<size_t>(len), info[3].As<Napi::Number>().Int32Value()) != 0)
    ThrowErrno(env, errno, name);
  return env.Undefined();
}

static int DoMsync(void* p, size_t n, int f) { return msync(p, n, f); }
static int DoMadvise(void* p, size_t n, int f) { return madvise(p, n, f); }
static Napi::Value Msync(const Napi::CallbackInfo& info) { return RangeCall<DoMsync>(info, "msync"); }
static Napi::Value Madvise(const Napi::CallbackInfo& info) { return RangeCall<DoMadvise>(info, "madvise"); }

// Register access: exactly one aligned load or store of the given width
// through a volatile pointer, so the compiler can neither split, merge nor
// elide it. Device registers (ivshmem Doorbell, edu DMA) depend on that.
//
// These are the hot path (benchmarked against an empty N-API call), so they
// use the C API directly: one napi_get_cb_info, one napi_get_arraybuffer_info
// (which also rejects anything that is not an ArrayBuffer), one number read.
static void ThrowRange(napi_env env, const char* msg) { napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg); }

template <typename T>
static volatile T* RegAt(napi_env env, napi_callback_info info, napi_value* argv, size_t want) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "register access: missing arguments");
    return nullptr;
  }
  void* data = nullptr;
  size_t size = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &size) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "register access: expected an ArrayBuffer");
    return nullptr;
  }
  double d;
  if (napi_get_value_double(env, argv[1], &d) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "register access: offset must be a number");
    return nullptr;
  }
  // A detached buffer (after unmap) has size 0, so nothing passes this.
  if (!(d >= 0) || d > static_cast<double>(size) - sizeof(T)) {
    ThrowRange(env, "register access: offset outside the mapping");
    return nullptr;
  }
  uint64_t off = static_cast<uint64_t>(d);
  if (static_cast<double>(off) != d || off % sizeof(T) != 0) {
    ThrowRange(env, "register access: offset must be an aligned integer");
    return nullptr;
  }
  return reinterpret_cast<volatile T*>(static_cast<uint8_t*>(data) + off);
}

template <typename T>
static napi_value Read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  volatile T* p = RegAt<T>(env, info, argv, 2);
  if (p == nullptr) return nullptr;
  T v = *p;
  napi_value out = nullptr;
  if constexpr (sizeof(T) == 8) napi_create_bigint_uint64(env, v, &out);
  else napi_create_uint32(env, v, &out);
  return out;
}

template <typename T>
static napi_value Write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  volatile T* p = RegAt<T>(env, info, argv, 3);
  if (p == nullptr) return nullptr;
  if constexpr (sizeof(T) == 8) {
    uint64_t v;
    bool lossless;
    if (napi_get_value_bigint_uint64(env, argv[2], &v, &lossless) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "write64: value must be a bigint");
      return nullptr;
    }
    *p = v;
  } else {
    uint32_t v;
    if (napi_get_value_uint32(env, argv[2], &v) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "write: value must be a number");
      return nullptr;
    }
    *p = static_cast<T>(v);
  }
  return nullptr;
}

static void SetC(Napi::Env env, Napi::Object exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  exports.Set(name, Napi::Value(env, fn));
}

// address(ab) -> bigint: where the mapping lives, to find it in /proc/PID/maps.
static Napi::Value Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    return BadArgs(env, "address(arrayBuffer)");
  }
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(info[0].As<Napi::ArrayBuffer>().Data())));
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("address", Napi::Function::New(env, Address, "address"));
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("mapPath", Napi::Function::New(env, MapPath, "mapPath"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("madvise", Napi::Function::New(env, Madvise, "madvise"));
  SetC(env, exports, "read8", Read<uint8_t>);
  SetC(env, exports, "read16", Read<uint16_t>);
  SetC(env, exports, "read32", Read<uint32_t>);
  SetC(env, exports, "read64", Read<uint64_t>);
  SetC(env, exports, "write8", Write<uint8_t>);
  SetC(env, exports, "write16", Write<uint16_t>);
  SetC(env, exports, "write32", Write<uint32_t>);
  SetC(env, exports, "write64", Write<uint64_t>);
}

}  // namespace devmap
