//===- CommandLine.cpp - one set of command-line rules for the PCE tools --===//

#include "tools/support/CommandLine.h"
#include "tools/support/Version.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace pce::tool {

namespace {

// Edit distance with adjacent transpositions ("--otuput" is one edit away).
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// Every spelling of every option: "--weights", "-o".
std::vector<std::string> optionSpellings(const CLI::App &app) {
  std::vector<std::string> names;
  for (const CLI::Option *opt : app.get_options()) {
    for (const std::string &l : opt->get_lnames())
      names.push_back("--" + l);
    for (const std::string &s : opt->get_snames())
      names.push_back("-" + s);
  }
  return names;
}

// "--output" for messages: the option's first long name, else its short one,
// else (a positional) its name.
std::string displayName(const CLI::Option *opt) {
  if (!opt->get_lnames().empty())
    return "--" + opt->get_lnames().front();
  if (!opt->get_snames().empty())
    return "-" + opt->get_snames().front();
  return opt->get_name();
}

// CLI11's messages start with the option's name ("--input: 1 required TEXT
// missing"); reworded in the tools' terms where we know the case.
std::string reword(const CLI::ParseError &e) {
  std::string what = e.what();
  size_t colon = what.find(": ");
  if (colon != std::string::npos && what.rfind("missing") == what.size() - 7)
    return "option '" + what.substr(0, colon) + "' needs a value";
  if (what.find("disallowed flag override") != std::string::npos) {
    std::string name = what.substr(0, what.find(' '));
    return "option '--" + name + "' takes no value";
  }
  return what;
}

} // namespace

std::optional<std::string> closestOption(const std::string &unknown, const std::vector<std::string> &known) {
  std::string name = unknown.substr(0, unknown.find('='));
  std::optional<std::string> best;
  size_t bestDistance = 0;
  for (const std::string &k : known) {
    size_t d = editDistance(name, k);
    if (!best || d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  // Close enough to be a misspelling: at most a third of the name's letters
  // (and at least 2 edits allowed, so "--wieghts" still finds "--weights").
  size_t letters = name.size() - std::min<size_t>(name.find_first_not_of('-'), name.size());
  if (!best || bestDistance > std::max<size_t>(2, letters / 3) || bestDistance >= letters)
    return std::nullopt;
  return best;
}

int reportUsageError(const std::string &tool, const std::string &message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s: %s\n(run '%s --help' for usage)\n", tool.c_str(), message.c_str(), tool.c_str());
  return kExitUsage;
}

CommandLine::CommandLine(std::string tool, std::string usage)
    : tool_(std::move(tool)), usage_(std::move(usage)), app_("", tool_) {
  app_.set_help_flag("-h,--help", "print the usage and exit");
  app_.set_version_flag("--version", versionLine(tool_), "print the version and exit");
  // Unknown arguments are collected, then reported with a suggestion.
  app_.allow_extras();
  // Repeats are counted and refused in checkAfterParse, with our message.
  app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option *CommandLine::addInteger(const std::string &name, const std::string &what, int64_t min, int64_t max,
                                     std::function<void(int64_t)> set, const std::string &description) {
  return app_.add_option_function<std::string>(
      name,
      [=](const std::string &value) {
        std::string display = name.substr(name.rfind(',') == std::string::npos ? 0 : name.rfind(',') + 1);
        char *end = nullptr;
        errno = 0;
        long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
          throw UsageError("option '" + display + "' needs " + what + ", found '" + value + "'");
        set(v);
      },
      description);
}

void CommandLine::checkAfterParse() {
  // An unknown option (with the closest known one), else an extra argument.
  std::vector<std::string> extras = app_.remaining();
  for (const std::string &e : extras)
    if (e.size() > 1 && e[0] == '-') {
      std::string message = "unknown option '" + e.substr(0, e.find('=')) + "'";
      if (auto close = closestOption(e, optionSpellings(app_)))
        message += " (did you mean '" + *close + "'?)";
      throw UsageError(message);
    }
  if (!extras.empty())
    throw UsageError("unexpected argument '" + extras.front() + "'");
  for (const CLI::Option *opt : app_.get_options()) {
    // Lists (expected_max > 1) may repeat; flags (0) and values (1) may not.
    if (opt->count() > 1 && opt->get_items_expected_max() <= 1)
      throw UsageError(opt->get_positional() && opt->get_lnames().empty() && opt->get_snames().empty()
                           ? "unexpected argument '" + opt->results().back() + "'"
                           : "option '" + displayName(opt) + "' given twice");
    if (opt->get_items_expected_max() >= 1)
      for (const std::string &r : opt->results())
        if (r.empty())
          throw UsageError("option '" + displayName(opt) + "' needs a non-empty value");
  }
}

Request CommandLine::parse(const std::vector<std::string> &args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend()); // CLI11 takes them last first
  try {
    app_.parse(reversed);
  } catch (const CLI::CallForHelp &) {
    return Request::Help;
  } catch (const CLI::CallForAllHelp &) {
    return Request::Help;
  } catch (const CLI::CallForVersion &) {
    return Request::Version;
  } catch (const CLI::ParseError &e) {
    throw UsageError(reword(e));
  }
  checkAfterParse();
  return Request::Run;
}

int CommandLine::answer(Request request) const {
  if (request == Request::Help)
    std::fputs(usage_.c_str(), stdout);
  else if (request == Request::Version)
    std::printf("%s\n", versionLine(tool_).c_str());
  return kExitSuccess;
}

std::optional<int> CommandLine::handle(int argc, char **argv, const std::function<void()> &check) {
  try {
    Request request = parse(std::vector<std::string>(argv + 1, argv + argc));
    if (request != Request::Run)
      return answer(request);
    if (check)
      check();
  } catch (const UsageError &e) {
    return reportUsageError(tool_, e.what());
  }
  return std::nullopt;
}

} // namespace pce::tool
