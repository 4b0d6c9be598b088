/**
 * \file selfcompress.hpp
 * \brief A header-only C++17 wrapper of the C API in selfcompress.h.
 *
 * Everything lives in namespace sc. Each C handle has a move-only owner
 * (sc::Tensor, sc::Net, sc::Optimizer, sc::Model) whose destructor frees it;
 * copies are deleted, moves are noexcept and leave the source empty. Errors
 * are values: a call that can fail returns an sc::status or an
 * sc::result<T>, which hold the sc_status code and the library's message
 * (sc_last_error() of the failed call, copied when the call returns). A
 * failed call changes nothing, as in the C API. The header compiles with
 * `-fno-exceptions -fno-rtti`; when exceptions are enabled it adds a
 * throwing layer: sc::exception, sc::status::throw_if_error() and
 * sc::result::value_or_throw().
 *
 * \code{.cpp}
 *     #include <selfcompress.hpp>
 *
 *     sc::result<sc::Net> made = sc::Net::create(1, 28, 28);
 *     if (!made) {
 *         std::fprintf(stderr, "%s\n", made.error().describe().c_str());
 *         return 1;
 *     }
 *     sc::Net net = std::move(made).value();
 *     int id = net.conv2d(SC_INPUT, 16, 3, 3, 1, 1, SC_NO_BIAS).value_or(-1);
 *     // ... or, with exceptions: net.relu(id).value_or_throw()
 * \endcode
 *
 * Link as for the C API (`pkg-config --cflags --libs selfcompress`).
 * Buffers are passed as sc::span (a pointer and a count); where the C API
 * trusts a pointer to hold enough elements (a wrapped tensor's data, one
 * label per sample) the wrapper checks the count first. It allocates only
 * for the message of a failure, the vectors its convenience getters return
 * and one block per net that holds the callables of its hooks (as
 * std::function). The trampolines that call the hooks are noexcept: a hook
 * that throws ends the program (std::terminate), since the exception would
 * otherwise unwind through the library's C frames.
 */
#ifndef SELFCOMPRESS_HPP
#define SELFCOMPRESS_HPP

#include <selfcompress.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/** \def SC_HPP_EXCEPTIONS
 *  1 when the throwing layer (sc::exception, throw_if_error(),
 *  value_or_throw()) is compiled: by default when exceptions are enabled
 *  (__cpp_exceptions); a host may define it to 0 before including the
 *  header to leave the layer out. */
#ifndef SC_HPP_EXCEPTIONS
#if defined(__cpp_exceptions)
#define SC_HPP_EXCEPTIONS 1
#else
#define SC_HPP_EXCEPTIONS 0
#endif
#endif

#if SC_HPP_EXCEPTIONS
#include <stdexcept>
#endif

/** The C++ wrapper of libselfcompress. */
namespace sc {

// ---- Views and strings ----------------------------------------------------

/**
 * A non-owning view of count elements at data (std::span's role in C++17).
 * Built from a pointer and a count, a C array, an initializer list (for the
 * duration of a call) or any contiguous container with data() and size()
 * (std::vector, std::array, std::span, ...).
 */
template <class T> class span {
public:
    /** An empty view (data() is nullptr). */
    constexpr span() noexcept = default;
    /** count elements at data. */
    constexpr span(T *data, std::size_t count) noexcept
        : data_(data), size_(count) {}
    /** The N elements of a C array. */
    template <std::size_t N>
    constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
    /** The elements of an initializer list (valid while the list lives:
     *  pass it as a call's argument). */
    template <class U = T,
              class = std::enable_if_t<std::is_const<U>::value>>
    constexpr span(
        const std::initializer_list<std::remove_const_t<T>> &list) noexcept
        : data_(std::data(list)), size_(list.size()) {}
    /** The elements of a contiguous container (c.data(), c.size()). */
    template <class C,
              class = std::enable_if_t<
                  !std::is_same<std::decay_t<C>, span>::value &&
                  std::is_convertible<decltype(std::declval<C &>().data()),
                                      T *>::value>,
              class = decltype(std::declval<C &>().size())>
    constexpr span(C &&c) noexcept
        : data_(c.data()), size_(static_cast<std::size_t>(c.size())) {}

    /** The first element, or nullptr for an empty view. */
    constexpr T *data() const noexcept { return data_; }
    /** The number of elements. */
    constexpr std::size_t size() const noexcept { return size_; }
    /** true when the view has no elements. */
    constexpr bool empty() const noexcept { return size_ == 0; }
    /** Element i (unchecked, i < size()). */
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
    /** Start of the elements (range-for). */
    constexpr T *begin() const noexcept { return data_; }
    /** End of the elements (range-for). */
    constexpr T *end() const noexcept { return data_ + size_; }

private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

/** A NUL-terminated string argument taken without a copy, from a C string
 *  or a std::string (which must outlive the call). */
class cstring_ref {
public:
    /** s itself (nullptr gets the C API's SC_ERR_NULL). */
    cstring_ref(const char *s) noexcept : s_(s) {}
    /** s.c_str(). */
    cstring_ref(const std::string &s) noexcept : s_(s.c_str()) {}
    /** The NUL-terminated string. */
    const char *c_str() const noexcept { return s_; }

private:
    const char *s_;
};

// ---- Errors -----------------------------------------------------------------

#if SC_HPP_EXCEPTIONS
/** What the throwing layer throws: a failed call's code and message
 *  (what() is status::describe()). Only with SC_HPP_EXCEPTIONS. */
class exception : public std::runtime_error {
public:
    /** An exception for code with what() = what. */
    exception(sc_status code, const std::string &what)
        : std::runtime_error(what), code_(code) {}
    /** The sc_status of the failed call. */
    sc_status code() const noexcept { return code_; }

private:
    sc_status code_;
};
#endif

/**
 * The outcome of a call that returns no value: SC_OK, or an error code with
 * the library's message. A success holds no string (no allocation).
 */
class [[nodiscard]] status {
public:
    /** Success. */
    status() noexcept = default;
    /** code with message (empty for SC_OK). */
    status(sc_status code, std::string message)
        : code_(code), message_(std::move(message)) {}

    /** The status of a C call that just returned code: the calling thread's
     *  sc_last_error() message is copied when code is not SC_OK. */
    static status from_c(sc_status code)
    {
        return code == SC_OK ? status() : status(code, sc_last_error());
    }

    /** true on success. */
    bool ok() const noexcept { return code_ == SC_OK; }
    /** true on success. */
    explicit operator bool() const noexcept { return ok(); }
    /** The code (SC_OK on success). */
    sc_status code() const noexcept { return code_; }
    /** The library's message ("" on success). */
    const std::string &message() const noexcept { return message_; }
    /** "sc_strerror(code): message", or "success". */
    std::string describe() const
    {
        std::string s = sc_strerror(code_);
        if (!message_.empty()) {
            s += ": ";
            s += message_;
        }
        return s;
    }
#if SC_HPP_EXCEPTIONS
    /** Throws sc::exception when not ok() (only with SC_HPP_EXCEPTIONS). */
    void throw_if_error() const
    {
        if (!ok())
            throw exception(code_, describe());
    }
#endif

private:
    sc_status code_ = SC_OK;
    std::string message_;
};

/**
 * A value of type T or the status of the failure that gave none. The
 * accessors value(), operator* and operator-> require ok(); value_or()
 * does not.
 */
template <class T> class [[nodiscard]] result {
public:
    /** Success with v. */
    result(T v) : value_(std::move(v)) {}
    /** A bare code is refused (it would convert to an arithmetic T as a
     *  value): give a status, which carries the message. */
    template <class U = T,
              class = std::enable_if_t<!std::is_same<U, sc_status>::value>>
    result(sc_status code) = delete;
    /** Failure st; an ok() st (no value to give) becomes SC_ERR_STATE. */
    result(status st)
        : status_(st.ok() ? status(SC_ERR_STATE, "sc::result: no value")
                          : std::move(st)) {}

    /** true when a value is held. */
    bool ok() const noexcept { return value_.has_value(); }
    /** true when a value is held. */
    explicit operator bool() const noexcept { return ok(); }
    /** The code (SC_OK with a value). */
    sc_status code() const noexcept { return status_.code(); }
    /** The failure's message ("" with a value). */
    const std::string &message() const noexcept { return status_.message(); }
    /** The whole status (ok() with a value). */
    const status &error() const noexcept { return status_; }

    /** The value (requires ok(): without a value the behaviour is
     *  undefined, as for std::optional's operator*). */
    T &value() & noexcept { return *value_; }
    /** The value (requires ok()). */
    const T &value() const & noexcept { return *value_; }
    /** The value, moved out (requires ok()). */
    T &&value() && noexcept { return std::move(*value_); }
    /** The value (requires ok()). */
    T &operator*() & noexcept { return *value_; }
    /** The value (requires ok()). */
    const T &operator*() const & noexcept { return *value_; }
    /** The value, moved out (requires ok()). */
    T &&operator*() && noexcept { return std::move(*value_); }
    /** The value's members (requires ok()). */
    T *operator->() noexcept { return &*value_; }
    /** The value's members (requires ok()). */
    const T *operator->() const noexcept { return &*value_; }
    /** The value, or fallback on failure. */
    template <class U> T value_or(U &&fallback) const &
    {
        return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }
    /** The value moved out, or fallback on failure. */
    template <class U> T value_or(U &&fallback) &&
    {
        return ok() ? std::move(*value_)
                    : static_cast<T>(std::forward<U>(fallback));
    }
#if SC_HPP_EXCEPTIONS
    /** The value, or throws sc::exception (only with SC_HPP_EXCEPTIONS). */
    T &value_or_throw() &
    {
        status_.throw_if_error();
        return *value_;
    }
    /** The value moved out, or throws sc::exception (only with
     *  SC_HPP_EXCEPTIONS). */
    T value_or_throw() &&
    {
        status_.throw_if_error();
        return std::move(*value_);
    }
#endif

private:
    status status_;
    std::optional<T> value_;
};

/// \cond SC_DETAIL
namespace detail {
// A status that a call with a wrong argument gets from the wrapper itself.
inline status fail(sc_status code, const char *message)
{
    return status(code, message);
}
// result<T> of a C call that stored its output in v on success.
template <class T> result<T> make(sc_status code, T v)
{
    if (code != SC_OK)
        return status::from_c(code);
    return result<T>(std::move(v));
}
// shape.size() as the C API's ndim (a count past SC_MAX_DIMS stays one).
inline int ndim(span<const int64_t> shape) noexcept
{
    return shape.size() > SC_MAX_DIMS ? SC_MAX_DIMS + 1
                                      : static_cast<int>(shape.size());
}
// The element count of a shape the library takes (1 .. SC_MAX_DIMS
// dimensions, each > 0, the floats' bytes within size_t) into n; false for
// any other shape.
inline bool shape_numel(span<const int64_t> shape, std::size_t &n) noexcept
{
    if (shape.empty() || shape.size() > SC_MAX_DIMS)
        return false;
    n = 1;
    for (int64_t d : shape) {
        if (d <= 0 ||
            static_cast<uint64_t>(d) > (SIZE_MAX / sizeof(float)) / n)
            return false;
        n *= static_cast<std::size_t>(d);
    }
    return true;
}
// The callables a net's hooks call; one heap block per net, so the
// addresses the library holds stay put when the sc::Net moves.
struct hooks {
    std::function<void(const sc_progress &)> progress;
    std::function<void(sc_log_level, std::string_view)> log;
};
inline void progress_trampoline(const sc_progress *p, void *user) noexcept
{
    (*static_cast<std::function<void(const sc_progress &)> *>(user))(*p);
}
inline void log_trampoline(int level, const char *msg, void *user) noexcept
{
    (*static_cast<std::function<void(sc_log_level, std::string_view)> *>(
        user))(static_cast<sc_log_level>(level), std::string_view(msg));
}
} // namespace detail
/// \endcond

// ---- Library information ----------------------------------------------------

/** sc_version_number() of the loaded library (compare with
 *  SC_VERSION_NUMBER, the header's). */
inline unsigned version_number() noexcept { return sc_version_number(); }
/** sc_version_string(): "MAJOR.MINOR.PATCH" of the loaded library. */
inline const char *version_string() noexcept { return sc_version_string(); }
/** sc_blas_info(): the BLAS build and its kernel. */
inline const char *blas_info() noexcept { return sc_blas_info(); }
/** sc_blas_kernel(): the BLAS kernel running now. */
inline const char *blas_kernel() noexcept { return sc_blas_kernel(); }
/** sc_blas_best_coretype(): the best OpenBLAS core type of this CPU, or
 *  nullptr when unknown. */
inline const char *blas_best_coretype() noexcept
{
    return sc_blas_best_coretype();
}
/** sc_blas_kernel_suboptimal(): true when the BLAS kernel is below what
 *  the CPU supports. */
inline bool blas_kernel_suboptimal() noexcept
{
    return sc_blas_kernel_suboptimal() != 0;
}
/** sc_conv_kernel(): the convolution micro-kernel ("avx512", "avx2",
 *  "generic"). */
inline const char *conv_kernel() noexcept { return sc_conv_kernel(); }
/** sc_int8_kernel(): the integer micro-kernel of a model's int8 inference
 *  ("avx512vnni", "avx2", "generic"; all give the same bits). */
inline const char *int8_kernel() noexcept { return sc_int8_kernel(); }
/** sc_strerror(): the fixed description of a code. */
inline const char *strerror(sc_status code) noexcept
{
    return sc_strerror(code);
}

// ---- Plain values -------------------------------------------------------------

/** A per-sample shape: channels x height x width. */
struct shape3 {
    int c = 0; /**< channels */
    int h = 0; /**< height */
    int w = 0; /**< width */
};

/** The shape of a layer's parameter slot (sc_net_layer_param_shape()). */
struct param_shape {
    std::array<int64_t, 4> dims{}; /**< dims[0 .. ndim) */
    int ndim = 0;                  /**< the number of dimensions */
    /** The number of elements: the product of the dims. */
    std::size_t numel() const noexcept
    {
        std::size_t n = 1;
        for (int i = 0; i < ndim; i++)
            n *= static_cast<std::size_t>(dims[static_cast<std::size_t>(i)]);
        return n;
    }
};

/** A layer as sc_net_layer_desc() reports it: its descriptor and inputs. */
struct layer_info {
    sc_layer_desc desc = SC_LAYER_DESC_INIT(SC_LAYER_INPUT); /**< attributes */
    std::array<int, SC_MAX_LAYER_INPUTS> inputs{}; /**< inputs[0 .. n_inputs) */
    int n_inputs = 0;                              /**< the input count */
};

/** What sc_net_eval_loss() measured. */
struct eval_stats {
    double task_loss = 0; /**< the task loss (no size loss) */
    double accuracy = 0;  /**< as sc_step_stats.accuracy */
};

/** A layer's quantiser values: one bit depth and exponent per channel. */
struct quant_values {
    std::vector<float> b; /**< bit depths */
    std::vector<float> e; /**< exponents */
};

// ---- Tensor -------------------------------------------------------------------

/** Owns an sc_tensor (a float32 tensor of 1 to SC_MAX_DIMS dimensions). */
class Tensor {
public:
    /** An empty handle. */
    Tensor() noexcept = default;
    /** Takes ownership of t (may be nullptr). */
    explicit Tensor(sc_tensor *t) noexcept : t_(t) {}
    Tensor(const Tensor &) = delete;            /**< move-only */
    Tensor &operator=(const Tensor &) = delete; /**< move-only */
    /** Takes o's tensor; o is left empty. */
    Tensor(Tensor &&o) noexcept : t_(o.release()) {}
    /** Frees the tensor held and takes o's; o is left empty. */
    Tensor &operator=(Tensor &&o) noexcept
    {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    /** sc_tensor_free() of the tensor held. */
    ~Tensor() { reset(); }

    /** sc_tensor_create(): a zero-filled tensor of the given shape. */
    static result<Tensor> create(span<const int64_t> shape)
    {
        sc_tensor *t = nullptr;
        sc_status st = sc_tensor_create(&t, detail::ndim(shape),
                                        shape.data());
        return detail::make(st, Tensor(t));
    }
    /** sc_tensor_from_data(): a tensor that owns a copy of data, whose
     *  size must be the shape's element count (SC_ERR_SHAPE otherwise). */
    static result<Tensor> from_data(span<const int64_t> shape,
                                    span<const float> data)
    {
        std::size_t n = 0;
        // A shape the library would take must match the data's size; any
        // other shape it refuses before it reads data.
        if (detail::shape_numel(shape, n) && n != data.size())
            return detail::fail(SC_ERR_SHAPE, "sc::Tensor::from_data: the "
                                              "data's size is not the shape's "
                                              "element count");
        sc_tensor *t = nullptr;
        sc_status st = sc_tensor_from_data(&t, detail::ndim(shape),
                                           shape.data(), data.data());
        return detail::make(st, Tensor(t));
    }
    /** sc_tensor_wrap(): a tensor over data (no copy), whose size must be
     *  the shape's element count (SC_ERR_SHAPE otherwise). data must
     *  outlive the tensor. */
    static result<Tensor> wrap(span<const int64_t> shape, span<float> data)
    {
        sc_tensor *t = nullptr;
        sc_status st = sc_tensor_wrap(&t, detail::ndim(shape), shape.data(),
                                      data.data());
        if (st != SC_OK)
            return status::from_c(st);
        Tensor owned(t);
        if (owned.numel() != data.size())
            return detail::fail(SC_ERR_SHAPE, "sc::Tensor::wrap: the data's "
                                              "size is not the shape's "
                                              "element count");
        return result<Tensor>(std::move(owned));
    }

    /** The handle (nullptr when empty). */
    sc_tensor *get() const noexcept { return t_; }
    /** Gives up ownership: returns the handle and leaves this empty. */
    sc_tensor *release() noexcept
    {
        sc_tensor *t = t_;
        t_ = nullptr;
        return t;
    }
    /** Frees the tensor held and takes t. */
    void reset(sc_tensor *t = nullptr) noexcept
    {
        sc_tensor *old = t_;
        t_ = t;
        if (old)
            sc_tensor_free(old);
    }
    /** true when a tensor is held. */
    explicit operator bool() const noexcept { return t_ != nullptr; }

    /** The number of dimensions (0 when empty). */
    int ndim() const noexcept { return sc_tensor_ndim(t_); }
    /** The size of dimension i (-1 when out of range or empty). */
    int64_t dim(int i) const noexcept { return sc_tensor_dim(t_, i); }
    /** The number of elements (0 when empty). */
    std::size_t numel() const noexcept { return sc_tensor_numel(t_); }
    /** The elements (nullptr when empty). */
    float *data() const noexcept { return sc_tensor_data(t_); }
    /** The elements as a view. */
    span<float> values() const noexcept { return span<float>(data(), numel()); }
    /** sc_tensor_copy_to(): dst.size() must be numel(). */
    status copy_to(span<float> dst) const
    {
        return status::from_c(sc_tensor_copy_to(t_, dst.data(), dst.size()));
    }
    /** sc_tensor_copy_from(): src.size() must be numel(). */
    status copy_from(span<const float> src)
    {
        return status::from_c(
            sc_tensor_copy_from(t_, src.data(), src.size()));
    }

private:
    sc_tensor *t_ = nullptr;
};

class Optimizer;

/** Something a progress hook can be built from: void(const sc_progress &). */
using progress_fn = std::function<void(const sc_progress &)>;
/** Something a log hook can be built from: void(sc_log_level, message). */
using log_fn = std::function<void(sc_log_level, std::string_view)>;

// ---- Net -----------------------------------------------------------------------

/**
 * Owns an sc_net and the callables of its hooks. Layer builders return the
 * new layer's id. A moved net keeps its hooks (they live in a block of
 * their own).
 */
class Net {
public:
    /** An empty handle. */
    Net() noexcept = default;
    /** Takes ownership of net (may be nullptr; it must have no hooks set
     *  through the C API whose user data it does not own). */
    explicit Net(sc_net *net) noexcept : net_(net) {}
    Net(const Net &) = delete;            /**< move-only */
    Net &operator=(const Net &) = delete; /**< move-only */
    /** Takes o's net and hooks; o is left empty. */
    Net(Net &&o) noexcept : net_(o.net_), hooks_(std::move(o.hooks_))
    {
        o.net_ = nullptr;
    }
    /** Frees the net held and takes o's; o is left empty. */
    Net &operator=(Net &&o) noexcept
    {
        if (this != &o) {
            reset(o.net_);
            o.net_ = nullptr;
            hooks_ = std::move(o.hooks_);
        }
        return *this;
    }
    /** sc_net_free() of the net held, then its hooks. */
    ~Net() { reset(); }

    /** sc_net_create(): an empty net whose samples are c x h x w. */
    static result<Net> create(int c, int h, int w)
    {
        sc_net *net = nullptr;
        sc_status st = sc_net_create(&net, c, h, w);
        return detail::make(st, Net(net));
    }
    /** sc_net_import_onnx(): an initialised net from an ONNX model file
     *  (limits: nullptr for the default caps). */
    static result<Net> import_onnx(cstring_ref path,
                                   const sc_load_limits *limits = nullptr)
    {
        sc_net *net = nullptr;
        sc_status st = sc_net_import_onnx(&net, path.c_str(), limits);
        return detail::make(st, Net(net));
    }
    /** sc_net_import_onnx_memory(): the same from bytes (not kept). */
    static result<Net> import_onnx_memory(span<const unsigned char> bytes,
                                          const sc_load_limits *limits = nullptr)
    {
        sc_net *net = nullptr;
        sc_status st = sc_net_import_onnx_memory(&net, bytes.data(), bytes.size(),
                                                 limits);
        return detail::make(st, Net(net));
    }

    /** The handle (nullptr when empty). */
    sc_net *get() const noexcept { return net_; }
    /** Gives up ownership of the net (hooks set through this wrapper are
     *  removed first, as their callables stay here and are freed). */
    sc_net *release() noexcept
    {
        drop_hooks();
        sc_net *n = net_;
        net_ = nullptr;
        return n;
    }
    /** Frees the net held (and its hooks) and takes net. */
    void reset(sc_net *net = nullptr) noexcept
    {
        sc_net *old = net_;
        net_ = net;
        if (old)
            sc_net_free(old);
        hooks_.reset();
    }
    /** true when a net is held. */
    explicit operator bool() const noexcept { return net_ != nullptr; }

    // -- building
    /** sc_net_add_layer(): a layer described by desc reading inputs. */
    result<int> add_layer(const sc_layer_desc &desc, span<const int> inputs)
    {
        int id = -1;
        sc_status st = sc_net_add_layer(net_, &desc, inputs.data(),
                                        static_cast<int>(inputs.size()), &id);
        return detail::make(st, id);
    }
    /** sc_net_add_layer() with one input. */
    result<int> add_layer(const sc_layer_desc &desc, int in)
    {
        return add_layer(desc, span<const int>(&in, 1));
    }
    /** sc_net_layer_desc(): layer id's descriptor and inputs. */
    result<layer_info> layer_desc(int id) const
    {
        layer_info li;
        sc_status st = sc_net_layer_desc(net_, id, &li.desc, li.inputs.data(),
                                         &li.n_inputs);
        return detail::make(st, li);
    }
    /** sc_net_dense(): fully connected, out_features outputs. */
    result<int> dense(int in, int out_features, int flags)
    {
        int id = -1;
        sc_status st = sc_net_dense(net_, in, out_features, flags, &id);
        return detail::make(st, id);
    }
    /** sc_net_conv2d(): 2-D convolution, kernel kh x kw. */
    result<int> conv2d(int in, int out_channels, int kh, int kw, int stride,
                       int pad, int flags)
    {
        int id = -1;
        sc_status st = sc_net_conv2d(net_, in, out_channels, kh, kw, stride,
                                     pad, flags, &id);
        return detail::make(st, id);
    }
    /** sc_net_batchnorm(): batch norm over channels. */
    result<int> batchnorm(int in, int flags)
    {
        int id = -1;
        sc_status st = sc_net_batchnorm(net_, in, flags, &id);
        return detail::make(st, id);
    }
    /** sc_net_relu(): y = max(x, 0). */
    result<int> relu(int in)
    {
        int id = -1;
        sc_status st = sc_net_relu(net_, in, &id);
        return detail::make(st, id);
    }
    /** sc_net_maxpool(): a k x k max pool. */
    result<int> maxpool(int in, int k, int stride)
    {
        int id = -1;
        sc_status st = sc_net_maxpool(net_, in, k, stride, &id);
        return detail::make(st, id);
    }
    /** sc_net_global_avgpool(): per-channel mean. */
    result<int> global_avgpool(int in)
    {
        int id = -1;
        sc_status st = sc_net_global_avgpool(net_, in, &id);
        return detail::make(st, id);
    }
    /** sc_net_global_maxpool(): per-channel max. */
    result<int> global_maxpool(int in)
    {
        int id = -1;
        sc_status st = sc_net_global_maxpool(net_, in, &id);
        return detail::make(st, id);
    }
    /** sc_net_flatten(): c x h x w to (c*h*w). */
    result<int> flatten(int in)
    {
        int id = -1;
        sc_status st = sc_net_flatten(net_, in, &id);
        return detail::make(st, id);
    }
    /** sc_net_add(): element-wise sum of layers a and b. */
    result<int> add(int a, int b)
    {
        int id = -1;
        sc_status st = sc_net_add(net_, a, b, &id);
        return detail::make(st, id);
    }
    /** sc_net_init(): allocates and initialises the parameters from seed. */
    status init(uint64_t seed)
    {
        return status::from_c(sc_net_init(net_, seed));
    }

    // -- structure and parameters
    /** sc_net_layer_count(): layers, the input included. */
    int layer_count() const noexcept { return sc_net_layer_count(net_); }
    /** sc_net_layer_kind(): an sc_layer_kind, or -1 for a bad id. */
    int layer_kind(int id) const noexcept
    {
        return sc_net_layer_kind(net_, id);
    }
    /** sc_net_layer_shape(): layer id's output shape per sample. */
    result<shape3> layer_shape(int id) const
    {
        shape3 s;
        sc_status st = sc_net_layer_shape(net_, id, &s.c, &s.h, &s.w);
        return detail::make(st, s);
    }
    /** sc_net_output_size(): outputs per sample. */
    int output_size() const noexcept { return sc_net_output_size(net_); }
    /** sc_net_param_count(): trainable floats. */
    std::size_t param_count() const noexcept
    {
        return sc_net_param_count(net_);
    }
    /** sc_net_get_params() into dst (dst.size() == param_count()). */
    status get_params(span<float> dst) const
    {
        return status::from_c(
            sc_net_get_params(net_, dst.data(), dst.size()));
    }
    /** sc_net_get_params() into a new vector. */
    result<std::vector<float>> get_params() const
    {
        std::vector<float> v(param_count());
        status st = get_params(span<float>(v));
        if (!st.ok())
            return st;
        return result<std::vector<float>>(std::move(v));
    }
    /** sc_net_set_params() from src (src.size() == param_count()). */
    status set_params(span<const float> src)
    {
        return status::from_c(
            sc_net_set_params(net_, src.data(), src.size()));
    }
    /** sc_net_layer_param_shape(): the shape of layer id's slot. */
    result<param_shape> layer_param_shape(int id, sc_layer_slot slot) const
    {
        param_shape s;
        sc_status st = sc_net_layer_param_shape(net_, id, slot, s.dims.data(),
                                                &s.ndim);
        return detail::make(st, s);
    }
    /** sc_net_get_layer_param() into dst (its size the slot's elements). */
    status get_layer_param(int id, sc_layer_slot slot, span<float> dst) const
    {
        return status::from_c(sc_net_get_layer_param(net_, id, slot,
                                                     dst.data(), dst.size()));
    }
    /** sc_net_get_layer_param() into a new vector. */
    result<std::vector<float>> get_layer_param(int id,
                                               sc_layer_slot slot) const
    {
        result<param_shape> s = layer_param_shape(id, slot);
        if (!s.ok())
            return s.error();
        std::vector<float> v(s->numel());
        status st = get_layer_param(id, slot, span<float>(v));
        if (!st.ok())
            return st;
        return result<std::vector<float>>(std::move(v));
    }
    /** sc_net_set_layer_param() from src (its size the slot's elements). */
    status set_layer_param(int id, sc_layer_slot slot, span<const float> src)
    {
        return status::from_c(sc_net_set_layer_param(net_, id, slot,
                                                     src.data(), src.size()));
    }

    // -- settings
    /** sc_net_set_param(): numeric setting p. */
    status set_param(sc_param p, double value)
    {
        return status::from_c(sc_net_set_param(net_, p, value));
    }
    /** sc_net_get_param(): numeric setting p. */
    result<double> get_param(sc_param p) const
    {
        double v = 0;
        sc_status st = sc_net_get_param(net_, p, &v);
        return detail::make(st, v);
    }
    /** sc_net_set_threads(): threads the net uses (>= 1). */
    status set_threads(int threads)
    {
        return status::from_c(sc_net_set_threads(net_, threads));
    }
    /** sc_net_set_training(): training mode (true) or eval mode. */
    status set_training(bool training)
    {
        return status::from_c(sc_net_set_training(net_, training ? 1 : 0));
    }
    /** sc_net_set_loss(): the task loss (d's class_weights are copied). */
    status set_loss(const sc_loss_desc &d)
    {
        return status::from_c(sc_net_set_loss(net_, &d));
    }
    /** sc_net_set_loss() of kind with class weights (empty: none) and
     *  label smoothing. */
    status set_loss(sc_loss kind, span<const float> class_weights = {},
                    float label_smoothing = 0.0f)
    {
        sc_loss_desc d = SC_LOSS_DESC_INIT(kind);
        d.class_weights = class_weights.empty() ? nullptr
                                                : class_weights.data();
        d.n_class_weights = static_cast<int>(class_weights.size());
        d.label_smoothing = label_smoothing;
        return set_loss(d);
    }
    /** sc_net_get_loss(): the loss setting (class_weights point into the
     *  net, valid until the next set_loss() or the net's end). */
    result<sc_loss_desc> get_loss() const
    {
        sc_loss_desc d = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
        sc_status st = sc_net_get_loss(net_, &d);
        return detail::make(st, d);
    }

    // -- running and training
    /** sc_net_forward(): x (N x c x h x w) to out (N x outputs). */
    status forward(const Tensor &x, Tensor &out)
    {
        return status::from_c(sc_net_forward(net_, x.get(), out.get()));
    }
    /** sc_net_train_step(): one step on x with labels, one per sample
     *  (labels.size() must be x's first dimension: SC_ERR_SHAPE). */
    result<sc_step_stats> train_step(Optimizer &opt, const Tensor &x,
                                     span<const int32_t> labels);
    /** sc_net_train_step_v2() on x with float targets (N x outputs). */
    result<sc_step_stats> train_step(Optimizer &opt, const Tensor &x,
                                     const Tensor &targets);
    /** sc_net_train_step_v2() on a batch as the C API takes it. */
    result<sc_step_stats> train_step(Optimizer &opt, const sc_batch &b);
    /** sc_net_eval_loss() of x with labels (labels.size() must be x's
     *  first dimension: SC_ERR_SHAPE). */
    result<eval_stats> eval_loss(const Tensor &x, span<const int32_t> labels)
    {
        if (!labels_fit(x, labels))
            return detail::fail(SC_ERR_SHAPE, "sc::Net::eval_loss: one label "
                                              "per sample of x is needed");
        sc_batch b = SC_BATCH_INIT;
        b.x = x.get();
        b.labels = labels.data();
        return eval_loss(b);
    }
    /** sc_net_eval_loss() of x with float targets. */
    result<eval_stats> eval_loss(const Tensor &x, const Tensor &targets)
    {
        sc_batch b = SC_BATCH_INIT;
        b.x = x.get();
        b.targets = targets.get();
        return eval_loss(b);
    }
    /** sc_net_eval_loss() of a batch as the C API takes it. */
    result<eval_stats> eval_loss(const sc_batch &b)
    {
        eval_stats e;
        sc_status st = sc_net_eval_loss(net_, &b, &e.task_loss, &e.accuracy);
        return detail::make(st, e);
    }
    /** sc_net_train_forward(): the first half of a step with the host's
     *  loss (SC_LOSS_HOST). */
    status train_forward(const Tensor &x, Tensor &logits)
    {
        return status::from_c(
            sc_net_train_forward(net_, x.get(), logits.get()));
    }
    /** sc_net_train_backward(): the second half, from dL/dlogits. */
    result<sc_step_stats> train_backward(Optimizer &opt,
                                         const Tensor &dlogits,
                                         double host_loss);
    /** sc_net_update_bn_stats(): folds x's batch statistics into the
     *  running ones. */
    status update_bn_stats(const Tensor &x)
    {
        return status::from_c(sc_net_update_bn_stats(net_, x.get()));
    }

    // -- self-compression
    /** sc_net_quantize(): quantise layer id (default: every dense/conv). */
    status quantize(int id = SC_ALL_LAYERS)
    {
        return status::from_c(sc_net_quantize(net_, id));
    }
    /** sc_net_is_quantized(): true when layer id is quantised. */
    bool is_quantized(int id) const noexcept
    {
        return sc_net_is_quantized(net_, id) != 0;
    }
    /** sc_net_get_quant(): layer id's bit depths and exponents into b and e
     *  (an empty view skips it; a non-empty one has one element per
     *  channel). */
    status get_quant(int id, span<float> b, span<float> e) const
    {
        std::size_t count = 0;
        if (!views_agree(b.size(), e.size(), count))
            return detail::fail(SC_ERR_ARG, "sc::Net::get_quant: b and e "
                                            "differ in size");
        return status::from_c(sc_net_get_quant(
            net_, id, b.empty() ? nullptr : b.data(),
            e.empty() ? nullptr : e.data(), count));
    }
    /** sc_net_get_quant() into new vectors (one element per channel). */
    result<quant_values> get_quant(int id) const
    {
        result<shape3> s = layer_shape(id);
        if (!s.ok())
            return s.error();
        quant_values q;
        q.b.resize(static_cast<std::size_t>(s->c));
        q.e.resize(static_cast<std::size_t>(s->c));
        status st = get_quant(id, span<float>(q.b), span<float>(q.e));
        if (!st.ok())
            return st;
        return result<quant_values>(std::move(q));
    }
    /** sc_net_set_quant(): sets layer id's bit depths b and exponents e (an
     *  empty view leaves that one as it is). */
    status set_quant(int id, span<const float> b, span<const float> e)
    {
        std::size_t count = 0;
        if (!views_agree(b.size(), e.size(), count))
            return detail::fail(SC_ERR_ARG, "sc::Net::set_quant: b and e "
                                            "differ in size");
        return status::from_c(sc_net_set_quant(
            net_, id, b.empty() ? nullptr : b.data(),
            e.empty() ? nullptr : e.data(), count));
    }
    /** sc_net_size_report(): layer id's or (default) the whole net's size
     *  figures. */
    result<sc_size_report> size_report(int id = SC_ALL_LAYERS) const
    {
        sc_size_report r = SC_SIZE_REPORT_INIT;
        sc_status st = sc_net_size_report(net_, id, &r);
        return detail::make(st, r);
    }
    /** sc_net_compress(): removes dead channels; the value is how many
     *  dense/conv output channels went. */
    result<int> compress()
    {
        int removed = 0;
        sc_status st = sc_net_compress(net_, &removed);
        return detail::make(st, removed);
    }

    // -- int8 inference
    /** sc_net_calibrate(): widens every layer's recorded output range over
     *  the batch x (N x c x h x w, run in eval mode; the net's mode is
     *  kept) for int8 inference: save() stores the ranges and a Model
     *  loaded from that file runs in int8. A train step, a compress()
     *  that removes channels, quantize() or any change of the parameters
     *  discards them: calibrate last. On failure the ranges are
     *  unchanged. */
    status calibrate(const Tensor &x)
    {
        return status::from_c(sc_net_calibrate(net_, x.get()));
    }
    /** sc_net_calibrated(): the images the net's current ranges were
     *  measured on (0: none; save() then writes an fp32-only model). */
    result<int64_t> calibrated() const
    {
        int64_t images = 0;
        sc_status st = sc_net_calibrated(net_, &images);
        return detail::make(st, images);
    }

    // -- files
    /** sc_net_save(): writes the inference model to path; the value is the
     *  file's sizes. */
    result<sc_model_info> save(cstring_ref path) const
    {
        sc_model_info info = SC_MODEL_INFO_INIT;
        sc_status st = sc_net_save(net_, path.c_str(), &info);
        return detail::make(st, info);
    }

    // -- hooks
    /** sc_net_set_progress(): calls fn(record) after every every_n-th train
     *  step and on report_epoch(). An empty fn removes the hook. fn must
     *  not throw, nor change, train or free the net. */
    status set_progress(progress_fn fn, int every_n)
    {
        if (!fn) {
            sc_status st = sc_net_set_progress(net_, nullptr, nullptr, every_n);
            if (st == SC_OK && hooks_)
                hooks_->progress = nullptr;
            return status::from_c(st);
        }
        if (!ensure_hooks())
            return detail::fail(SC_ERR_NOMEM, "sc::Net::set_progress: no "
                                              "memory for the hook");
        sc_status st = sc_net_set_progress(net_, detail::progress_trampoline,
                                           &hooks_->progress, every_n);
        if (st == SC_OK)
            hooks_->progress = std::move(fn);
        return status::from_c(st);
    }
    /** sc_net_set_log(): calls fn(level, message) for the net's messages
     *  (the message is valid during the call). An empty fn removes the
     *  hook. fn must not throw, nor change, train or free the net. */
    status set_log(log_fn fn)
    {
        if (!fn) {
            sc_status st = sc_net_set_log(net_, nullptr, nullptr);
            if (st == SC_OK && hooks_)
                hooks_->log = nullptr;
            return status::from_c(st);
        }
        if (!ensure_hooks())
            return detail::fail(SC_ERR_NOMEM, "sc::Net::set_log: no memory "
                                              "for the hook");
        // The callable is in place before the call: setting the first hook
        // may log at once (a BLAS kernel below the CPU).
        log_fn old = std::move(hooks_->log);
        hooks_->log = std::move(fn);
        sc_status st = sc_net_set_log(net_, detail::log_trampoline,
                                      &hooks_->log);
        if (st != SC_OK)
            hooks_->log = std::move(old);
        return status::from_c(st);
    }
    /** sc_net_report_epoch(): an SC_PROGRESS_EPOCH record for the host's
     *  epoch with its test accuracy (NaN: none). */
    status report_epoch(int epoch, double test_accuracy)
    {
        return status::from_c(
            sc_net_report_epoch(net_, epoch, test_accuracy));
    }

private:
    static bool labels_fit(const Tensor &x, span<const int32_t> labels)
    {
        return !x || x.dim(0) < 0 ||
               static_cast<uint64_t>(x.dim(0)) == labels.size();
    }
    static bool views_agree(std::size_t nb, std::size_t ne,
                            std::size_t &count) noexcept
    {
        count = nb ? nb : ne;
        return nb == 0 || ne == 0 || nb == ne;
    }
    bool ensure_hooks() noexcept
    {
        if (!hooks_)
            hooks_.reset(new (std::nothrow) detail::hooks());
        return hooks_ != nullptr;
    }
    void drop_hooks() noexcept
    {
        if (net_ && hooks_) {
            if (hooks_->progress)
                (void)sc_net_set_progress(net_, nullptr, nullptr, 1);
            if (hooks_->log)
                (void)sc_net_set_log(net_, nullptr, nullptr);
        }
        hooks_.reset();
    }

    sc_net *net_ = nullptr;
    std::unique_ptr<detail::hooks> hooks_;
};

// ---- Optimizer ----------------------------------------------------------------

/** Owns an sc_optimizer, attached to one net (either may be freed first). */
class Optimizer {
public:
    /** An empty handle. */
    Optimizer() noexcept = default;
    /** Takes ownership of opt (may be nullptr). */
    explicit Optimizer(sc_optimizer *opt) noexcept : opt_(opt) {}
    Optimizer(const Optimizer &) = delete;            /**< move-only */
    Optimizer &operator=(const Optimizer &) = delete; /**< move-only */
    /** Takes o's optimizer; o is left empty. */
    Optimizer(Optimizer &&o) noexcept : opt_(o.release()) {}
    /** Frees the optimizer held and takes o's; o is left empty. */
    Optimizer &operator=(Optimizer &&o) noexcept
    {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    /** sc_optimizer_free() of the optimizer held. */
    ~Optimizer() { reset(); }

    /** sc_optimizer_create(): an optimizer of kind attached to net. */
    static result<Optimizer> create(Net &net, sc_optimizer_kind kind)
    {
        sc_optimizer *opt = nullptr;
        sc_status st = sc_optimizer_create(&opt, net.get(), kind);
        return detail::make(st, Optimizer(opt));
    }

    /** The handle (nullptr when empty). */
    sc_optimizer *get() const noexcept { return opt_; }
    /** Gives up ownership: returns the handle and leaves this empty. */
    sc_optimizer *release() noexcept
    {
        sc_optimizer *o = opt_;
        opt_ = nullptr;
        return o;
    }
    /** Frees the optimizer held and takes opt. */
    void reset(sc_optimizer *opt = nullptr) noexcept
    {
        sc_optimizer *old = opt_;
        opt_ = opt;
        if (old)
            sc_optimizer_free(old);
    }
    /** true when an optimizer is held. */
    explicit operator bool() const noexcept { return opt_ != nullptr; }

    /** sc_optimizer_set(): hyper-parameter p (of group, for LR and
     *  WEIGHT_DECAY). */
    status set(sc_opt_param p, int group, double value)
    {
        return status::from_c(sc_optimizer_set(opt_, p, group, value));
    }
    /** sc_optimizer_get(): hyper-parameter p (of one group, for LR and
     *  WEIGHT_DECAY). */
    result<double> get(sc_opt_param p, int group) const
    {
        double v = 0;
        sc_status st = sc_optimizer_get(opt_, p, group, &v);
        return detail::make(st, v);
    }
    /** sc_optimizer_set_lr(): group's learning rate. */
    status set_lr(int group, double lr)
    {
        return status::from_c(sc_optimizer_set_lr(opt_, group, lr));
    }
    /** sc_optimizer_steps(): steps taken so far. */
    uint64_t steps() const noexcept { return sc_optimizer_steps(opt_); }

private:
    sc_optimizer *opt_ = nullptr;
};

inline result<sc_step_stats> Net::train_step(Optimizer &opt, const Tensor &x,
                                             span<const int32_t> labels)
{
    if (!labels_fit(x, labels))
        return detail::fail(SC_ERR_SHAPE, "sc::Net::train_step: one label per "
                                          "sample of x is needed");
    sc_step_stats s = SC_STEP_STATS_INIT;
    sc_status st =
        sc_net_train_step(net_, opt.get(), x.get(), labels.data(), &s);
    return detail::make(st, s);
}

inline result<sc_step_stats> Net::train_step(Optimizer &opt, const Tensor &x,
                                             const Tensor &targets)
{
    sc_batch b = SC_BATCH_INIT;
    b.x = x.get();
    b.targets = targets.get();
    return train_step(opt, b);
}

inline result<sc_step_stats> Net::train_step(Optimizer &opt,
                                             const sc_batch &b)
{
    sc_step_stats s = SC_STEP_STATS_INIT;
    sc_status st = sc_net_train_step_v2(net_, opt.get(), &b, &s);
    return detail::make(st, s);
}

inline result<sc_step_stats> Net::train_backward(Optimizer &opt,
                                                 const Tensor &dlogits,
                                                 double host_loss)
{
    sc_step_stats s = SC_STEP_STATS_INIT;
    sc_status st = sc_net_train_backward(net_, opt.get(), dlogits.get(),
                                         host_loss, &s);
    return detail::make(st, s);
}

// ---- Model ----------------------------------------------------------------------

/** Owns an sc_model: a loaded network for inference. */
class Model {
public:
    /** An empty handle. */
    Model() noexcept = default;
    /** Takes ownership of m (may be nullptr). */
    explicit Model(sc_model *m) noexcept : m_(m) {}
    Model(const Model &) = delete;            /**< move-only */
    Model &operator=(const Model &) = delete; /**< move-only */
    /** Takes o's model; o is left empty. */
    Model(Model &&o) noexcept : m_(o.release()) {}
    /** Frees the model held and takes o's; o is left empty. */
    Model &operator=(Model &&o) noexcept
    {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    /** sc_model_free() of the model held. */
    ~Model() { reset(); }

    /** sc_model_load(): a model file, within the default caps. */
    static result<Model> load(cstring_ref path)
    {
        sc_model *m = nullptr;
        sc_status st = sc_model_load(&m, path.c_str());
        return detail::make(st, Model(m));
    }
    /** sc_model_load_v2(): a model file within limits. */
    static result<Model> load(cstring_ref path, const sc_load_limits &limits)
    {
        sc_model *m = nullptr;
        sc_status st = sc_model_load_v2(&m, path.c_str(), &limits);
        return detail::make(st, Model(m));
    }
    /** sc_model_load_memory(): a model from bytes (not kept). */
    static result<Model> load_memory(span<const unsigned char> bytes)
    {
        sc_model *m = nullptr;
        sc_status st = sc_model_load_memory(&m, bytes.data(), bytes.size());
        return detail::make(st, Model(m));
    }
    /** sc_model_load_memory_v2(): a model from bytes within limits. */
    static result<Model> load_memory(span<const unsigned char> bytes,
                                     const sc_load_limits &limits)
    {
        sc_model *m = nullptr;
        sc_status st = sc_model_load_memory_v2(&m, bytes.data(), bytes.size(),
                                               &limits);
        return detail::make(st, Model(m));
    }

    /** The handle (nullptr when empty). */
    sc_model *get() const noexcept { return m_; }
    /** Gives up ownership: returns the handle and leaves this empty. */
    sc_model *release() noexcept
    {
        sc_model *m = m_;
        m_ = nullptr;
        return m;
    }
    /** Frees the model held and takes m. */
    void reset(sc_model *m = nullptr) noexcept
    {
        sc_model *old = m_;
        m_ = m;
        if (old)
            sc_model_free(old);
    }
    /** true when a model is held. */
    explicit operator bool() const noexcept { return m_ != nullptr; }

    /** sc_model_forward(): x (N x c x h x w) to out (N x outputs). */
    status forward(const Tensor &x, Tensor &out)
    {
        return status::from_c(sc_model_forward(m_, x.get(), out.get()));
    }
    /** sc_model_set_threads(): threads the model uses (>= 1). */
    status set_threads(int threads)
    {
        return status::from_c(sc_model_set_threads(m_, threads));
    }
    /** sc_model_set_param(): SC_PARAM_CONV_ALGO or SC_PARAM_INFERENCE. */
    status set_param(sc_param p, double value)
    {
        return status::from_c(sc_model_set_param(m_, p, value));
    }
    /** sc_model_get_param(): SC_PARAM_CONV_ALGO or SC_PARAM_INFERENCE. */
    result<double> get_param(sc_param p) const
    {
        double v = 0;
        sc_status st = sc_model_get_param(m_, p, &v);
        return detail::make(st, v);
    }
    /** sc_model_set_param(SC_PARAM_INFERENCE): the model's arithmetic.
     *  SC_INFERENCE_INT8 on a model whose file holds no activation ranges
     *  is SC_ERR_STATE; a value outside sc_inference SC_ERR_ARG. The first
     *  int8 forward prepares the integer weights (SC_ERR_UNSUPPORTED,
     *  naming the layer, for a model int8 cannot run; it stays in fp32). */
    status set_inference(sc_inference mode)
    {
        return set_param(SC_PARAM_INFERENCE, static_cast<double>(mode));
    }
    /** sc_model_get_param(SC_PARAM_INFERENCE): the model's arithmetic (a
     *  file with activation ranges loads in SC_INFERENCE_INT8, any other
     *  in SC_INFERENCE_FP32). */
    result<sc_inference> inference() const
    {
        double v = 0;
        sc_status st = sc_model_get_param(m_, SC_PARAM_INFERENCE, &v);
        return detail::make(st,
                            static_cast<sc_inference>(static_cast<int>(v)));
    }
    /** sc_model_output_size(): outputs per sample (0 when empty). */
    int output_size() const noexcept { return sc_model_output_size(m_); }
    /** sc_model_input_shape(): the input shape per sample. */
    result<shape3> input_shape() const
    {
        shape3 s;
        sc_status st = sc_model_input_shape(m_, &s.c, &s.h, &s.w);
        return detail::make(st, s);
    }
    /** sc_model_get_info(): the sizes of the file it came from. */
    result<sc_model_info> info() const
    {
        sc_model_info i = SC_MODEL_INFO_INIT;
        sc_status st = sc_model_get_info(m_, &i);
        return detail::make(st, i);
    }

private:
    sc_model *m_ = nullptr;
};

// ---- Checkpoints ------------------------------------------------------------------

/** What checkpoint_load() restores. */
struct checkpoint {
    Net net;             /**< the training net */
    Optimizer opt;       /**< its optimizer (empty when none was saved) */
    std::size_t user_len = 0; /**< the caller's bytes saved (the count
                                   copied is at most the buffer's size) */
};

/** sc_checkpoint_save(): net's whole training state, opt's (nullptr:
 *  none) and the caller's user bytes, to path (atomically). */
inline status checkpoint_save(const Net &net, const Optimizer *opt,
                              span<const unsigned char> user,
                              cstring_ref path)
{
    return status::from_c(sc_checkpoint_save(
        net.get(), opt ? opt->get() : nullptr, user.data(), user.size(),
        path.c_str()));
}

/** sc_checkpoint_load(): restores a checkpoint, within the default caps,
 *  copying the caller's bytes into user (at most user.size()). Threads
 *  and hooks are not part of the state: set them again. */
inline result<checkpoint> checkpoint_load(cstring_ref path,
                                          span<unsigned char> user = {})
{
    sc_net *net = nullptr;
    sc_optimizer *opt = nullptr;
    checkpoint c;
    sc_status st = sc_checkpoint_load(path.c_str(), &net, &opt, user.data(),
                                      user.size(), &c.user_len);
    if (st != SC_OK)
        return status::from_c(st);
    c.net.reset(net);
    c.opt.reset(opt);
    return result<checkpoint>(std::move(c));
}

/** sc_checkpoint_load_v2(): checkpoint_load() within limits. */
inline result<checkpoint> checkpoint_load(cstring_ref path,
                                          span<unsigned char> user,
                                          const sc_load_limits &limits)
{
    sc_net *net = nullptr;
    sc_optimizer *opt = nullptr;
    checkpoint c;
    sc_status st = sc_checkpoint_load_v2(path.c_str(), &net, &opt,
                                         user.data(), user.size(),
                                         &c.user_len, &limits);
    if (st != SC_OK)
        return status::from_c(st);
    c.net.reset(net);
    c.opt.reset(opt);
    return result<checkpoint>(std::move(c));
}

} // namespace sc

#endif /* SELFCOMPRESS_HPP */
