#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace strata::tune {

Progress::Progress(double total, bool quiet)
    : total_(std::max(total, 1e-9)),
      quiet_(quiet),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

std::string Progress::duration(double s) {
  const long t = std::lround(std::max(0.0, s));
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::draw(const std::string& what) {
  const double frac = std::min(1.0, done_ / total_);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string eta =
      done_ > 0 ? duration(elapsed * (total_ - done_) / done_) : std::string("?");
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string label = what.substr(0, 40);
    std::fprintf(stderr, "\r[%s] %3d%%  ETA %-7s %s\x1b[K", bar.c_str(),
                 static_cast<int>(frac * 100), eta.c_str(), label.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "strata-tune: %3d%% (ETA %s) %s\n", static_cast<int>(frac * 100),
                 eta.c_str(), what.c_str());
  }
  std::fflush(stderr);
}

void Progress::advance(double units, const std::string& what) {
  done_ += units;
  if (!quiet_) draw(what);
}

void Progress::note(const std::string& line) {
  if (quiet_) return;
  if (tty_ && drawn_) std::fprintf(stderr, "\r\x1b[K");
  std::fprintf(stderr, "strata-tune: %s\n", line.c_str());
  drawn_ = false;
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\x1b[K");
  drawn_ = false;
  std::fflush(stderr);
}

}  // namespace strata::tune
