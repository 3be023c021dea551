#include "passes/code_blocks.h"

#include <algorithm>
#include <map>
#include <set>

namespace resr::passes {
namespace {

// Per-channel input scales (ir::ConvQuant::in_channel_scales) must agree on the channels both read: the shorter
// list a prefix of the longer, or both per tensor.
bool same_input_quant(const ir::ConvQuant& a, const ir::ConvQuant& b) {
  const std::vector<float>&fa = a.in_channel_scales, &fb = b.in_channel_scales;
  const bool same_channels = fa.size() <= fb.size() ? std::equal(fa.begin(), fa.end(), fb.begin())
                                                    : std::equal(fb.begin(), fb.end(), fa.begin());
  return a.in_scale == b.in_scale && a.in_zero == b.in_zero && a.asymmetric == b.asymmetric &&
         fa.empty() == fb.empty() && same_channels;
}

// The parts of a conv's input: a concat step's inputs (flat), or the value itself.
std::vector<int> parts_of(const std::vector<Step>& steps, const std::vector<int>& producer, int value) {
  const int p = producer[value];
  if (p >= 0 && steps[p].kind == StepKind::kConcat) return steps[p].inputs;
  return {value};
}

}  // namespace

CodeBlockPlan plan_code_blocks(const ir::Graph& g, const std::vector<Step>& steps, const std::vector<bool>& member,
                               int alignment) {
  CodeBlockPlan plan;
  plan.reader_of.assign(steps.size(), -1);
  plan.writer_of.assign(steps.size(), {-1, -1});
  plan.round_before.resize(steps.size());
  plan.only_codes_read.assign(steps.size(), false);
  std::vector<int> producer(g.values.size(), -1);                // value -> step
  std::vector<std::vector<std::size_t>> users(g.values.size());  // value -> the steps reading it
  for (std::size_t s = 0; s < steps.size(); ++s) {
    producer[steps[s].output] = static_cast<int>(s);
    for (int v : steps[s].inputs)
      if (users[v].empty() || users[v].back() != s) users[v].push_back(s);
  }

  // (concat root, precision) -> member conv steps reading it: codes of one kind a block
  std::map<std::pair<int, ir::Precision>, std::vector<std::size_t>> by_root;
  for (std::size_t s = 0; s < steps.size(); ++s)
    if (member[s]) by_root[{g.concat_root(steps[s].inputs[0]), steps[s].node->quant.precision}].push_back(s);

  for (const auto& [root, readers] : by_root) {
    if (readers.size() < 2) continue;
    CodeBlock b;
    b.readers = readers;
    const ir::ConvQuant& quant = steps[readers[0]].node->quant;
    b.scale = quant.in_scale;
    b.precision = quant.precision;
    std::vector<std::vector<int>> reader_parts;
    bool ok = true;
    for (std::size_t r : readers) {
      reader_parts.push_back(parts_of(steps, producer, steps[r].inputs[0]));
      if (reader_parts.back().size() > b.parts.size()) {
        b.parts = reader_parts.back();
        b.widest = r;
      }
      ok = ok && same_input_quant(steps[r].node->quant, quant);
    }
    for (const std::vector<int>& parts : reader_parts)  // every reader's parts: a prefix of the widest concat's
      ok = ok && std::equal(parts.begin(), parts.end(), b.parts.begin());
    for (int v : b.parts) {
      ok = ok && producer[v] >= 0 && steps[producer[v]].kind != StepKind::kConcat;  // flat
      b.offsets.push_back(b.channels);
      ok = ok && b.channels % alignment == 0;
      b.channels += g.values[v].channels;
    }
    if (!ok) continue;
    const int index = static_cast<int>(plan.blocks.size());
    const std::set<std::size_t> reader_set(readers.begin(), readers.end());
    // A step reading v keeps it inside the block: a reader conv taking it as its main input (only), or a concat
    // step that only block readers read, as their main input.
    auto inside = [&](std::size_t t, int v) {
      const Step& s = steps[t];
      if (s.kind == StepKind::kConv)
        return reader_set.count(t) != 0 && s.inputs[0] == v && std::count(s.inputs.begin(), s.inputs.end(), v) == 1;
      if (s.kind != StepKind::kConcat || s.output == g.output) return false;
      return std::all_of(users[s.output].begin(), users[s.output].end(),
                         [&](std::size_t u) { return reader_set.count(u) != 0 && steps[u].inputs[0] == s.output; });
    };
    for (std::size_t k = 0; k < b.parts.size(); ++k) {
      const int v = b.parts[k];
      const Step& writer = steps[std::size_t(producer[v])];
      // (a value twice among the parts, concat(v, v), is never direct: one write cannot fill both places)
      const bool direct = member[std::size_t(producer[v])] && writer.node->quant.precision == b.precision &&
                          v != g.output && std::count(b.parts.begin(), b.parts.end(), v) == 1 &&
                          plan.writer_of[std::size_t(producer[v])].first < 0 &&
                          std::all_of(users[v].begin(), users[v].end(), [&](std::size_t t) { return inside(t, v); });
      b.direct.push_back(direct);
      if (direct) plan.writer_of[producer[v]] = {index, static_cast<int>(k)};
      // Rounded (or, when direct, rounded in observed runs) before the first reader whose prefix includes it.
      for (std::size_t r = 0; r < readers.size(); ++r)
        if (reader_parts[r].size() > k) {
          plan.round_before[readers[r]].emplace_back(index, static_cast<int>(k));
          break;
        }
    }
    // The concats need not run only if every concat of the dense block is read by its readers alone: they share
    // one storage, into which a member that outlives them may be copied by the first of them only (memory_plan.h),
    // so a later concat read by another step needs the earlier ones to run.
    bool concats_unread = true;
    for (std::size_t t = 0; t < steps.size(); ++t)
      if (steps[t].kind == StepKind::kConcat && g.concat_root(steps[t].output) == root.first)
        concats_unread = concats_unread && inside(t, steps[t].output);
    for (std::size_t r : readers) {
      plan.reader_of[r] = index;
      const int p = producer[steps[r].inputs[0]];
      if (concats_unread && p >= 0 && steps[std::size_t(p)].kind == StepKind::kConcat)
        plan.only_codes_read[std::size_t(p)] = true;
    }
    plan.blocks.push_back(std::move(b));
  }

  // Slots: a block lives from its first step (a direct writer or a reader) to its last reader; blocks whose lives
  // overlap need different buffers. Greedy over the blocks in order of their first step.
  std::vector<std::pair<std::size_t, std::size_t>> life(plan.blocks.size());
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
    life[i] = {plan.blocks[i].readers.front(), plan.blocks[i].readers.back()};
    for (std::size_t s = 0; s < steps.size(); ++s)
      if (plan.writer_of[s].first == static_cast<int>(i)) life[i].first = std::min(life[i].first, s);
  }
  std::vector<std::size_t> order(plan.blocks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return life[a].first < life[b].first; });
  std::vector<std::size_t> slot_free_after;  // per slot: the last step of its latest block
  for (std::size_t i : order) {
    int slot = -1;
    for (std::size_t k = 0; k < slot_free_after.size() && slot < 0; ++k)
      if (slot_free_after[k] < life[i].first) slot = static_cast<int>(k);
    if (slot < 0) {
      slot = static_cast<int>(slot_free_after.size());
      slot_free_after.push_back(0);
    }
    slot_free_after[std::size_t(slot)] = life[i].second;
    plan.blocks[i].slot = slot;
  }
  plan.slots = static_cast<int>(slot_free_after.size());
  return plan;
}

}  // namespace resr::passes
