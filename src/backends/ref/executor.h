// The reference executable: interprets the graph node by node with the naive kernels of kernels.h, keeping
// each value only until its last use. Single-threaded, slow, obviously right: the oracle for whole models.
#pragma once

#include <memory>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::ref {

std::unique_ptr<Executable> compile(std::shared_ptr<const ir::Graph> graph);

}  // namespace resr::ref
