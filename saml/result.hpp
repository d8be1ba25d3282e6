// Error results instead of exceptions: everything here is called from nginx's C code.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sso {

// Why a SAML operation failed. The code picks the HTTP status; the reason is the log line.
enum class SamlError {
    config,            // bad key, certificate or metadata: reported by nginx -t
    bad_request,       // malformed input: base64, XML, missing fields
    invalid_response,  // well-formed but not acceptable: signature, audience, time, ...
    internal,          // Lasso or allocation failure on our side
};

struct Error {
    SamlError code;
    std::string reason;
    std::string subject;  // which input (e.g. "key", "certificate", "idp_metadata"), for config errors
};

template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T* operator->() { return &std::get<0>(v_); }
    T& operator*() { return std::get<0>(v_); }
    const T& operator*() const { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

inline Error fail(SamlError code, std::string reason, std::string subject = {}) {
    return Error{code, std::move(reason), std::move(subject)};
}

}  // namespace sso
