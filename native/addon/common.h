// Shared declarations of the devmap addon. The addon is deliberately thin:
// it makes the system calls Node has no binding for -- mmap, munmap, msync,
// madvise, ioctl (plus the fbdev ones whose structs differ between 32- and
// 64-bit ABIs), memfd_create, eventfd, SCM_RIGHTS fd passing, a UNIX socket
// libuv never reads, futex wait/wake, and blocking waits (poll, futex,
// FBIO_WAITFORVSYNC) on the
// thread pool, an fd-readable watcher on the event loop -- and single-width
// volatile loads/stores. Everything else --
// opening files, checking options, policy -- lives in lib/*.ts. One
// exception, for speed: mapPath() opens, fstats and closes the file that
// mapFile() maps, in the same call as the mmap; how much it maps is still
// decided in lib/map.ts.
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>

// mmap offsets are 64-bit everywhere (binding.gyp and CMakeLists.txt define
// _FILE_OFFSET_BITS=64): a 32-bit off_t would truncate them silently.
static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

namespace devmap {

// One live mmap() region. Owned jointly by the ArrayBuffer that exposes it
// (whose finalizer frees it) and the per-environment registry that lets
// unmap() find it from that ArrayBuffer.
struct Region {
  void* addr;
  size_t length;
  bool unmapped;
};

// Per-environment state (napi instance data): each worker thread has its own.
struct EnvState {
  std::unordered_map<void*, Region*> regions;
};

EnvState* State(Napi::Env env);

// Throws a Node-style system error (code, errno, syscall, and path when
// given) for `err`.
void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// Throws a TypeError "<usage>: bad arguments" for an addon function called
// wrongly (lib/ checks arguments first: this is the last line of defence).
Napi::Value BadArgs(Napi::Env env, const char* usage);

// Throws a RangeError with `msg`.
Napi::Value OutOfRange(Napi::Env env, const char* msg);

// constants.NAME = NAME, for the numbers lib/ needs from system headers.
#define DEVMAP_CONST(obj, env, name) (obj).Set(#name, Napi::Number::New((env), (name)))

// The bytes of an ArrayBufferView -- any TypedArray or a DataView -- from
// its byteOffset on. False, and nothing set, when `v` is neither.
bool ViewBytes(const Napi::Value& v, uint8_t** data, size_t* length);

// Reads a non-negative integer argument given as a Number or BigInt.
// Returns false (with a JS exception pending) when it is neither.
bool GetU64(Napi::Env env, const Napi::Value& v, const char* what, uint64_t* out);

// One blocking system call on libuv's thread pool, settling a promise:
// rejected with a Node-style system error (ThrowErrno) when Run() returns
// an errno, else resolved with Result(). Start() queues it; the worker
// deletes itself once settled.
class SyscallWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  SyscallWorker(Napi::Env env, const char* resource, const char* syscall)
      : Napi::AsyncWorker(env, resource), deferred_(Napi::Promise::Deferred::New(env)), syscall_(syscall) {}
  // On the pool thread: 0, or the errno of the failed call.
  virtual int Run() = 0;
  // On the JavaScript thread, after Run() returned 0.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() override { err_ = Run(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ == 0) {
      deferred_.Resolve(Result(env));
      return;
    }
    ThrowErrno(env, err_, syscall_);
    deferred_.Reject(env.GetAndClearPendingException().Value());
  }

  Napi::Promise::Deferred deferred_;
  const char* syscall_;
  int err_ = 0;
};

void InitMapping(Napi::Env env, Napi::Object exports);
void InitSys(Napi::Env env, Napi::Object exports);
void InitFb(Napi::Env env, Napi::Object exports);
void InitIpc(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);

}  // namespace devmap
