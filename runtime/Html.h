//===- Html.h - text for the static HTML pages PCE writes -----------------===//
#ifndef PCE_RUNTIME_HTML_H
#define PCE_RUNTIME_HTML_H

#include <string>
#include <string_view>

namespace pce::rt {

// `text` with & < > " replaced by their entities: safe inside elements and
// double-quoted attributes.
std::string escapeHtml(std::string_view text);

} // namespace pce::rt

#endif // PCE_RUNTIME_HTML_H
