#include <resr/resr.h>

#include "engine/compiled_model.h"
#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/metadata.h"

namespace resr {

struct Upscaler::Impl {
  engine::LoadedModel model;
  engine::CompiledModel compiled;
  engine::UpscaleSettings settings;
  EncodeOptions encode;
};

Upscaler::Upscaler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Upscaler::Upscaler(Upscaler&&) noexcept = default;
Upscaler& Upscaler::operator=(Upscaler&&) noexcept = default;
Upscaler::~Upscaler() = default;

Result<Upscaler> Upscaler::create(const UpscalerOptions& o) {
  engine::ModelSource source;
  source.path = o.model_path.empty() ? o.model_dir : o.model_path;
  source.name = o.model_path.empty() ? o.model : "";
  RESR_ASSIGN_OR_RETURN(engine::LoadedModel model, engine::load_model(source));
  RESR_ASSIGN_OR_RETURN(engine::CompiledModel compiled,
                        engine::CompiledModel::compile(model, o.backend, engine::BackendOptions{!o.fp32}));
  auto impl = std::make_unique<Impl>(Impl{std::move(model), std::move(compiled), {}, {}});
  impl->settings.scale = o.scale;
  impl->settings.tile = o.tile;
  impl->settings.tile_pad = o.tile_pad;
  impl->encode.quality = o.quality;
  return Upscaler(std::move(impl));
}

std::string Upscaler::architecture() const {
  return impl_->model.summary.architecture;
}
int Upscaler::model_scale() const {
  return impl_->model.summary.scale;
}

Result<Image> Upscaler::upscale(const Image& image) {
  return engine::upscale_image(image, impl_->compiled, impl_->settings);
}

Status Upscaler::upscale_file(const std::string& input, const std::string& output) {
  auto format = format_from_extension(output);
  if (!format) return format.status().with_context(output);
  auto image = read_image_file(input);
  if (!image) return image.status().with_context(input);
  apply_exif_orientation(*image);
  auto out = upscale(*image);
  if (!out) return out.status().with_context(input);
  return write_image_file(*out, output, *format, impl_->encode).with_context(output);
}

}  // namespace resr
