// How any client reaches the API: channel credentials from PEM files and a
// bearer token on every call. Shared by the CLI and the worker daemon, which
// meet only through proto/.
#ifndef PEFTSEARCH_PROTO_CLIENT_CHANNEL_H_
#define PEFTSEARCH_PROTO_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace peftsearch::client {

// Checks that a client certificate comes with its key and a CA to trust.
// INVALID_ARGUMENT names the flags.
absl::Status CheckTlsFlags(const std::string& tls_ca, const std::string& tls_cert,
                           const std::string& tls_key);

// Reads the PEM file at `path` into *out (an empty path reads nothing).
// NOT_FOUND or INVALID_ARGUMENT name `flag` and the path.
absl::Status ReadPemFile(const char* flag, const std::string& path, std::string* out);

// TLS credentials trusting `ca_pem` (with a client certificate when given), or
// plaintext when `ca_pem` is empty.
std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(const std::string& ca_pem,
                                                          const std::string& cert_pem,
                                                          const std::string& key_pem);

// A channel that sends "authorization: Bearer <token>" with every call (none
// when `token` is empty).
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target,
                                             std::shared_ptr<grpc::ChannelCredentials> credentials,
                                             const grpc::ChannelArguments& args,
                                             const std::string& token);

}  // namespace peftsearch::client

#endif  // PEFTSEARCH_PROTO_CLIENT_CHANNEL_H_
