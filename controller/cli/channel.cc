#include "controller/cli/channel.h"

#include "proto/client_channel.h"

namespace peftsearch::cli {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ChannelOptions& options) {
  if (absl::Status s = client::CheckTlsFlags(options.tls_ca, options.tls_cert, options.tls_key);
      !s.ok()) {
    return s;
  }
  std::string ca, cert, key;
  absl::Status s = client::ReadPemFile("--tls-ca", options.tls_ca, &ca);
  if (s.ok()) s = client::ReadPemFile("--tls-cert", options.tls_cert, &cert);
  if (s.ok()) s = client::ReadPemFile("--tls-key", options.tls_key, &key);
  if (!s.ok()) return s;
  return client::CreateChannel(target, client::MakeCredentials(ca, cert, key),
                               grpc::ChannelArguments(), options.token);
}

}  // namespace peftsearch::cli
