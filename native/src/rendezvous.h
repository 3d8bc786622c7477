#pragma once

#include <chrono>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace psd {

// The rendezvous store of a TCP process group: a key-value store that rank 0 serves and every rank (rank 0
// included) uses as a client. Unlike libtorch's TCPStore (whose server listens on every interface in 1.13), the
// server listens only on `address`: a loopback rendezvous is unreachable from other hosts. It has no
// authentication: whoever reaches address:port can read and write its keys (the README says what a
// multi-machine run trusts). `serve`: this process is rank 0 and starts the server.
c10::intrusive_ptr<c10d::Store> rendezvous_store(const std::string &address, int port, bool serve, std::chrono::milliseconds timeout);

}  // namespace psd
