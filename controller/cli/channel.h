// The client's channel to a controller: plaintext or TLS (trusting a given CA,
// optionally with a client certificate), and a bearer token sent with every
// call as "authorization: Bearer <token>".
//
// (The worker daemon has the same few lines in worker/daemon/worker_client.cc:
// controller and worker share only proto/.)
#ifndef PEFTSEARCH_CONTROLLER_CLI_CHANNEL_H_
#define PEFTSEARCH_CONTROLLER_CLI_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace peftsearch::cli {

struct ChannelOptions {
  std::string tls_ca;    // PEM file; non-empty enables TLS
  std::string tls_cert;  // PEM client certificate (with tls_key)
  std::string tls_key;
  std::string token;     // bearer token; empty sends none
};

// NOT_FOUND / INVALID_ARGUMENT naming the flag of an unreadable or non-PEM
// file, or a certificate without its key.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ChannelOptions& options);

}  // namespace peftsearch::cli

#endif  // PEFTSEARCH_CONTROLLER_CLI_CHANNEL_H_
