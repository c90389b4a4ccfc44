// Status and Result<T>: how dlcost reports errors that input or data can cause.
//
// Errors are values, never exceptions. A function that can fail on user input or on a data
// file returns Status (no value) or Result<T> (a value or an error). Every error carries a
// code, which the CLI maps to an exit code, and a one-line message naming what was wrong
// (file, field, line).
//
//   Result<int64_t> r = ParseCount("8k", "--seq");
//   if (!r.ok()) return r.status();
//   int64_t seq = r.value();
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dlcost {

enum class StatusCode {
  kOk = 0,
  kInvalidInput,  // bad user input or data file: exit 1
  kNotFound,      // unknown name (model, GPU, offer): exit 1
  kUsage,         // wrong command-line usage: exit 2
  kInfeasible,    // nothing fits / constraints cannot be met: exit 3
  kUnavailable,   // feature or device not available here: exit 4
  kInternal,      // a bug in dlcost: exit 70
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The input the error is about: a flag ("--activations") or a file field ("hidden_size");
  // empty when none was recorded. Callers that react to an error (the CLI's hints, Python
  // exceptions) read it instead of matching the message.
  const std::string& field() const { return field_; }

  // Returns a copy with `context + ": "` put in front of the message (the field is kept).
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s(code_, context + ": " + message_);
    s.field_ = field_;
    return s;
  }

  // Returns a copy that records `field` as the input the error is about.
  Status WithField(std::string field) const {
    Status s = *this;
    if (!ok()) s.field_ = std::move(field);
    return s;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

inline Status InvalidInput(std::string m) { return Status(StatusCode::kInvalidInput, std::move(m)); }
inline Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status UsageError(std::string m) { return Status(StatusCode::kUsage, std::move(m)); }
inline Status Infeasible(std::string m) { return Status(StatusCode::kInfeasible, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }

// Process exit code for a status, as documented in the README: 0 ok, 1 bad input or data,
// 2 usage, 3 infeasible, 4 unavailable.
int ExitCodeFor(const Status& s);

// Name of a code for messages and JSON ("invalid_input", ...).
const char* StatusCodeName(StatusCode code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {      // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) {
      v_ = Status(StatusCode::kInternal, "Result built from an ok Status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  const T& value() const& { return Get(); }
  T& value() & { return Get(); }
  T&& value() && { return std::move(Get()); }
  const T& operator*() const& { return Get(); }
  T& operator*() & { return Get(); }
  const T* operator->() const { return &Get(); }
  T* operator->() { return &Get(); }

 private:
  T& Get() {
    if (!ok()) std::abort();  // a bug: value() on an error
    return std::get<T>(v_);
  }
  const T& Get() const {
    if (!ok()) std::abort();
    return std::get<T>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace dlcost

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define DLCOST_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::dlcost::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)

#define DLCOST_CONCAT_INNER(a, b) a##b
#define DLCOST_CONCAT(a, b) DLCOST_CONCAT_INNER(a, b)
// Declares `lhs` from a Result expression, returning its Status on error.
#define DLCOST_ASSIGN_OR_RETURN(lhs, expr) \
  DLCOST_ASSIGN_OR_RETURN_IMPL(DLCOST_CONCAT(_res_, __LINE__), lhs, expr)
#define DLCOST_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// Aborts on a broken internal invariant (a bug). User input must never reach a CHECK.
#define DLCOST_CHECK(cond)                                                             \
  do {                                                                                 \
    if (!(cond)) ::dlcost::internal::CheckFailed(#cond, __FILE__, __LINE__);           \
  } while (0)

namespace dlcost::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}
