//===- Log.cpp - log.jsonl and the terminal progress line -----------------===//

#include "runtime/train/Log.h"

#include "runtime/train/Checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace pce::train {

std::vector<rt::JsonValue> RunLog::entries() const {
  if (!std::filesystem::exists(path_))
    return {};
  auto lines = rt::readJsonLines(path_);
  if (!lines)
    throw std::runtime_error(lines.error());
  return std::move(*lines);
}

void RunLog::truncateAfter(int64_t epoch) {
  std::string text;
  for (const rt::JsonValue &v : entries()) {
    const rt::JsonValue *e = v.find("epoch");
    if (e && e->intValue() <= epoch)
      text += rt::writeJson(v) + "\n";
  }
  writeTextAtomic(path_, text);
}

void RunLog::append(const rt::JsonValue &entry) {
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  out << rt::writeJson(entry) << "\n";
  out.flush();
  if (!out)
    throw std::runtime_error("cannot append to " + path_);
}

Progress::Progress(std::FILE *out, int64_t every) : out_(out), tty_(isatty(fileno(out)) != 0), every_(every) {}

void Progress::update(const std::string &text, int64_t batch, int64_t batches) {
  if (tty_) {
    auto now = std::chrono::steady_clock::now();
    if (batch != batches && now - lastDraw_ < std::chrono::milliseconds(100))
      return;
    lastDraw_ = now;
    std::fprintf(out_, "\r%s\033[K", text.c_str());
    pending_ = true;
  } else {
    int64_t every = every_ > 0 ? every_ : std::max<int64_t>(1, batches / 10);
    if (batch % every != 0 && batch != batches)
      return;
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void Progress::line(const std::string &text) {
  if (pending_)
    std::fprintf(out_, "\r\033[K");
  pending_ = false;
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

rt::JsonValue phaseSummaries(const std::vector<rt::JsonValue> &entries, const std::vector<rt::Phase> &phases) {
  using rt::JsonValue;
  JsonValue out = JsonValue::array();
  for (size_t q = 0; q < phases.size(); ++q) {
    JsonValue p = JsonValue::object();
    p.set("phase", JsonValue::integer(static_cast<int64_t>(q) + 1));
    p.set("artifact", JsonValue::string(phases[q].artifact));
    p.set("epochs", JsonValue::integer(phases[q].epochs));
    bool first = true;
    for (const JsonValue &e : entries) {
      const JsonValue *ev = e.find("event"), *ph = e.find("phase");
      if (!ev || !ev->getString() || *ev->getString() != "epoch" || !ph || ph->intValue() != static_cast<int64_t>(q) + 1)
        continue;
      // The routing after the phase's first epoch, beside its last ("layers"):
      // how far a switch moved the experts' specialisation.
      if (const JsonValue *layers = e.find("layers"); layers && first)
        p.set("first_epoch_layers", *layers);
      first = false;
      for (const char *key : {"epoch", "val_top1", "val_top5", "val_miou", "val_map11", "val_map_all", "layers"})
        if (const JsonValue *v = e.find(key))
          p.set(key == std::string("epoch") ? "final_epoch" : key, *v);
    }
    out.push(std::move(p));
  }
  return out;
}

} // namespace pce::train
