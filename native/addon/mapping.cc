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

#include <sys/mman.h>
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

// mmap(fd, length, prot, flags, offset) -> ArrayBuffer
static Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "mmap(fd, length, prot, flags, offset): bad arguments")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint64_t length, offset;
  if (!GetU64(env, info[1], "length", &length) || !GetU64(env, info[4], "offset", &offset))
    return env.Undefined();
  if (length == 0 || length > SIZE_MAX || offset > static_cast<uint64_t>(INT64_MAX)) {
    Napi::RangeError::New(env, "mmap: length or offset out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int prot = info[2].As<Napi::Number>().Int32Value();
  int flags = info[3].As<Napi::Number>().Int32Value();
  void* addr = mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
  if (addr == MAP_FAILED) {
    ThrowErrno(env, errno, "mmap");
    return env.Undefined();
  }
  Region* r = new Region{addr, static_cast<size_t>(length), false};
  State(env)->regions.emplace(addr, r);
  return Napi::ArrayBuffer::New(env, addr, r->length, FinalizeRegion, r);
}

// munmap(ab) -> true if this call unmapped it, false if it already was.
static Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "munmap(arrayBuffer): bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
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
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, std::string(name) + ": bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
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
template <typename T>
static T* RegAt(const Napi::CallbackInfo& info, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + ": offset must be a number").ThrowAsJavaScriptException();
    return nullptr;
  }
  double d = info[1].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0) {
    Napi::RangeError::New(env, std::string(what) + ": offset out of range").ThrowAsJavaScriptException();
    return nullptr;
  }
  uint64_t off = static_cast<uint64_t>(d);
  if (off % sizeof(T) != 0) {
    Napi::RangeError::New(env, std::string(what) + ": offset must be aligned").ThrowAsJavaScriptException();
    return nullptr;
  }
  return reinterpret_cast<T*>(Span(env, info[0], off, sizeof(T), what));
}

template <typename T>
static Napi::Value Read(const Napi::CallbackInfo& info) {
  volatile T* p = RegAt<T>(info, "read");
  if (p == nullptr) return info.Env().Undefined();
  T v = *p;
  if constexpr (sizeof(T) == 8) return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(v));
  else return Napi::Number::New(info.Env(), static_cast<double>(v));
}

template <typename T>
static Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  volatile T* p = RegAt<T>(info, "write");
  if (p == nullptr) return env.Undefined();
  if constexpr (sizeof(T) == 8) {
    bool lossless;
    if (info.Length() < 3 || !info[2].IsBigInt()) {
      Napi::TypeError::New(env, "write64: value must be a bigint").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    *p = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  } else {
    if (info.Length() < 3 || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "write: value must be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    *p = static_cast<T>(info[2].As<Napi::Number>().Int64Value());
  }
  return env.Undefined();
}

// address(ab) -> bigint: where the mapping lives, to find it in /proc/PID/maps.
static Napi::Value Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "address(arrayBuffer): bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(info[0].As<Napi::ArrayBuffer>().Data())));
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("address", Napi::Function::New(env, Address, "address"));
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("madvise", Napi::Function::New(env, Madvise, "madvise"));
  exports.Set("read8", Napi::Function::New(env, Read<uint8_t>, "read8"));
  exports.Set("read16", Napi::Function::New(env, Read<uint16_t>, "read16"));
  exports.Set("read32", Napi::Function::New(env, Read<uint32_t>, "read32"));
  exports.Set("read64", Napi::Function::New(env, Read<uint64_t>, "read64"));
  exports.Set("write8", Napi::Function::New(env, Write<uint8_t>, "write8"));
  exports.Set("write16", Napi::Function::New(env, Write<uint16_t>, "write16"));
  exports.Set("write32", Napi::Function::New(env, Write<uint32_t>, "write32"));
  exports.Set("write64", Napi::Function::New(env, Write<uint64_t>, "write64"));
}

}  // namespace devmap
