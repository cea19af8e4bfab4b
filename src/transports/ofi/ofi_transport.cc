#include "transports/ofi/ofi_transport.h"

#include <netinet/in.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"

namespace strata {
namespace {

static_assert(sizeof(FabricOp::scratch) >= sizeof(fi_context2),
              "FabricOp::scratch must hold a struct fi_context2");

constexpr int kBusyRetries = 8;  // posts retried (reading completions between) before "busy"
constexpr size_t kBatch = 16;    // completions taken per read

std::string fiError(const char* what, int ret) { return format("%s: %s", what, fi_strerror(-ret)); }

// Closes any libfabric object on every path.
template <typename T>
void closeFid(T*& obj) {
  if (obj != nullptr) fi_close(&obj->fid);
  obj = nullptr;
}

bool isLoopback(const fi_info* info) {
  if (info->src_addr == nullptr) return false;
  if (info->addr_format == FI_SOCKADDR_IN && info->src_addrlen >= sizeof(sockaddr_in)) {
    const auto* a = static_cast<const sockaddr_in*>(info->src_addr);
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (info->addr_format == FI_SOCKADDR_IN6 && info->src_addrlen >= sizeof(sockaddr_in6)) {
    const auto* a = static_cast<const sockaddr_in6*>(info->src_addr);
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  return false;
}

class OfiFabric final : public TaggedFabric {
 public:
  OfiFabric() = default;
  OfiFabric(const OfiFabric&) = delete;
  OfiFabric& operator=(const OfiFabric&) = delete;

  ~OfiFabric() override {
    closeFid(ep_);
    closeFid(mr_);
    closeFid(av_);
    closeFid(cq_);
    closeFid(domain_);
    closeFid(fabric_);
    if (infos_) fi_freeinfo(infos_);
  }

  Status open(bool remotePeers) {
    fi_info* hints = fi_allocinfo();
    if (hints == nullptr) return makeError(strataSystemError, "fi_allocinfo failed");
    hints->caps = FI_TAGGED;
    hints->ep_attr->type = FI_EP_RDM;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;  // TaggedTransport serialises every call
    // TaggedTransport progresses the network itself (and from its own thread when idle), so
    // providers need no progress threads of their own contending for the endpoint.
    hints->domain_attr->control_progress = FI_PROGRESS_MANUAL;
    hints->domain_attr->data_progress = FI_PROGRESS_MANUAL;
    int ret = fi_getinfo(FI_VERSION(1, 9), nullptr, nullptr, 0, hints, &infos_);
    if (ret == -FI_ENODATA) {  // a provider that insists on progressing by itself
      hints->domain_attr->control_progress = FI_PROGRESS_UNSPEC;
      hints->domain_attr->data_progress = FI_PROGRESS_UNSPEC;
      ret = fi_getinfo(FI_VERSION(1, 9), nullptr, nullptr, 0, hints, &infos_);
    }
    fi_freeinfo(hints);
    if (ret != 0) {
      infos_ = nullptr;
      return makeError(strataSystemError, "%s (FI_PROVIDER=%s)",
                       fiError("fi_getinfo found no tagged RDM provider", ret).c_str(),
                       std::getenv("FI_PROVIDER") ? std::getenv("FI_PROVIDER") : "unset");
    }
    // FI_PROVIDER, when set, already filtered the list; otherwise leave out what cannot reach
    // another host.
    const bool chosenByUser = std::getenv("FI_PROVIDER") != nullptr;
    for (fi_info* i = infos_; i != nullptr && info_ == nullptr; i = i->next) {
      if (!chosenByUser && remotePeers &&
          (std::strcmp(i->fabric_attr->prov_name, "shm") == 0 || isLoopback(i)))
        continue;
      info_ = i;
    }
    if (info_ == nullptr)
      return makeError(strataSystemError,
                       "libfabric offers no provider that reaches other hosts "
                       "(only shm or loopback); set FI_PROVIDER");

    ret = fi_fabric(info_->fabric_attr, &fabric_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_fabric", ret).c_str());
    ret = fi_domain(fabric_, info_, &domain_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_domain", ret).c_str());
    fi_cq_attr cqAttr{};
    cqAttr.format = FI_CQ_FORMAT_TAGGED;
    cqAttr.wait_obj = FI_WAIT_NONE;
    ret = fi_cq_open(domain_, &cqAttr, &cq_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_cq_open", ret).c_str());
    fi_av_attr avAttr{};
    avAttr.type =
        info_->domain_attr->av_type != FI_AV_UNSPEC ? info_->domain_attr->av_type : FI_AV_TABLE;
    ret = fi_av_open(domain_, &avAttr, &av_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_av_open", ret).c_str());
    ret = fi_endpoint(domain_, info_, &ep_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_endpoint", ret).c_str());
    ret = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_ep_bind(cq)", ret).c_str());
    ret = fi_ep_bind(ep_, &av_->fid, 0);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_ep_bind(av)", ret).c_str());
    ret = fi_enable(ep_);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_enable", ret).c_str());
    std::string name(256, '\0');
    size_t len = name.size();
    ret = fi_getname(&ep_->fid, name.data(), &len);
    if (ret == -FI_ETOOSMALL) {
      name.resize(len);
      ret = fi_getname(&ep_->fid, name.data(), &len);
    }
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_getname", ret).c_str());
    name.resize(len);
    address_ = std::move(name);
    return Status::ok();
  }

  const char* name() const override { return "ofi"; }

  std::string describe() const override {
    return format("libfabric %u.%u, provider %s, domain %s", FI_MAJOR(fi_version()),
                  FI_MINOR(fi_version()), info_->fabric_attr->prov_name,
                  info_->domain_attr->name ? info_->domain_attr->name : "?");
  }

  std::string address() const override { return address_; }
  void setSink(FabricSink* sink) override { sink_ = sink; }

  Status registerMemory(void* base, size_t bytes) override {
    if ((info_->domain_attr->mr_mode & FI_MR_LOCAL) == 0) return Status::ok();
    int ret = fi_mr_reg(domain_, base, bytes, FI_SEND | FI_RECV, 0, 0, 0, &mr_, nullptr);
    if (ret != 0) return makeError(strataSystemError, "%s", fiError("fi_mr_reg", ret).c_str());
    desc_ = fi_mr_desc(mr_);
    return Status::ok();
  }

  Status connect(int peer, const std::string& address) override {
    fi_addr_t addr = FI_ADDR_UNSPEC;
    int ret = fi_av_insert(av_, address.data(), 1, &addr, 0, nullptr);
    if (ret != 1)
      return makeError(strataSystemError, "ofi transport: address of rank %d: %s", peer,
                       ret < 0 ? fi_strerror(-ret) : "not inserted");
    if (static_cast<size_t>(peer) >= addrs_.size())
      addrs_.resize(static_cast<size_t>(peer) + 1, FI_ADDR_UNSPEC);
    addrs_[static_cast<size_t>(peer)] = addr;
    return Status::ok();
  }

  Result<Posted> send(int peer, uint64_t tag, const void* buf, size_t bytes,
                      FabricOp* op) override {
    if (static_cast<size_t>(peer) >= addrs_.size() ||
        addrs_[static_cast<size_t>(peer)] == FI_ADDR_UNSPEC)
      return makeError(strataRemoteError, "endpoint closed");
    const fi_addr_t dest = addrs_[static_cast<size_t>(peer)];
    return post("send", [&] { return fi_tsend(ep_, buf, bytes, desc_, dest, tag, op->scratch); });
  }

  Result<Posted> recv(uint64_t tag, uint64_t ignore, void* buf, size_t bytes,
                      FabricOp* op) override {
    return post("receive", [&] {
      return fi_trecv(ep_, buf, bytes, desc_, FI_ADDR_UNSPEC, tag, ignore, op->scratch);
    });
  }

  void cancel(FabricOp* op) override { fi_cancel(&ep_->fid, op->scratch); }

  bool progress() override {
    bool any = !stashed_.empty();
    while (!stashed_.empty()) {
      Completion c = std::move(stashed_.front());
      stashed_.pop_front();
      deliver(c);
    }
    // Each read runs the provider's progress once, so take what is there in batches.
    while (readSome(batch_) > 0) {
      any = true;
      for (const Completion& c : batch_) deliver(c);
    }
    return any;
  }

  // Pending operations to the peer fail or are cancelled by the caller; later sends are refused.
  void closePeer(int peer) override {
    if (static_cast<size_t>(peer) < addrs_.size())
      addrs_[static_cast<size_t>(peer)] = FI_ADDR_UNSPEC;
  }

  void closeAll(bool, const Deadline&) override {}

  // rxm sends messages up to 128 KiB (its default FI_OFI_RXM_SAR_LIMIT) by segmentation and
  // larger ones by rendezvous, which is slower over tcp;ofi_rxm: whole messages stay within it.
  size_t defaultChunkBytes(size_t headerBytes) const override {
    const char* prov = info_ ? info_->fabric_attr->prov_name : "";
    return std::strstr(prov, "ofi_rxm") != nullptr ? 128 * 1024 - headerBytes : 256 * 1024;
  }

  LinkCost cost() const override {
    const char* prov = info_ ? info_->fabric_attr->prov_name : "";
    if (std::strstr(prov, "shm") != nullptr) return LinkCost{1e-6, 1.0 / 8e9};
    if (std::strstr(prov, "tcp") != nullptr || std::strstr(prov, "sockets") != nullptr ||
        std::strstr(prov, "udp") != nullptr)
      return LinkCost{25e-6, 1.0 / 1.25e9};
    return LinkCost{5e-6, 1.0 / 12.5e9};
  }

 private:
  struct Completion {
    FabricOp* op = nullptr;
    FabricEvent event = FabricEvent::kDone;
    size_t bytes = 0;
    std::string why;
  };

  // Up to kBatch completions from the queue, errors included; how many.
  size_t readSome(std::vector<Completion>& out) {
    out.clear();
    fi_cq_tagged_entry e[kBatch];
    ssize_t n = fi_cq_read(cq_, e, kBatch);
    for (ssize_t i = 0; i < n; ++i)
      out.push_back(
          Completion{static_cast<FabricOp*>(e[i].op_context), FabricEvent::kDone, e[i].len, {}});
    if (n != -FI_EAVAIL) return out.size();
    fi_cq_err_entry err{};
    if (fi_cq_readerr(cq_, &err, 0) != 1 || err.op_context == nullptr) return out.size();
    const char* detail = fi_cq_strerror(cq_, err.prov_errno, err.err_data, nullptr, 0);
    out.push_back(
        Completion{static_cast<FabricOp*>(err.op_context),
                   err.err == FI_ECANCELED ? FabricEvent::kCancelled : FabricEvent::kFailed, 0,
                   format("failed: %s (%s)", fi_strerror(err.err), detail ? detail : "no detail")});
    return out.size();
  }

  void deliver(const Completion& c) { sink_->onComplete(c.op, c.event, c.bytes, c.why); }

  // Posts, retrying a few times while the provider says FI_EAGAIN (queues full, or rxm still
  // connecting), then reports "busy". Completions read meanwhile are kept for the next
  // progress(), so the caller is never re-entered from a post.
  template <typename PostFn>
  Result<Posted> post(const char* what, PostFn postFn) {
    for (int attempt = 0; attempt < kBusyRetries; ++attempt) {
      ssize_t ret = postFn();
      if (ret == 0) return Posted{false, false, 0};
      if (ret != -FI_EAGAIN)
        return makeError(strataRemoteError, "%s", fiError(what, static_cast<int>(ret)).c_str());
      std::vector<Completion> batch;
      readSome(batch);
      for (Completion& c : batch) stashed_.push_back(std::move(c));
    }
    Posted busy;
    busy.busy = true;
    return busy;
  }

  fi_info* infos_ = nullptr;
  fi_info* info_ = nullptr;  // the entry of infos_ in use
  fid_fabric* fabric_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_av* av_ = nullptr;
  fid_ep* ep_ = nullptr;
  fid_mr* mr_ = nullptr;
  void* desc_ = nullptr;
  std::string address_;
  std::vector<fi_addr_t> addrs_;  // by rank; FI_ADDR_UNSPEC when not (or no longer) connected
  FabricSink* sink_ = nullptr;
  std::deque<Completion> stashed_;
  std::vector<Completion> batch_;  // progress()'s reads, kept to reuse its storage
};

Result<std::unique_ptr<TaggedFabric>> openOfi(bool remotePeers) {
  auto fabric = std::make_unique<OfiFabric>();
  Status s = fabric->open(remotePeers);
  if (!s.isOk()) return s.context("ofi transport");
  return std::unique_ptr<TaggedFabric>(std::move(fabric));
}

}  // namespace

Result<std::unique_ptr<Transport>> createOfiTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const NetOptions& opts, bool* unavailable) {
  bool remotePeers = false;
  if (static_cast<size_t>(bs.rank()) < peers.size()) {
    const std::string& mine = peers[static_cast<size_t>(bs.rank())].hostId;
    for (size_t r = 0; r < peers.size() && r < opts.connect.size(); ++r)
      remotePeers = remotePeers || (opts.connect[r] && peers[r].hostId != mine);
  }
  return connectTaggedTransport(bs, peers, openOfi(remotePeers), opts, unavailable);
}

}  // namespace strata
