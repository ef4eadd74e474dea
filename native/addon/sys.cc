// System calls Node has no binding for: memfd_create, ioctl; plus the
// constants the TypeScript layer needs to call mmap/msync/madvise.
#include "common.h"

#include <cerrno>

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace devmap {

// memfdCreate(name, flags) -> fd
static Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    return BadArgs(env, "memfdCreate(name, flags)");
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int fd = memfd_create(name.c_str(), info[1].As<Napi::Number>().Uint32Value());
  if (fd < 0) {
    ThrowErrno(env, errno, "memfd_create");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// ioctl(fd, request, arg) -> int. `arg` is a Uint8Array (passed by pointer:
// the kernel reads/writes the struct in place), a number (passed by value),
// or undefined (0).
static Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return BadArgs(env, "ioctl(fd, request, arg)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  unsigned long req = static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value());
  unsigned long arg = 0;
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
    // The caller sized the view for the ioctl's struct; the kernel derives the
    // size from `req` (_IOC_SIZE), so refuse a view smaller than that.
    size_t need = (req >> 16) & 0x3fff;
    if (ta.ByteLength() < need) {
      return OutOfRange(env, "ioctl: argument buffer smaller than the request's size");
    }
    arg = reinterpret_cast<unsigned long>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  } else if (info.Length() > 2 && info[2].IsNumber()) {
    arg = static_cast<unsigned long>(info[2].As<Napi::Number>().Int64Value());
  }
  int rc = ioctl(fd, req, arg);
  if (rc < 0) {
    ThrowErrno(env, errno, "ioctl");
    return env.Undefined();
  }
  return Napi::Number::New(env, rc);
}

// noop() -> undefined: the cost of an empty N-API call, the baseline the
// register accessors are benchmarked against.
// Written against the C API, as the register accessors are, so the two
// differ only by what the accessors do.
static napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

void InitSys(Napi::Env env, Napi::Object exports) {
  napi_value noop;
  napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &noop);
  exports.Set("noop", Napi::Value(env, noop));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));

  Napi::Object c = Napi::Object::New(env);
  c.Set("PAGE_SIZE", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  DEVMAP_CONST(c, env, PROT_READ);
  DEVMAP_CONST(c, env, PROT_WRITE);
  DEVMAP_CONST(c, env, MAP_SHARED);
  DEVMAP_CONST(c, env, MAP_PRIVATE);
  DEVMAP_CONST(c, env, MS_SYNC);
  DEVMAP_CONST(c, env, MS_ASYNC);
  DEVMAP_CONST(c, env, MS_INVALIDATE);
  DEVMAP_CONST(c, env, MADV_NORMAL);
  DEVMAP_CONST(c, env, MADV_RANDOM);
  DEVMAP_CONST(c, env, MADV_SEQUENTIAL);
  DEVMAP_CONST(c, env, MADV_WILLNEED);
  DEVMAP_CONST(c, env, MADV_DONTNEED);
  DEVMAP_CONST(c, env, MADV_DONTFORK);
  DEVMAP_CONST(c, env, MADV_DOFORK);
  DEVMAP_CONST(c, env, MADV_HUGEPAGE);
  DEVMAP_CONST(c, env, MADV_NOHUGEPAGE);
  DEVMAP_CONST(c, env, MFD_CLOEXEC);
  DEVMAP_CONST(c, env, MFD_ALLOW_SEALING);
  exports.Set("constants", c);
}

}  // namespace devmap
