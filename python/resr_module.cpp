// Python bindings of the public C++ API (include/resr/resr.h): the module `resr`. Bindings only: every check
// and every computation is the library's; this file converts arrays, options, results and errors.
//
//   import resr
//   up = resr.Upscaler(model="x4fast")                # or model_path="RealESRGAN_x4plus.pth", backend="cuda"
//   out = up.upscale(pixels)                          # numpy uint8/uint16, (h, w) or (h, w, c), c = 1..4
//   times = up.upscale_file("in.jpg", "out.png")      # {"decode_ms": ..., ..., "encode_ms": ..., "tiles": ...}
//   results = up.upscale_files([("a.jpg", "a.png"), ("b.jpg", "b.png")], load_threads=1, save_threads=2)
//   info = up.upscale_video("clip.mp4", "big.mkv", codec="libx265", crf=20)   # needs the video plugin
//
// Errors: resr.Error (a RuntimeError) carries the library's one-line message, which names the file; arrays
// that are not images raise TypeError (dtype) or ValueError (shape). The GIL is released while the library
// works, so other Python threads run; an Upscaler serves one call at a time (a second waits).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <resr/convert.h>
#include <resr/metrics.h>
#include <resr/resr.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "core/openmp_threads.h"
#include "file_argument.h"
#include "image/codec.h"
#include "image/metadata.h"
#include "int_argument.h"

namespace py = pybind11;

namespace {

struct LibraryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void raise_if_error(const resr::Status& status) {
  if (!status.ok()) throw LibraryError(status.message());
}
template <class T>
T value_or_raise(resr::Result<T> result) {
  raise_if_error(result.status());
  return std::move(*result);
}

// A file name as Python gives one: str (with the surrogate escapes os.listdir makes of names that are not UTF-8),
// bytes or os.PathLike (pathlib.Path), as the system's bytes, converted as open() converts it: a NUL raises
// ValueError("embedded null byte"), another type TypeError.
std::string file_name(const py::handle& name) {
  PyObject* converted = nullptr;
  if (PyUnicode_FSConverter(name.ptr(), &converted) == 0) throw py::error_already_set();
  return std::string(py::reinterpret_steal<py::bytes>(converted));
}

// Bytes from the library (a file name, a message naming one) as str: file names undo os.fsencode (surrogate escapes),
// messages show undecodable bytes as \xff escapes. (Strict UTF-8 decoding left an error with no message and lost a
// batch's results after the work was done.)
py::str name_text(const std::string& name) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeFSDefaultAndSize(name.data(), py::ssize_t(name.size())));
}
py::str message_text(const std::string& message) {
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(message.data(), py::ssize_t(message.size()), "backslashreplace"));
}

// Python strings may hold NUL characters, at which the library's file names would end ("x.png\0.jpg" written as
// JPEG to x.png): refused, as Python's open() refuses them.
void check_no_nul(std::initializer_list<std::string_view> strings) {
  for (const std::string_view s : strings)
    if (s.find('\0') != std::string_view::npos)
      throw py::value_error("embedded null byte in '" + std::string(s.substr(0, s.find('\0'))) + "\\0...'");
}

// (h, w) gray or (h, w, c) of uint8 / uint16 samples: an Image of the same layout (a copy, made contiguous).
// `before_copy` (width, height) may raise first: a copy of a broadcast view can cost gigabytes.
resr::Image image_from_array(const py::array& pixels, std::int64_t max_pixels = resr::kMaxOutputPixels,
                             const std::function<void(int, int)>& before_copy = {}) {
  // By kind and size, not by the dtype object: an unpickled array (what multiprocessing hands a worker) or one
  // whose dtype has metadata has a uint8 dtype of its own, refused as "expected uint8 ..., got uint8". Big-endian
  // 16-bit samples (">u2") are uint16 pixels too: swapped to this machine's order when copied (the output is
  // native uint16).
  const py::dtype type = pixels.dtype();
  const bool u8 = type.kind() == 'u' && type.itemsize() == 1;
  const bool u16 = type.kind() == 'u' && type.itemsize() == 2;
  const bool little = std::endian::native == std::endian::little;
  const bool swapped = u16 && (type.byteorder() == (little ? '>' : '<'));
  if (!u8 && !u16) throw py::type_error("expected uint8 or uint16 pixels, got " + std::string(py::str(pixels.dtype())));
  if (pixels.ndim() != 2 && pixels.ndim() != 3)
    throw py::value_error("expected pixels of shape (height, width) or (height, width, channels), got " +
                          std::to_string(pixels.ndim()) + " dimensions");
  const py::ssize_t channels = pixels.ndim() == 3 ? pixels.shape(2) : 1;
  if (channels < 1 || channels > 4)
    throw py::value_error("expected 1 to 4 channels (gray, gray+alpha, RGB, RGBA), got " + std::to_string(channels));
  if (pixels.shape(0) == 0 || pixels.shape(1) == 0)
    throw py::value_error("image has zero width or height (" + std::to_string(pixels.shape(1)) + "x" +
                          std::to_string(pixels.shape(0)) + ")");
  // Sides beyond int are refused here; the library's own limits (resr::kMaxImageSide) apply to the rest.
  constexpr py::ssize_t kMaxSide = resr::kMaxImageSide;
  if (pixels.shape(0) > kMaxSide || pixels.shape(1) > kMaxSide)
    throw py::value_error("image of " + std::to_string(pixels.shape(1)) + "x" + std::to_string(pixels.shape(0)) +
                          " pixels exceeds the limit of " + std::to_string(kMaxSide) + " per side");
  // Beyond the largest image the function takes (upscale: kMaxImagePixels, as decoding; the others the largest
  // image resr writes): refused before a copy (a broadcast view can claim gigabytes).
  if (std::int64_t(pixels.shape(0)) * pixels.shape(1) > max_pixels)
    throw py::value_error("image of " + std::to_string(pixels.shape(1)) + "x" + std::to_string(pixels.shape(0)) +
                          " pixels exceeds the limit of " + std::to_string(max_pixels) + " pixels");
  if (before_copy) before_copy(int(pixels.shape(1)), int(pixels.shape(0)));
  resr::Image image;
  image.height = int(pixels.shape(0));
  image.width = int(pixels.shape(1));
  image.channels = int(channels);
  image.bits = u16 ? 16 : 8;
  const py::array contiguous =
      swapped ? py::array(pixels.attr("astype")(py::dtype::of<std::uint16_t>(), py::arg("order") = "C"))
              : py::array::ensure(pixels, py::array::c_style);
  if (!contiguous) throw std::bad_alloc();  // ensure() clears NumPy's MemoryError and returns null
  image.bytes.resize(std::size_t(contiguous.nbytes()));
  if (!image.bytes.empty()) std::memcpy(image.bytes.data(), contiguous.data(), image.bytes.size());
  return image;
}

// The image as a new array: (h, w) for gray when `gray_2d`, else (h, w, c).
py::array array_from_image(const resr::Image& image, bool gray_2d) {
  std::vector<py::ssize_t> shape{image.height, image.width};
  if (!(gray_2d && image.channels == 1)) shape.push_back(image.channels);
  py::array out = image.bits == 16 ? py::array(py::dtype::of<std::uint16_t>(), shape)
                                   : py::array(py::dtype::of<std::uint8_t>(), shape);
  std::memcpy(out.mutable_data(), image.bytes.data(), image.bytes.size());
  return out;
}

py::dict times_dict(const resr::StageTimes& t) {
  py::dict d;
  d["decode_ms"] = t.decode_ms;
  d["preprocess_ms"] = t.preprocess_ms;
  d["inference_ms"] = t.inference_ms;
  d["postprocess_ms"] = t.postprocess_ms;
  d["encode_ms"] = t.encode_ms;
  d["total_ms"] = t.total_ms();
  d["tiles"] = t.tiles;
  d["memory_retries"] = t.memory_retries;
  return d;
}

py::dict file_result_dict(const resr::FileResult& r) {
  py::dict d = times_dict(r.times);
  d["input"] = name_text(r.input);
  d["output"] = name_text(r.output);
  d["ok"] = r.status.ok();
  d["error"] = r.status.ok() ? py::object(py::none()) : py::object(message_text(r.status.message()));
  d["input_size"] = py::make_tuple(r.in_width, r.in_height);
  d["output_size"] = py::make_tuple(r.out_width, r.out_height);
  return d;
}

// A Python callback (or None) called from the library's threads: the GIL is taken for each call, and pending
// signals are checked, so that Ctrl-C stops long work with or without a callback. The first exception it raises
// (KeyboardInterrupt included) is kept (the callback is not called again, and the call returns false so that
// the library stops) and raised by rethrow_if_raised once the library has returned.
class PythonCallback {
 public:
  explicit PythonCallback(py::object f) : f_(std::move(f)) {}
  template <class... Args>
  bool operator()(Args&&... args) {
    const py::gil_scoped_acquire acquire;
    if (raised_) return false;
    try {
      if (!f_.is_none()) f_(std::forward<Args>(args)...);
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // on the main thread; elsewhere a no-op
      return true;
    } catch (py::error_already_set& e) {
      raised_ = std::move(e);
      return false;
    }
  }
  void rethrow_if_raised() {
    if (raised_) throw *raised_;
  }

 private:
  py::object f_;
  std::optional<py::error_already_set> raised_;
};

class PyUpscaler {
 public:
  explicit PyUpscaler(const resr::UpscalerOptions& options) : up_(create(options)) {}

  std::string architecture() const { return up_.architecture(); }
  bool activation_assumed() const { return up_.activation_assumed(); }
  std::string denoise_model() const { return up_.denoise_model(); }
  int model_scale() const { return up_.model_scale(); }
  std::string backend() const { return up_.backend(); }
  py::dict last_times() const {
    const std::lock_guard lock(times_mutex_);  // never held long: readers do not wait for a running upscale
    return times_dict(last_times_);
  }

  py::array upscale(const py::array& pixels, const py::object& progress) {
    // An output past the limits refused before the array is copied (a stride-0 16000x16000 view took 1.5 GB first).
    const resr::Image in = image_from_array(pixels, resr::kMaxImagePixels,
                                            [this](int w, int h) { raise_if_error(up_.output_size(w, h).status()); });
    PythonCallback callback(progress);
    resr::Result<resr::Image> out = resr::Status::error("not run");
    refuse_reentry();
    {
      py::gil_scoped_release release;
      const std::lock_guard lock(mutex_);
      resr::StageTimes times;
      out = up_.upscale(in, &times, on_tile(callback));
      remember(times);
    }
    callback.rethrow_if_raised();
    return array_from_image(value_or_raise(std::move(out)), pixels.ndim() == 2);
  }

  py::dict upscale_file(const py::object& input_name, const py::object& output_name, const py::object& progress) {
    const std::string input = file_name(input_name), output = file_name(output_name);
    PythonCallback callback(progress);
    resr::Status status;
    resr::StageTimes times;
    refuse_reentry();
    {
      py::gil_scoped_release release;
      const std::lock_guard lock(mutex_);
      status = up_.upscale_file(input, output, &times, on_tile(callback));
      remember(times);
    }
    callback.rethrow_if_raised();
    raise_if_error(status);
    return times_dict(times);
  }

  py::list upscale_files(const py::iterable& job_names, const IntArgument& load_threads_arg,
                         const IntArgument& save_threads_arg) {
    const int load_threads = load_threads_arg.as_int("load_threads");
    const int save_threads = save_threads_arg.as_int("save_threads");
    std::vector<std::pair<std::string, std::string>> jobs;
    for (const py::handle job : job_names) {
      // A str is a sequence too: "ab" was taken as the job ("a", "b").
      if (py::isinstance<py::str>(job) || py::isinstance<py::bytes>(job) || !py::isinstance<py::sequence>(job))
        throw py::type_error("each job is an (input, output) pair, got " + std::string(py::repr(job)));
      const auto pair = py::reinterpret_borrow<py::sequence>(job);
      if (pair.size() != 2) throw py::value_error("each job is an (input, output) pair");
      jobs.emplace_back(file_name(pair[0]), file_name(pair[1]));
    }
    if (load_threads < 1 || load_threads > resr::kMaxFileThreads || save_threads < 1 ||
        save_threads > resr::kMaxFileThreads)  // a ValueError here, where the library fails every job
      throw py::value_error("load_threads and save_threads must be in [1, " + std::to_string(resr::kMaxFileThreads) +
                            "]");
    // Inference runs on a pipeline thread, where signals cannot be checked: the calling thread waits, checking
    // them, and a Ctrl-C stops the run at the next tile (the images already upscaled are written).
    std::vector<resr::FileResult> results;
    std::optional<py::error_already_set> raised;
    refuse_reentry();
    {
      py::gil_scoped_release release;
      const std::lock_guard lock(mutex_);
      std::atomic<bool> stop{false}, done{false};
      std::exception_ptr thrown;  // raised again below: on the worker it would end the process
      std::thread run([&] {
        try {
          results = up_.upscale_files(jobs, resr::FileThreads{load_threads, save_threads},
                                      [&stop](int, int) { return !stop.load(); });
        } catch (...) {
          thrown = std::current_exception();
        }
        done = true;
      });
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const py::gil_scoped_acquire acquire;
        if (!raised && PyErr_CheckSignals() != 0) {
          raised.emplace();
          stop = true;
        }
      }
      run.join();
      if (thrown) std::rethrow_exception(thrown);
    }
    if (raised) throw *raised;
    py::list out;
    for (const resr::FileResult& r : results) out.append(file_result_dict(r));
    return out;
  }

  py::dict upscale_video(const py::object& input_name, const py::object& output_name, const std::string& codec,
                         const IntArgument& crf_arg, const std::string& preset, const std::string& pixel_format,
                         const py::object& progress) {
    const int crf = crf_arg.as_int("crf");
    const std::string input = file_name(input_name), output = file_name(output_name);
    check_no_nul({codec, preset, pixel_format});
    // `progress(done, total)` runs on the writer's thread, with the GIL taken for the call. An exception it raises
    // stops the video (nothing is written) and is raised again here.
    PythonCallback callback(progress);
    const std::function<bool(long long, long long)> on_frame = marked<long long, long long>(callback);
    resr::Result<resr::VideoResult> result = resr::Status::error("not run");
    refuse_reentry();
    {
      py::gil_scoped_release release;
      const std::lock_guard lock(mutex_);
      result = up_.upscale_video(input, output, resr::VideoSettings{codec, crf, preset, pixel_format}, on_frame);
    }
    callback.rethrow_if_raised();
    const resr::VideoResult r = value_or_raise(std::move(result));
    py::dict d;
    d["frames"] = r.frames;
    d["input_size"] = py::make_tuple(r.in_width, r.in_height);
    d["output_size"] = py::make_tuple(r.out_width, r.out_height);
    d["decode_ms"] = r.decode_ms;
    d["upscale_ms"] = r.upscale_ms;
    d["encode_ms"] = r.encode_ms;
    d["encoder"] = r.encoder;
    py::list notes;
    for (const std::string& note : r.notes) notes.append(message_text(note));
    d["notes"] = notes;
    return d;
  }

 private:
  // The library's tile callback for a Python progress(done, total) or None (then it only checks signals).
  // The progress callback, with the thread it runs on marked: a call back into this Upscaler from it would wait
  // for the lock its own caller holds, for ever (Ctrl-C too).
  template <class... Args>
  std::function<bool(Args...)> marked(PythonCallback& callback) {
    return [this, &callback](Args... args) {
      calling_back_.store(std::this_thread::get_id());
      const bool go = callback(args...);
      calling_back_.store(std::thread::id());
      return go;
    };
  }
  std::function<bool(int, int)> on_tile(PythonCallback& callback) { return marked<int, int>(callback); }
  void refuse_reentry() const {
    if (calling_back_.load() == std::this_thread::get_id())
      raise_if_error(resr::Status::error(
          "this Upscaler is busy with the call whose progress callback this is; use another Upscaler there"));
  }
  void remember(const resr::StageTimes& times) {
    const std::lock_guard lock(times_mutex_);
    last_times_ = times;
  }
  static resr::Upscaler create(const resr::UpscalerOptions& options) {
    resr::Result<resr::Upscaler> up = resr::Status::error("not run");
    {
      py::gil_scoped_release release;
      up = resr::Upscaler::create(options);
    }
    return value_or_raise(std::move(up));
  }

  resr::Upscaler up_;
  std::mutex mutex_;                             // one call at a time on up_
  std::atomic<std::thread::id> calling_back_{};  // the thread running a progress callback of the call under way
  mutable std::mutex times_mutex_;
  resr::StageTimes last_times_;
};

py::array read_image(const py::object& name) {
  const std::string path = file_name(name);
  resr::Result<resr::Image> image = resr::Status::error("not run");
  {
    py::gil_scoped_release release;
    image = resr::read_image_file(path);
    if (image.ok()) resr::apply_exif_orientation(*image);
  }
  if (!image.ok()) throw LibraryError(image.status().with_context(path).message());
  return array_from_image(*image, true);
}

void write_image(const py::object& name, const py::array& pixels, const IntArgument& quality_arg, bool lossless) {
  const int quality = quality_arg.as_int("quality");
  const std::string path = file_name(name);
  if (quality < 1 || quality > 100)
    throw py::value_error("quality must be in [1, 100], got " + std::to_string(quality));
  const resr::Image image = image_from_array(pixels);
  resr::Result<resr::ImageFormat> format = resr::format_from_extension(path);
  // What the format cannot hold is said, as resr upscale's notes say it (a uint16 array came back as uint8 unsaid,
  // lossless WebP too); a warnings filter of "error" makes it an exception, before anything is written.
  if (format.ok()) {
    const bool jpeg = *format == resr::ImageFormat::kJpeg, webp = *format == resr::ImageFormat::kWebp;
    const auto warn = [&path](const std::string& text) {  // the name as Python gave it (not UTF-8 maybe)
      py::module_::import("warnings")
          .attr("warn")(name_text(path) + py::str(text), py::reinterpret_borrow<py::object>(PyExc_UserWarning), 2);
    };
    if (image.bits == 16 && (jpeg || webp))
      warn(std::string(": written with 8 bits a sample (") + (jpeg ? "JPEG" : "WebP") +
           " holds no more; .png or .tif keep 16)");
    if (image.has_alpha() && jpeg)
      warn(": the alpha channel is left out (JPEG holds none; .png, .webp or .tif keep it)");
  }
  resr::Status status;
  {
    py::gil_scoped_release release;
    resr::EncodeOptions encode;
    encode.quality = quality;
    encode.lossless = lossless;
    status = format.ok() ? resr::write_image_file(image, path, *format, encode) : format.status();
  }
  raise_if_error(status.with_context(path));
}

double niqe(const py::array& pixels) {
  const resr::Image image = image_from_array(pixels);
  resr::Result<double> q = resr::Status::error("not run");
  {
    py::gil_scoped_release release;
    q = resr::niqe(image);
  }
  return value_or_raise(std::move(q));
}

// psnr or ssim of `pixels` against `reference` (same height and width; colour compared: metrics/colour_pair.h).
template <auto Measure>
double compare(const py::array& pixels, const py::array& reference, bool y_channel,
               const IntArgument& crop_border_arg) {
  const int crop_border = crop_border_arg.as_int("crop_border");
  const resr::Image a = image_from_array(pixels), b = image_from_array(reference);
  resr::Result<double> v = resr::Status::error("not run");
  {
    py::gil_scoped_release release;
    v = Measure(a, b, resr::QualityOptions{.y_channel = y_channel, .crop_border = crop_border});
  }
  return value_or_raise(std::move(v));
}

// `work(on_progress)` with the GIL released, `progress` (None or a Python callable) passed on as a callback of
// `Args`; an exception the callback raises stops the work and is raised here, a library error as resr.Error.
template <class T, class... Args, class Work>
T run_with_progress(const py::object& progress, Work work) {
  PythonCallback callback(progress);
  const std::function<bool(Args...)> on_progress = [&callback](Args... args) { return callback(args...); };
  resr::Result<T> result = resr::Status::error("not run");
  {
    py::gil_scoped_release release;
    result = work(on_progress);
  }
  callback.rethrow_if_raised();
  return value_or_raise(std::move(result));
}

py::dict calibrate(const resr::CalibrationOptions& options, const py::object& progress) {
  const auto r = run_with_progress<resr::CalibrationResult, int, int>(
      progress, [&](const std::function<bool(int, int)>& on_tile) { return resr::calibrate(options, on_tile); });
  py::dict d;
  d["images_used"] = r.images_used;
  d["images_skipped"] = r.images_skipped;
  d["tiles"] = r.tiles;
  d["tensors"] = r.tensors;
  d["seconds"] = r.seconds;
  d["warnings"] = r.warnings;
  d["activation_assumed"] = r.activation_assumed;
  return d;
}

// convert's scale_migration as the library takes it: text as given ("auto", "estimate", "0.75"), a number written
// out (shortest form that reads back the same double), or None as the default.
std::string migration_text(const py::object& value) {
  if (value.is_none()) return "";
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  const char* wanted = "scale_migration must be a number in (0, 1], \"auto\" or \"estimate\"";
  if (py::isinstance<py::bool_>(value)) throw py::type_error(wanted);
  try {  // any number: float, int, NumPy's scalars (float() of it)
    return py::str(py::float_(value)).cast<std::string>();
  } catch (const py::error_already_set&) {
    throw py::type_error(wanted);
  }
}

py::dict convert(const resr::ConvertOptions& options, const py::object& progress) {
  const auto r = run_with_progress<resr::ConvertResult, const std::string&>(
      progress,
      [&](const std::function<bool(const std::string&)>& on_line) { return resr::convert(options, on_line); });
  py::dict d;
  d["files"] = r.files;
  d["bytes"] = r.bytes;
  d["architecture"] = r.architecture;
  d["convs"] = py::dict(py::arg("fp32") = r.convs_fp32, py::arg("fp16") = r.convs_fp16, py::arg("int8") = r.convs_int8,
                        py::arg("fp8") = r.convs_fp8);
  d["quantized_share"] = r.quantized_share;
  d["search_psnr_db"] = r.search_psnr_db;
  d["quality_psnr_db"] = r.quality_tiles > 0 ? py::object(py::float_(r.quality_psnr_db)) : py::object(py::none());
  d["target_reached"] = r.target_reached;
  d["activation_assumed"] = r.activation_assumed;
  return d;
}

}  // namespace

PYBIND11_MODULE(resr, m) {
  resr::cap_openmp_threads("resr");
  m.doc() = "Real-ESRGAN super-resolution (resr): upscale numpy images and image files on the CPU or an NVIDIA GPU";
  m.attr("__version__") = RESR_VERSION;
  static py::exception<LibraryError> error(m, "Error", PyExc_RuntimeError);
  // pybind11's translator type takes the pointer by value.
  py::register_exception_translator([](std::exception_ptr thrown) {  // NOLINT(performance-unnecessary-value-param)
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const LibraryError& e) {
      PyErr_SetObject(error.ptr(), message_text(e.what()).ptr());
    }
  });

  py::class_<PyUpscaler>(m, "Upscaler", "A model loaded and compiled for a backend, ready to upscale images.")
      .def(
          py::init([](const std::string& model, const FileArgument& model_path, const FileArgument& model_dir,
                      const std::string& backend, bool fp32, bool bf16, double scale, const IntArgument& width,
                      const IntArgument& height, const std::string& alpha, const IntArgument& tile,
                      const IntArgument& tile_pad, const IntArgument& quality, bool lossless, bool tta,
                      const std::string& activation, double denoise_strength, const FileArgument& dn_model) {
            check_no_nul({model, backend, alpha, activation});
            return std::make_unique<PyUpscaler>(resr::UpscalerOptions{.model = model,
                                                                      .model_path = model_path.path,
                                                                      .model_dir = model_dir.path,
                                                                      .backend = backend,
                                                                      .fp32 = fp32,
                                                                      .bf16 = bf16,
                                                                      .scale = scale,
                                                                      .width = width.as_int("width"),
                                                                      .height = height.as_int("height"),
                                                                      .alpha = alpha,
                                                                      .tile = tile.as_int("tile"),
                                                                      .tile_pad = tile_pad.as_int("tile_pad"),
                                                                      .quality = quality.as_int("quality"),
                                                                      .lossless = lossless,
                                                                      .tta = tta,
                                                                      .activation = activation,
                                                                      .denoise_strength = denoise_strength,
                                                                      .dn_model = dn_model.path});
          }),
          py::kw_only(), py::arg("model") = "", py::arg("model_path") = "", py::arg("model_dir") = "",
          py::arg("backend") = "auto", py::arg("fp32") = false, py::arg("bf16") = false, py::arg("scale") = 0.0,
          py::arg("width") = 0, py::arg("height") = 0, py::arg("alpha") = "model", py::arg("tile") = 0,
          py::arg("tile_pad") = -1, py::arg("quality") = 95, py::arg("lossless") = false, py::arg("tta") = false,
          py::arg("activation") = "", py::arg("denoise_strength") = -1.0, py::arg("dn_model") = "",
          "Loads `model` (a name in model_dir, $RESR_MODELS or the source tree's models/) or `model_path` (.param, "
          ".pth, .safetensors, .onnx, .resr) and compiles it for `backend` (auto, cpu, cuda, ref). fp32: on the GPU, "
          "FP32 models run in FP32 (default FP16); bf16: on a CPU with AVX512_BF16, multiply in bfloat16 (x4plus "
          "1.4-1.5x faster, about 45 dB against FP32). scale, or "
          "width/height, set the output size (default: the model's scale); alpha: 'model' or 'bicubic'; tile 0 "
          "sizes tiles from memory; quality: JPEG/WebP quality of the files written; lossless: WebP files lossless; "
          "tta: each tile in 8 orientations, "
          "averaged (8x the time); activation: 'relu' or 'leakyrelu' for SRVGGNetCompact weights without PReLU "
          "slopes (default: ReLU, assumed: see activation_assumed); denoise_strength: realesr-general-x4v3's -dn in "
          "[0, 1], "
          "blending dn * model + (1 - dn) * dn_model (default -1: 0.5 when its realesr-general-wdn-x4v3 twin is beside "
          "it, as resr upscale and Real-ESRGAN; see denoise_model). Raises resr.Error.")
      .def_property_readonly("architecture", &PyUpscaler::architecture,
                             "The model's architecture as detected from its weights, e.g. \"RRDBNet (num_block 23, "
                             "num_feat 64, num_grow_ch 32)\".")
      .def_property_readonly("activation_assumed", &PyUpscaler::activation_assumed,
                             "True when an SRVGGNetCompact file without PReLU slopes was taken as ReLU (the weights "
                             "cannot tell ReLU from LeakyReLU; set activation= to choose).")
      .def_property_readonly("denoise_model", &PyUpscaler::denoise_model,
                             "The model blended in for denoise_strength, or '' when none was.")
      .def_property_readonly("model_scale", &PyUpscaler::model_scale,
                             "The model's own scale (1, 2 or 4), from its weights; the output's is `scale` or it.")
      .def_property_readonly("backend", &PyUpscaler::backend,
                             "The backend the model runs on (\"cpu (kernels)\", \"cuda (...)\" or \"ref\"), "
                             "\"auto\" resolved.")
      .def_property_readonly("last_times", &PyUpscaler::last_times,
                             "Stage times (ms) and tiles of the last upscale or upscale_file.")
      .def("upscale", &PyUpscaler::upscale, py::arg("pixels"), py::kw_only(), py::arg("progress") = py::none(),
           "Upscales a uint8/uint16 array of shape (h, w) or (h, w, c), c = 1..4 (gray, gray+alpha, RGB, RGBA); "
           "returns a new array of the same dtype and layout. progress(tiles_done, tiles_total) is called after each "
           "tile (what it returns is ignored); an exception it raises stops the image and is raised here. The callback "
           "must not use this "
           "Upscaler (it is busy: that call would wait forever).")
      .def("upscale_file", &PyUpscaler::upscale_file, py::arg("input"), py::arg("output"), py::kw_only(),
           py::arg("progress") = py::none(),
           "Reads, upscales and writes one image (format from the output's extension; EXIF orientation applied, "
           "ICC profile, EXIF, XMP and dpi kept; no file written on error). progress as for upscale (a stop writes "
           "nothing). Returns "
           "the stage times (ms). Raises resr.Error.")
      .def("upscale_files", &PyUpscaler::upscale_files, py::arg("jobs"), py::arg("load_threads") = 1,
           py::arg("save_threads") = 1,
           "Upscales (input, output) pairs with decoding and encoding overlapping inference. A failing file does "
           "not stop the others: returns one dict per job, in order, with ok, error, sizes and stage times.")
      .def("upscale_video", &PyUpscaler::upscale_video, py::arg("input"), py::arg("output"), py::arg("codec") = "",
           py::arg("crf") = 18, py::arg("preset") = "", py::arg("pix_fmt") = "", py::arg("progress") = py::none(),
           "Upscales every frame of a video with its own timestamp and copies the audio and subtitle streams the "
           "output container can hold (FFmpeg names: codec libx264, libx265, libvpx-vp9, ffv1, ...; default libx264, "
           "or VP9 for WebM). progress(frames_done, frames_total) is called after each frame (total: the container's "
           "count, or an estimate from its duration that frames_done may pass; 0 unknown); "
           "an exception it raises stops the video. Returns "
           "frames, sizes, stage times, the encoder and notes (streams not copied). Raises resr.Error.");

  m.def(
      "calibrate",
      [](const FileArgument& images, const FileArgument& output, const std::string& model,
         const FileArgument& model_path, const FileArgument& model_dir, const IntArgument& tiles,
         const IntArgument& tile, const IntArgument& seed, const std::string& method, double percentile,
         const std::string& backend, double denoise_strength, const FileArgument& dn_model,
         const std::string& activation, const py::object& progress) {
        check_no_nul({model, method, backend, activation});
        return calibrate(resr::CalibrationOptions{.model = model,
                                                  .model_path = model_path.path,
                                                  .model_dir = model_dir.path,
                                                  .denoise_strength = denoise_strength,
                                                  .dn_model = dn_model.path,
                                                  .activation = activation,
                                                  .images = images.path,
                                                  .output = output.path,
                                                  .tiles = tiles.as_int("tiles"),
                                                  .tile = tile.as_int("tile"),
                                                  .seed = seed.as_uint64("seed"),
                                                  .method = method,
                                                  .percentile = percentile,
                                                  .backend = backend},
                         progress);
      },
      py::arg("images"), py::arg("output"), py::kw_only(), py::arg("model") = "", py::arg("model_path") = "",
      py::arg("model_dir") = "", py::arg("tiles") = 200, py::arg("tile") = 128, py::arg("seed") = 0,
      py::arg("method") = "percentile", py::arg("percentile") = 99.99, py::arg("backend") = "cpu",
      py::arg("denoise_strength") = -1.0, py::arg("dn_model") = "", py::arg("activation") = "",
      py::arg("progress") = py::none(),
      "Runs the FP32 model over `tiles` seeded tiles of the images (a folder or one image) and writes the INT8 / FP8 "
      "calibration table to `output`. method: minmax, percentile, kl or mse. progress(tiles_done, tiles_total) is "
      "called after each tile; an exception it raises stops the run (nothing written) and is raised. Returns images "
      "used and "
      "skipped, tiles, tensors, seconds and warnings (images that could not be read). denoise_strength / dn_model / "
      "activation: "
      "as Upscaler's, so that the table is of the model upscaled. Raises resr.Error.");
  m.def(
      "convert",
      [](const FileArgument& output, const std::string& model, const FileArgument& model_path,
         const FileArgument& model_dir, const std::string& precision, const std::string& storage,
         const FileArgument& calib, const FileArgument& qtable, bool asymmetric, const std::string& input_scales,
         const py::object& scale_migration, double target_psnr, const FileArgument& images,
         const IntArgument& search_tiles, const IntArgument& search_tile, double denoise_strength,
         const FileArgument& dn_model, const std::string& activation, const py::object& progress) {
        check_no_nul({model, precision, storage, input_scales, activation});
        return convert(resr::ConvertOptions{.model = model,
                                            .model_path = model_path.path,
                                            .model_dir = model_dir.path,
                                            .denoise_strength = denoise_strength,
                                            .dn_model = dn_model.path,
                                            .activation = activation,
                                            .output = output.path,
                                            .precision = precision,
                                            .storage = storage,
                                            .calib = calib.path,
                                            .qtable = qtable.path,
                                            .asymmetric = asymmetric,
                                            .input_scales = input_scales,
                                            .scale_migration = migration_text(scale_migration),
                                            .target_psnr = target_psnr,
                                            .images = images.path,
                                            .search_tiles = search_tiles.as_int("search_tiles"),
                                            .search_tile = search_tile.as_int("search_tile")},
                       progress);
      },
      py::arg("output"), py::kw_only(), py::arg("model") = "", py::arg("model_path") = "", py::arg("model_dir") = "",
      py::arg("precision") = "", py::arg("storage") = "", py::arg("calib") = "", py::arg("qtable") = "",
      py::arg("asymmetric") = false, py::arg("input_scales") = "", py::arg("scale_migration") = "",
      py::arg("target_psnr") = 0.0, py::arg("images") = "", py::arg("search_tiles") = 8, py::arg("search_tile") = 48,
      py::arg("denoise_strength") = -1.0, py::arg("dn_model") = "", py::arg("activation") = "",
      py::arg("progress") = py::none(),
      "Writes the model as a compiled .resr file (precision fp32, fp16, int8, fp8 or int8+fp8; int8 and fp8 need "
      "calib, a table from calibrate; int8 input_scales \"channel\", the default when symmetric, or \"tensor\", and "
      "scale_migration a strength in (0, 1] (a number or its text), \"\" the default 0.5, \"auto\" measured on "
      "`images`, \"estimate\" estimated per group of convs) or as "
      "ncnn .param/.bin (storage fp32 or fp16). target_psnr keeps the least "
      "tolerant convs at FP32 until the output is within that many dB of FP32 on `images`; with `images` alone, an "
      "int8/fp8 model's PSNR against FP32 on its tiles is measured (quality_psnr_db, kept in the file; None: not "
      "measured). progress(line) receives the precision search's lines (an exception it raises stops the search, "
      "nothing written). Returns the files, bytes, architecture, convs per precision, the quantized share of "
      "multiply-adds, the search's PSNR and quality_psnr_db. denoise_strength / dn_model / activation: as "
      "Upscaler's. Raises resr.Error (messages name options as the CLI does).");
  m.def(
      "read_image", &read_image, py::arg("path"),
      "Decodes a PNG/JPEG/WebP/TIFF file (EXIF or TIFF orientation applied) to a uint8/uint16 array, (h, w) for gray.");
  m.def("write_image", &write_image, py::arg("path"), py::arg("pixels"), py::arg("quality") = 95, py::kw_only(),
        py::arg("lossless") = false,
        "Encodes an array to a file, format from the extension, written atomically; lossless: WebP without loss "
        "(PNG and TIFF always are). What the format cannot hold (16 bits in JPEG or WebP, alpha in JPEG) is left out "
        "with a UserWarning. Raises resr.Error.");
  m.def("niqe", &niqe, py::arg("pixels"),
        "NIQE of an image array (no reference; lower is better), as BasicSR's calculate_niqe. Raises resr.Error.");
  m.def("psnr", &compare<resr::psnr>, py::arg("pixels"), py::arg("reference"), py::kw_only(),
        py::arg("y_channel") = false, py::arg("crop_border") = 0,
        "PSNR in dB of `pixels` against `reference` (same height and width; 8- or 16-bit samples on a 0..1 scale), "
        "in floating point over the colour channels (alpha is not measured; gray against RGB counts as R = G = B) or "
        "BT.601 luma (y_channel), crop_border pixels left out at each edge; identical colours give inf. "
        "Raises resr.Error.");
  m.def(
      "ssim", &compare<resr::ssim>, py::arg("pixels"), py::arg("reference"), py::kw_only(),
      py::arg("y_channel") = false, py::arg("crop_border") = 0,
      "SSIM of `pixels` against `reference` (same height and width; colour compared as psnr compares it) as BasicSR's "
      "calculate_ssim; identical colours give 1. Raises resr.Error.");
}
