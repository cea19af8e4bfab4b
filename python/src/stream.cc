#include "stream.h"

#include "comm.h"
#include "without_gil.h"

namespace py = pybind11;

namespace strata::python {

StreamState::StreamState() {
  check(withoutGil([&] { return strataStreamCreate(&stream_); }), "strataStreamCreate");
}

StreamState::~StreamState() {
  if (!stream_) return;
  withoutGil([&] { return strataStreamDestroy(stream_); });
}

strataStream_t StreamState::handle(const char* op) const {
  if (!stream_) invalidUsage(std::string(op) + ": stream is closed");
  return stream_;
}

uint64_t StreamState::issue(std::vector<BufferArg> buffers) {
  ++issued_;
  if (!buffers.empty()) pending_.emplace_back(issued_, std::move(buffers));
  return issued_;
}

uint64_t StreamState::issueFailed(const CallError& error) {
  ++issued_;
  failures_.push_back({issued_, issued_, error});
  return issued_;
}

void StreamState::settle(uint64_t upTo, strataResult_t res, const char* what,
                         const std::shared_ptr<CommHandle>& comm) {
  if (res != strataSuccess && res != strataInProgress && upTo > completed_) {
    std::string message = comm ? comm->lastError() : strataGetLastError(nullptr);
    failures_.push_back({completed_ + 1, upTo, CallError(res, what, message)});
  }
  if (res == strataInProgress) return;
  completed_ = std::max(completed_, upTo);
  while (!pending_.empty() && pending_.front().first <= completed_) pending_.pop_front();
}

void StreamState::raiseFailure(uint64_t first, uint64_t last) const {
  for (const auto& f : failures_) {
    if (f.first <= last && first <= f.last) throw f.error;
  }
}

void StreamState::synchronize(uint64_t ticket, const std::shared_ptr<CommHandle>& comm) {
  // Ticket 0 stands for every call not yet known to have run.
  uint64_t first = ticket ? ticket : completed_ + 1;
  uint64_t last = ticket ? ticket : issued_;
  if (last > completed_) {
    strataStream_t s = handle("synchronize");
    uint64_t upTo = issued_;
    strataResult_t res = withoutGil([&] { return strataStreamSynchronize(s); });
    settle(upTo, res, "strataStreamSynchronize", comm);
  }
  raiseFailure(first, last);
}

bool StreamState::completed(uint64_t ticket, const std::shared_ptr<CommHandle>& comm) {
  if (ticket == 0) ticket = issued_;
  if (ticket > completed_ && stream_) {
    uint64_t upTo = issued_;
    settle(upTo, strataStreamQuery(stream_), "strataStreamQuery", comm);
  }
  return ticket <= completed_;
}

void StreamState::close() {
  if (!stream_) return;
  strataStream_t s = stream_;
  stream_ = nullptr;
  uint64_t first = completed_ + 1;
  uint64_t upTo = issued_;
  strataResult_t res = withoutGil([&] { return strataStreamDestroy(s); });
  settle(upTo, res, "strataStreamDestroy", nullptr);
  raiseFailure(first, upTo);
}

Request::Request(std::shared_ptr<StreamState> stream, std::shared_ptr<CommHandle> comm)
    : stream_(std::move(stream)), comm_(std::move(comm)) {}

void Request::wait() {
  if (ticket_ == 0) invalidUsage("Request.wait: the call is in a group that has not ended yet");
  stream_->synchronize(ticket_, comm_);
}

bool Request::isCompleted() { return ticket_ != 0 && stream_->completed(ticket_, comm_); }

namespace {

struct Deferred {
  std::vector<BufferArg> buffers;
  std::shared_ptr<StreamState> stream;
  std::shared_ptr<Request> request;
};

struct Group {
  int depth = 0;
  std::vector<Deferred> calls;
};

thread_local Group tGroup;

}  // namespace

bool GroupState::active() { return tGroup.depth > 0; }

void GroupState::start() {
  check(strataGroupStart(), "strataGroupStart");
  ++tGroup.depth;
}

void GroupState::end() {
  if (tGroup.depth == 0) invalidUsage("group_end: no group was started on this thread");
  strataResult_t res = withoutGil([&] { return strataGroupEnd(); });
  if (--tGroup.depth > 0) return check(res, "strataGroupEnd");
  std::vector<Deferred> calls = std::move(tGroup.calls);
  tGroup.calls.clear();
  if (res != strataSuccess) {
    // Nothing was queued: the group's requests report the group's failure.
    CallError error(res, "strataGroupEnd", strataGetLastError(nullptr));
    for (auto& call : calls) {
      if (call.stream) call.request->setTicket(call.stream->issueFailed(error));
    }
    throw error;
  }
  for (auto& call : calls) {
    if (call.stream) call.request->setTicket(call.stream->issue(std::move(call.buffers)));
  }
}

void GroupState::defer(std::vector<BufferArg> buffers, std::shared_ptr<StreamState> stream,
                       std::shared_ptr<Request> request) {
  tGroup.calls.push_back({std::move(buffers), std::move(stream), std::move(request)});
}

void bindStream(py::module_& m) {
  py::class_<StreamState, std::shared_ptr<StreamState>>(m, "Stream", R"doc(
A Strata stream: a library thread that runs the calls queued on it in order. Pass it as
stream= to a collective to queue the call; the call returns a Request at once.)doc")
      .def(py::init<>())
      .def(
          "synchronize", [](StreamState& s) { s.synchronize(0, nullptr); },
          "Waits until every queued call has run; raises the first error among them.")
      .def(
          "query", [](StreamState& s) { return s.completed(0, nullptr); },
          "True when every queued call has run.")
      .def("close", &StreamState::close, "Waits for the queued calls, then frees the stream.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](StreamState& s, py::args) { s.close(); });

  py::class_<Request, std::shared_ptr<Request>>(m, "Request", R"doc(
The handle of a call queued on a Stream. The stream runs calls in order, so wait() may also wait
for calls queued before this one.)doc")
      .def(
          "wait", &Request::wait,
          "Blocks (releasing the GIL) until the call has run; raises its StrataError if it failed.")
      .def("is_completed", &Request::isCompleted,
           "True once the call has run, successfully or not; never blocks.");
}

}  // namespace strata::python
