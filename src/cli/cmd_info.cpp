// nocturne info [checkpoint-or-run-folder]: the version, what was built in,
// the devices that can run (and why a GPU cannot), and, given a checkpoint or
// a run folder, what the checkpoint holds.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "checkpoint/build_info.hpp"
#include "cli/commands.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/trained_model.hpp"
#include "nocturne/version.hpp"

namespace nocturne::inline v0::cli {

namespace {

using nlohmann::json;

struct InfoArgs {
  std::string path;
  bool json = false;
};

json checkpoint_json(const std::filesystem::path& path, const Checkpoint& c) {
  json meta = nullptr;
  try {
    meta = json::parse(c.metadata);
  } catch (const json::exception&) {
    meta = c.metadata;  // not ours to interpret: shown as text
  }
  return {{"path", path.string()},
          {"format_version", checkpoint_format_version},
          {"epochs_done", c.epochs_done},
          {"epochs", c.epochs_total},
          {"optimizer_steps", c.optimizer_steps},
          {"vocabulary_size", c.model.vocab},
          {"window", c.model.window},
          {"hidden1", c.model.hidden1},
          {"hidden2", c.model.hidden2},
          {"dense", c.model.dense},
          {"dropout", c.model.dropout},
          {"input", input_mode_name(c.model.input)},
          {"tokens", token_kind_name(checkpoint_token_kind(c))},
          {"parameters", ParameterLayout(c.model).parameter_count()},
          {"has_optimizer_state", !c.first_moment.empty()},
          {"batch", c.trainer.batch},
          {"learning_rate", c.trainer.adamax.learning_rate},
          {"seed", c.trainer.seed},
          {"metadata", meta}};
}

void run_info(const InfoArgs& a) {
  const CudaStatus cuda = cuda_status();
  json info = {{"version", version_string}, {"checkpoint_format_version", checkpoint_format_version}};
  json built = json::object();
  for (const auto& f : detail::build_features()) built[f.name] = f.state;
  info["built_with"] = built;
  json gpus = json::array();
  for (const auto& d : cuda.devices)
    gpus.push_back({{"index", d.index},
                    {"name", d.name},
                    {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                    {"memory_bytes", d.memory_bytes},
                    {"multiprocessors", d.multiprocessors}});
  info["cpu"] = {{"blas", cpu_blas_description()}, {"threads", cpu_threads()}};
  info["cuda"] = {{"usable", cuda.usable},
                  {"reason", cuda.reason},
                  {"driver_version", cuda.driver_version},
                  {"runtime_version", cuda.runtime_version},
                  {"devices", gpus}};
  std::optional<json> checkpoint;
  if (!a.path.empty()) {
    std::filesystem::path path = a.path;
    if (std::filesystem::is_directory(path)) path /= "last.ckpt";
    checkpoint = checkpoint_json(path, load_checkpoint(path));
  }

  if (a.json) {
    if (checkpoint) info["checkpoint"] = *checkpoint;
    std::puts(info.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("nocturne %s (checkpoint format version %u)\n", version_string, checkpoint_format_version);
  std::printf("built with:");
  for (const auto& f : detail::build_features()) std::printf(" %s %s;", f.name.c_str(), f.state.c_str());
  std::printf("\n");
  std::printf("devices:\n  cpu: available (the reference backend): %s, %d threads\n", cpu_blas_description().c_str(),
              cpu_threads());
  if (cuda.usable) {
    for (const auto& d : cuda.devices)
      std::printf("  cuda:%d: %s, compute %d.%d, %.1f GiB, %d SMs\n", d.index, d.name.c_str(), d.compute_major,
                  d.compute_minor, double(d.memory_bytes) / (1024.0 * 1024.0 * 1024.0), d.multiprocessors);
    std::printf("  driver %d, runtime %d\n", cuda.driver_version, cuda.runtime_version);
  } else {
    std::printf("  cuda: not usable: %s\n", cuda.reason.c_str());
  }
  std::printf("device auto picks: %s\n", cuda.usable ? "cuda:0" : "cpu");
  if (checkpoint) {
    const json& c = *checkpoint;
    std::printf("checkpoint %s:\n", c["path"].get<std::string>().c_str());
    std::printf("  epochs done %d of %d, %lld optimizer steps%s\n", c["epochs_done"].get<int>(),
                c["epochs"].get<int>(), static_cast<long long>(c["optimizer_steps"].get<std::int64_t>()),
                c["has_optimizer_state"].get<bool>() ? "" : " (no optimizer state: generation only)");
    std::printf("  model: vocabulary %d (%s tokens), window %d, %d/%d/%d, dropout %g, input %s, %zu parameters\n",
                c["vocabulary_size"].get<int>(), c["tokens"].get<std::string>().c_str(), c["window"].get<int>(),
                c["hidden1"].get<int>(), c["hidden2"].get<int>(), c["dense"].get<int>(), c["dropout"].get<double>(),
                c["input"].get<std::string>().c_str(), c["parameters"].get<std::size_t>());
    std::printf("  training: batch %d, learning rate %g, seed %llu\n", c["batch"].get<int>(),
                c["learning_rate"].get<double>(), static_cast<unsigned long long>(c["seed"].get<std::uint64_t>()));
    const json& meta = c["metadata"];
    if (meta.is_object() && meta.contains("settings") && meta["settings"].contains("weight_decay")) {
      const json& s = meta["settings"];  // runs from before the regularisers have none
      std::printf("  regularisers: weight decay %g, input dropout %g, recurrent dropout %g, label smoothing %g, "
                  "lr schedule %s (warm-up %lld, decay end %lld, floor %g), patience %lld\n",
                  s.value("weight_decay", 0.0), s.value("input_dropout", 0.0), s.value("recurrent_dropout", 0.0),
                  s.value("label_smoothing", 0.0), s.value("lr_schedule", std::string("constant")).c_str(),
                  static_cast<long long>(s.value("warmup", std::int64_t(0))),
                  static_cast<long long>(s.value("lr_decay_epochs", std::int64_t(0))), s.value("lr_floor", 0.0),
                  static_cast<long long>(s.value("patience", std::int64_t(0))));
    }
    if (meta.is_object() && meta.contains("data"))
      std::printf("  data: %s%s\n", meta["data"].value("folder", std::string("?")).c_str(),
                  meta["data"].value("demo", false) ? " (the demo corpus)" : "");
    if (meta.is_object() && meta.contains("init_from") && meta["init_from"].is_object()) {
      const json& from = meta["init_from"];
      std::printf("  initialised from %s (epoch %d, run %s): %d of %d symbols' rows kept, the others fresh\n",
                  from.value("checkpoint", std::string("?")).c_str(), from.value("epochs_done", 0),
                  from.value("run_id", std::string("?")).c_str(), from.value("shared_symbols", 0),
                  c["vocabulary_size"].get<int>());
    }
    if (meta.is_object() && meta.contains("settings") && meta["settings"].value("transpose", std::string("0")) != "0")
      std::printf("  transposition: %s semitones, one key drawn per training piece each epoch\n",
                  meta["settings"].value("transpose", std::string("0")).c_str());
    if (meta.is_object() && meta.contains("best") && meta["best"].is_object())
      std::printf("  best epoch %d (%s %.4f)\n", meta["best"].value("epoch", 0),
                  meta["best"].value("metric", std::string("?")).c_str(), meta["best"].value("value", 0.0));
  }
}

void add_info_command(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Version, built-in features, devices; optionally a checkpoint's contents");
  cmd->add_option("checkpoint", a->path, "A .ckpt file or a run folder (its last.ckpt) to describe");
  cmd->add_flag("--json", a->json, "Print one JSON object");
  cmd->callback([a] { run_info(*a); });
}

}  // namespace

static const bool registered = register_command(70, add_info_command);

}  // namespace nocturne::cli
