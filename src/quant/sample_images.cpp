#include "quant/sample_images.h"

#include "image/codec.h"

namespace resr::quant {

SampleImages probe_sample_images(const std::vector<std::string>& paths) {
  SampleImages s;
  for (const std::string& path : paths) {
    auto img = read_image_file(path);
    if (!img) {
      s.skipped.push_back(path + ": " + img.status().message());
      continue;
    }
    s.paths.push_back(path);
    s.sizes.emplace_back(img->width, img->height);
  }
  return s;
}

Status for_each_chosen_tile(const SampleImages& images, const std::vector<TileChoice>& tiles,
                            const std::function<Status(const Image&, const TileChoice&)>& use) {
  std::size_t next = 0;
  for (std::size_t i = 0; i < images.paths.size() && next < tiles.size(); ++i) {
    if (tiles[next].image != static_cast<int>(i)) continue;
    auto img = read_image_file(images.paths[i]);
    if (!img) return img.status().with_context(images.paths[i]);
    if (img->width != images.sizes[i].first || img->height != images.sizes[i].second)
      return Status::error(images.paths[i] + ": changed while it was read");
    for (; next < tiles.size() && tiles[next].image == static_cast<int>(i); ++next)
      RESR_RETURN_IF_ERROR(use(*img, tiles[next]));
  }
  return {};
}

}  // namespace resr::quant
