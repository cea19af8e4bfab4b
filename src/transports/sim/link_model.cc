#include "transports/sim/link_model.h"

#include <cmath>

namespace strata {

LinkModel::LinkModel(const Topology& topo) : topo_(topo) {
  for (const LevelSpec& lv : topo_.levels) alphaPs_.push_back(std::llround(lv.link.alphaUs * 1e6));
}

SimTime LinkModel::durationPs(size_t bytes, double gbps) {
  if (!(gbps > 0) || bytes == 0) return 0;
  // bytes / (gbps * 1e9) seconds, in picoseconds.
  return std::llround(static_cast<double>(bytes) * 1e3 / gbps);
}

RankTimeline::RankTimeline(const LinkModel& model, int rank)
    : model_(&model),
      rank_(rank),
      egressFree_(model.topology().ports.size(), 0),
      ingressFree_(model.topology().ports.size(), 0),
      linkFree_(static_cast<size_t>(model.nranks()), 0),
      putSent_(static_cast<size_t>(model.nranks()), 0) {}

void RankTimeline::phaseBegin() {
  phaseStart_ = clock_;
  phaseEnd_ = clock_;
  posted_.clear();
}

MsgStamp RankTimeline::postSend(int peer, size_t bytes) {
  const SimTime t = phaseStart_;
  const int level = model_->levelOf(rank_, peer);
  SimTime& link = linkFree_[static_cast<size_t>(peer)];
  link = std::max(link, t) + model_->linkPs(level, bytes);
  SimTime sent = link;
  const int port = model_->portOf(level);
  if (port >= 0) {
    SimTime& egress = egressFree_[static_cast<size_t>(port)];
    egress = std::max(egress, t) + model_->portPs(port, bytes);
    sent = std::max(sent, egress);
  }
  phaseEnd_ = std::max(phaseEnd_, sent);
  return {t, sent, bytes};
}

void RankTimeline::postPut(int peer, size_t bytes) {
  SimTime& pending = putSent_[static_cast<size_t>(peer)];
  pending = std::max(pending, postSend(peer, bytes).sentPs);
}

MsgStamp RankTimeline::postSignal(int peer) {
  MsgStamp s = postSend(peer, 0);
  SimTime& pending = putSent_[static_cast<size_t>(peer)];
  s.sentPs = std::max(s.sentPs, pending);
  pending = 0;
  return s;
}

void RankTimeline::postRecv(int peer, size_t bytes, bool reduces) {
  posted_.push_back({peer, bytes, reduces});
}

void RankTimeline::chargeCompute(size_t bytes) {
  computeFree_ = std::max(computeFree_, phaseStart_) + model_->reducePs(bytes);
  phaseEnd_ = std::max(phaseEnd_, computeFree_);
}

SimTime RankTimeline::arrive(const PostedRecv& posted, const MsgStamp& s) {
  PostedRecv r = posted;
  if (s.bytes > 0 && s.bytes < r.bytes) r.bytes = s.bytes;  // a receive of at most r.bytes
  const int level = model_->levelOf(r.peer, rank_);
  SimTime in = s.sentPs;
  const int port = model_->portOf(level);
  if (port >= 0) {
    SimTime& ingress = ingressFree_[static_cast<size_t>(port)];
    ingress = std::max(ingress, s.postedPs) + model_->portPs(port, r.bytes);
    in = std::max(in, ingress);
  }
  SimTime done = in + model_->alphaPs(level);
  if (r.reduces) {
    computeFree_ = std::max(computeFree_, done) + model_->reducePs(r.bytes);
    done = computeFree_;
  }
  return done;
}

}  // namespace strata
