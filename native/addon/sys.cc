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

// ioctl(fd, request, arg) -> int. `arg` is an ArrayBufferView -- any
// TypedArray or a DataView -- passed by pointer (the kernel reads/writes the
// struct in place, from the view's byteOffset), a number (passed by value),
// or undefined (0). Anything else is a TypeError, never a silent NULL.
static Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return BadArgs(env, "ioctl(fd, request, arg)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  unsigned long req = static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value());
  Napi::Value a = info[2];  // undefined when not passed
  unsigned long arg = 0;
  uint8_t* data;
  size_t length;
  if (a.IsNumber()) {
    arg = static_cast<unsigned long>(a.As<Napi::Number>().Int64Value());
  } else if (ViewBytes(a, &data, &length)) {
    // The caller sized the view for the ioctl's struct; the kernel derives the
    // size from `req` (_IOC_SIZE), so refuse a view smaller than that.
    if (length < ((req >> 16) & 0x3fff)) {
      return OutOfRange(env, "ioctl: argument buffer smaller than the request's size");
    }
    arg = reinterpret_cast<unsigned long>(data);
  } else if (!a.IsUndefined()) {
    return BadArgs(env, "ioctl: arg must be an ArrayBufferView, a number or undefined");
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
  DEVMAP_CONST(c, env, MADV_NORMAL);
  DEVMAP_CONST(c, env, MADV_RANDOM);
  DEVMAP_CONST(c, env, MADV_SEQUENTIAL);
  DEVMAP_CONST(c, env, MADV_WILLNEED);
  DEVMAP_CONST(c, env, MADV_DONTNEED);
  DEVMAP_CONST(c, env, MADV_HUGEPAGE);
  DEVMAP_CONST(c, env, MADV_NOHUGEPAGE);
  DEVMAP_CONST(c, env, MFD_CLOEXEC);
  exports.Set("constants", c);
}

}  // namespace devmap
