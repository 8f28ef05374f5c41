#include "lstm_bench/lstm_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace nocturne::inline v0::bench {

Stats summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, std::size_t(q * double(ms.size() - 1) + 0.5))]; };
  s.min = ms.front();
  s.p10 = at(0.1);
  s.median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  s.p90 = at(0.9);
  s.reps = int(ms.size());
  return s;
}

void Meta::set(const std::string& key, const std::string& value) {
  for (auto& [k, v] : entries_)
    if (k == key) {
      v = value;
      return;
    }
  entries_.emplace_back(key, value);
}

std::string shape_text(const LstmShape& s) {
  return "T" + std::to_string(s.steps) + " N" + std::to_string(s.batch) + " F" + std::to_string(s.input) + " H" +
         std::to_string(s.hidden);
}

std::string number_text(double v) {
  if (!std::isfinite(v)) return "";
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

namespace {

std::string json_number(double v) {
  const std::string t = number_text(v);
  return t.empty() ? "null" : t;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

const char* kCsvHeader =
    "device,label,T,N,F,H,impl,variant,math,phase,status,median_ms,min_ms,p10_ms,p90_ms,reps,build_ms,check_err,note";

std::string ratio_text(double ours_ms, double other_ms) {
  if (!std::isfinite(ours_ms) || !std::isfinite(other_ms) || ours_ms <= 0) return "-";
  char t[32];
  std::snprintf(t, sizeof(t), "%.2fx", other_ms / ours_ms);
  return t;
}

std::string ms_text(double ms) { return std::isfinite(ms) ? number_text(ms) : std::string("-"); }

struct Best {
  double ms = kNaN;
  std::string what;
  void offer(const Row& r) {
    if (r.status != "ok" || !std::isfinite(r.stats.median)) return;
    if (!std::isfinite(ms) || r.stats.median < ms) *this = {r.stats.median, r.variant};
  }
};

// Rows grouped by "shape|phase", in the order the groups first appear.
struct Groups {
  std::vector<std::string> keys;
  std::map<std::string, std::map<std::string, Best>> columns;
  std::map<std::string, Best>& at(const Row& r, const std::string& phase) {
    const std::string key = shape_text(r.shape) + "|" + phase;
    if (!columns.count(key)) keys.push_back(key);
    return columns[key];
  }
};

void print_cpu_table(const std::vector<Row>& rows) {
  Groups g;
  std::map<std::string, std::map<std::string, const Row*>> detail;  // key -> impl -> row
  for (const Row& r : rows) {
    g.at(r, r.phase)[r.impl].offer(r);
    detail[shape_text(r.shape) + "|" + r.phase][r.impl] = &r;
  }
  std::printf("\n%-22s %-17s %10s %19s %9s %10s %19s %9s %9s %10s %9s\n", "shape", "phase", "ours ms", "ours p10-p90",
              "ours err", "oneDNN ms", "oneDNN p10-p90", "oneDNN err", "speed-up", "SGEMM ms", "vs SGEMM");
  auto spread = [](const Row* r) {
    return r ? number_text(r->stats.p10) + "-" + number_text(r->stats.p90) : std::string("-");
  };
  auto err = [](const Row* r) { return r ? number_text(r->check_err) : std::string("-"); };
  for (const std::string& key : g.keys) {
    const std::size_t bar = key.find('|');
    const std::string phase = key.substr(bar + 1);
    // Ours has one forward (it keeps what backward needs); oneDNN's inference
    // forward is set beside it.
    const std::string ours_key = phase == "forward-inference" ? key.substr(0, bar) + "|forward" : key;
    const Row* ours = detail[ours_key]["ours"];
    const Row* onednn = detail[key]["onednn"];
    const double ours_ms = ours && ours->status == "ok" ? ours->stats.median : kNaN;
    const double onednn_ms = onednn && onednn->status == "ok" ? onednn->stats.median : kNaN;
    const Row* sgemm = detail[ours_key]["ours-sgemm"];
    const double sgemm_ms = sgemm && sgemm->status == "ok" ? sgemm->stats.median : kNaN;
    std::printf("%-22s %-17s %10s %19s %9s %10s %19s %9s %9s %10s %9s\n", key.substr(0, bar).c_str(),
                phase.c_str(), ms_text(ours_ms).c_str(), spread(ours).c_str(), err(ours).c_str(),
                ms_text(onednn_ms).c_str(), spread(onednn).c_str(), err(onednn).c_str(),
                ratio_text(ours_ms, onednn_ms).c_str(), ms_text(sgemm_ms).c_str(),
                ratio_text(ours_ms, sgemm_ms).c_str());
  }
  std::printf(
      "(milliseconds per layer call, medians; err: ours against the double CPU backend, oneDNN against ours;\n"
      " speed-up = oneDNN time / ours: above 1 means ours is faster; forward-inference compares oneDNN's\n"
      " inference forward with our only forward; SGEMM: ours with an OpenBLAS SGEMM per step instead of the\n"
      " AVX-512 kernels, vs SGEMM = its time / ours')\n");
}

void print_cuda_table(const std::vector<Row>& rows) {
  Groups g;
  for (const Row& r : rows) {
    auto& cols = g.at(r, r.phase);
    if (r.impl == "ours") {
      cols[r.math == "tf32" ? "ours_tf32" : "ours_fp32"].offer(r);
      cols["ours_best"].offer(r);
    } else if (r.impl == "cudnn") {
      cols[r.math == "fma" ? "cudnn_fma" : "cudnn_tc"].offer(r);
      cols["cudnn_best"].offer(r);
    }
  }
  std::printf("\n%-22s %-17s %10s %10s %10s %10s %14s %14s  %s\n", "shape", "phase", "ours fp32", "ours tf32",
              "cudnn fma", "cudnn tc", "fp32 speed-up", "best speed-up", "best cuDNN");
  for (const std::string& key : g.keys) {
    auto& c = g.columns[key];
    const std::size_t bar = key.find('|');
    std::printf("%-22s %-17s %10s %10s %10s %10s %14s %14s  %s\n", key.substr(0, bar).c_str(),
                key.substr(bar + 1).c_str(), ms_text(c["ours_fp32"].ms).c_str(), ms_text(c["ours_tf32"].ms).c_str(),
                ms_text(c["cudnn_fma"].ms).c_str(), ms_text(c["cudnn_tc"].ms).c_str(),
                ratio_text(c["ours_fp32"].ms, c["cudnn_fma"].ms).c_str(),
                ratio_text(c["ours_best"].ms, c["cudnn_best"].ms).c_str(), c["cudnn_best"].what.c_str());
  }
  std::printf("(milliseconds per layer call, medians; speed-up = cuDNN time / ours: above 1 means ours is faster)\n");
}

}  // namespace

std::string csv_text(const Meta& meta, const std::vector<Row>& rows) {
  std::ostringstream out;
  for (const auto& [key, value] : meta.entries()) out << "# " << key << ": " << value << "\n";
  out << kCsvHeader << "\n";
  for (const Row& r : rows)
    out << r.device << "," << r.label << "," << r.shape.steps << "," << r.shape.batch << "," << r.shape.input << ","
        << r.shape.hidden << "," << r.impl << "," << csv_field(r.variant) << "," << r.math << "," << r.phase << ","
        << r.status << "," << number_text(r.stats.median) << "," << number_text(r.stats.min) << ","
        << number_text(r.stats.p10) << "," << number_text(r.stats.p90) << "," << r.stats.reps << ","
        << number_text(r.build_ms) << "," << number_text(r.check_err) << "," << csv_field(r.note) << "\n";
  return out.str();
}

std::string json_text(const Meta& meta, const std::vector<Row>& rows) {
  std::ostringstream out;
  out << "{\n  \"tool\": \"bench_lstm\",\n  \"meta\": {";
  bool first = true;
  for (const auto& [key, value] : meta.entries()) {
    out << (first ? "" : ", ") << json_string(key) << ": " << json_string(value);
    first = false;
  }
  out << "},\n  \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out << (i ? "," : "") << "\n    {\"device\": " << json_string(r.device) << ", \"label\": " << json_string(r.label)
        << ", \"T\": " << r.shape.steps << ", \"N\": " << r.shape.batch << ", \"F\": " << r.shape.input
        << ", \"H\": " << r.shape.hidden << ", \"impl\": " << json_string(r.impl)
        << ", \"variant\": " << json_string(r.variant) << ", \"math\": " << json_string(r.math)
        << ", \"phase\": " << json_string(r.phase) << ", \"status\": " << json_string(r.status)
        << ", \"median_ms\": " << json_number(r.stats.median) << ", \"min_ms\": " << json_number(r.stats.min)
        << ", \"p10_ms\": " << json_number(r.stats.p10) << ", \"p90_ms\": " << json_number(r.stats.p90)
        << ", \"reps\": " << r.stats.reps << ", \"build_ms\": " << json_number(r.build_ms)
        << ", \"check_err\": " << json_number(r.check_err) << ", \"note\": " << json_string(r.note) << "}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

void print_table(const std::vector<Row>& rows) {
  if (!rows.empty() && rows.front().device == "cpu")
    print_cpu_table(rows);
  else
    print_cuda_table(rows);
}

}  // namespace nocturne::bench
