#include "window.h"

#include <memory>

#include "buffer_arg.h"
#include "comm.h"
#include "errors.h"
#include "without_gil.h"

namespace py = pybind11;

namespace strata::python {
namespace {

// One strataMemAlloc allocation, exposed through the buffer protocol as writable bytes; freed
// by free() or when the object goes away.
class SharedMemory {
 public:
  explicit SharedMemory(size_t bytes) : bytes_(bytes) {
    check(strataMemAlloc(&ptr_, bytes), "strataMemAlloc");
  }
  ~SharedMemory() {
    if (ptr_) strataMemFree(ptr_);  // a registered allocation stays (the window pins it)
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;

  void free() {
    if (!ptr_) return;
    check(strataMemFree(ptr_), "strataMemFree");
    ptr_ = nullptr;
  }
  void* data(const char* op) const {
    if (!ptr_) invalidUsage(std::string(op) + ": the shared memory was freed");
    return ptr_;
  }
  size_t size() const { return bytes_; }
  bool freed() const { return ptr_ == nullptr; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
};

// A registered window; keeps its communicator and the registered object alive.
class Window {
 public:
  Window(std::shared_ptr<CommHandle> comm, strataWindow_t win, py::object buffer)
      : comm_(std::move(comm)), win_(win), buffer_(std::move(buffer)) {}

  void deregister() {
    if (!win_) return;
    strataComm_t c = comm_->get("window_deregister");
    check(withoutGil([&] { return strataCommWindowDeregister(c, win_); }),
          "strataCommWindowDeregister", c);
    win_ = nullptr;
    buffer_ = py::none();
  }
  bool registered() const { return win_ != nullptr; }

 private:
  std::shared_ptr<CommHandle> comm_;
  strataWindow_t win_;
  py::object buffer_;
};

std::shared_ptr<Window> windowRegister(const Comm& comm, py::handle buf) {
  strataComm_t c = comm.handle()->get("window_register");
  void* data = nullptr;
  size_t bytes = 0;
  if (py::isinstance<SharedMemory>(buf)) {
    const SharedMemory& m = buf.cast<const SharedMemory&>();
    data = m.data("window_register");
    bytes = m.size();
  } else {
    BufferArg b = BufferArg::view(buf, "window_register", "buf", Access::kWrite, std::nullopt);
    data = b.data();
    bytes = b.count() * dataTypeSize(b.dtype());
  }
  strataWindow_t win = nullptr;
  check(withoutGil([&] { return strataCommWindowRegister(c, data, bytes, &win, 0); }),
        "strataCommWindowRegister", c);
  return std::make_shared<Window>(comm.handle(), win, py::reinterpret_borrow<py::object>(buf));
}

}  // namespace

void bindWindows(py::module_& m) {
  py::class_<SharedMemory, std::shared_ptr<SharedMemory>>(m, "SharedMemory", py::buffer_protocol(),
                                                          R"doc(
Memory from strataMemAlloc: ranks in other processes of this host can map it once it is
registered as a window. Exposes writable bytes (numpy.frombuffer(mem, dtype) views it).)doc")
      .def_buffer([](SharedMemory& s) {
        return py::buffer_info(s.data("buffer"), 1, py::format_descriptor<uint8_t>::format(), 1,
                               {s.size()}, {1});
      })
      .def_property_readonly("size", &SharedMemory::size, "Bytes allocated.")
      .def_property_readonly("freed", &SharedMemory::freed)
      .def("free", &SharedMemory::free,
           "Frees the memory (strataMemFree); InvalidUsageError while a window covers it.");
  m.def(
      "mem_alloc", [](size_t bytes) { return std::make_shared<SharedMemory>(bytes); },
      py::arg("nbytes"), "Allocates shareable memory (strataMemAlloc) as a SharedMemory.");

  py::class_<Window, std::shared_ptr<Window>>(m, "Window", R"doc(
A registered window (strataCommWindowRegister). Collectives whose buffers lie in windows, at the
same offsets on every rank, read and write the peers' buffers directly.)doc")
      .def_property_readonly("registered", &Window::registered)
      .def("deregister", &Window::deregister,
           "Deregisters the window (collective; strataCommWindowDeregister).");

  // Comm is bound already (bindComm runs first).
  py::class_<Comm, std::shared_ptr<Comm>> comm =
      py::reinterpret_borrow<py::class_<Comm, std::shared_ptr<Comm>>>(m.attr("Comm"));
  comm.def("window_register", &windowRegister, py::arg("buf"),
           "Registers buf (a SharedMemory, or a writable buffer inside one) as a window of this "
           "communicator; collective. Returns a Window.");
  comm.def(
      "window_deregister", [](const Comm&, Window& w) { w.deregister(); }, py::arg("window"),
      "Deregisters a window; collective.");
}

}  // namespace strata::python
