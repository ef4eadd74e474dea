// An fd-readable watcher on the event loop: libuv's uv_poll_t on the loop
// of this environment. A DRM fd announces a completed page flip by becoming
// readable; waiting for that on the thread pool (poll) would hold a pool
// thread per pending flip, so the loop itself watches the fd and calls back
// on the JavaScript thread. Reading the event off the fd is plain read(2):
// lib/ does that with node:fs. Only a started watcher keeps the loop alive.
#include "common.h"

#include <uv.h>

namespace devmap {

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {InstanceMethod("start", &FdWatcher::Start), InstanceMethod("stop", &FdWatcher::Stop),
                        InstanceMethod("close", &FdWatcher::Close)});
  }

  // new FdWatcher(fd, callback(status, events))
  FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction() || info[0].As<Napi::Number>().Int32Value() < 0) {
      BadArgs(env, "new FdWatcher(fd, callback)");
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "FdWatcher: no event loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, info[0].As<Napi::Number>().Int32Value());
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, -rc, "uv_poll_init");
      return;
    }
    handle_->data = this;
    env_ = env;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "devmap.FdWatcher");
    napi_add_env_cleanup_hook(env, Cleanup, this);
  }

  ~FdWatcher() override { Release(); }

 private:
  // Closes the handle (freed in libuv's close callback) and drops the callback.
  void Release() {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
    napi_remove_env_cleanup_hook(env_, Cleanup, this);
    delete context_;
    context_ = nullptr;
    callback_.Reset();
  }

  static void Cleanup(void* arg) { static_cast<FdWatcher*>(arg)->Release(); }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    FdWatcher* self = static_cast<FdWatcher*>(h->data);
    if (self == nullptr || self->callback_.IsEmpty()) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, status), Napi::Number::New(env, events)}, *self->context_);
    if (env.IsExceptionPending()) {
      // Nothing above this frame can catch it: report it as Node reports any
      // exception thrown from an event-loop callback.
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (handle_ == nullptr) return BadArgs(info.Env(), "FdWatcher.start() after close()");
    int rc = uv_poll_start(handle_, UV_READABLE, OnPoll);
    if (rc != 0) ThrowErrno(info.Env(), -rc, "uv_poll_start");
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_poll_stop(handle_);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  uv_poll_t* handle_ = nullptr;
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

void InitWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Define(env));
}

}  // namespace devmap
