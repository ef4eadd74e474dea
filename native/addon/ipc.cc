// What the ivshmem doorbell server and host peer need that Node has no
// binding for: eventfd(2), SCM_RIGHTS fd passing over a UNIX stream socket
// (sendmsg/recvmsg), a connected UNIX socket libuv never reads from (libuv
// would read() the stream and silently drop the passed fds), and poll(2) on
// the thread pool to await readable fds, and futex(2) on a word of a mapping
// (the channel's sleeping ends). Reading and writing an eventfd's 8-byte
// counter is plain read/write: lib/ does that with node:fs.
#include "common.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <vector>

#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace devmap {

// SCM_RIGHTS carries at most SCM_MAX_FD (253) fds per message.
static const size_t kMaxFds = 253;
static const size_t kMaxData = 1 << 20;

static bool IsFd(const Napi::Value& v) {
  return v.IsNumber() && v.As<Napi::Number>().Int32Value() >= 0;
}

// eventfd(initval, flags) -> fd
static Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return BadArgs(env, "eventfd(initval, flags)");
  int fd = eventfd(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int32Value());
  if (fd < 0) {
    ThrowErrno(env, errno, "eventfd");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// sendFds(socketFd, data, fds) -> bytes sent; `data` is any ArrayBufferView.
// One sendmsg: the fds ride on the first byte of `data`, which must not be
// empty (a stream socket drops ancillary data sent without payload).
// MSG_NOSIGNAL: a peer that went away gives EPIPE, not a process-killing
// SIGPIPE.
static Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t length;
  if (info.Length() < 3 || !IsFd(info[0]) || !ViewBytes(info[1], &data, &length) || !info[2].IsArray()) {
    return BadArgs(env, "sendFds(socketFd, data, fds)");
  }
  Napi::Array list = info[2].As<Napi::Array>();
  if (length == 0 || list.Length() > kMaxFds) {
    return OutOfRange(env, "sendFds: data must not be empty and fds must hold at most 253 fds");
  }
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!IsFd(v)) return BadArgs(env, "sendFds: fds must be non-negative integers");
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  struct iovec iov;
  iov.iov_base = data;
  iov.iov_len = length;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(info[0].As<Napi::Number>().Int32Value(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno(env, errno, "sendmsg");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvFds(socketFd, maxData, maxFds) -> { data, fds, truncated }. Never
// blocks (MSG_DONTWAIT: EAGAIN when nothing is queued). Received fds are
// close-on-exec. `data` of length 0 means end of stream.
static Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !IsFd(info[0]) || !info[1].IsNumber() || !info[2].IsNumber()) {
    return BadArgs(env, "recvFds(socketFd, maxData, maxFds)");
  }
  uint32_t maxData = info[1].As<Napi::Number>().Uint32Value();
  uint32_t maxFds = info[2].As<Napi::Number>().Uint32Value();
  if (maxData == 0 || maxData > kMaxData || maxFds > kMaxFds) {
    return OutOfRange(env, "recvFds: maxData must be in [1, 1048576] and maxFds in [0, 253]");
  }
  std::vector<uint8_t> buf(maxData);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (maxFds ? maxFds : 1)));
  struct iovec iov = {buf.data(), maxData};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (maxFds > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * maxFds);
  }
  ssize_t n;
  do {
    n = recvmsg(info[0].As<Napi::Number>().Int32Value(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno(env, errno, "recvmsg");
    return env.Undefined();
  }
  Napi::Array fds = Napi::Array::New(env);
  uint32_t count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.Set(count++, Napi::Number::New(env, fd));
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n)));
  out.Set("fds", fds);
  out.Set("truncated", Napi::Boolean::New(env, (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0));
  return out;
}

// unixConnect(path) -> fd of a connected, close-on-exec SOCK_STREAM socket.
static Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return BadArgs(env, "unixConnect(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return OutOfRange(env, "unixConnect: path must be 1 to 107 bytes");
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return env.Undefined();
  }
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "connect");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// poll(fds, events, timeoutMs) -> Promise<number[]> of revents, on the
// thread pool so the event loop keeps running. The caller bounds the wait
// (timeout) and wakes it early by making one of `fds` readable (an eventfd
// it owns): closing an fd does not wake a poll() that waits on it.
class PollWorker : public SyscallWorker {
 public:
  PollWorker(Napi::Env env, std::vector<struct pollfd> fds, int timeout)
      : SyscallWorker(env, "devmap.poll", "poll"), fds_(std::move(fds)), timeout_(timeout) {}

 private:
  int Run() override {
    int rc;
    do {
      rc = ::poll(fds_.data(), fds_.size(), timeout_);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? errno : 0;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, fds_.size());
    for (size_t i = 0; i < fds_.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds_[i].revents));
    return out;
  }
  std::vector<struct pollfd> fds_;
  int timeout_;
};

static Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return BadArgs(env, "poll(fds, events, timeoutMs)");
  }
  Napi::Array list = info[0].As<Napi::Array>();
  short events = static_cast<short>(info[1].As<Napi::Number>().Int32Value());
  int timeout = info[2].As<Napi::Number>().Int32Value();
  if (list.Length() == 0 || list.Length() > 1024 || timeout < 0) {
    return OutOfRange(env, "poll: 1 to 1024 fds and a timeout >= 0 ms (never infinite)");
  }
  std::vector<struct pollfd> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!IsFd(v)) return BadArgs(env, "poll: fds must be non-negative integers");
    fds.push_back({v.As<Napi::Number>().Int32Value(), events, 0});
  }
  return (new PollWorker(env, std::move(fds), timeout))->Start();
}

// futex(2) on a 32-bit word of an ArrayBuffer (a mapping). Never
// FUTEX_PRIVATE_FLAG: the word is shared with other processes (a memfd or
// /dev/shm file mapped MAP_SHARED), whose waiters the kernel finds by the
// page's file and offset, not by this process's address.
static long Futex(int32_t* word, int op, int32_t val, const struct timespec* timeout) {
  return syscall(SYS_futex, word, op, val, timeout, nullptr, 0);
}

// The word at `offset` of ArrayBuffer `v`: offset an integer within the
// buffer, the address 4-aligned. Throws (and returns nullptr) otherwise; a
// detached buffer (an unmapped mapping) has length 0, so nothing passes.
static int32_t* FutexWord(Napi::Env env, const Napi::Value& v, const Napi::Value& offset, const char* usage) {
  if (!v.IsArrayBuffer() || !offset.IsNumber()) {
    BadArgs(env, usage);
    return nullptr;
  }
  Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
  double d = offset.As<Napi::Number>().DoubleValue();
  size_t size = ab.IsDetached() ? 0 : ab.ByteLength();
  if (size < 4 || !(d >= 0) || d > static_cast<double>(size - 4) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    OutOfRange(env, "futex: offset outside the mapping (or the mapping was unmapped)");
    return nullptr;
  }
  uint8_t* p = static_cast<uint8_t*>(ab.Data()) + static_cast<size_t>(d);
  if (reinterpret_cast<uintptr_t>(p) % 4 != 0) {
    OutOfRange(env, "futex: the word must be 4-byte aligned");
    return nullptr;
  }
  return reinterpret_cast<int32_t*>(p);
}

// FUTEX_WAIT while *word == expected, at most timeoutMs: "ok" (woken, or a
// signal: the caller looks again either way), "not-equal", "timed-out".
static int FutexWait(int32_t* word, int32_t expected, uint32_t timeoutMs, const char** outcome) {
  struct timespec t = {static_cast<time_t>(timeoutMs / 1000), static_cast<long>(timeoutMs % 1000) * 1000000L};
  *outcome = "ok";
  if (Futex(word, FUTEX_WAIT, expected, &t) == 0 || errno == EINTR) return 0;
  if (errno == EAGAIN) *outcome = "not-equal";
  else if (errno == ETIMEDOUT) *outcome = "timed-out";
  else return errno;
  return 0;
}

static bool WaitArgs(const Napi::CallbackInfo& info, const char* usage, int32_t** word, int32_t* expected, uint32_t* ms) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[2].IsNumber() || !info[3].IsNumber()) {
    BadArgs(env, usage);
    return false;
  }
  *word = FutexWord(env, info[0], info[1], usage);
  *expected = info[2].As<Napi::Number>().Int32Value();
  *ms = info[3].As<Napi::Number>().Uint32Value();
  return *word != nullptr;
}

// futexWait(ab, offset, expected, timeoutMs) -> Promise<outcome>, on the
// thread pool. Holds a reference to `ab` so that its finalizer cannot unmap
// the word while a pool thread sleeps on it.
class FutexWorker : public SyscallWorker {
 public:
  FutexWorker(Napi::Env env, Napi::ArrayBuffer ab, int32_t* word, int32_t expected, uint32_t ms)
      : SyscallWorker(env, "devmap.futexWait", "futex"), ref_(Napi::Persistent(ab)), word_(word), expected_(expected), ms_(ms) {}

 private:
  int Run() override { return FutexWait(word_, expected_, ms_, &outcome_); }
  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, outcome_); }
  Napi::Reference<Napi::ArrayBuffer> ref_;
  int32_t* word_;
  int32_t expected_;
  uint32_t ms_;
  const char* outcome_ = "ok";
};

static Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  int32_t* word;
  int32_t expected;
  uint32_t ms;
  if (!WaitArgs(info, "futexWait(arrayBuffer, offset, expected, timeoutMs)", &word, &expected, &ms)) return info.Env().Undefined();
  return (new FutexWorker(info.Env(), info[0].As<Napi::ArrayBuffer>(), word, expected, ms))->Start();
}

// futexWaitSync(ab, offset, expected, timeoutMs) -> outcome, blocking this thread.
static Napi::Value FutexWaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* word;
  int32_t expected;
  uint32_t ms;
  if (!WaitArgs(info, "futexWaitSync(arrayBuffer, offset, expected, timeoutMs)", &word, &expected, &ms)) return env.Undefined();
  const char* outcome;
  int err = FutexWait(word, expected, ms, &outcome);
  if (err != 0) {
    ThrowErrno(env, err, "futex");
    return env.Undefined();
  }
  return Napi::String::New(env, outcome);
}

// futexWake(ab, offset) -> how many waiters FUTEX_WAKE woke (all of them).
static Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* word = info.Length() < 2 ? nullptr : FutexWord(env, info[0], info[1], "futexWake(arrayBuffer, offset)");
  if (word == nullptr) return env.IsExceptionPending() ? env.Undefined() : BadArgs(env, "futexWake(arrayBuffer, offset)");
  long n = Futex(word, FUTEX_WAKE, INT_MAX, nullptr);
  if (n < 0) {
    ThrowErrno(env, errno, "futex");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

void InitIpc(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfd", Napi::Function::New(env, Eventfd, "eventfd"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
  exports.Set("futexWait", Napi::Function::New(env, FutexWaitAsync, "futexWait"));
  exports.Set("futexWaitSync", Napi::Function::New(env, FutexWaitSync, "futexWaitSync"));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
  Napi::Object c = exports.Get("constants").As<Napi::Object>();
  DEVMAP_CONST(c, env, EFD_CLOEXEC);
  DEVMAP_CONST(c, env, EFD_NONBLOCK);
  DEVMAP_CONST(c, env, POLLIN);
}

}  // namespace devmap
