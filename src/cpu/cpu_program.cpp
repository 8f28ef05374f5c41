// Step programs on the CPU: the ops run one at a time, in list order or in a
// wavefront order (the other branch next whenever its next op is ready),
// which interleaves the branches as a GPU's two streams may. Both orders
// respect every dependency a program declares, so a program whose ops
// declare their buffers completely gives the same bits either way (the
// model's tests check it); the order is fixed when the program is recorded.

#include <memory>
#include <string>
#include <utility>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
namespace {

std::string describe(std::span<const ProgramOp> program, std::size_t i) {
  return "op " + std::to_string(i) + " '" + program[i].name + "'";
}

void check_program(std::span<const ProgramOp> program) {
  for (std::size_t i = 0; i < program.size(); ++i) {
    const ProgramOp& op = program[i];
    if (op.branch != 0 && op.branch != 1)
      throw ConfigError("record_program: " + describe(program, i) + " is on branch " + std::to_string(op.branch) +
                        " (expected 0 or 1)");
    if (!op.run) throw ConfigError("record_program: " + describe(program, i) + " has no work");
    for (std::size_t a : op.after)
      if (a >= program.size() || a == i)
        throw ConfigError("record_program: " + describe(program, i) + " runs after op " + std::to_string(a) +
                          ", which is " + (a == i ? "itself" : "not in the program of " +
                                                                   std::to_string(program.size()) + " ops"));
  }
}

std::vector<std::size_t> list_order(std::span<const ProgramOp> program) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < program.size(); ++i) {
    for (std::size_t a : program[i].after)
      if (a > i)
        throw ConfigError("record_program: " + describe(program, i) + " runs after the later " +
                          describe(program, a) + ", which list order cannot do");
    order.push_back(i);
  }
  return order;
}

std::vector<std::size_t> wavefront_order(std::span<const ProgramOp> program) {
  std::vector<std::size_t> lanes[2];
  for (std::size_t i = 0; i < program.size(); ++i) lanes[program[i].branch].push_back(i);
  std::vector<bool> done(program.size(), false);
  std::size_t next[2] = {0, 0};
  auto ready = [&](int lane) {
    if (next[lane] == lanes[lane].size()) return false;
    for (std::size_t a : program[lanes[lane][next[lane]]].after)
      if (!done[a]) return false;
    return true;
  };
  std::vector<std::size_t> order;
  int lane = 0;
  while (order.size() < program.size()) {
    if (!ready(lane)) lane = 1 - lane;
    if (!ready(lane)) {
      const std::size_t stuck = next[0] < lanes[0].size() ? lanes[0][next[0]] : lanes[1][next[1]];
      throw ConfigError("record_program: " + describe(program, stuck) +
                        " can never run: its `after` ops wait, directly or not, on it");
    }
    const std::size_t i = lanes[lane][next[lane]++];
    order.push_back(i);
    done[i] = true;
    lane = 1 - lane;  // alternate: the other branch goes next when it can
  }
  return order;
}

}  // namespace

std::vector<std::size_t> program_order(std::span<const ProgramOp> program, ProgramOrder order) {
  check_program(program);
  return order == ProgramOrder::wavefront ? wavefront_order(program) : list_order(program);
}

template <typename T>
std::unique_ptr<Replayable> CpuBackend<T>::record_program(std::vector<ProgramOp> program) {
  std::vector<std::size_t> order = program_order(program, options_.order);
  return record([ops = std::move(program), order = std::move(order)] {
    for (std::size_t i : order) ops[i].run();
  });
}

template std::unique_ptr<Replayable> CpuBackend<float>::record_program(std::vector<ProgramOp>);
template std::unique_ptr<Replayable> CpuBackend<double>::record_program(std::vector<ProgramOp>);

}  // namespace nocturne::cpu
