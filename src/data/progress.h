// A progress line for anything that takes more than a second or two:
//
//   Progress p("calibrating", n);
//   for (int64_t i = 0; i < n; ++i) { ...; p.Update(i + 1); }
//   p.Finish();
//
// On a terminal it redraws one line on stderr (count/total, percent, elapsed,
// ETA, rate) at most 10 times a second, starting after half a second so quick
// jobs print nothing. Elsewhere (logs, pipes) it stays silent until Finish(),
// then prints one summary line if the job took at least a second.
// NIBBLE_PROGRESS=off|bar|summary overrides the automatic choice.
// Update() costs a decrement and a compare on most calls (it reads the clock
// only every few calls, adaptively), so tight loops may call it freely. It is
// not thread-safe: call it from one thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace nibble {

class Progress {
 public:
  enum class Mode { kAuto, kBar, kSummary, kOff };
  struct Options {
    Mode mode = Mode::kAuto;
    std::FILE* out = nullptr;             // nullptr = stderr
    double first_draw_after_s = 0.5;      // bar mode: stay quiet for quick jobs
    double summary_after_s = 1.0;         // summary mode: only for jobs this long
    double min_redraw_interval_s = 0.1;   // at most 10 redraws a second
  };

  // total <= 0: unknown (no percentage or ETA).
  Progress(std::string label, int64_t total);
  Progress(std::string label, int64_t total, const Options& options);
  // Finishes, unless an exception is unwinding (then just ends the line).
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` items are complete.
  void Update(int64_t done) {
    done_ = done;
    if (--countdown_ <= 0) Tick();
  }
  void Increment(int64_t n = 1) { Update(done_ + n); }
  // Final line (or summary); later calls do nothing.
  void Finish();

  Mode mode() const { return mode_; }
  int64_t redraws() const { return redraws_; }
  // The status text without bar or control characters, e.g.
  // "calibrating 450/1000 45% 0:12 elapsed ETA 0:15 37.5/s".
  std::string StatusText() const;

 private:
  using Clock = std::chrono::steady_clock;
  void Tick();
  void Draw(bool final_line);
  double Elapsed(Clock::time_point now) const { return std::chrono::duration<double>(now - start_).count(); }

  std::string label_;
  int64_t total_;
  Options options_;
  Mode mode_;
  std::FILE* out_;
  int uncaught_at_start_;

  int64_t done_ = 0;
  int64_t countdown_ = 1;  // Update() calls left before the next clock read
  int64_t stride_ = 1;
  Clock::time_point start_, last_tick_, last_draw_;
  int bar_width_ = -1;  // chosen on first draw
  bool drawn_ = false;
  bool finished_ = false;
  int64_t redraws_ = 0;
};

// "1:05", "1:02:03".
std::string FormatDuration(double seconds);

}  // namespace nibble
