#include "backends/cuda/element_steps.h"

#include <algorithm>
#include <string>

namespace resr::cuda {

using passes::StepKind;

Status launch_element_step(const passes::Step& s, const ElementStepPlaces& at, DType t, cudaStream_t stream) {
  const ir::Node& n = *s.node;
  switch (s.kind) {
    case StepKind::kPRelu: {
      convert(at.planes(s.inputs[0]), t, at.planes(s.output), t, stream);
      EpilogueArgs a;
      a.act = Act::kPrelu;
      a.slopes = at.prelu_slopes;
      a.one_slope = n.slopes.size() == 1;
      conv_epilogue(at.planes(s.output), a, t, stream);
      return ok_status();
    }
    case StepKind::kConcat: {
      const std::vector<int>& copies = *at.concat_copies;
      const Planes whole = at.planes(s.output);
      int channel = 0;
      for (int v : s.inputs) {
        const Planes member = at.planes(v);
        Planes slot = member;  // the member's shape at its place in the concatenation
        slot.data = static_cast<char*>(whole.data) + std::size_t(channel) * whole.s.cs * dtype_bytes(t);
        slot.s = whole.s;
        if (std::find(copies.begin(), copies.end(), v) != copies.end()) convert(member, t, slot, t, stream);
        channel += slot.c;
      }
      return ok_status();
    }
    case StepKind::kWeightedSum: {
      if (s.inputs.size() > 4) return Status::error("cuda: weighted sum of more than 4 inputs (" + n.name + ")");
      Planes in[4];
      for (std::size_t k = 0; k < s.inputs.size(); ++k) in[k] = at.planes(s.inputs[k]);
      weighted_sum(in, n.coeffs.data(), int(s.inputs.size()), at.planes(s.output), t, stream);
      return ok_status();
    }
    case StepKind::kUpsample:
      upsample_nearest(at.planes(s.inputs[0]), s.factor, at.planes(s.output), t, stream);
      return ok_status();
    case StepKind::kShuffle:
      pixel_shuffle(at.planes(s.inputs[0]), s.factor, at.planes(s.output), t, stream);
      return ok_status();
    case StepKind::kUnshuffle:
      pixel_unshuffle(at.planes(s.inputs[0]), s.factor, at.planes(s.output), t, stream);
      return ok_status();
    case StepKind::kShuffleAddUp:
      shuffle_add_upsampled(at.planes(s.inputs[0]), s.shuffle_scale, at.planes(s.inputs[1]), s.up_scale, s.factor,
                            at.planes(s.output), t, stream);
      return ok_status();
    case StepKind::kInput:
    case StepKind::kConv:
      break;
  }
  return Status::error("cuda: unsupported step in " + n.name);
}

}  // namespace resr::cuda
