// strata-placement: an EPLB-style expert placement (strataMoePlacementCompute, docs/moe.md)
// from per-expert load, written as JSON for strataMoeBufferSetPlacement and
// moe_dispatch_perf --placement FILE.
//   strata-placement load.json --ranks 8 [--slots-per-rank 9] [-o placement.json]
// The load is a JSON array of numbers, or an object with "expert_load": [...]; or CSV: numbers
// separated by commas or newlines (a header line is skipped), or "expert,load" lines under a
// two-column header. It prints the max/mean load per rank before (expert e on rank
// e x ranks / experts, no replicas) and after (a replica carrying its expert's load / replicas);
// the JSON also lists every rank's load after.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace {

bool parseNumber(const std::string& field, double* out) {
  std::string f = field;
  const size_t a = f.find_first_not_of(" \t\r");
  const size_t b = f.find_last_not_of(" \t\r");
  if (a == std::string::npos) return false;
  f = f.substr(a, b - a + 1);
  size_t used = 0;
  try {
    *out = std::stod(f, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == f.size();
}

std::vector<double> loadFromJson(const std::string& path, std::istream& in) {
  const nlohmann::json j = nlohmann::json::parse(in);
  const nlohmann::json& v = j.is_object() ? j.at("expert_load") : j;
  if (!v.is_array()) throw std::runtime_error(path + ": expected an array of per-expert loads");
  std::vector<double> load;
  for (const auto& x : v) {
    if (!x.is_number()) throw std::runtime_error(path + ": a load is not a number: " + x.dump());
    load.push_back(x.get<double>());
  }
  return load;
}

// Lines of numbers; in "expert,load" form (every line names its expert, any order) under a
// two-column header or when the first data line is "0,<load>"; else every number is the next
// expert's load.
std::vector<double> loadFromCsv(const std::string& path, std::istream& in) {
  std::vector<double> load;
  std::vector<char> given;
  std::string line;
  int lineNo = 0, pairs = -1;  // -1: not decided yet
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r,") == std::string::npos) continue;
    std::vector<double> nums;
    bool numeric = true;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) {
      double v = 0;
      if (f.find_first_not_of(" \t\r") == std::string::npos) continue;
      numeric = numeric && parseNumber(f, &v);
      nums.push_back(v);
    }
    if (!numeric) {
      if (lineNo == 1) {  // a header; two columns ("expert,load") mean expert,load lines
        if (nums.size() == 2) pairs = 1;
        continue;
      }
      throw std::runtime_error(path + ":" + std::to_string(lineNo) + ": not a number in '" + line +
                               "'");
    }
    if (pairs < 0) pairs = nums.size() == 2 && nums[0] == 0 ? 1 : 0;
    if (!pairs) {
      load.insert(load.end(), nums.begin(), nums.end());
      continue;
    }
    if (nums.size() != 2 || nums[0] < 0 ||
        nums[0] != static_cast<double>(static_cast<long>(nums[0])))
      throw std::runtime_error(path + ":" + std::to_string(lineNo) +
                               ": expected 'expert,load' with an expert id >= 0, got '" + line +
                               "'");
    const auto e = static_cast<size_t>(nums[0]);
    if (e >= load.size()) {
      load.resize(e + 1, 0.0);
      given.resize(e + 1, 0);
    }
    if (given[e])
      throw std::runtime_error(path + ":" + std::to_string(lineNo) + ": expert " +
                               std::to_string(e) + " appears twice");
    given[e] = 1;
    load[e] = nums[1];
  }
  for (size_t e = 0; e < given.size(); ++e)
    if (!given[e]) throw std::runtime_error(path + ": no load for expert " + std::to_string(e));
  return load;
}

// Rank r's load: the sum over its slots of their expert's load / the expert's replicas.
std::vector<double> rankLoads(const std::vector<double>& load, const std::vector<int32_t>& slots,
                              int nranks) {
  std::vector<int> replicas(load.size());
  for (int32_t e : slots) ++replicas[static_cast<size_t>(e)];
  std::vector<double> r(static_cast<size_t>(nranks));
  const size_t per = slots.size() / static_cast<size_t>(nranks);
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto e = static_cast<size_t>(slots[i]);
    r[i / per] += load[e] / replicas[e];
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, output, format = "auto";
  int nranks = 0, slotsPerRank = 0;
  CLI::App app{"EPLB-style MoE expert placement from per-expert load (docs/moe.md)"};
  app.add_option("load", input, "per-expert load: JSON (array or {\"expert_load\": [...]}) or CSV")
      ->required();
  app.add_option("-r,--ranks", nranks, "ranks (expert-parallel group size)")->required();
  app.add_option("-s,--slots-per-rank", slotsPerRank,
                 "physical expert slots per rank (default: experts / ranks + 1)");
  app.add_option("-o,--output", output, "write the placement JSON here (default: stdout)");
  app.add_option("--format", format, "auto (by extension), json or csv")
      ->check(CLI::IsMember({"auto", "json", "csv"}));
  CLI11_PARSE(app, argc, argv);
  try {
    std::ifstream in(input);
    if (!in) throw std::runtime_error(input + ": cannot open");
    if (format == "auto") {
      const size_t dot = input.rfind('.');
      const std::string ext = dot == std::string::npos ? "" : input.substr(dot + 1);
      format = ext == "csv" || ext == "txt" ? "csv" : "json";
    }
    const std::vector<double> load =
        format == "csv" ? loadFromCsv(input, in) : loadFromJson(input, in);
    if (load.empty()) throw std::runtime_error(input + ": no loads");
    const int experts = static_cast<int>(load.size());
    if (nranks <= 0) throw std::runtime_error("--ranks must be positive");
    if (slotsPerRank == 0) slotsPerRank = (experts + nranks - 1) / nranks + 1;
    std::vector<int32_t> slots(static_cast<size_t>(nranks) * static_cast<size_t>(slotsPerRank));
    double before = 0, after = 0;
    if (strataMoePlacementCompute(load.data(), experts, nranks, slotsPerRank, slots.data(), &before,
                                  &after) != strataSuccess)
      throw std::runtime_error(strataGetLastError(nullptr));
    nlohmann::json j;
    j["num_experts"] = experts;
    j["nranks"] = nranks;
    j["slots_per_rank"] = slotsPerRank;
    j["slot_expert"] = slots;
    j["max_mean_before"] = before;
    j["max_mean_after"] = after;
    j["rank_load_after"] = rankLoads(load, slots, nranks);
    // The report goes to stderr when the JSON goes to stdout.
    FILE* report = output.empty() ? stderr : stdout;
    std::fprintf(report, "%d experts, %d ranks, %d slots per rank (%d replicas)\n", experts, nranks,
                 slotsPerRank, nranks * slotsPerRank - experts);
    std::fprintf(report, "max/mean rank load before %.3f\n", before);
    std::fprintf(report, "max/mean rank load after  %.3f\n", after);
    if (output.empty()) {
      std::printf("%s\n", j.dump(1).c_str());
    } else {
      std::ofstream out(output);
      if (!out) throw std::runtime_error(output + ": cannot write");
      out << j.dump(1) << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata-placement: %s\n", e.what());
    return 1;
  }
  return 0;
}
