// The schedule checker. Every ordering edge (the previous op on the branch,
// each `after`) points from an earlier op to a later one, so list order is a
// topological order: one pass gives, per op, the set of ops ordered before
// it. Then every pair of ops is compared range by range.

#include "model/step_program.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace nocturne::inline v0 {
namespace {

using Bits = std::vector<std::uint64_t>;

bool test(const Bits& bits, std::size_t i) { return (bits[i / 64] >> (i % 64)) & 1u; }
void set(Bits& bits, std::size_t i) { bits[i / 64] |= std::uint64_t(1) << (i % 64); }

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

bool overlap(const MemoryRange& a, const MemoryRange& b) {
  if (a.bytes == 0 || b.bytes == 0) return false;
  const std::uintptr_t a0 = address(a.begin), b0 = address(b.begin);
  return a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

std::string op_name(std::span<const ProgramOp> program, std::size_t i) {
  return "op " + std::to_string(i) + " '" + program[i].name + "' (branch " + std::to_string(program[i].branch) + ")";
}

// The bytes both ranges cover, named by the buffer that holds them where one does.
std::string shared_bytes(const MemoryRange& a, const MemoryRange& b, std::span<const NamedRange> names) {
  const std::uintptr_t begin = std::max(address(a.begin), address(b.begin));
  const std::uintptr_t end = std::min(address(a.begin) + a.bytes, address(b.begin) + b.bytes);
  for (const NamedRange& n : names) {
    const std::uintptr_t n0 = address(n.range.begin);
    if (begin >= n0 && end <= n0 + n.range.bytes)
      return n.name + " bytes [" + std::to_string(begin - n0) + ", " + std::to_string(end - n0) + ")";
  }
  char text[64];
  std::snprintf(text, sizeof text, "bytes [%#llx, %#llx)", static_cast<unsigned long long>(begin),
                static_cast<unsigned long long>(end));
  return text;
}

// The first range of `xs` that overlaps one of `ys`; false where none does.
bool find_overlap(const std::vector<MemoryRange>& xs, const std::vector<MemoryRange>& ys, MemoryRange& x,
                  MemoryRange& y) {
  for (const MemoryRange& a : xs)
    for (const MemoryRange& b : ys)
      if (overlap(a, b)) {
        x = a;
        y = b;
        return true;
      }
  return false;
}

void check_structure(std::span<const ProgramOp> program) {
  for (std::size_t i = 0; i < program.size(); ++i) {
    if (program[i].branch != 0 && program[i].branch != 1)
      throw ScheduleError("step program: " + op_name(program, i) + " is not on branch 0 or 1");
    for (std::size_t a : program[i].after)
      if (a >= i)
        throw ScheduleError("step program: " + op_name(program, i) + " runs after op " + std::to_string(a) +
                            ", which is not an earlier op");
  }
}

// before[i]: the ops ordered before op i.
std::vector<Bits> ordering(std::span<const ProgramOp> program) {
  const std::size_t n = program.size(), words = (n + 63) / 64;
  std::vector<Bits> before(n, Bits(words, 0));
  std::size_t last[2] = {SIZE_MAX, SIZE_MAX};
  for (std::size_t i = 0; i < n; ++i) {
    auto inherit = [&](std::size_t p) {
      for (std::size_t w = 0; w < words; ++w) before[i][w] |= before[p][w];
      set(before[i], p);
    };
    const int branch = program[i].branch;
    if (last[branch] != SIZE_MAX) inherit(last[branch]);
    for (std::size_t a : program[i].after) inherit(a);
    last[branch] = i;
  }
  return before;
}

}  // namespace

void check_step_program(std::span<const ProgramOp> program, std::span<const NamedRange> names) {
  check_structure(program);
  const std::vector<Bits> before = ordering(program);
  for (std::size_t j = 0; j < program.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      if (test(before[j], i)) continue;  // i runs before j: any access pattern is fine
      const ProgramOp& a = program[i];
      const ProgramOp& b = program[j];
      MemoryRange x, y;
      if (find_overlap(b.reads, a.writes, x, y))
        throw ScheduleError("step program: " + op_name(program, j) + " reads " + shared_bytes(x, y, names) +
                            ", which the earlier " + op_name(program, i) +
                            " writes, but is not ordered after it (same branch or an `after` link)");
      if (find_overlap(a.writes, b.writes, x, y))
        throw ScheduleError("step program: " + op_name(program, i) + " and " + op_name(program, j) +
                            " are not ordered and both write " + shared_bytes(x, y, names));
      if (find_overlap(a.reads, b.writes, x, y))
        throw ScheduleError("step program: " + op_name(program, j) + " writes " + shared_bytes(x, y, names) +
                            " while the unordered " + op_name(program, i) + " may still read it");
    }
  }
}

}  // namespace nocturne
