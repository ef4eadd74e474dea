#include "common.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

#include <sys/mman.h>

namespace devmap {

EnvState* State(Napi::Env env) { return env.GetInstanceData<EnvState>(); }

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path) {
  // Same shape as node:fs errors: message "CODE: description, syscall",
  // `errno` negative (libuv convention), `code` and `syscall` set.
  const char* code = strerrorname_np(err);
  if (code == nullptr) code = "EUNKNOWN";
  char buf[128];
  std::string desc = strerror_r(err, buf, sizeof buf);
  // "No such file or directory" -> "no such file ...", as libuv words it.
  if (!desc.empty()) desc[0] = static_cast<char>(tolower(static_cast<unsigned char>(desc[0])));
  std::string message = std::string(code) + ": " + desc + ", " + syscall;
  if (path != nullptr) message += std::string(" '") + path + "'";
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) e.Set("path", Napi::String::New(env, path));
  e.ThrowAsJavaScriptException();
}

Napi::Value BadArgs(Napi::Env env, const char* usage) {
  Napi::TypeError::New(env, std::string(usage) + ": bad arguments").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value OutOfRange(Napi::Env env, const char* msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ViewBytes(const Napi::Value& v, uint8_t** data, size_t* length) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    *length = ta.ByteLength();
    return true;
  }
  if (v.IsDataView()) {
    // napi_get_dataview_info's data already starts at the view's byteOffset.
    Napi::DataView dv = v.As<Napi::DataView>();
    *data = static_cast<uint8_t*>(dv.Data());
    *length = dv.ByteLength();
    return true;
  }
  return false;
}

bool GetU64(Napi::Env env, const Napi::Value& v, const char* what, uint64_t* out) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d))) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
  } else if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) {
      *out = u;
      return true;
    }
  }
  Napi::TypeError::New(env, std::string(what) + " must be a non-negative integer")
      .ThrowAsJavaScriptException();
  return false;
}

static void Cleanup(Napi::Env, EnvState* state) {
  // The environment is going away (worker or process exit). Its ArrayBuffers
  // die with it -- external ArrayBuffers are not transferable -- so unmap
  // what is left. A finalizer that still runs afterwards finds `unmapped`
  // set and only frees its Region; it never touches this (deleted) state.
  for (auto& entry : state->regions) {
    Region* r = entry.second;
    r->unmapped = true;
    munmap(r->addr, r->length);
  }
  delete state;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<EnvState, Cleanup>(new EnvState());
  InitMapping(env, exports);
  InitSys(env, exports);
  InitFb(env, exports);   // after InitSys: adds to `constants`
  InitIpc(env, exports);  // likewise
  InitWatch(env, exports);
  return exports;
}

}  // namespace devmap

static Napi::Object InitDevmap(Napi::Env env, Napi::Object exports) {
  return devmap::Init(env, exports);
}

NODE_API_MODULE(devmap, InitDevmap)
