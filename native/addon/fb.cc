// Linux fbdev ioctls whose argument is a struct: the layouts of
// fb_fix_screeninfo and fb_var_screeninfo differ between 32- and 64-bit ABIs
// (unsigned long smem_start/mmio_start), so they are decoded here, by the
// compiler that knows the target, and handed to TypeScript as plain objects.
#include "common.h"

#include <cerrno>

#include <linux/fb.h>
#include <linux/kd.h>
#include <sys/ioctl.h>

namespace devmap {

static Napi::Object Bitfield(Napi::Env env, const fb_bitfield& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("offset", b.offset);
  o.Set("length", b.length);
  o.Set("msbRight", b.msb_right != 0);
  return o;
}

static Napi::Object VarToJs(Napi::Env env, const fb_var_screeninfo& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("xres", v.xres);
  o.Set("yres", v.yres);
  o.Set("xresVirtual", v.xres_virtual);
  o.Set("yresVirtual", v.yres_virtual);
  o.Set("xoffset", v.xoffset);
  o.Set("yoffset", v.yoffset);
  o.Set("bitsPerPixel", v.bits_per_pixel);
  o.Set("grayscale", v.grayscale);
  o.Set("red", Bitfield(env, v.red));
  o.Set("green", Bitfield(env, v.green));
  o.Set("blue", Bitfield(env, v.blue));
  o.Set("transp", Bitfield(env, v.transp));
  o.Set("nonstd", v.nonstd);
  o.Set("activate", v.activate);
  o.Set("height", v.height);
  o.Set("width", v.width);
  o.Set("pixclock", v.pixclock);
  o.Set("vmode", v.vmode);
  o.Set("rotate", v.rotate);
  return o;
}

static int Fd(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "fd must be a number").ThrowAsJavaScriptException();
    return -1;
  }
  return info[0].As<Napi::Number>().Int32Value();
}

// ioctl(fd, req, arg), throwing a Node system error on failure.
static bool IoctlOk(Napi::Env env, int fd, unsigned long req, void* arg) {
  if (ioctl(fd, req, arg) == 0) return true;
  ThrowErrno(env, errno, "ioctl");
  return false;
}

// fbGetInfo(fd) -> { fix: {...}, var: {...} }
static Napi::Value FbGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  if (fd < 0) return env.Undefined();
  fb_fix_screeninfo fix{};
  fb_var_screeninfo var{};
  if (!IoctlOk(env, fd, FBIOGET_FSCREENINFO, &fix) || !IoctlOk(env, fd, FBIOGET_VSCREENINFO, &var)) return env.Undefined();
  Napi::Object f = Napi::Object::New(env);
  f.Set("id", Napi::String::New(env, fix.id, strnlen(fix.id, sizeof fix.id)));
  f.Set("smemStart", Napi::BigInt::New(env, static_cast<uint64_t>(fix.smem_start)));
  f.Set("smemLen", fix.smem_len);
  f.Set("type", fix.type);
  f.Set("visual", fix.visual);
  f.Set("xpanstep", fix.xpanstep);
  f.Set("ypanstep", fix.ypanstep);
  f.Set("ywrapstep", fix.ywrapstep);
  f.Set("lineLength", fix.line_length);
  f.Set("mmioStart", Napi::BigInt::New(env, static_cast<uint64_t>(fix.mmio_start)));
  f.Set("mmioLen", fix.mmio_len);
  f.Set("accel", fix.accel);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fix", f);
  out.Set("var", VarToJs(env, var));
  return out;
}

static bool Field(const Napi::Object& o, const char* name, __u32* out) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) return true;  // absent: keep the current value
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0)) return false;
  *out = static_cast<__u32>(d);
  return true;
}

// fbPutVar(fd, changes, activate) -> the var the driver settled on. Reads the
// current var, applies the numeric fields present in `changes`, and issues
// FBIOPUT_VSCREENINFO (the driver may round values; the result says what).
static Napi::Value FbPutVar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  if (fd < 0) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsNumber()) {
    return BadArgs(env, "fbPutVar(fd, changes, activate)");
  }
  fb_var_screeninfo var{};
  if (!IoctlOk(env, fd, FBIOGET_VSCREENINFO, &var)) return env.Undefined();
  Napi::Object c = info[1].As<Napi::Object>();
  if (!Field(c, "xres", &var.xres) || !Field(c, "yres", &var.yres) || !Field(c, "xresVirtual", &var.xres_virtual) ||
      !Field(c, "yresVirtual", &var.yres_virtual) || !Field(c, "xoffset", &var.xoffset) ||
      !Field(c, "yoffset", &var.yoffset) || !Field(c, "bitsPerPixel", &var.bits_per_pixel)) {
    return OutOfRange(env, "fbPutVar: a field is out of range");
  }
  var.activate = info[2].As<Napi::Number>().Uint32Value();
  if (!IoctlOk(env, fd, FBIOPUT_VSCREENINFO, &var)) return env.Undefined();
  return VarToJs(env, var);
}

// fbPan(fd, xoffset, yoffset): FBIOPAN_DISPLAY.
static Napi::Value FbPan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  if (fd < 0) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    return BadArgs(env, "fbPan(fd, x, y)");
  }
  fb_var_screeninfo var{};
  if (!IoctlOk(env, fd, FBIOGET_VSCREENINFO, &var)) return env.Undefined();
  var.xoffset = info[1].As<Napi::Number>().Uint32Value();
  var.yoffset = info[2].As<Napi::Number>().Uint32Value();
  IoctlOk(env, fd, FBIOPAN_DISPLAY, &var);
  return env.Undefined();
}

// fbWaitForVsync(fd) -> Promise: FBIO_WAITFORVSYNC blocks until the next
// vertical blank, so it runs on the libuv thread pool, not the JS thread.
class VsyncWorker : public SyscallWorker {
 public:
  VsyncWorker(Napi::Env env, int fd) : SyscallWorker(env, "devmap.vsync", "ioctl"), fd_(fd) {}

 private:
  int Run() override {
    __u32 crtc = 0;
    return ioctl(fd_, FBIO_WAITFORVSYNC, &crtc) == 0 ? 0 : errno;
  }
  int fd_;
};

static Napi::Value FbWaitForVsync(const Napi::CallbackInfo& info) {
  int fd = Fd(info);
  if (fd < 0) return info.Env().Undefined();
  return (new VsyncWorker(info.Env(), fd))->Start();
}

void InitFb(Napi::Env env, Napi::Object exports) {
  exports.Set("fbGetInfo", Napi::Function::New(env, FbGetInfo, "fbGetInfo"));
  exports.Set("fbPutVar", Napi::Function::New(env, FbPutVar, "fbPutVar"));
  exports.Set("fbPan", Napi::Function::New(env, FbPan, "fbPan"));
  exports.Set("fbWaitForVsync", Napi::Function::New(env, FbWaitForVsync, "fbWaitForVsync"));
  Napi::Object c = exports.Get("constants").As<Napi::Object>();
  DEVMAP_CONST(c, env, FBIOBLANK);
  DEVMAP_CONST(c, env, FB_BLANK_UNBLANK);
  DEVMAP_CONST(c, env, FB_BLANK_POWERDOWN);
  DEVMAP_CONST(c, env, FB_ACTIVATE_NOW);
  DEVMAP_CONST(c, env, FB_ACTIVATE_FORCE);
  DEVMAP_CONST(c, env, FB_VISUAL_TRUECOLOR);
  DEVMAP_CONST(c, env, FB_VISUAL_DIRECTCOLOR);
  DEVMAP_CONST(c, env, FB_VISUAL_PSEUDOCOLOR);
  DEVMAP_CONST(c, env, KDSETMODE);
  DEVMAP_CONST(c, env, KD_TEXT);
  DEVMAP_CONST(c, env, KD_GRAPHICS);
}

}  // namespace devmap
