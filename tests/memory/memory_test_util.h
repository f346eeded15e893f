// Helpers of the memory-network tests: the message of a failing call.
#pragma once

#include <string>

#include "base/error.h"

namespace attnscale::testing {

// The what() of the attnscale::Error f throws ("" when it throws none).
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace attnscale::testing
