//===- QuietXmlErrors.h - libxml2's generic error handler, silenced -------===//
//
// Errors libxml2 raises outside a parser context (an input encoding that
// fails to convert) go to its generic handler, stderr by default. The
// readers report every error themselves (with file:line:column), so the
// handler is silenced while they parse and restored after. libxml2 keeps
// the handler per thread: other threads are unaffected.
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_DATASETS_QUIETXMLERRORS_H
#define PCE_RUNTIME_DATASETS_QUIETXMLERRORS_H

#include <libxml/xmlerror.h>
#include <libxml/globals.h>

namespace pce::rt {

class QuietXmlErrors {
public:
  QuietXmlErrors() : old_(xmlGenericError), oldContext_(xmlGenericErrorContext) {
    xmlSetGenericErrorFunc(nullptr, ignore);
  }
  ~QuietXmlErrors() { xmlSetGenericErrorFunc(oldContext_, old_); }
  QuietXmlErrors(const QuietXmlErrors &) = delete;
  QuietXmlErrors &operator=(const QuietXmlErrors &) = delete;

private:
  static void ignore(void *, const char *, ...) {}
  xmlGenericErrorFunc old_;
  void *oldContext_;
};

} // namespace pce::rt

#endif // PCE_RUNTIME_DATASETS_QUIETXMLERRORS_H
