//===- LLVMCommandLine.cpp - --version and a short --help for llvm::cl tools //

#include "tools/support/LLVMCommandLine.h"
#include "tools/support/Version.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/raw_ostream.h"

namespace pce::tool {

void setVersionPrinter(const char *tool) {
  static std::string line;
  line = versionLine(tool);
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << line << "\n  built with LLVM " << LLVM_VERSION_STRING << "\n";
  });
}

void hideUnrelatedOptions(llvm::cl::OptionCategory &category) {
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    llvm::cl::Option *option = entry.second;
    bool keep = false;
    for (llvm::cl::OptionCategory *c : option->Categories)
      keep |= c == &category;
    // --help, --version and the --help-* family stay.
    llvm::StringRef name = option->ArgStr;
    keep |= name == "help" || name == "version" || name.starts_with("help-");
    if (!keep && option->getOptionHiddenFlag() == llvm::cl::NotHidden)
      option->setHiddenFlag(llvm::cl::Hidden);
  }
}

} // namespace pce::tool
