#include "transports/ucx/ucx_transport.h"

#include <ucp/api/ucp.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "base/logging.h"

namespace strata {
namespace {

std::string ucxError(const char* what, ucs_status_t s) {
  return format("%s: %s", what, ucs_status_string(s));
}

// True when the machine has RDMA devices (which UCX would use for zero-copy rendezvous).
bool haveRdmaDevices() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/sys/class/infiniband", ec);
  return !ec && it != std::filesystem::directory_iterator();
}

FabricEvent eventOf(ucs_status_t s) {
  if (s == UCS_OK) return FabricEvent::kDone;
  if (s == UCS_ERR_CANCELED) return FabricEvent::kCancelled;
  return FabricEvent::kFailed;
}

class UcxFabric final : public TaggedFabric {
 public:
  UcxFabric() = default;
  UcxFabric(const UcxFabric&) = delete;
  UcxFabric& operator=(const UcxFabric&) = delete;

  ~UcxFabric() override {
    Deadline d = Deadline::afterMs(1000);
    closeAll(/*force=*/true, d);
    if (worker_) ucp_worker_destroy(worker_);
    if (context_) ucp_cleanup(context_);
  }

  Status open() {
    ucp_config_t* config = nullptr;
    ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
    if (s != UCS_OK)
      return makeError(strataSystemError, "%s", ucxError("ucp_config_read", s).c_str());
    // Every chunk finds its receive posted in advance (credits), so over TCP a rendezvous
    // handshake only adds round trips: send eagerly unless the user chose otherwise or RDMA
    // devices make zero-copy rendezvous worth it.
    if (std::getenv("UCX_RNDV_THRESH") == nullptr && !haveRdmaDevices())
      ucp_config_modify(config, "RNDV_THRESH", "inf");
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG;
    s = ucp_init(&params, config, &context_);
    ucp_config_release(config);
    if (s != UCS_OK) return makeError(strataSystemError, "%s", ucxError("ucp_init", s).c_str());

    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SERIALIZED;  // one thread at a time, under our lock
    s = ucp_worker_create(context_, &wp, &worker_);
    if (s != UCS_OK)
      return makeError(strataSystemError, "%s", ucxError("ucp_worker_create", s).c_str());

    ucp_address_t* addr = nullptr;
    size_t len = 0;
    s = ucp_worker_get_address(worker_, &addr, &len);
    if (s != UCS_OK)
      return makeError(strataSystemError, "%s", ucxError("ucp_worker_get_address", s).c_str());
    address_.assign(reinterpret_cast<const char*>(addr), len);
    ucp_worker_release_address(worker_, addr);
    return Status::ok();
  }

  const char* name() const override { return "ucx"; }

  std::string describe() const override {
    unsigned major = 0, minor = 0, release = 0;
    ucp_get_version(&major, &minor, &release);
    std::string out = format("UCX %u.%u.%u", major, minor, release);
    for (const char* var : {"UCX_TLS", "UCX_NET_DEVICES"})
      if (const char* v = std::getenv(var); v != nullptr && *v != '\0')
        out += format(", %s=%s", var, v);
    return out;
  }

  std::string address() const override { return address_; }
  void setSink(FabricSink* sink) override { sink_ = sink; }
  Status registerMemory(void*, size_t) override { return Status::ok(); }  // UCX registers lazily

  Status connect(int peer, const std::string& address) override {
    auto& pe = peers_[peer];
    pe = std::make_unique<PeerEp>();
    pe->fabric = this;
    pe->peer = peer;
    ucp_ep_params_t ep{};
    ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                    UCP_EP_PARAM_FIELD_ERR_HANDLER;
    ep.address = reinterpret_cast<const ucp_address_t*>(address.data());
    ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    ep.err_handler.cb = &UcxFabric::onEpError;
    ep.err_handler.arg = pe.get();
    ucs_status_t s = ucp_ep_create(worker_, &ep, &pe->ep);
    if (s != UCS_OK) {
      pe->ep = nullptr;
      return makeError(strataSystemError, "ucx transport: endpoint to rank %d: %s", peer,
                       ucs_status_string(s));
    }
    return Status::ok();
  }

  Result<Posted> send(int peer, uint64_t tag, const void* buf, size_t bytes,
                      FabricOp* op) override {
    auto it = peers_.find(peer);
    if (it == peers_.end() || it->second->ep == nullptr)
      return makeError(strataRemoteError, "endpoint closed");
    op->scratch[0] = this;
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.send = &UcxFabric::onSend;
    p.user_data = op;
    ucs_status_ptr_t r = ucp_tag_send_nbx(it->second->ep, buf, bytes, tag, &p);
    if (r == nullptr) return Posted{true, false, bytes};
    if (UCS_PTR_IS_ERR(r))
      return makeError(strataRemoteError, "%s", ucxError("send", UCS_PTR_STATUS(r)).c_str());
    op->request = r;
    return Posted{};
  }

  Result<Posted> recv(uint64_t tag, uint64_t ignore, void* buf, size_t bytes,
                      FabricOp* op) override {
    op->scratch[0] = this;
    ucp_tag_recv_info_t info{};
    ucp_request_param_t p{};
    p.op_attr_mask =
        UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_RECV_INFO;
    p.cb.recv = &UcxFabric::onRecv;
    p.user_data = op;
    p.recv_info.tag_info = &info;
    ucs_status_ptr_t r = ucp_tag_recv_nbx(worker_, buf, bytes, tag, ~ignore, &p);
    if (r == nullptr) return Posted{true, false, info.length};
    if (UCS_PTR_IS_ERR(r))
      return makeError(strataSystemError, "%s", ucxError("receive", UCS_PTR_STATUS(r)).c_str());
    op->request = r;
    return Posted{};
  }

  void cancel(FabricOp* op) override {
    if (op->request != nullptr) ucp_request_cancel(worker_, op->request);
  }

  bool progress() override {
    bool any = ucp_worker_progress(worker_) != 0;
    closeDeferred();
    return any;
  }

  void closePeer(int peer) override {
    auto it = peers_.find(peer);
    if (it != peers_.end() && it->second->ep != nullptr) it->second->closeWanted = true;
  }

  void closeAll(bool force, const Deadline& deadline) override {
    for (auto& [peer, pe] : peers_) {
      if (pe->ep == nullptr) continue;
      startClose(*pe, force || pe->failed);
    }
    while (!closing_.empty() && !deadline.expired()) {
      if (ucp_worker_progress(worker_) == 0) std::this_thread::yield();
      reapCloses();
    }
    for (void* r : closing_) ucp_request_free(r);  // gave up waiting: released when done
    closing_.clear();
  }

  size_t defaultChunkBytes(size_t) const override { return 256 * 1024; }

  LinkCost cost() const override {
    const char* tls = std::getenv("UCX_TLS");
    std::string t = tls ? tls : "";
    // TCP only: about 25 us and 10 Gb/s; otherwise assume an RDMA-class network.
    if (!t.empty() && t.find("rc") == std::string::npos && t.find("ud") == std::string::npos &&
        t.find("dc") == std::string::npos && t.find("ib") == std::string::npos &&
        t.find("all") == std::string::npos)
      return LinkCost{25e-6, 1.0 / 1.25e9};
    return LinkCost{5e-6, 1.0 / 12.5e9};
  }

 private:
  struct PeerEp {
    UcxFabric* fabric = nullptr;
    int peer = -1;
    ucp_ep_h ep = nullptr;
    bool failed = false;
    bool closeWanted = false;
  };

  static void onSend(void* request, ucs_status_t status, void* userData) {
    auto* op = static_cast<FabricOp*>(userData);
    auto* self = static_cast<UcxFabric*>(op->scratch[0]);
    op->request = nullptr;
    ucp_request_free(request);
    self->sink_->onComplete(op, eventOf(status), 0, ucs_status_string(status));
  }

  static void onRecv(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                     void* userData) {
    auto* op = static_cast<FabricOp*>(userData);
    auto* self = static_cast<UcxFabric*>(op->scratch[0]);
    op->request = nullptr;
    ucp_request_free(request);
    size_t bytes = status == UCS_OK && info != nullptr ? info->length : 0;
    self->sink_->onComplete(op, eventOf(status), bytes, ucs_status_string(status));
  }

  // Runs inside ucp_worker_progress; the endpoint is closed once progress returns.
  static void onEpError(void* arg, ucp_ep_h, ucs_status_t status) {
    auto* pe = static_cast<PeerEp*>(arg);
    pe->failed = true;
    pe->closeWanted = true;
    pe->fabric->sink_->onPeerFailed(
        pe->peer, format("failed: %s (endpoint error)", ucs_status_string(status)));
  }

  void startClose(PeerEp& pe, bool force) {
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    ucs_status_ptr_t r = ucp_ep_close_nbx(pe.ep, &p);
    pe.ep = nullptr;
    pe.closeWanted = false;
    if (r != nullptr && !UCS_PTR_IS_ERR(r)) closing_.push_back(r);
  }

  void closeDeferred() {
    for (auto& [peer, pe] : peers_)
      if (pe->closeWanted && pe->ep != nullptr) startClose(*pe, /*force=*/true);
    reapCloses();
  }

  void reapCloses() {
    for (size_t i = 0; i < closing_.size();) {
      if (ucp_request_check_status(closing_[i]) != UCS_INPROGRESS) {
        ucp_request_free(closing_[i]);
        closing_[i] = closing_.back();
        closing_.pop_back();
      } else {
        ++i;
      }
    }
  }

  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  std::string address_;
  FabricSink* sink_ = nullptr;
  std::map<int, std::unique_ptr<PeerEp>> peers_;
  std::vector<void*> closing_;  // endpoint close requests still running
};

Result<std::unique_ptr<TaggedFabric>> openUcx() {
  auto fabric = std::make_unique<UcxFabric>();
  Status s = fabric->open();
  if (!s.isOk()) return s.context("ucx transport");
  return std::unique_ptr<TaggedFabric>(std::move(fabric));
}

}  // namespace

Result<std::unique_ptr<Transport>> createUcxTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const NetOptions& opts, bool* unavailable) {
  return connectTaggedTransport(bs, peers, openUcx(), opts, unavailable);
}

}  // namespace strata
