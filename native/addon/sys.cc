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
    Napi::TypeError::New(env, "memfdCreate(name, flags): bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
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
    Napi::TypeError::New(env, "ioctl(fd, request, arg): bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
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
      Napi::RangeError::New(env, "ioctl: argument buffer smaller than the request's size")
          .ThrowAsJavaScriptException();
      return env.Undefined();
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
  c.Set("PROT_READ", Napi::Number::New(env, PROT_READ));
  c.Set("PROT_WRITE", Napi::Number::New(env, PROT_WRITE));
  c.Set("MAP_SHARED", Napi::Number::New(env, MAP_SHARED));
  c.Set("MAP_PRIVATE", Napi::Number::New(env, MAP_PRIVATE));
  c.Set("MS_SYNC", Napi::Number::New(env, MS_SYNC));
  c.Set("MS_ASYNC", Napi::Number::New(env, MS_ASYNC));
  c.Set("MS_INVALIDATE", Napi::Number::New(env, MS_INVALIDATE));
  c.Set("MADV_NORMAL", Napi::Number::New(env, MADV_NORMAL));
  c.Set("MADV_RANDOM", Napi::Number::New(env, MADV_RANDOM));
  c.Set("MADV_SEQUENTIAL", Napi::Number::New(env, MADV_SEQUENTIAL));
  c.Set("MADV_WILLNEED", Napi::Number::New(env, MADV_WILLNEED));
  c.Set("MADV_DONTNEED", Napi::Number::New(env, MADV_DONTNEED));
  c.Set("MADV_DONTFORK", Napi::Number::New(env, MADV_DONTFORK));
  c.Set("MADV_DOFORK", Napi::Number::New(env, MADV_DOFORK));
  c.Set("MADV_HUGEPAGE", Napi::Number::New(env, MADV_HUGEPAGE));
  c.Set("MADV_NOHUGEPAGE", Napi::Number::New(env, MADV_NOHUGEPAGE));
  c.Set("MFD_CLOEXEC", Napi::Number::New(env, MFD_CLOEXEC));
  c.Set("MFD_ALLOW_SEALING", Napi::Number::New(env, MFD_ALLOW_SEALING));
  exports.Set("constants", c);
}

}  // namespace devmap
