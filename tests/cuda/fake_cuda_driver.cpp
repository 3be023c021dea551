// A stand-in for the NVIDIA driver (libcuda.so.1) on machines without a GPU, for test_fused_conv_build. cuDNN
// compiles a fused graph's kernel with NVRTC and then loads it through the driver to finish the plan; this
// library accepts that load (placeholder handles, plausible kernel attributes) and refuses everything that
// would touch a device (launches, memory, contexts' work). So plans finalize here, and can be serialized and
// loaded again (plan_cache.h), but never run. The toolkit's own stub (lib/stubs/libcuda.so) refuses every call,
// so a plan compiles but does not finalize.
//
// Only the entry points cuDNN and the CUDA runtime look up are here; the signatures are the driver API's (cuda.h),
// with handles as opaque pointers. cuda.h itself is not included: it renames several of these to their _v2 forms.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

using CUresult = int;
constexpr CUresult kSuccess = 0;
constexpr CUresult kStubLibrary = 34;    // CUDA_ERROR_STUB_LIBRARY
constexpr CUresult kNotSupported = 801;  // CUDA_ERROR_NOT_SUPPORTED

int placeholder[16];  // what every handle points at
void* handle() {
  return placeholder;
}

// What cuLinkAddData was given, handed back by cuLinkComplete as the "linked" image.
struct LinkState {
  void* data = nullptr;
  std::size_t size = 0;
};

}  // namespace

extern "C" {

CUresult cuInit(unsigned /*flags*/) {
  return kSuccess;
}
CUresult cuDriverGetVersion(int* version) {
  *version = 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int* count) {
  *count = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int* device, int /*ordinal*/) {
  *device = 0;
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int* value, int /*attribute*/, int /*device*/) {
  *value = 0;
  return kSuccess;
}
CUresult cuCtxGetCurrent(void** context) {
  *context = handle();
  return kSuccess;
}
CUresult cuCtxGetDevice(int* device) {
  *device = 0;
  return kSuccess;
}
CUresult cuCtxPushCurrent(void* /*context*/) {
  return kSuccess;
}
CUresult cuCtxPushCurrent_v2(void* /*context*/) {
  return kSuccess;
}
CUresult cuCtxPopCurrent(void** context) {
  if (context != nullptr) *context = handle();
  return kSuccess;
}
CUresult cuCtxPopCurrent_v2(void** context) {
  return cuCtxPopCurrent(context);
}
CUresult cuCtxGetLimit(std::size_t* value, int /*limit*/) {
  *value = 1024;
  return kSuccess;
}
CUresult cuStreamGetCtx(void* /*stream*/, void** context) {
  *context = handle();
  return kSuccess;
}
CUresult cuStreamGetCtx_ptsz(void* stream, void** context) {
  return cuStreamGetCtx(stream, context);
}

CUresult cuLinkCreate(unsigned /*n*/, int* /*options*/, void** /*values*/, void** state) {
  *state = new (std::nothrow) LinkState();
  return *state != nullptr ? kSuccess : kNotSupported;
}
CUresult cuLinkCreate_v2(unsigned n, int* options, void** values, void** state) {
  return cuLinkCreate(n, options, values, state);
}
CUresult cuLinkAddData(void* state, int /*type*/, void* data, std::size_t size, const char* /*name*/, unsigned /*n*/,
                       int* /*options*/, void** /*values*/) {
  auto* link = static_cast<LinkState*>(state);
  std::free(link->data);
  link->data = std::malloc(size > 0 ? size : 1);
  if (link->data == nullptr) return kNotSupported;
  if (size > 0) std::memcpy(link->data, data, size);
  link->size = size;
  return kSuccess;
}
CUresult cuLinkAddData_v2(void* state, int type, void* data, std::size_t size, const char* name, unsigned n,
                          int* options, void** values) {
  return cuLinkAddData(state, type, data, size, name, n, options, values);
}
CUresult cuLinkComplete(void* state, void** image, std::size_t* size) {
  const auto* link = static_cast<const LinkState*>(state);
  *image = link->data;
  *size = link->size;
  return kSuccess;
}
CUresult cuLinkDestroy(void* state) {
  auto* link = static_cast<LinkState*>(state);
  std::free(link->data);
  delete link;
  return kSuccess;
}

CUresult cuLibraryLoadData(void** library, const void* /*code*/, void* /*jit_options*/, void* /*jit_values*/,
                           unsigned /*jit_n*/, void* /*options*/, void* /*values*/, unsigned /*n*/) {
  *library = handle();
  return kSuccess;
}
CUresult cuLibraryLoadFromFile(void** library, const char* /*file*/, void* /*jit_options*/, void* /*jit_values*/,
                               unsigned /*jit_n*/, void* /*options*/, void* /*values*/, unsigned /*n*/) {
  *library = handle();
  return kSuccess;
}
CUresult cuLibraryUnload(void* /*library*/) {
  return kSuccess;
}
CUresult cuLibraryGetKernel(void** kernel, void* /*library*/, const char* /*name*/) {
  *kernel = handle();
  return kSuccess;
}
// CUfunction_attribute: max threads per block, static shared, const, local bytes, registers, PTX and binary
// versions; the rest 0.
CUresult cuKernelGetAttribute(int* value, int attribute, void* /*kernel*/, int /*device*/) {
  constexpr int kValues[] = {1024, 0, 0, 0, 64, 90, 90};
  *value = attribute >= 0 && attribute < int(sizeof(kValues) / sizeof(kValues[0])) ? kValues[attribute] : 0;
  return kSuccess;
}
CUresult cuKernelSetAttribute(int /*attribute*/, int /*value*/, void* /*kernel*/, int /*device*/) {
  return kSuccess;
}
CUresult cuOccupancyMaxPotentialClusterSize(int* size, void* /*function*/, const void* /*config*/) {
  *size = 8;
  return kSuccess;
}

CUresult cuGetErrorString(CUresult /*error*/, const char** text) {
  *text = "the fake CUDA driver runs nothing";
  return kSuccess;
}
CUresult cuGetErrorName(CUresult /*error*/, const char** text) {
  *text = "CUDA_ERROR_STUB_LIBRARY";
  return kSuccess;
}

// Nothing runs, and the runtime's private interfaces are not offered (it then reports no device).
CUresult cuLaunchKernel() {
  return kNotSupported;
}
CUresult cuLaunchKernelEx() {
  return kNotSupported;
}
CUresult cuLaunchCooperativeKernel() {
  return kNotSupported;
}
CUresult cuGetExportTable() {
  return kStubLibrary;
}
CUresult cuGetProcAddress() {
  return kStubLibrary;
}
CUresult cuGetProcAddress_v2() {
  return kStubLibrary;
}

}  // extern "C"
