// resr: Real-ESRGAN super-resolution as a C++ library.
//
//   #include <resr/resr.h>
//   resr::UpscalerOptions opts;
//   opts.model = "x4fast";                         // a name in the model folder, or opts.model_path = "x.pth"
//   resr::Result<resr::Upscaler> up = resr::Upscaler::create(opts);
//   if (!up.ok()) { std::fprintf(stderr, "%s\n", up.status().message().c_str()); return 1; }
//   resr::StageTimes t;
//   resr::Status st = up->upscale_file("in.jpg", "out.png", &t);  // or up->upscale(image), up->upscale_files(jobs)
//
// Errors are one-line Status messages naming the file and the problem; nothing throws for bad input, and a
// failed file leaves no output behind.
// Threads: an Upscaler is used by one thread at a time (make one per thread); its kernels use all cores.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "image/image.h"

namespace resr {

struct UpscalerOptions {
  std::string model;            // model name, looked up in model_dir
  std::string model_path;       // or a model file (.param, .pth, .safetensors, .onnx, .resr); not both
  std::string model_dir;        // default: $RESR_MODELS, else the models/ folder of the source tree
  std::string backend = "cpu";  // "cpu", "cuda" (NVIDIA GPU), "auto" (cuda when a GPU is present) or "ref"
  bool fp32 = false;            // on the GPU, run FP32 models in FP32 (default: FP16, as Real-ESRGAN does)
  bool bf16 = false;            // CPU with AVX512_BF16: multiply in bfloat16 (x4plus 1.4-1.5x faster, ~45 dB)
  double scale = 0;             // output scale in [0.01, 64]; 0 = the model's
  int width = 0, height = 0;    // exact output size (one alone keeps the aspect ratio); not with scale
  std::string alpha = "model";  // alpha through the model as gray ("model") or resized ("bicubic")
  int tile = 0;                 // tile core size; 0 = from the memory budget
  int tile_pad = -1;            // context pixels; -1 = the model's default
  int quality = 95;             // JPEG/WebP quality 1-100 for the files written
  bool lossless = false;        // WebP files written: lossless, exact pixels (quality is then not used); JPEG refused
  bool tta = false;             // test-time augmentation: each tile in 8 orientations, averaged (8x the time)
  // SRVGGNetCompact .pth/.safetensors without PReLU slopes cannot tell ReLU from LeakyReLU: "" (ReLU, assumed:
  // Upscaler::activation_assumed), "relu" or "leakyrelu".
  std::string activation;
  // realesr-general-x4v3's denoise strength, as resr upscale's -dn: weights = dn * model + (1 - dn) * dn_model, dn in
  // [0, 1], 1 = the model alone. -1: as resr upscale and Real-ESRGAN, 0.5 when the realesr-general-wdn-x4v3 twin (or
  // dn_model) is beside the model, else no blending (Upscaler::denoise_model says which file was blended in).
  double denoise_strength = -1;
  std::string dn_model;  // the model blended in with weight 1 - dn (default: the -wdn twin beside the model)
};

// Where one image's time went, in milliseconds. decode and encode are 0 for upscale() (no files).
struct StageTimes {
  double decode_ms = 0, preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0, encode_ms = 0;
  int tiles = 0;
  int memory_retries = 0;  // passes run again with half the tile after running out of memory
  double total_ms() const { return decode_ms + preprocess_ms + inference_ms + postprocess_ms + encode_ms; }
};

// One file of upscale_files: ok, or why not (the message names the file).
struct FileResult {
  std::string input, output;
  Status status;
  int in_width = 0, in_height = 0, out_width = 0, out_height = 0;
  StageTimes times;
};

// upscale_files' threads: decoding and encoding run on their own threads, overlapping inference.
struct FileThreads {
  int load = 1, save = 1;  // each in [1, kMaxFileThreads]
};
inline constexpr int kMaxFileThreads = 64;

// How upscale_video encodes (FFmpeg's names).
struct VideoSettings {
  std::string codec;         // encoder: libx264, libx265, libvpx-vp9, libsvtav1, ffv1, ...; empty: libx264,
                             // or the container's own where it cannot hold H.264 (WebM: VP9)
  int crf = 18;              // for encoders with a CRF; lower is better
  std::string preset;        // x264 / x265: ultrafast ... placebo; SVT-AV1: 0 to 13; empty: the encoder's default
  std::string pixel_format;  // empty: yuv420p where possible, else the closest to RGB
};

struct VideoResult {
  long long frames = 0;
  int in_width = 0, in_height = 0, out_width = 0, out_height = 0;
  double decode_ms = 0, upscale_ms = 0, encode_ms = 0;  // each stage's own time; they overlap on three threads
  std::string encoder;                                  // "libx264 yuv420p crf 18"
  std::vector<std::string> notes;                       // streams not copied, damage FFmpeg recovered from
};

class Upscaler {
 public:
  // Loads and compiles the model. Errors: the model (missing, corrupt, unknown architecture) or an option out
  // of range (backend, alpha, quality, scale, size, tile).
  [[nodiscard]] static Result<Upscaler> create(const UpscalerOptions& options);
  // Movable, not copyable; a moved-from Upscaler may only be assigned to or destroyed.
  Upscaler(Upscaler&&) noexcept;
  Upscaler& operator=(Upscaler&&) noexcept;
  ~Upscaler();

  // The model's architecture ("RRDBNet", "SRVGGNetCompact"), its native scale, and the backend that runs it.
  std::string architecture() const;
  int model_scale() const;
  std::string backend() const;
  // True when the model's activation was assumed (UpscalerOptions::activation).
  bool activation_assumed() const;
  // The model blended in for the denoise strength (UpscalerOptions::denoise_strength), or "" when none was.
  std::string denoise_model() const;

  // Upscales a decoded image (8/16-bit, 1-4 channels), keeping its layout and bit depth. `on_tile(done, total)`
  // is called on this thread after each tile (an out-of-memory retry starts its pass's count again); returning
  // false stops the image with the error "stopped". It must not throw.
  // The size upscale() makes of a width x height image, or its refusal (an output, or the model's output before the
  // resize, past the limits), without touching a pixel.
  [[nodiscard]] Result<std::pair<int, int>> output_size(int width, int height) const;
  [[nodiscard]] Result<Image> upscale(const Image& image, StageTimes* times = nullptr,
                                      const std::function<bool(int tiles_done, int tiles_total)>& on_tile = {});
  // Reads (EXIF orientation applied), upscales and writes (format from the output extension; ICC profile, EXIF, XMP,
  // resolution and PNG texts carried over; written atomically). on_tile as for upscale, called on this thread; a stop
  // writes nothing. An output that is the input (the same file) is refused: it would replace the original.
  [[nodiscard]] Status upscale_file(const std::string& input, const std::string& output, StageTimes* times = nullptr,
                                    const std::function<bool(int tiles_done, int tiles_total)>& on_tile = {});
  // upscale_file over (input, output) pairs, decoding and encoding overlapping inference. A failing file is reported in
  // its result and skipped; the others go on. A job whose output is an earlier job's, or whose input is another job's
  // output, fails before any work. Results are in the order of `jobs`. Threads out of range fail every job with that
  // message. `on_tile(done, total)` is called on the one inference thread (this one when there is one job) after each
  // tile of each image; returning false stops the run: the image in flight and those not begun fail with "interrupted"
  // or "stopped", the images already upscaled are written.
  std::vector<FileResult> upscale_files(const std::vector<std::pair<std::string, std::string>>& jobs,
                                        FileThreads threads = {},
                                        const std::function<bool(int tiles_done, int tiles_total)>& on_tile = {});
  // Upscales every frame of a video (as RGB, 16-bit for deep sources) with its own timestamp, and copies the other
  // streams (audio, subtitles) that the output container can hold. Needs the video plugin (libresr_video.so, built with
  // FFmpeg); errors name the file (and the frame), and no output file is left behind; an output that is the input,
  // or not a video file name (.mp4, .mkv, ...), is refused.
  // `on_frame(done, total)` (total: the container's count, or an estimate from its duration that done may pass; 0
  // unknown) is called after each frame is written; returning false stops the video ("interrupted", nothing
  // written).
  [[nodiscard]] Result<VideoResult> upscale_video(
      const std::string& input, const std::string& output, const VideoSettings& settings = {},
      const std::function<bool(long long frames_done, long long frames_total)>& on_frame = {});

 private:
  struct Impl;
  explicit Upscaler(std::unique_ptr<Impl> impl);
  std::vector<FileResult> run_files(const std::vector<std::pair<std::string, std::string>>& jobs, FileThreads threads,
                                    const std::function<bool(int, int)>& on_tile);
  std::unique_ptr<Impl> impl_;
};

}  // namespace resr
