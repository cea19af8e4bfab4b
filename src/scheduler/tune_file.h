// Tune files (STRATA_TUNE_FILE): algorithms measured best per collective, size range, rank count
// and element width on one topology, plus optionally the α and bandwidth fitted per level. JSON:
//   {"version": 1, "fingerprint": "8r-1l-...", "topology": "hccs-8",
//    "levels": [{"level": 0, "alphaUs": 1.4, "gbps": 27.5}],
//    "entries": [{"collective": "allreduce", "minBytes": 0, "maxBytes": 65536, "ranks": 8,
//                 "dtype": "any", "algorithm": "oneshot", "params": {"chunk": 262144},
//                 "timeUs": 1.58}]}
// A file is read once per communicator at init; one made for another topology fingerprint is
// refused (the communicator warns and selects by the model). docs/tuning.md has the format.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "scheduler/tune_string.h"
#include "topology/topology.h"

namespace strata {

inline constexpr int kTuneFileVersion = 1;

// One level's α and bandwidth as a tuner fitted them; they replace the topology's in the model.
struct FittedLevel {
  int level = 0;
  double alphaUs = 0;
  double gbps = 0;

  bool operator==(const FittedLevel&) const = default;
};

struct TuneFile {
  std::string fingerprint;   // topologyFingerprint() of the topology it was measured on
  std::string topologyName;  // for messages only
  std::vector<FittedLevel> levels;
  TuneTable table;  // the entries in file order
};

// Parses a tune file's text. Every refusal is an InvalidArgument naming `source` (the path), the
// JSON pointer of the offending value (entries as /entries/<index>/...) and the problem: bad JSON,
// wrong types, unknown keys, an unsupported version, an unknown collective or algorithm (listing
// the valid ones), negative or inverted ranges, entries that overlap another (naming both).
Result<TuneFile> parseTuneFile(const std::string& text, const std::string& source);

// parseTuneFile of the file at `path`.
Result<TuneFile> readTuneFile(const std::string& path);

// The file's JSON text, as parseTuneFile reads it back.
std::string tuneFileToJson(const TuneFile& f);

// What a communicator on `topo` takes from the file at `path` (empty: nothing).
struct TuneFileUse {
  std::shared_ptr<const TuneTable> table;  // null: no file, or the file was refused
  std::vector<FittedLevel> levels;
  std::string refusal;  // why the file was refused (another topology's), "" otherwise
};

// Reports a refusal once per process and message: through the log at WARN when logging is on,
// else straight to stderr (the file was asked for, so its refusal is never silent).
void warnTuneFileRefused(const std::string& refusal);

// Reads the file at `path` for `topo`. A malformed file is an error; a file made for another
// topology is refused: the result names both fingerprints in `refusal` and holds no table.
Result<TuneFileUse> tuneFileFor(const std::string& path, const Topology& topo);

}  // namespace strata
