// nibble reports every failure as nibble::Error, whose message is one line that
// says where (file, node) and what was expected. Callers never see a crash.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nibble {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates anything streamable: Cat("node '", name, "': expected ", n).
template <class... A>
std::string Cat(const A&... a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}

template <class... A>
[[noreturn]] void Fail(const A&... a) {
  throw Error(Cat(a...));
}

}  // namespace nibble

#define NIBBLE_CHECK(cond, ...)                  \
  do {                                           \
    if (!(cond)) ::nibble::Fail(__VA_ARGS__);    \
  } while (0)
