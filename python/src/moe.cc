#include "moe.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "buffer_arg.h"
#include "comm.h"
#include "errors.h"
#include "strata/strata.h"
#include "without_gil.h"

namespace py = pybind11;

namespace strata::python {
namespace {

strataMoeQuant_t moeQuantFrom(py::handle q, const char* what) {
  if (q.is_none()) return strataMoeQuantNone;
  const std::string s = py::str(q);
  if (s == "none") return strataMoeQuantNone;
  if (s == "int8") return strataMoeQuantInt8;
  invalidArgument(std::string("MoeBuffer: ") + what + " must be 'none' or 'int8', not '" + s + "'");
}

// The fields of a MoE configuration every binding takes from Python, converted in one order
// (dtype, then the two quantisations) so the first bad argument is the one reported.
strataMoeConfig_t moeConfigFrom(size_t maxTokens, size_t hidden, int topk, int numExperts,
                                int numSlots, py::handle dtype, py::handle dispatchQuant,
                                py::handle combineQuant) {
  strataMoeConfig_t c{};
  c.maxTokensPerRank = maxTokens;
  c.hidden = hidden;
  c.topk = topk;
  c.numExperts = numExperts;
  c.numSlots = numSlots;
  c.dtype = dataTypeFrom(dtype, "dtype");
  c.dispatchQuant = moeQuantFrom(dispatchQuant, "dispatch_quant");
  c.combineQuant = moeQuantFrom(combineQuant, "combine_quant");
  return c;
}

// The ranks of config's topology (strataTopoGetRankCount).
int topologyRanks(ConfigArg& cfg) {
  int n = 0;
  check(strataTopoGetRankCount(cfg.get() ? cfg.get()->topoFile : nullptr, &n),
        "strataTopoGetRankCount");
  return n;
}

// What every timing-only MoE simulation returns: {'nranks', 'dispatch_us', 'combine_us'}.
py::dict simTimes(const strataSimResult_t& dispatch, const strataSimResult_t& combine) {
  py::dict out;
  out["nranks"] = dispatch.nranks;
  out["dispatch_us"] = dispatch.simTimeUs;
  out["combine_us"] = combine.simTimeUs;
  return out;
}

// The numpy dtype an array of `t` is returned as (bfloat16 as its uint16 bits).
py::dtype numpyType(strataDataType_t t) {
  switch (t) {
    case strataFloat32:
      return py::dtype("float32");
    case strataFloat16:
      return py::dtype("float16");
    default:
      return py::dtype("uint16");
  }
}

// What strataMoeCombine needs from a dispatch, kept by Python.
struct MoeHandle {
  strataMoeHandle_t handle{};
  size_t numTokens = 0;
};

class MoeBuffer {
 public:
  MoeBuffer(const Comm& comm, long long maxTokens, long long hidden, int topk, int numExperts,
            py::handle dtype, py::handle dispatchQuant, py::handle combineQuant, int numSlots)
      : comm_(comm.sharedHandle()) {
    if (maxTokens < 0 || hidden < 0)
      invalidArgument("MoeBuffer: max_tokens_per_rank and hidden must be >= 0");
    strataMoeConfig_t c =
        moeConfigFrom(static_cast<size_t>(maxTokens), static_cast<size_t>(hidden), topk, numExperts,
                      numSlots, dtype, dispatchQuant, combineQuant);
    strataComm_t h = comm_->get("strataMoeBufferCreate");
    // Collective (with direct puts the ranks map each other's receive slots): ranks as threads
    // of this process must be able to enter it together.
    check(withoutGil([&] { return strataMoeBufferCreate(h, &c, &buf_); }), "strataMoeBufferCreate",
          h);
    config_ = c;
    check(strataMoeGetMaxRecvTokens(buf_, &maxRecv_), "strataMoeGetMaxRecvTokens", h);
    int n = 0;
    check(strataCommCount(h, &n), "strataCommCount", h);
    nranks_ = n;
  }
  ~MoeBuffer() { destroy(); }

  void destroy() {
    if (stream_) {
      withoutGil([&] { return strataStreamDestroy(stream_); });  // runs what is queued first
      stream_ = nullptr;
    }
    keep_.clear();
    if (buf_ && comm_->alive()) strataMoeBufferDestroy(buf_);
    buf_ = nullptr;
  }

  size_t chunkTokens() const {
    size_t n = 0;
    check(strataMoeBufferGetChunkTokens(live("strataMoeBufferGetChunkTokens"), &n),
          "strataMoeBufferGetChunkTokens");
    return n;
  }
  void setChunkTokens(long long n) {
    if (n < 0) invalidArgument("chunk_tokens must be >= 0");
    check(strataMoeBufferSetChunkTokens(live("strataMoeBufferSetChunkTokens"),
                                        static_cast<size_t>(n)),
          "strataMoeBufferSetChunkTokens");
  }

  size_t maxRecvTokens() const { return maxRecv_; }
  int localExperts() const {
    return (config_.numSlots ? config_.numSlots : config_.numExperts) / nranks_;
  }

  void setPlacement(py::handle slotExpert) {
    const char* op = "strataMoeBufferSetPlacement";
    BufferArg s = BufferArg::view(slotExpert, "set_placement", "slot_expert", Access::kRead, {});
    if (s.dtype() != strataInt32) invalidArgument("set_placement: slot_expert must be int32");
    strataComm_t h = comm_->get(op);
    check(strataMoeBufferSetPlacement(live(op), static_cast<const int32_t*>(s.data()),
                                      static_cast<int>(s.count())),
          op, h);
  }

  py::tuple layout(py::handle topkIdx) {
    const char* op = "strataMoeGetLayout";
    BufferArg ids = BufferArg::view(topkIdx, "get_layout", "topk_idx", Access::kRead, {});
    const size_t tokens = tokensOf("get_layout", ids);
    py::array_t<int32_t> perRank(nranks_), perExpert(config_.numExperts);
    py::array_t<uint8_t> inRank(
        {static_cast<py::ssize_t>(tokens), static_cast<py::ssize_t>(nranks_)});
    auto* pr = perRank.mutable_data();
    auto* pe = perExpert.mutable_data();
    auto* ir = inRank.mutable_data();
    strataComm_t h = comm_->get(op);
    strataMoeBuffer_t b = live(op);
    check(withoutGil(
              [&] { return strataMoeGetLayout(b, ids.data(), ids.dtype(), tokens, pr, pe, ir); }),
          op, h);
    return py::make_tuple(perRank, perExpert, inRank.attr("astype")("bool"));
  }

  py::tuple dispatch(py::handle x, py::handle topkIdx, py::handle topkWeights) {
    return dispatchOn(x, topkIdx, topkWeights, false);
  }

  // The same queued on the buffer's own stream: the arrays fill while the caller takes landed
  // chunks with next_chunk(); every row is there after synchronize().
  py::tuple dispatchAsync(py::handle x, py::handle topkIdx, py::handle topkWeights) {
    return dispatchOn(x, topkIdx, topkWeights, true);
  }

  py::object nextChunk(int localExpert, bool wait) {
    const char* op = "strataMoeDispatchNextChunk";
    strataMoeBuffer_t b = live(op);
    strataMoeChunk_t c{};
    const strataResult_t r =
        withoutGil([&] { return strataMoeDispatchNextChunk(b, localExpert, wait ? 1 : 0, &c); });
    if (r == strataInProgress) return py::none();
    check(r, op, comm_->get(op));
    return py::make_tuple(c.localExpert, c.firstRow, c.numRows);
  }

  py::object combine(py::handle expertOut, const MoeHandle& handle, py::handle out) {
    return combineOn(expertOut, handle, out, false);
  }

  // A pipelined combine queued on the buffer's stream behind dispatch_async: expert_out (every
  // row the dispatch can deliver x hidden) is written while it runs, each finished range
  // announced with rows_ready(); the result is final after synchronize().
  py::object combineAsync(py::handle expertOut, const MoeHandle& handle, py::handle out) {
    return combineOn(expertOut, handle, out, true);
  }

  void rowsReady(const MoeHandle& handle, long long first, long long n) {
    const char* op = "strataMoeCombineRowsReady";
    if (first < 0 || n < 0) invalidArgument("rows_ready: first_row and num_rows must be >= 0");
    check(strataMoeCombineRowsReady(live(op), &handle.handle, static_cast<size_t>(first),
                                    static_cast<size_t>(n)),
          op, comm_->get(op));
  }

  // Waits for the buffer's queued calls; raises the first one's error.
  void synchronize() {
    const char* op = "strataStreamSynchronize";
    if (!stream_) return;
    const strataResult_t r = withoutGil([&] { return strataStreamSynchronize(stream_); });
    keep_.clear();
    check(r, op, comm_->get(op));
  }

 private:
  strataStream_t stream(const char* op) {
    if (!stream_) check(strataStreamCreate(&stream_), op);
    return stream_;
  }

  py::tuple dispatchOn(py::handle x, py::handle topkIdx, py::handle topkWeights, bool async) {
    const char* op = "strataMoeDispatch";
    BufferArg xs = BufferArg::view(x, "dispatch", "x", Access::kRead, config_.dtype);
    BufferArg ids = BufferArg::view(topkIdx, "dispatch", "topk_idx", Access::kRead, {});
    BufferArg w = BufferArg::view(topkWeights, "dispatch", "topk_weights", Access::kRead, {});
    const size_t tokens = tokensOf("dispatch", ids);
    if (xs.count() != tokens * config_.hidden)
      invalidArgument("dispatch: x holds " + std::to_string(xs.count()) + " elements, not " +
                      std::to_string(tokens) + " tokens x hidden " +
                      std::to_string(config_.hidden));
    if (w.dtype() != strataFloat32 || w.count() != ids.count())
      invalidArgument("dispatch: topk_weights must be float32 of the shape of topk_idx");
    const auto rows = static_cast<py::ssize_t>(maxRecv_);
    const auto hid = static_cast<py::ssize_t>(config_.hidden);
    const auto k = static_cast<py::ssize_t>(config_.topk);
    py::array recvX(numpyType(config_.dtype), {rows, hid});
    py::array_t<int32_t> recvIdx({rows, k});
    py::array_t<float> recvW({rows, k});
    py::array_t<int32_t> counts(localExperts());
    void* rx = recvX.mutable_data();
    int32_t* ri = recvIdx.mutable_data();
    float* rw = recvW.mutable_data();
    int* cnt = counts.mutable_data();
    auto got = std::make_shared<size_t>(0);
    MoeHandle handle;
    handle.numTokens = tokens;
    strataComm_t h = comm_->get(op);
    strataMoeBuffer_t b = live(op);
    strataStream_t s = async ? stream(op) : nullptr;
    size_t* gp = got.get();
    check(withoutGil([&] {
            return strataMoeDispatch(b, xs.data(), config_.dtype, tokens, ids.data(), ids.dtype(),
                                     static_cast<const float*>(w.data()), rx, ri, rw, cnt, gp,
                                     &handle.handle, s);
          }),
          op, h);
    if (async) {
      keep_.push_back(py::reinterpret_borrow<py::object>(x));
      keep_.push_back(py::reinterpret_borrow<py::object>(topkIdx));
      keep_.push_back(py::reinterpret_borrow<py::object>(topkWeights));
      keep_.push_back(recvX);
      keep_.push_back(recvIdx);
      keep_.push_back(recvW);
      keep_.push_back(counts);
      keepCount_ = got;
      return py::make_tuple(recvX, recvIdx, recvW, counts, handle);
    }
    py::slice first(0, static_cast<py::ssize_t>(*got), 1);
    return py::make_tuple(recvX[first], recvIdx[first], recvW[first], counts, handle);
  }

  py::object combineOn(py::handle expertOut, const MoeHandle& handle, py::handle out, bool async) {
    const char* op = async ? "strataMoeCombinePipelined" : "strataMoeCombine";
    BufferArg in =
        BufferArg::view(expertOut, "combine", "expert_out", Access::kRead, config_.dtype);
    py::object result = py::reinterpret_borrow<py::object>(out);
    if (out.is_none())
      result = py::array(numpyType(config_.dtype), {static_cast<py::ssize_t>(handle.numTokens),
                                                    static_cast<py::ssize_t>(config_.hidden)});
    BufferArg o = BufferArg::view(result, "combine", "out", Access::kWrite, config_.dtype);
    if (o.count() < handle.numTokens * config_.hidden)
      invalidArgument("combine: out holds " + std::to_string(o.count()) + " elements, fewer than " +
                      std::to_string(handle.numTokens) + " tokens x hidden");
    if (async && in.count() < maxRecv_ * config_.hidden)
      invalidArgument("combine_async: expert_out holds " + std::to_string(in.count()) +
                      " elements, fewer than max_recv_tokens x hidden");
    strataComm_t h = comm_->get(op);
    strataMoeBuffer_t b = live(op);
    strataStream_t s = async ? stream(op) : nullptr;
    check(withoutGil([&] {
            return async ? strataMoeCombinePipelined(b, &handle.handle, in.data(), config_.dtype,
                                                     o.data(), s)
                         : strataMoeCombine(b, &handle.handle, in.data(), config_.dtype, o.data(),
                                            nullptr);
          }),
          op, h);
    if (async) {
      keep_.push_back(py::reinterpret_borrow<py::object>(expertOut));
      keep_.push_back(result);
    }
    return result;
  }

  strataMoeBuffer_t live(const char* op) const {
    if (!buf_) invalidUsage(std::string(op) + ": the MoeBuffer was destroyed");
    return buf_;
  }
  size_t tokensOf(const char* op, const BufferArg& ids) const {
    const size_t k = static_cast<size_t>(config_.topk);
    if (ids.count() % k != 0)
      invalidArgument(std::string(op) + ": topk_idx holds " + std::to_string(ids.count()) +
                      " ids, not a multiple of topk " + std::to_string(k));
    return ids.count() / k;
  }

  std::shared_ptr<CommHandle> comm_;
  strataMoeBuffer_t buf_ = nullptr;
  strataStream_t stream_ = nullptr;    // the buffer's own stream (async calls), lazily
  std::vector<py::object> keep_;       // what queued calls use, until synchronize()
  std::shared_ptr<size_t> keepCount_;  // the async dispatch's row count
  strataMoeConfig_t config_{};
  size_t maxRecv_ = 0;
  int nranks_ = 1;
};

}  // namespace

void bindMoe(py::module_& m) {
  py::class_<MoeHandle>(m, "MoeHandle",
                        "Names the dispatch whose rows a combine returns (strataMoeHandle_t).")
      .def_readonly("num_tokens", &MoeHandle::numTokens);
  py::class_<MoeBuffer>(m, "MoeBuffer",
                        "MoE dispatch/combine state of one communicator and shape "
                        "(strataMoeBufferCreate); see docs/moe.md.")
      .def(py::init<const Comm&, long long, long long, int, int, py::handle, py::handle, py::handle,
                    int>(),
           py::arg("comm"), py::arg("max_tokens_per_rank"), py::arg("hidden"), py::arg("topk"),
           py::arg("num_experts"), py::arg("dtype") = "bfloat16",
           py::arg("dispatch_quant") = "none", py::arg("combine_quant") = "none",
           py::arg("num_slots") = 0)
      .def_property_readonly("max_recv_tokens", &MoeBuffer::maxRecvTokens,
                             "Most rows a dispatch delivers (strataMoeGetMaxRecvTokens).")
      .def_property_readonly("local_experts", &MoeBuffer::localExperts)
      .def("get_layout", &MoeBuffer::layout, py::arg("topk_idx"),
           "(tokens per rank, tokens per expert, token-in-rank [tokens, ranks]) from top-k "
           "expert ids (strataMoeGetLayout).")
      .def("dispatch", &MoeBuffer::dispatch, py::arg("x"), py::arg("topk_idx"),
           py::arg("topk_weights"),
           "Dispatches tokens to their experts' ranks (strataMoeDispatch); returns (recv_x, "
           "recv_topk_idx, recv_topk_weights, counts per local expert, handle).")
      .def("combine", &MoeBuffer::combine, py::arg("expert_out"), py::arg("handle"),
           py::arg("out") = py::none(),
           "Returns expert outputs to their tokens' ranks as the top-k weighted sum "
           "(strataMoeCombine).")
      .def_property("chunk_tokens", &MoeBuffer::chunkTokens, &MoeBuffer::setChunkTokens,
                    "Tokens per pipelined chunk (strataMoeBufferSetChunkTokens; 0 sets the "
                    "default).")
      .def("dispatch_async", &MoeBuffer::dispatchAsync, py::arg("x"), py::arg("topk_idx"),
           py::arg("topk_weights"),
           "strataMoeDispatch queued on the buffer's stream: returns (recv_x, recv_topk_idx, "
           "recv_topk_weights, counts, handle) with max_recv_tokens rows, filled as chunks land "
           "(take them with next_chunk; all there after synchronize()).")
      .def("next_chunk", &MoeBuffer::nextChunk, py::arg("local_expert") = -1,
           py::arg("wait") = true,
           "The next landed rows of local_expert (-1: any) not handed out yet "
           "(strataMoeDispatchNextChunk): (local_expert, first_row, num_rows); num_rows 0 once "
           "every row has been handed out; None when polling (wait=False) and nothing new has "
           "landed.")
      .def("combine_async", &MoeBuffer::combineAsync, py::arg("expert_out"), py::arg("handle"),
           py::arg("out") = py::none(),
           "strataMoeCombinePipelined queued on the buffer's stream: expert_out rows become "
           "final with rows_ready(); returns the output array, final after synchronize().")
      .def("rows_ready", &MoeBuffer::rowsReady, py::arg("handle"), py::arg("first_row"),
           py::arg("num_rows"),
           "Rows [first_row, first_row + num_rows) of combine_async's expert_out are final "
           "(strataMoeCombineRowsReady).")
      .def("synchronize", &MoeBuffer::synchronize,
           "Waits for the buffer's queued calls (dispatch_async, combine_async); raises the "
           "first error.")
      .def("set_placement", &MoeBuffer::setPlacement, py::arg("slot_expert"),
           "Which expert each physical slot holds, int32 (strataMoeBufferSetPlacement).")
      .def("destroy", &MoeBuffer::destroy, "Frees the buffer (strataMoeBufferDestroy).");
  m.def(
      "moe_sim_timing_only",
      [](py::array_t<uint64_t, py::array::c_style | py::array::forcecast> tokensSent,
         long long maxTokens, long long hidden, int topk, int numExperts, py::handle dtype,
         py::handle dispatchQuant, py::handle combineQuant, py::handle config) {
        if (maxTokens < 0 || hidden < 0)
          invalidArgument("moe_sim_timing_only: max_tokens_per_rank and hidden must be >= 0");
        const strataMoeConfig_t c =
            moeConfigFrom(static_cast<size_t>(maxTokens), static_cast<size_t>(hidden), topk,
                          numExperts, 0, dtype, dispatchQuant, combineQuant);
        ConfigArg cfg(config);
        std::vector<size_t> sent(tokensSent.data(), tokensSent.data() + tokensSent.size());
        const int n = topologyRanks(cfg);
        if (sent.size() != static_cast<size_t>(n) * static_cast<size_t>(n))
          invalidArgument("moe_sim_timing_only: tokens_sent holds " + std::to_string(sent.size()) +
                          " counts, not nranks x nranks = " + std::to_string(n * n));
        strataSimResult_t d{}, k{};
        check(
            withoutGil([&] { return strataMoeSimTimingOnly(cfg.get(), &c, sent.data(), &d, &k); }),
            "strataMoeSimTimingOnly");
        return simTimes(d, k);
      },
      py::arg("tokens_sent"), py::arg("max_tokens_per_rank"), py::arg("hidden"), py::arg("topk"),
      py::arg("num_experts"), py::arg("dtype") = "bfloat16", py::arg("dispatch_quant") = "none",
      py::arg("combine_quant") = "none", py::arg("config") = py::none(),
      "Timing-only simulation of a dispatch and its combine for a routing (tokens_sent[s][d]) "
      "on config's topology (strataMoeSimTimingOnly): {'nranks', 'dispatch_us', 'combine_us'}.");
  m.def(
      "moe_sim_timing_only_routed",
      [](py::array_t<int32_t, py::array::c_style | py::array::forcecast> slotIdx, long long hidden,
         int numExperts, py::handle dtype, py::handle dispatchQuant, py::handle combineQuant,
         py::handle config, py::object numTokens, int numSlots) {
        if (slotIdx.ndim() != 3)
          invalidArgument("moe_sim_timing_only_routed: slot_idx must be (nranks, tokens, topk)");
        if (hidden < 0) invalidArgument("moe_sim_timing_only_routed: hidden must be >= 0");
        const auto n = static_cast<size_t>(slotIdx.shape(0));
        const strataMoeConfig_t c =
            moeConfigFrom(static_cast<size_t>(slotIdx.shape(1)), static_cast<size_t>(hidden),
                          static_cast<int>(slotIdx.shape(2)), numExperts, numSlots, dtype,
                          dispatchQuant, combineQuant);
        ConfigArg cfg(config);
        const int nr = topologyRanks(cfg);
        if (n != static_cast<size_t>(nr))
          invalidArgument("moe_sim_timing_only_routed: slot_idx is for " + std::to_string(n) +
                          " ranks, the topology has " + std::to_string(nr));
        std::vector<size_t> counts(n, c.maxTokensPerRank);
        if (!numTokens.is_none()) {
          const auto v = numTokens.cast<std::vector<long long>>();
          if (v.size() != n)
            invalidArgument("moe_sim_timing_only_routed: num_tokens holds " +
                            std::to_string(v.size()) + " counts, not nranks = " +
                            std::to_string(n));
          for (size_t i = 0; i < n; ++i) {
            if (v[i] < 0) invalidArgument("moe_sim_timing_only_routed: num_tokens must be >= 0");
            counts[i] = static_cast<size_t>(v[i]);
          }
        }
        strataSimResult_t d{}, k{};
        check(withoutGil([&] {
                return strataMoeSimTimingOnlyRouted(cfg.get(), &c, slotIdx.data(), counts.data(),
                                                    &d, &k);
              }),
              "strataMoeSimTimingOnlyRouted");
        py::dict out = simTimes(d, k);
        out["algo"] = std::string(d.algo);
        out["dispatch_level_bytes"] = py::make_tuple(d.bytesSent[0], d.bytesSent[1]);
        out["combine_level_bytes"] = py::make_tuple(k.bytesSent[0], k.bytesSent[1]);
        return out;
      },
      py::arg("slot_idx"), py::arg("hidden"), py::arg("num_experts"), py::arg("dtype") = "bfloat16",
      py::arg("dispatch_quant") = "none", py::arg("combine_quant") = "none",
      py::arg("config") = py::none(), py::arg("num_tokens") = py::none(), py::arg("num_slots") = 0,
      "Timing-only simulation of a dispatch and its combine for a routing given token by token "
      "(slot_idx[s][t][j], -1: none) on the route a buffer takes on config's topology "
      "(strataMoeSimTimingOnlyRouted): {'nranks', 'dispatch_us', 'combine_us', 'algo', "
      "'dispatch_level_bytes', 'combine_level_bytes'} (bytes at levels 0 and 1).");
  m.def(
      "moe_placement_route",
      [](py::array_t<int32_t, py::array::c_style | py::array::forcecast> slotExpert, int numExperts,
         int nranks, int rank, py::object topology) {
        std::string topo;
        if (!topology.is_none()) topo = py::str(topology);
        py::array_t<int32_t> route(numExperts > 0 ? numExperts : 0);
        check(strataMoePlacementRoute(topology.is_none() ? nullptr : topo.c_str(),
                                      slotExpert.data(), static_cast<int>(slotExpert.size()),
                                      numExperts, nranks, rank, route.mutable_data()),
              "strataMoePlacementRoute");
        return route;
      },
      py::arg("slot_expert"), py::arg("num_experts"), py::arg("nranks"), py::arg("rank"),
      py::arg("topology") = py::none(),
      "The slot each expert goes to from `rank` under a placement (strataMoePlacementRoute): "
      "a replica on the rank, else on its host (topology's level 0), else candidates[rank % n].");
  m.def(
      "moe_placement",
      [](py::array_t<double, py::array::c_style | py::array::forcecast> load, int nranks,
         int slotsPerRank) {
        py::array_t<int32_t> slots(static_cast<py::ssize_t>(nranks) * slotsPerRank > 0
                                       ? static_cast<py::ssize_t>(nranks) * slotsPerRank
                                       : 0);
        double before = 0, after = 0;
        check(strataMoePlacementCompute(load.data(), static_cast<int>(load.size()), nranks,
                                        slotsPerRank, slots.mutable_data(), &before, &after),
              "strataMoePlacementCompute");
        return py::make_tuple(slots, before, after);
      },
      py::arg("expert_load"), py::arg("nranks"), py::arg("slots_per_rank"),
      "EPLB-style placement from per-expert load (strataMoePlacementCompute): (slot_expert, "
      "max/mean rank load before, after).");
}

}  // namespace strata::python
