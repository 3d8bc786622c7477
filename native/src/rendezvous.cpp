// The rendezvous store (rendezvous.h): a small request/reply protocol over TCP, one request at a time per
// connection. A request is an op byte and its arguments; a reply is a status byte (0 ok, 1 error) and either the
// result or the error's message. Integers are 8 bytes little-endian; keys and values are a length and bytes.
// The server holds the keys in memory and waits on a condition variable for keys that are not there yet.

#include "rendezvous.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace psd {
namespace {

using Millis = std::chrono::milliseconds;
using Bytes = std::vector<uint8_t>;

enum Op : uint8_t { SET = 1, GET = 2, ADD = 3, CHECK = 4, DELETE_KEY = 5, NUM_KEYS = 6, COMPARE_SET = 7, WAIT = 8 };

// What one request may carry: a hostile or broken peer cannot make the server allocate without bound.
constexpr uint64_t MAX_KEY = 64 * 1024, MAX_VALUE = 256ull << 20, MAX_KEYS = 64 * 1024;

std::string error_text(const std::string &what) { return what + ": " + std::strerror(errno); }

void send_all(int fd, const uint8_t *data, size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(error_text("rendezvous store: send failed"));
    }
    data += sent;
    size -= static_cast<size_t>(sent);
  }
}

// false when the peer closed the connection before the first byte (allowed only where `eof_ok`).
bool receive_all(int fd, uint8_t *data, size_t size, bool eof_ok = false) {
  size_t done = 0;
  while (done < size) {
    ssize_t got = ::recv(fd, data + done, size - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(error_text("rendezvous store: receive failed"));
    }
    if (got == 0) {
      if (eof_ok && done == 0) return false;
      throw std::runtime_error("rendezvous store: the connection closed");
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

// A message being built, sent in one piece.
struct Message {
  Bytes bytes;
  Message &u8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Message &i64(int64_t v) {
    for (int i = 0; i < 8; i++) bytes.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
    return *this;
  }
  Message &data(const uint8_t *p, size_t n) {
    i64(static_cast<int64_t>(n));
    bytes.insert(bytes.end(), p, p + n);
    return *this;
  }
  Message &blob(const Bytes &v) { return data(v.data(), v.size()); }
  Message &text(const std::string &s) { return data(reinterpret_cast<const uint8_t *>(s.data()), s.size()); }
  Message &keys(const std::vector<std::string> &ks) {
    i64(static_cast<int64_t>(ks.size()));
    for (const auto &k : ks) text(k);
    return *this;
  }
  void send(int fd) const { send_all(fd, bytes.data(), bytes.size()); }
};

int64_t read_i64(int fd) {
  uint8_t b[8];
  receive_all(fd, b, 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= static_cast<uint64_t>(b[i]) << (8 * i);
  return static_cast<int64_t>(v);
}

uint8_t read_u8(int fd) {
  uint8_t v;
  receive_all(fd, &v, 1);
  return v;
}

Bytes read_blob(int fd, uint64_t limit, const char *what) {
  int64_t n = read_i64(fd);
  if (n < 0 || static_cast<uint64_t>(n) > limit)
    throw std::runtime_error(std::string("rendezvous store: a ") + what + " of " + std::to_string(n) + " bytes (at most " + std::to_string(limit) + ")");
  Bytes v(static_cast<size_t>(n));
  if (n > 0) receive_all(fd, v.data(), v.size());
  return v;
}

std::string read_key(int fd) {
  Bytes k = read_blob(fd, MAX_KEY, "key");
  return std::string(k.begin(), k.end());
}

std::vector<std::string> read_keys(int fd) {
  int64_t n = read_i64(fd);
  if (n < 0 || static_cast<uint64_t>(n) > MAX_KEYS) throw std::runtime_error("rendezvous store: " + std::to_string(n) + " keys in one request");
  std::vector<std::string> ks;
  for (int64_t i = 0; i < n; i++) ks.push_back(read_key(fd));
  return ks;
}

// Resolves address:port (numeric port) into the candidates to bind or connect to.
struct Addresses {
  addrinfo *list = nullptr;
  Addresses(const std::string &address, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (rc != 0) throw std::runtime_error("cannot resolve '" + address + "': " + ::gai_strerror(rc));
  }
  ~Addresses() {
    if (list != nullptr) ::freeaddrinfo(list);
  }
  Addresses(const Addresses &) = delete;
  Addresses &operator=(const Addresses &) = delete;
};

class Server {
  // One peer's connection: its descriptor (closed by its own thread, -1 then) and the thread that serves it.
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  static constexpr size_t MAX_CONNECTIONS = 1024;

 public:
  Server(const std::string &address, int port) {
    Addresses candidates(address, port);
    std::string why = "no address";
    for (addrinfo *a = candidates.list; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        why = error_text("socket");
        continue;
      }
      int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
        why = error_text("bind/listen");
        ::close(fd);
        continue;
      }
      listen_fd_ = fd;  // this exact address only: never the wildcard
    }
    if (listen_fd_ < 0) throw std::runtime_error(why);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~Server() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (acceptor_.joinable()) acceptor_.join();  // no connection is added after this
    {
      std::lock_guard<std::mutex> lock(connections_mutex_);
      for (auto &c : connections_)
        if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);  // wakes the threads blocked in recv
    }
    for (auto &c : connections_) c->thread.join();  // each closes its own descriptor
    ::close(listen_fd_);
  }

  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

 private:
  void accept_loop() {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
      }
      pollfd p{listen_fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 100);
      if (ready <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      reap();
      std::lock_guard<std::mutex> lock(connections_mutex_);
      if (connections_.size() >= MAX_CONNECTIONS) {  // a peer opening connections without end gets no more
        ::close(fd);
        continue;
      }
      auto connection = std::make_unique<Connection>();
      connection->fd = fd;
      Connection *c = connection.get();
      connections_.push_back(std::move(connection));
      c->thread = std::thread([this, c] { serve(c); });
    }
  }

  // Joins and forgets the connections whose peers have gone (their threads closed their descriptors).
  void reap() {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done.load()) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // One connection's requests until it closes; a malformed request ends the connection, never the process.
  void serve(Connection *c) {
    try {
      uint8_t op;
      while (receive_all(c->fd, &op, 1, true)) answer(c->fd, op);
    } catch (const std::exception &) {
      // end the connection in order: our FIN first, then what the peer still sends (a close with unread bytes
      // would reset the connection), for at most a second and 1 MiB
      ::shutdown(c->fd, SHUT_WR);
      timeval wait{1, 0};
      ::setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
      char rest[4096];
      size_t drained = 0;
      for (ssize_t n; drained < (1u << 20) && (n = ::recv(c->fd, rest, sizeof rest, 0)) > 0;) drained += static_cast<size_t>(n);
    }
    {
      std::lock_guard<std::mutex> lock(connections_mutex_);  // the destructor shuts descriptors down under this lock
      ::close(c->fd);
      c->fd = -1;
    }
    c->done.store(true);
  }

  // Waits until every key is present; false on timeout or when the server stops.
  bool await_keys(std::unique_lock<std::mutex> &lock, const std::vector<std::string> &keys, Millis timeout) {
    auto present = [&] {
      for (const auto &k : keys)
        if (values_.find(k) == values_.end()) return false;
      return true;
    };
    changed_.wait_for(lock, timeout, [&] { return stopping_ || present(); });
    return !stopping_ && present();
  }

  static std::string names(const std::vector<std::string> &keys) {
    std::string s;
    for (const auto &k : keys) s += (s.empty() ? "'" : ", '") + k + "'";
    return s;
  }

  void answer(int fd, uint8_t op) {
    Message reply;
    switch (op) {
      case SET: {
        std::string key = read_key(fd);
        Bytes value = read_blob(fd, MAX_VALUE, "value");
        {
          std::lock_guard<std::mutex> lock(mutex_);
          values_[key] = std::move(value);
        }
        changed_.notify_all();
        reply.u8(0);
        break;
      }
      case GET:
      case WAIT: {
        std::vector<std::string> keys = op == GET ? std::vector<std::string>{read_key(fd)} : read_keys(fd);
        Millis timeout(std::min<int64_t>(std::max<int64_t>(read_i64(fd), 0), 24LL * 3600 * 1000));  // a day at most
        std::unique_lock<std::mutex> lock(mutex_);
        if (!await_keys(lock, keys, timeout)) {
          reply.u8(1).text(stopping_ ? std::string("the rendezvous store stopped")
                                     : "timed out after " + std::to_string(timeout.count()) + " ms waiting for key(s) " + names(keys));
        } else if (op == GET) {
          reply.u8(0).blob(values_[keys[0]]);
        } else {
          reply.u8(0);
        }
        break;
      }
      case ADD: {
        std::string key = read_key(fd);
        int64_t delta = read_i64(fd);
        int64_t sum;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          auto it = values_.find(key);
          int64_t current = it == values_.end() ? 0 : std::stoll(std::string(it->second.begin(), it->second.end()));
          sum = current + delta;
          std::string text = std::to_string(sum);  // as c10d's stores keep counters: decimal text
          values_[key] = Bytes(text.begin(), text.end());
        }
        changed_.notify_all();
        reply.u8(0).i64(sum);
        break;
      }
      case CHECK: {
        std::vector<std::string> keys = read_keys(fd);
        std::lock_guard<std::mutex> lock(mutex_);
        bool all = true;
        for (const auto &k : keys) all = all && values_.count(k) > 0;
        reply.u8(0).u8(all ? 1 : 0);
        break;
      }
      case DELETE_KEY: {
        std::string key = read_key(fd);
        std::lock_guard<std::mutex> lock(mutex_);
        reply.u8(0).u8(values_.erase(key) > 0 ? 1 : 0);
        break;
      }
      case NUM_KEYS: {
        std::lock_guard<std::mutex> lock(mutex_);
        reply.u8(0).i64(static_cast<int64_t>(values_.size()));
        break;
      }
      case COMPARE_SET: {
        std::string key = read_key(fd);
        Bytes expected = read_blob(fd, MAX_VALUE, "value");
        Bytes desired = read_blob(fd, MAX_VALUE, "value");
        Bytes result;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          auto it = values_.find(key);
          // c10d's semantics: a missing key is set only when the expected value is empty
          if (it == values_.end()) {
            if (expected.empty()) values_[key] = result = desired;
            else result = expected;
          } else if (it->second == expected) {
            it->second = result = desired;
          } else {
            result = it->second;
          }
        }
        changed_.notify_all();
        reply.u8(0).blob(result);
        break;
      }
      default:
        throw std::runtime_error("rendezvous store: unknown request " + std::to_string(op));
    }
    reply.send(fd);
  }

  int listen_fd_ = -1;
  std::thread acceptor_;
  std::mutex connections_mutex_;
  std::list<std::unique_ptr<Connection>> connections_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Bytes> values_;
  bool stopping_ = false;
};

class Client : public c10d::Store {
 public:
  Client(std::string address, int port, Millis timeout, std::shared_ptr<Server> server)
      : c10d::Store(timeout), address_(std::move(address)), port_(port), server_(std::move(server)) {
    connect_until(std::chrono::steady_clock::now() + timeout);
  }

  ~Client() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Another connection to the same store (libtorch 2.x's Store::clone; unused by 1.13).
  c10::intrusive_ptr<c10d::Store> clone() { return c10::make_intrusive<Client>(address_, port_, timeout_, server_); }

  void set(const std::string &key, const std::vector<uint8_t> &value) override {
    call(Message().u8(SET).text(key).blob(value));
  }

  std::vector<uint8_t> compareSet(const std::string &key, const std::vector<uint8_t> &expected, const std::vector<uint8_t> &desired) override {
    return call(Message().u8(COMPARE_SET).text(key).blob(expected).blob(desired), [&] { return read_blob(fd_, MAX_VALUE, "value"); });
  }

  std::vector<uint8_t> get(const std::string &key) override {
    return call(Message().u8(GET).text(key).i64(timeout_.count()), [&] { return read_blob(fd_, MAX_VALUE, "value"); });
  }

  int64_t add(const std::string &key, int64_t value) override {
    return call(Message().u8(ADD).text(key).i64(value), [&] { return read_i64(fd_); });
  }

  bool deleteKey(const std::string &key) override {
    return call(Message().u8(DELETE_KEY).text(key), [&] { return read_u8(fd_) != 0; });
  }

  bool check(const std::vector<std::string> &keys) override {
    return call(Message().u8(CHECK).keys(keys), [&] { return read_u8(fd_) != 0; });
  }

  int64_t getNumKeys() override {
    return call(Message().u8(NUM_KEYS), [&] { return read_i64(fd_); });
  }

  void wait(const std::vector<std::string> &keys) override { wait(keys, timeout_); }

  void wait(const std::vector<std::string> &keys, const Millis &timeout) override {
    call(Message().u8(WAIT).keys(keys).i64(timeout.count()));
  }

 private:
  void connect_until(std::chrono::steady_clock::time_point deadline) {
    std::string why;
    while (true) {
      Addresses candidates(address_, port_);
      for (addrinfo *a = candidates.list; a != nullptr; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          int on = 1;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          fd_ = fd;
          return;
        }
        why = error_text("connect");
        ::close(fd);
      }
      if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error(why.empty() ? "no address to connect to" : why);
      std::this_thread::sleep_for(Millis(50));  // rank 0 may not listen yet
    }
  }

  void call(const Message &request) {
    call(request, [] { return 0; });
  }

  template <class Read>
  auto call(const Message &request, Read read) -> decltype(read()) {
    std::lock_guard<std::mutex> lock(mutex_);
    request.send(fd_);
    if (read_u8(fd_) != 0) {
      Bytes message = read_blob(fd_, MAX_KEY, "message");
      throw std::runtime_error(std::string(message.begin(), message.end()));
    }
    return read();
  }

  std::string address_;
  int port_;
  std::shared_ptr<Server> server_;  // rank 0's: the server lives as long as a client of this process does
  int fd_ = -1;
  std::mutex mutex_;
};

}  // namespace

c10::intrusive_ptr<c10d::Store> rendezvous_store(const std::string &address, int port, bool serve, std::chrono::milliseconds timeout) {
  std::shared_ptr<Server> server = serve ? std::make_shared<Server>(address, port) : nullptr;
  return c10::make_intrusive<Client>(address, port, timeout, server);
}

}  // namespace psd
