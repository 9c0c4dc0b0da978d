#include "data/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>

namespace nibble {
namespace {

Progress::Mode ResolveMode(Progress::Mode asked, std::FILE* out) {
  if (asked != Progress::Mode::kAuto) return asked;
  if (const char* env = std::getenv("NIBBLE_PROGRESS")) {
    if (!std::strcmp(env, "off") || !std::strcmp(env, "0")) return Progress::Mode::kOff;
    if (!std::strcmp(env, "bar")) return Progress::Mode::kBar;
    if (!std::strcmp(env, "summary")) return Progress::Mode::kSummary;
  }
  return isatty(fileno(out)) ? Progress::Mode::kBar : Progress::Mode::kSummary;
}

int TerminalColumns(std::FILE* out) {
  struct winsize ws;
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::string FormatRate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, r >= 100 ? "%.0f/s" : r >= 10 ? "%.1f/s" : "%.2f/s", r);
  return buf;
}

}  // namespace

std::string FormatDuration(double seconds) {
  int64_t s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

Progress::Progress(std::string label, int64_t total) : Progress(std::move(label), total, Options{}) {}

Progress::Progress(std::string label, int64_t total, const Options& options)
    : label_(std::move(label)),
      total_(total),
      options_(options),
      out_(options.out ? options.out : stderr),
      uncaught_at_start_(std::uncaught_exceptions()) {
  mode_ = ResolveMode(options.mode, out_);
  start_ = last_tick_ = last_draw_ = Clock::now();
  // Only the bar needs the clock while running.
  countdown_ = stride_ = mode_ == Mode::kBar ? 1 : INT64_MAX;
}

Progress::~Progress() {
  if (finished_) return;
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    // Leave the partial line visible and let the error print on its own line.
    if (drawn_) std::fputc('\n', out_), std::fflush(out_);
    finished_ = true;
    return;
  }
  Finish();
}

void Progress::Tick() {
  if (mode_ != Mode::kBar) {
    countdown_ = INT64_MAX;
    return;
  }
  Clock::time_point now = Clock::now();
  // Aim at one clock read every ~10 ms whatever the loop's speed.
  double dt = std::chrono::duration<double>(now - last_tick_).count();
  if (dt < 0.005 && stride_ < (int64_t{1} << 24))
    stride_ *= 2;
  else if (dt > 0.02 && stride_ > 1)
    stride_ /= 2;
  last_tick_ = now;
  countdown_ = stride_;
  if (Elapsed(now) < options_.first_draw_after_s) return;
  if (drawn_ && std::chrono::duration<double>(now - last_draw_).count() < options_.min_redraw_interval_s) return;
  last_draw_ = now;
  Draw(false);
}

std::string Progress::StatusText() const {
  double elapsed = Elapsed(Clock::now());
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  std::ostringstream s;
  s << label_ << ' ';
  if (total_ > 0)
    s << done_ << '/' << total_ << ' ' << static_cast<int>(std::clamp(100.0 * done_ / total_, 0.0, 100.0)) << '%';
  else
    s << done_ << " done";
  s << ' ' << FormatDuration(elapsed) << " elapsed";
  if (!finished_ && total_ > 0 && done_ < total_)
    s << " ETA " << (done_ > 0 && rate > 0 ? FormatDuration((total_ - done_) / rate) : std::string("?"));
  if (done_ > 0 && elapsed > 0) s << ' ' << FormatRate(rate);
  return s.str();
}

void Progress::Draw(bool final_line) {
  std::string status = StatusText();
  std::string line = status;
  if (total_ > 0) {
    // A bar between the label and the numbers, its width fixed on first draw
    // (from the widest the numbers get) so it does not jitter.
    if (bar_width_ < 0) {
      int widest = static_cast<int>(label_.size() + 2 * std::to_string(total_).size()) + 45;
      int room = TerminalColumns(out_) - 1 - widest - 3;
      bar_width_ = room >= 10 ? std::min(room, 30) : 0;
    }
    if (bar_width_ > 0) {
      int fill = static_cast<int>(std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0) * bar_width_);
      line = label_;
      line += " [";
      line.append(fill, '#');
      line.append(bar_width_ - fill, '.');
      line += "] ";
      line += status.substr(label_.size() + 1);
    }
  }
  std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), final_line ? "\n" : "");
  std::fflush(out_);
  drawn_ = true;
  ++redraws_;
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  double elapsed = Elapsed(Clock::now());
  if (mode_ == Mode::kBar) {
    if (drawn_ || elapsed >= options_.first_draw_after_s) Draw(true);
  } else if (mode_ == Mode::kSummary && elapsed >= options_.summary_after_s) {
    std::fprintf(out_, "%s\n", StatusText().c_str());
    std::fflush(out_);
  }
}

}  // namespace nibble
