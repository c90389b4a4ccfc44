// Text escaped for HTML and SVG (report-internal): the five characters markup gives a meaning.
#pragma once

#include <string>

namespace dlcost::report {

inline std::string MarkupEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace dlcost::report
