// The schedule checker (src/model/step_program.hpp): the fused training
// programs the model really records pass it (the recipe, the small preset,
// embedding input, with and without the optimiser's update), and programs
// with a missing `after`, scratch shared between the branches or a write
// racing a read fail with a message that names both ops and the range.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "model/step_program.hpp"
#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"

using namespace nocturne;

namespace {

// The model's training program for a staged batch of `batch` random windows.
std::vector<ProgramOp> training_program(Model& model, int batch, Adamax* optimizer) {
  const auto b = test::random_batch(model.config(), batch, 3);
  model.set_batch(b.tokens, b.targets);
  return model.training_program(7, optimizer);
}

// Checks that `program` fails with a message holding every word.
void expect_failure(std::span<const ProgramOp> program, std::initializer_list<std::string> words,
                    std::span<const NamedRange> names = {}) {
  try {
    check_step_program(program, names);
    FAIL("the checker accepted the program");
  } catch (const ScheduleError& e) {
    const std::string message = e.what();
    INFO(message);
    for (const std::string& w : words) CHECK(message.find(w) != std::string::npos);
  }
}

std::size_t find_op(const std::vector<ProgramOp>& program, const std::string& name) {
  for (std::size_t i = 0; i < program.size(); ++i)
    if (program[i].name == name) return i;
  FAIL("no op named " << name);
  return 0;
}

ProgramOp op(std::string name, int branch, std::vector<MemoryRange> reads, std::vector<MemoryRange> writes,
             std::vector<std::size_t> after = {}) {
  return ProgramOp{std::move(name), branch, std::move(after), std::move(reads), std::move(writes), [] {}};
}

}  // namespace

TEST_CASE("the fused training programs the model records pass the checker", "[model][schedule]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  struct Case {
    const char* name;
    ModelConfig config;
    int batch;
  };
  ModelConfig recipe;  // 512 / 256 / 256, window 40, scalar input
  recipe.vocab = 127;
  ModelConfig small = recipe;  // --preset small
  small.hidden1 = 128;
  small.hidden2 = 64;
  small.dense = 64;
  ModelConfig embedding = recipe;
  embedding.input = InputMode::embedding;
  ModelConfig no_dropout = small;
  no_dropout.dropout = 0;
  for (const Case& c : {Case{"recipe", recipe, 256}, Case{"small preset", small, 128},
                        Case{"recipe, embedding input", embedding, 256}, Case{"small, no dropout", no_dropout, 100}}) {
    INFO(c.name);
    Model model(*backend, c.config, c.batch);
    Adamax optimizer(model, AdamaxParams{});
    for (Adamax* opt : {static_cast<Adamax*>(nullptr), &optimizer}) {
      const std::vector<ProgramOp> program = training_program(model, c.batch, opt);
      CHECK_NOTHROW(check_step_program(program));
      // Both branches hold work, and Adamax (when there) comes last, after both.
      int on_branch[2] = {0, 0};
      for (const ProgramOp& o : program) ++on_branch[o.branch];
      CHECK(on_branch[0] > c.config.window);
      CHECK(on_branch[1] > c.config.window);
      CHECK((program.back().name == "adamax") == (opt != nullptr));
    }
  }
}

TEST_CASE("the checker catches a real program with one `after` removed", "[model][schedule]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const ModelConfig config = test::small_config(InputMode::scalar, 0.2);
  Model model(*backend, config, 4);
  Adamax optimizer(model, AdamaxParams{});
  const std::vector<ProgramOp> program = training_program(model, 4, &optimizer);
  REQUIRE_NOTHROW(check_step_program(program));

  // Layer 2's step 3 no longer waits for layer 1's step 3, whose dropped output it reads.
  std::vector<ProgramOp> broken = training_program(model, 4, &optimizer);
  broken[find_op(broken, "lstm2 forward t=3")].after.clear();
  expect_failure(broken, {"'lstm2 forward t=3'", "'lstm1 forward t=3'", "reads", "bytes ["});
  // Layer 1's backward step no longer waits for the dx layer 2 computes for it.
  broken = training_program(model, 4, &optimizer);
  broken[find_op(broken, "lstm1 backward t=2")].after.clear();
  expect_failure(broken, {"'lstm1 backward t=2'", "'lstm2 dx t=2'"});
  // Adamax no longer waits for branch 1: it would read gradients layer 2's last ops still write.
  broken = training_program(model, 4, &optimizer);
  broken.back().after.clear();
  expect_failure(broken, {"'adamax'", "branch 1"});
}

TEST_CASE("hand-made programs: missing after, shared scratch, racing reads, malformed links", "[model][schedule]") {
  std::vector<float> memory(64);
  auto range = [&](std::size_t first, std::size_t count) { return MemoryRange{memory.data() + first, count * 4}; };
  const NamedRange names[] = {{"state", range(0, 32)}, {"scratch", range(32, 32)}};

  SECTION("a good program passes") {
    const std::vector<ProgramOp> good = {op("produce", 0, {}, {range(0, 8)}),
                                         op("consume", 1, {range(0, 8)}, {range(8, 8)}, {0}),
                                         op("again", 0, {range(0, 8)}, {range(16, 8)}),  // reads beside branch 1
                                         op("last", 0, {range(8, 16)}, {}, {1})};
    CHECK_NOTHROW(check_step_program(good, names));
  }
  SECTION("a read on the other branch without `after`") {
    const std::vector<ProgramOp> bad = {op("produce", 0, {}, {range(0, 8)}), op("consume", 1, {range(4, 8)}, {})};
    expect_failure(bad, {"op 1 'consume' (branch 1)", "op 0 'produce' (branch 0)", "state bytes [16, 32)",
                         "not ordered after"},
                   names);
  }
  SECTION("scratch shared between the branches") {
    const std::vector<ProgramOp> bad = {op("layer 1 step", 0, {range(0, 4)}, {range(32, 16)}),
                                        op("layer 2 step", 1, {range(4, 4)}, {range(40, 16)})};
    expect_failure(bad, {"'layer 1 step'", "'layer 2 step'", "both write", "scratch bytes [32, 64)"}, names);
  }
  SECTION("a write racing an earlier read on the other branch") {
    const std::vector<ProgramOp> bad = {op("reader", 1, {range(20, 4)}, {}), op("writer", 0, {}, {range(22, 8)})};
    expect_failure(bad, {"'writer'", "'reader'", "may still read", "state bytes [88, 96)"}, names);
  }
  SECTION("order through a chain of links counts") {
    const std::vector<ProgramOp> chain = {op("a", 0, {}, {range(0, 4)}), op("b", 0, {}, {}),
                                          op("c", 1, {}, {}, {1}), op("d", 1, {range(0, 4)}, {})};
    CHECK_NOTHROW(check_step_program(chain));
  }
  SECTION("malformed programs") {
    expect_failure(std::vector<ProgramOp>{op("x", 2, {}, {})}, {"'x'", "not on branch 0 or 1"});
    expect_failure(std::vector<ProgramOp>{op("x", 0, {}, {}, {0})}, {"'x'", "not an earlier op"});
    expect_failure(std::vector<ProgramOp>{op("x", 0, {}, {}, {1}), op("y", 1, {}, {})}, {"'x'", "op 1"});
  }
}
