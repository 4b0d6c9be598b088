// test_hpp.cpp -- tests of include/selfcompress.hpp, the C++ wrapper.
//
// Built by tests/cpp_wrapper.sh with g++ and clang++, -std=c++17 and
// -std=c++20, with and without -fno-exceptions -fno-rtti, and linked with
// -Wl,--wrap for the library's four destructors: the wrappers below count
// every non-NULL handle the C++ header frees, so the move tests can assert
// how many were freed (the script's AddressSanitizer build reports a handle
// freed twice, and any handle leaked).
//
// Checks: a small conv net trains on synthetic images and its loss falls;
// error paths give the right sc_status and the library's message; moves
// leave the source empty and free once; a saved model and a checkpoint
// reload to equal outputs; the per-layer, quantiser, loss and optimizer
// setters read back; the hooks fire (and keep firing after a move); a
// calibrated net's model runs int8 close to its fp32 logits, switches
// between the two, and an uncalibrated one refuses int8.
#include <selfcompress.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

// ---- counted destructors (-Wl,--wrap=sc_net_free, ...) ---------------------
namespace {
int frees[4]; // non-NULL frees of nets, optimizers, tensors, models

void count_free(int kind, const void *p)
{
    if (p)
        frees[kind]++;
}
} // namespace

extern "C" {
void __real_sc_net_free(sc_net *net);
void __real_sc_optimizer_free(sc_optimizer *opt);
void __real_sc_tensor_free(sc_tensor *t);
void __real_sc_model_free(sc_model *m);
void __wrap_sc_net_free(sc_net *net)
{
    count_free(0, net);
    __real_sc_net_free(net);
}
void __wrap_sc_optimizer_free(sc_optimizer *opt)
{
    count_free(1, opt);
    __real_sc_optimizer_free(opt);
}
void __wrap_sc_tensor_free(sc_tensor *t)
{
    count_free(2, t);
    __real_sc_tensor_free(t);
}
void __wrap_sc_model_free(sc_model *m)
{
    count_free(3, m);
    __real_sc_model_free(m);
}
}

namespace {

int failures;
int checks;

#define EXPECT(cond)                                                          \
    do {                                                                      \
        checks++;                                                             \
        if (!(cond)) {                                                        \
            failures++;                                                       \
            std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__,   \
                         #cond);                                              \
        }                                                                     \
    } while (0)

std::string describe(const sc::status &s) { return s.describe(); }
template <class T> std::string describe(const sc::result<T> &r)
{
    return r.error().describe();
}

// A call that must succeed: on failure prints its status and message.
#define EXPECT_OK(expr)                                                       \
    do {                                                                      \
        auto &&r_ = (expr);                                                   \
        checks++;                                                             \
        if (!r_.ok()) {                                                       \
            failures++;                                                       \
            std::fprintf(stderr, "%s:%d: FAILED: %s: %s\n", __FILE__,         \
                         __LINE__, #expr, describe(r_).c_str());              \
        }                                                                     \
    } while (0)

// The value of a result that must hold one; the test stops when it does
// not (every later step would fail for the same reason).
template <class T> T take(sc::result<T> &&r, const char *what, int line)
{
    checks++;
    if (!r.ok()) {
        std::fprintf(stderr, "%s:%d: FAILED: %s: %s\n", __FILE__, line, what,
                     r.error().describe().c_str());
        std::fprintf(stderr, "test_hpp: %d of %d checks failed\n",
                     failures + 1, checks);
        std::exit(1);
    }
    return std::move(r).value();
}
#define TAKE(expr) take((expr), #expr, __LINE__)

// ---- synthetic data: a bright 3x3 square in one of four quadrants --------
constexpr int C = 1, H = 8, W = 8, CLASSES = 4;

struct dataset {
    std::vector<float> x;
    std::vector<int32_t> y;
    int n = 0;
};

dataset make_data(int n, uint32_t seed)
{
    dataset d;
    d.n = n;
    d.x.resize(static_cast<std::size_t>(n) * C * H * W);
    d.y.resize(static_cast<std::size_t>(n));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> noise(-0.3f, 0.3f);
    for (int i = 0; i < n; i++) {
        int k = static_cast<int>(rng() % CLASSES);
        d.y[static_cast<std::size_t>(i)] = k;
        int r0 = (k / 2) * (H / 2), c0 = (k % 2) * (W / 2);
        float *img = &d.x[static_cast<std::size_t>(i) * C * H * W];
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                bool on = r >= r0 && r < r0 + 3 && c >= c0 && c < c0 + 3;
                img[r * W + c] = (on ? 1.0f : 0.0f) + noise(rng);
            }
    }
    return d;
}

// conv 4 -> bn -> relu -> maxpool -> flatten -> dense 4, quantised.
sc::Net build_net(bool quantize)
{
    sc::Net net = TAKE(sc::Net::create(C, H, W));
    int id = TAKE(net.conv2d(SC_INPUT, 4, 3, 3, 1, 1, SC_NO_BIAS));
    id = TAKE(net.batchnorm(id, SC_BN_AFFINE));
    id = TAKE(net.relu(id));
    id = TAKE(net.maxpool(id, 2, 2));
    id = TAKE(net.flatten(id));
    TAKE(net.dense(id, CLASSES, SC_BIAS));
    EXPECT_OK(net.init(7));
    if (quantize)
        EXPECT_OK(net.quantize());
    return net;
}

sc::Tensor wrap(std::vector<float> &v, std::initializer_list<int64_t> shape)
{
    sc::Tensor t = TAKE(sc::Tensor::wrap(shape, v));
    return t;
}

// Eval-mode logits of d through net.
std::vector<float> net_logits(sc::Net &net, dataset &d)
{
    std::vector<float> out(static_cast<std::size_t>(d.n) * CLASSES);
    sc::Tensor x = wrap(d.x, {d.n, C, H, W});
    sc::Tensor y = wrap(out, {d.n, CLASSES});
    EXPECT_OK(net.set_training(false));
    EXPECT_OK(net.forward(x, y));
    EXPECT_OK(net.set_training(true));
    return out;
}

double accuracy(const std::vector<float> &logits, const dataset &d)
{
    int right = 0;
    for (int i = 0; i < d.n; i++) {
        const float *l = &logits[static_cast<std::size_t>(i) * CLASSES];
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (l[k] > l[best])
                best = k;
        right += best == d.y[static_cast<std::size_t>(i)];
    }
    return static_cast<double>(right) / d.n;
}

// Trains net for epochs over d in batches of 32; returns each step's loss.
std::vector<double> train(sc::Net &net, sc::Optimizer &opt, dataset &d,
                          int epochs)
{
    constexpr int batch = 32;
    std::vector<double> losses;
    std::vector<float> bx(static_cast<std::size_t>(batch) * C * H * W);
    sc::Tensor x = wrap(bx, {batch, C, H, W});
    for (int e = 0; e < epochs; e++)
        for (int at = 0; at + batch <= d.n; at += batch) {
            std::memcpy(bx.data(),
                        &d.x[static_cast<std::size_t>(at) * C * H * W],
                        bx.size() * sizeof(float));
            sc::span<const int32_t> labels(
                &d.y[static_cast<std::size_t>(at)], batch);
            sc_step_stats st = TAKE(net.train_step(opt, x, labels));
            losses.push_back(st.loss);
        }
    return losses;
}

double mean(const std::vector<double> &v, std::size_t from, std::size_t n)
{
    double s = 0;
    for (std::size_t i = from; i < from + n; i++)
        s += v[i];
    return s / static_cast<double>(n);
}

// net's Adam, with the weights' and biases' learning rates at 1e-2.
sc::Optimizer fast_adam(sc::Net &net)
{
    sc::Optimizer opt = TAKE(sc::Optimizer::create(net, SC_OPT_ADAM));
    EXPECT_OK(opt.set_lr(SC_GROUP_WEIGHTS, 1e-2));
    EXPECT_OK(opt.set_lr(SC_GROUP_BIASES, 1e-2));
    return opt;
}

// ---- the tests -------------------------------------------------------------

void test_train()
{
    dataset tr = make_data(512, 1), te = make_data(128, 2);
    sc::Net net = build_net(true);
    EXPECT_OK(net.set_param(SC_PARAM_GAMMA, 0.01));
    sc::Optimizer opt = fast_adam(net);

    int step_records = 0, epoch_records = 0;
    uint64_t last_step = 0;
    double epoch_acc = -1;
    EXPECT_OK(net.set_progress(
        [&](const sc_progress &p) {
            if (p.kind == SC_PROGRESS_STEP) {
                step_records++;
                last_step = p.step;
            } else {
                epoch_records++;
                epoch_acc = p.test_accuracy;
            }
        },
        8));

    std::vector<double> losses = train(net, opt, tr, 4); // 64 steps
    EXPECT(losses.size() == 64);
    EXPECT(opt.steps() == 64);
    double first = mean(losses, 0, 8), last = mean(losses, 56, 8);
    std::printf("test_hpp: loss %.4f (first 8 steps) -> %.4f (last 8)\n",
                first, last);
    EXPECT(last < 0.5 * first);
    EXPECT(step_records == 8);
    EXPECT(last_step == 64);

    double acc = accuracy(net_logits(net, te), te);
    std::printf("test_hpp: test accuracy %.3f\n", acc);
    EXPECT(acc > 0.9);
    EXPECT_OK(net.report_epoch(3, acc));
    EXPECT(epoch_records == 1);
    EXPECT(epoch_acc == acc);

    int removed = TAKE(net.compress());
    EXPECT(removed >= 0);
    sc_size_report rep = TAKE(net.size_report());
    EXPECT(rep.weights0 == 4 * 9 + 4 * 4 * 4 * CLASSES);
    EXPECT(rep.bits_pct > 0 && rep.bits_pct < 100);
    sc_size_report conv = TAKE(net.size_report(1));
    EXPECT(conv.weights0 == 4 * 9);
}

void test_errors()
{
    sc::Net net = TAKE(sc::Net::create(C, H, W));

    // A builder reading a layer that does not exist: the library's code and
    // its message, copied when the call returned.
    sc::result<int> bad = net.dense(42, 4, SC_BIAS);
    std::string last = sc_last_error();
    EXPECT(!bad.ok());
    EXPECT(!bad);
    EXPECT(bad.code() == SC_ERR_ARG);
    EXPECT(!bad.message().empty());
    EXPECT(bad.message() == last);
    EXPECT(bad.message().find("42") != std::string::npos);
    EXPECT(bad.value_or(-7) == -7);
    EXPECT(bad.error().describe() ==
           std::string(sc_strerror(SC_ERR_ARG)) + ": " + last);
    // The message stays with the result when a later call fails.
    sc::status again = net.set_threads(0);
    EXPECT(again.code() == SC_ERR_ARG);
    EXPECT(bad.message() == last);
    EXPECT(again.message() != last);

    // A successful call: SC_OK, no message.
    int id = TAKE(net.flatten(SC_INPUT));
    EXPECT(id == 1);
    sc::result<int> good = net.dense(id, CLASSES, SC_BIAS);
    EXPECT(good.ok() && good.code() == SC_OK && good.message().empty());
    EXPECT(*good == 2);
    EXPECT(sc::status().ok() && sc::status().describe() == "success");

    // The net's state after init: layers can no longer be added.
    sc::Tensor empty;
    EXPECT(net.forward(empty, empty).code() == SC_ERR_NULL);
    EXPECT_OK(net.init(1));
    EXPECT(net.relu(id).code() == SC_ERR_STATE);

    // A batch of the wrong shape.
    std::vector<float> img(2 * C * H * (W + 1)), out(2 * CLASSES);
    sc::Tensor x = wrap(img, {2, C, H, W + 1});
    sc::Tensor y = wrap(out, {2, CLASSES});
    sc::status st = net.forward(x, y);
    EXPECT(st.code() == SC_ERR_SHAPE);
    EXPECT(!st.message().empty());

    // The wrapper's own checks: a view that does not match the shape, one
    // label per sample, b and e of different sizes.
    std::vector<float> few(3);
    sc::result<sc::Tensor> w = sc::Tensor::wrap({2, 2}, few);
    EXPECT(w.code() == SC_ERR_SHAPE);
    EXPECT(w.message().find("element count") != std::string::npos);
    sc::result<sc::Tensor> fd = sc::Tensor::from_data({2, 2}, few);
    EXPECT(fd.code() == SC_ERR_SHAPE);
    std::vector<float> many(5);
    EXPECT(sc::Tensor::from_data({2, 2}, many).code() == SC_ERR_SHAPE);
    // Shapes the library refuses, with its message.
    sc::result<sc::Tensor> nd = sc::Tensor::create({1, 2, 3, 4, 5});
    EXPECT(nd.code() == SC_ERR_ARG && nd.message().find("ndim 5") !=
                                          std::string::npos);
    sc::result<sc::Tensor> neg = sc::Tensor::from_data({2, -1}, few);
    EXPECT(neg.code() == SC_ERR_SHAPE &&
           neg.message().find("sc_tensor_from_data") != std::string::npos);
    std::vector<float> good_img(2 * C * H * W);
    sc::Tensor gx = wrap(good_img, {2, C, H, W});
    sc::Optimizer opt = TAKE(sc::Optimizer::create(net, SC_OPT_SGD));
    int32_t one_label[1] = {0};
    EXPECT(net.train_step(opt, gx, one_label).code() == SC_ERR_SHAPE);
    float b2[2] = {1, 1}, e3[3] = {0, 0, 0};
    EXPECT(net.set_quant(2, b2, e3).code() == SC_ERR_ARG);
    // Not quantised: the library refuses.
    EXPECT(net.get_quant(2).code() != SC_OK);

    // One optimizer per net.
    sc::result<sc::Optimizer> second = sc::Optimizer::create(net, SC_OPT_ADAM);
    EXPECT(second.code() == SC_ERR_STATE);

    // An empty (moved-from) handle: the C API's NULL check.
    sc::Net gone = std::move(net);
    EXPECT(!net);
    EXPECT(net.init(3).code() == SC_ERR_NULL);
    EXPECT(net.layer_count() == 0);
    EXPECT(net.size_report().code() == SC_ERR_NULL);
    EXPECT(sc::Optimizer().set_lr(SC_GROUP_ALL, 0.1).code() == SC_ERR_NULL);

    // Files.
    sc::result<sc::Model> m = sc::Model::load("/nonexistent/dir/model.scm");
    EXPECT(m.code() == SC_ERR_IO);
    EXPECT(m.message().find("/nonexistent/dir/model.scm") !=
           std::string::npos);
    unsigned char junk[16] = {1, 2, 3};
    EXPECT(sc::Model::load_memory(junk).code() == SC_ERR_FORMAT);
    EXPECT(sc::Net::import_onnx("/nonexistent/dir/m.onnx").code() == SC_ERR_IO);
    EXPECT(sc::Net::import_onnx_memory(junk).code() == SC_ERR_FORMAT);
    const char *root = std::getenv("SC_ROOT"); // tests/cpp_wrapper.sh sets it
    EXPECT(root != nullptr);
    if (root != nullptr) {
        std::string onnx = std::string(root) + "/tests/data/onnx/convbn_op17.onnx";
        sc::Net imported = TAKE(sc::Net::import_onnx(onnx));
        EXPECT(imported.layer_count() > 2);
    }

    // A result built from a success status has no value to give.
    sc::result<int> none{sc::status()};
    EXPECT(none.code() == SC_ERR_STATE);

#if SC_HPP_EXCEPTIONS
    bool thrown = false;
    try {
        (void)gone.relu(1).value_or_throw();
    } catch (const sc::exception &e) {
        thrown = e.code() == SC_ERR_STATE &&
                 std::string(e.what()).find(sc_strerror(SC_ERR_STATE)) == 0;
    }
    EXPECT(thrown);
    thrown = false;
    try {
        gone.set_threads(-1).throw_if_error();
    } catch (const sc::exception &e) {
        thrown = e.code() == SC_ERR_ARG;
    }
    EXPECT(thrown);
    EXPECT(TAKE(gone.layer_shape(2)).c == CLASSES);
    EXPECT(gone.layer_shape(1).value_or_throw().c == C * H * W);
#else
    static_assert(SC_HPP_EXCEPTIONS == 0, "no exceptions, no throwing layer");
#endif
}

void test_moves()
{
    int nets0 = frees[0], opts0 = frees[1], tensors0 = frees[2];
    {
        sc::Net a = TAKE(sc::Net::create(1, 2, 2));
        sc_net *raw = a.get();
        EXPECT(raw != nullptr);
        sc::Net b(std::move(a));
        EXPECT(!a && a.get() == nullptr);
        EXPECT(b.get() == raw);
        EXPECT(frees[0] == nets0);

        sc::Net c = TAKE(sc::Net::create(1, 3, 3));
        c = std::move(b); // frees c's own net, once
        EXPECT(frees[0] == nets0 + 1);
        EXPECT(c.get() == raw && !b);
        sc::Net &alias = c;
        c = std::move(alias); // self-move: nothing happens
        EXPECT(c.get() == raw && frees[0] == nets0 + 1);

        // release() gives the handle up; the caller frees it.
        sc_net *given = c.release();
        EXPECT(!c && given == raw);
        sc::Net back(given);
        EXPECT(back.get() == raw);

        std::vector<float> v(4);
        sc::Tensor t = wrap(v, {4});
        sc::Tensor u = std::move(t);
        EXPECT(!t && u.numel() == 4 && u.data() == v.data());
        sc::Tensor z;
        z = std::move(u);
        EXPECT(!u && z.numel() == 4);
        EXPECT(frees[2] == tensors0);

        sc::Net n = TAKE(sc::Net::create(1, 2, 2));
        TAKE(n.dense(SC_INPUT, 2, SC_BIAS));
        EXPECT_OK(n.init(1));
        sc::Optimizer o = TAKE(sc::Optimizer::create(n, SC_OPT_ADAM));
        sc::Optimizer p(std::move(o));
        EXPECT(!o && p);
        // Moving a result moves its value.
        sc::result<sc::Net> r = sc::Net::create(1, 1, 1);
        EXPECT(r.ok());
        sc::Net from_r = std::move(r).value();
        EXPECT(from_r && !r->get());
        EXPECT(frees[1] == opts0);
    }
    // back, from_r, n: 3 nets; p: 1 optimizer; z: 1 tensor, each once.
    EXPECT(frees[0] == nets0 + 4);
    EXPECT(frees[1] == opts0 + 1);
    EXPECT(frees[2] == tensors0 + 1);
}

std::vector<unsigned char> read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(f),
                                      std::istreambuf_iterator<char>());
}

void test_roundtrip(const std::string &dir)
{
    dataset tr = make_data(256, 3), te = make_data(64, 4);
    sc::Net net = build_net(true);
    EXPECT_OK(net.set_param(SC_PARAM_GAMMA, 0.01));
    sc::Optimizer opt = TAKE(sc::Optimizer::create(net, SC_OPT_ADAM));
    train(net, opt, tr, 1);
    std::vector<float> want = net_logits(net, te);

    // The inference model, from the file and from memory.
    std::string path = dir + "/test_hpp.scm";
    sc_model_info info = TAKE(net.save(path));
    EXPECT(info.file_bytes > 0);
    sc::Model model = TAKE(sc::Model::load(path));
    EXPECT(model.output_size() == CLASSES);
    sc::shape3 in = TAKE(model.input_shape());
    EXPECT(in.c == C && in.h == H && in.w == W);
    EXPECT(TAKE(model.info()).file_bytes == info.file_bytes);
    EXPECT_OK(model.set_threads(2));
    EXPECT_OK(model.set_param(SC_PARAM_CONV_ALGO, SC_CONV_ALGO_DIRECT));
    EXPECT(TAKE(model.get_param(SC_PARAM_CONV_ALGO)) ==
           static_cast<double>(SC_CONV_ALGO_DIRECT));

    std::vector<float> got(want.size());
    sc::Tensor x = wrap(te.x, {te.n, C, H, W});
    sc::Tensor y = wrap(got, {te.n, CLASSES});
    EXPECT_OK(model.forward(x, y));
    EXPECT(std::memcmp(got.data(), want.data(),
                       want.size() * sizeof(float)) == 0);

    std::vector<unsigned char> bytes = read_file(path);
    EXPECT(static_cast<int64_t>(bytes.size()) == info.file_bytes);
    sc_load_limits lim = SC_LOAD_LIMITS_INIT;
    sc::Model mem = TAKE(sc::Model::load_memory(bytes, lim));
    std::fill(got.begin(), got.end(), 0.0f);
    EXPECT_OK(mem.forward(x, y));
    EXPECT(std::memcmp(got.data(), want.data(),
                       want.size() * sizeof(float)) == 0);
    lim.max_macs = 10; // far below this net's
    EXPECT(sc::Model::load(path, lim).code() == SC_ERR_FORMAT);

    // A checkpoint: net, optimizer and the caller's bytes.
    std::string ck = dir + "/test_hpp.ckpt";
    const unsigned char mine[5] = {'e', 'p', 'o', 'c', 'h'};
    EXPECT_OK(sc::checkpoint_save(net, &opt, mine, ck));
    unsigned char back[8] = {0};
    sc::checkpoint c = TAKE(sc::checkpoint_load(ck, back));
    EXPECT(c.user_len == 5 && std::memcmp(back, mine, 5) == 0);
    EXPECT(c.opt && c.opt.steps() == opt.steps());
    std::vector<float> again = net_logits(c.net, te);
    EXPECT(std::memcmp(again.data(), want.data(),
                       want.size() * sizeof(float)) == 0);
    // Both nets take the same next step.
    std::vector<double> l1 = train(net, opt, tr, 1);
    std::vector<double> l2 = train(c.net, c.opt, tr, 1);
    EXPECT(l1 == l2);

    EXPECT_OK(sc::checkpoint_save(net, nullptr, {}, ck));
    const sc_load_limits defaults = SC_LOAD_LIMITS_INIT;
    sc::checkpoint d = TAKE(sc::checkpoint_load(ck, {}, defaults));
    EXPECT(!d.opt && d.user_len == 0 && d.net.layer_count() == 7);
}

float max_abs(const std::vector<float> &v)
{
    float m = 0;
    for (float f : v)
        m = std::fmax(m, std::fabs(f));
    return m;
}

float max_diff(const std::vector<float> &a, const std::vector<float> &b)
{
    float m = 0;
    for (std::size_t i = 0; i < a.size(); i++)
        m = std::fmax(m, std::fabs(a[i] - b[i]));
    return m;
}

void test_int8(const std::string &dir)
{
    std::string kernel = sc::int8_kernel();
    EXPECT(kernel == "avx512vnni" || kernel == "avx2" || kernel == "generic");

    dataset tr = make_data(256, 11), te = make_data(128, 12);
    sc::Net net = build_net(true);
    EXPECT_OK(net.set_param(SC_PARAM_GAMMA, 0.01));
    sc::Optimizer opt = fast_adam(net);
    train(net, opt, tr, 4);
    std::vector<float> want = net_logits(net, te);
    EXPECT(accuracy(want, te) > 0.9);

    // Calibration: the count adds up over batches; a refused batch changes
    // nothing; a train step discards the ranges.
    EXPECT(TAKE(net.calibrated()) == 0);
    sc::Tensor cx = wrap(tr.x, {tr.n, C, H, W});
    EXPECT_OK(net.calibrate(cx));
    std::vector<float> bad(2 * C * H * (W + 1));
    sc::Tensor bx = wrap(bad, {2, C, H, W + 1});
    sc::status st = net.calibrate(bx);
    EXPECT(st.code() == SC_ERR_SHAPE && !st.message().empty());
    sc::Tensor none;
    EXPECT(net.calibrate(none).code() == SC_ERR_NULL);
    EXPECT(TAKE(net.calibrated()) == tr.n);
    std::vector<float> first(tr.x.begin(), tr.x.begin() + 32 * C * H * W);
    std::vector<int32_t> first_y(tr.y.begin(), tr.y.begin() + 32);
    sc::Tensor fx = wrap(first, {32, C, H, W});
    TAKE(net.train_step(opt, fx, first_y));
    EXPECT(TAKE(net.calibrated()) == 0);
    want = net_logits(net, te);
    EXPECT_OK(net.calibrate(cx));
    EXPECT_OK(net.calibrate(fx));
    EXPECT(TAKE(net.calibrated()) == tr.n + 32);

    std::string path = dir + "/test_hpp_int8.scm";
    sc_model_info info = TAKE(net.save(path));
    EXPECT(info.calibrated_images == tr.n + 32 && info.int8_bytes == 0);
    sc::Model m = TAKE(sc::Model::load(path));
    EXPECT(TAKE(m.inference()) == SC_INFERENCE_INT8);
    EXPECT(TAKE(m.info()).calibrated_images == tr.n + 32);
    std::vector<float> got(want.size());
    sc::Tensor x = wrap(te.x, {te.n, C, H, W});
    sc::Tensor y = wrap(got, {te.n, CLASSES});
    EXPECT_OK(m.forward(x, y));
    EXPECT(TAKE(m.info()).int8_bytes > 0);
    std::printf("test_hpp: int8 (%s) logits within %.4f of fp32 (|max| %.3f), "
                "accuracy %.3f\n", kernel.c_str(), max_diff(got, want),
                max_abs(want), accuracy(got, te));
    EXPECT(got != want); // the integer program ran
    EXPECT(max_diff(got, want) <= 0.05f * max_abs(want));
    EXPECT(accuracy(got, te) > 0.9);

    // Back to float: the net's logits bit for bit; a value outside
    // sc_inference is refused and changes nothing.
    EXPECT_OK(m.set_inference(SC_INFERENCE_FP32));
    EXPECT(TAKE(m.inference()) == SC_INFERENCE_FP32);
    EXPECT(TAKE(m.get_param(SC_PARAM_INFERENCE)) == 0.0);
    EXPECT_OK(m.forward(x, y));
    EXPECT(got == want);
    EXPECT(m.set_inference(static_cast<sc_inference>(7)).code() == SC_ERR_ARG);
    EXPECT(TAKE(m.inference()) == SC_INFERENCE_FP32);
    EXPECT_OK(m.set_inference(SC_INFERENCE_INT8));
    std::vector<float> again(want.size());
    sc::Tensor y2 = wrap(again, {te.n, CLASSES});
    EXPECT_OK(m.forward(x, y2));
    EXPECT(max_diff(again, want) <= 0.05f * max_abs(want) && again != want);

    // A file without ranges: fp32 only.
    TAKE(net.train_step(opt, fx, first_y));
    std::string plain = dir + "/test_hpp_fp32.scm";
    EXPECT(TAKE(net.save(plain)).calibrated_images == 0);
    sc::Model f = TAKE(sc::Model::load(plain));
    EXPECT(TAKE(f.inference()) == SC_INFERENCE_FP32);
    sc::status refused = f.set_inference(SC_INFERENCE_INT8);
    EXPECT(refused.code() == SC_ERR_STATE);
    EXPECT(refused.message().find("sc_net_calibrate") != std::string::npos);
    EXPECT(TAKE(f.inference()) == SC_INFERENCE_FP32);
    // A net takes no inference setting; empty handles get SC_ERR_NULL.
    EXPECT(net.set_param(SC_PARAM_INFERENCE, 1).code() == SC_ERR_ARG);
    EXPECT(sc::Model().inference().code() == SC_ERR_NULL);
    EXPECT(sc::Model().set_inference(SC_INFERENCE_FP32).code() == SC_ERR_NULL);
    EXPECT(sc::Net().calibrated().code() == SC_ERR_NULL);
#if SC_HPP_EXCEPTIONS
    bool thrown = false;
    try {
        f.set_inference(SC_INFERENCE_INT8).throw_if_error();
    } catch (const sc::exception &e) {
        thrown = e.code() == SC_ERR_STATE;
    }
    EXPECT(thrown);
    EXPECT(m.inference().value_or_throw() == SC_INFERENCE_INT8);
#endif
}

void test_settings()
{
    sc::Net net = TAKE(sc::Net::create(C, H, W));
    sc_layer_desc conv = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    conv.channels = 3;
    conv.kernel_h = 3;
    conv.kernel_w = 1;
    conv.pad_h = 1;
    conv.flags = SC_BIAS;
    int c1 = TAKE(net.add_layer(conv, SC_INPUT));
    sc_layer_desc leaky = SC_LAYER_DESC_INIT(SC_LAYER_LEAKY_RELU);
    leaky.alpha = 0.125f;
    int l1 = TAKE(net.add_layer(leaky, c1));
    int c2 = TAKE(net.conv2d(SC_INPUT, 3, 3, 3, 1, 1, SC_NO_BIAS));
    sc_layer_desc cat = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    int joined = TAKE(net.add_layer(cat, {l1, c2}));
    int g = TAKE(net.global_avgpool(joined));
    int dense = TAKE(net.dense(g, CLASSES, SC_BIAS));
    EXPECT(net.layer_count() == 7 && dense == 6);
    EXPECT(net.layer_kind(l1) == SC_LAYER_LEAKY_RELU);
    sc::layer_info li = TAKE(net.layer_desc(joined));
    EXPECT(li.desc.kind == SC_LAYER_CONCAT && li.n_inputs == 2 &&
           li.inputs[0] == l1 && li.inputs[1] == c2);
    sc::layer_info lc = TAKE(net.layer_desc(c1));
    EXPECT(lc.desc.channels == 3 && lc.desc.kernel_h == 3 &&
           lc.desc.kernel_w == 1 && lc.desc.flags == SC_BIAS);
    EXPECT(TAKE(net.layer_desc(l1)).desc.alpha == 0.125f);
    sc::shape3 s = TAKE(net.layer_shape(joined));
    EXPECT(s.c == 6 && s.h == H && s.w == W);
    EXPECT_OK(net.init(5));
    EXPECT(net.output_size() == CLASSES);

    // Per-layer parameters in PyTorch's layout.
    sc::param_shape ps = TAKE(net.layer_param_shape(dense, SC_SLOT_WEIGHT));
    EXPECT(ps.ndim == 2 && ps.dims[0] == CLASSES && ps.dims[1] == 6);
    std::vector<float> wts(ps.numel());
    for (std::size_t i = 0; i < wts.size(); i++)
        wts[i] = 0.01f * static_cast<float>(i);
    EXPECT_OK(net.set_layer_param(dense, SC_SLOT_WEIGHT, wts));
    EXPECT(TAKE(net.get_layer_param(dense, SC_SLOT_WEIGHT)) == wts);
    EXPECT(net.get_layer_param(c2, SC_SLOT_BIAS).code() == SC_ERR_ARG);
    std::vector<float> all = TAKE(net.get_params());
    EXPECT(all.size() == net.param_count());
    EXPECT_OK(net.set_params(all));

    // The quantiser's bit depths and exponents.
    EXPECT(!net.is_quantized(c1));
    EXPECT_OK(net.quantize(c1));
    EXPECT(net.is_quantized(c1) && !net.is_quantized(c2));
    sc::quant_values q = TAKE(net.get_quant(c1));
    EXPECT(q.b.size() == 3 && q.e.size() == 3);
    EXPECT(q.b[0] == 5.0f && q.b[2] == 5.0f); // SC_PARAM_QUANT_B0's default
    std::vector<float> nb = {3.0f, 2.5f, 4.0f};
    EXPECT_OK(net.set_quant(c1, nb, {}));
    sc::quant_values q2 = TAKE(net.get_quant(c1));
    EXPECT(q2.b == nb && q2.e == q.e);
    std::vector<float> only_e(3);
    EXPECT_OK(net.get_quant(c1, {}, only_e));
    EXPECT(only_e == q.e);

    // Settings read back.
    EXPECT_OK(net.set_param(SC_PARAM_BN_MOMENTUM, 0.25));
    EXPECT(TAKE(net.get_param(SC_PARAM_BN_MOMENTUM)) == 0.25);
    EXPECT_OK(net.set_threads(2));
    sc::Optimizer opt = TAKE(sc::Optimizer::create(net, SC_OPT_ADAMW));
    EXPECT_OK(opt.set(SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS, 0.02));
    EXPECT(TAKE(opt.get(SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS)) == 0.02);
    EXPECT(TAKE(opt.get(SC_OPT_LR, SC_GROUP_QUANT_BITS)) == 0.5);

    // Losses: MSE on float targets, then the host's own.
    const float weights[CLASSES] = {1, 2, 1, 1};
    EXPECT_OK(net.set_loss(SC_LOSS_SOFTMAX_XENT, weights, 0.1f));
    sc_loss_desc ld = TAKE(net.get_loss());
    EXPECT(ld.kind == SC_LOSS_SOFTMAX_XENT && ld.n_class_weights == CLASSES &&
           ld.class_weights[1] == 2.0f && ld.label_smoothing == 0.1f);
    EXPECT_OK(net.set_loss(SC_LOSS_MSE));
    dataset d = make_data(16, 9);
    sc::Tensor x = wrap(d.x, {d.n, C, H, W});
    std::vector<float> tv(static_cast<std::size_t>(d.n) * CLASSES, 0.0f);
    for (int i = 0; i < d.n; i++)
        tv[static_cast<std::size_t>(i * CLASSES + d.y[static_cast<std::size_t>(i)])] = 1;
    sc::Tensor t = TAKE(sc::Tensor::from_data({d.n, CLASSES}, tv));
    EXPECT(t.data() != tv.data() && t.values()[1] == tv[1]);
    sc::eval_stats before = TAKE(net.eval_loss(x, t));
    sc_step_stats st{};
    for (int i = 0; i < 20; i++)
        st = TAKE(net.train_step(opt, x, t));
    EXPECT(st.loss_kind == SC_LOSS_MSE);
    sc::eval_stats after = TAKE(net.eval_loss(x, t));
    EXPECT(after.task_loss < before.task_loss);
    // Labels on an MSE net: the library wants targets.
    EXPECT(net.eval_loss(x, d.y).code() == SC_ERR_ARG);
    sc_batch b = SC_BATCH_INIT;
    b.x = x.get();
    b.targets = t.get();
    EXPECT_OK(net.train_step(opt, b));

    EXPECT_OK(net.set_loss(SC_LOSS_HOST));
    std::vector<float> logits(tv.size());
    sc::Tensor z = wrap(logits, {d.n, CLASSES});
    EXPECT_OK(net.train_forward(x, z));
    std::vector<float> grad(tv.size(), 0.01f);
    sc::Tensor gz = wrap(grad, {d.n, CLASSES});
    uint64_t steps = opt.steps();
    sc_step_stats hs = TAKE(net.train_backward(opt, gz, 1.5));
    EXPECT(hs.task_loss == 1.5 && opt.steps() == steps + 1);
    EXPECT(net.train_backward(opt, gz, 1.5).code() == SC_ERR_STATE);

    EXPECT_OK(net.update_bn_stats(x));
}

void test_log()
{
    // gamma > 0 on a net with no quantised layer warns once through the
    // log hook; the hook keeps working after the net has moved.
    sc::Net first = build_net(false);
    std::vector<std::string> warnings;
    EXPECT_OK(first.set_log([&](sc_log_level level, std::string_view msg) {
        if (level == SC_LOG_WARN &&
            msg.find("BLAS kernel") == std::string_view::npos)
            warnings.emplace_back(msg);
    }));
    sc::Net net = std::move(first);
    EXPECT_OK(net.set_param(SC_PARAM_GAMMA, 0.1));
    sc::Optimizer opt = TAKE(sc::Optimizer::create(net, SC_OPT_ADAM));
    dataset d = make_data(64, 5);
    train(net, opt, d, 1);
    EXPECT(warnings.size() == 1);
    EXPECT(!warnings.empty() &&
           warnings[0].find("gamma") != std::string::npos);

    // Removing the hook: nothing more arrives.
    EXPECT_OK(net.set_log(nullptr));
    EXPECT_OK(net.set_progress(nullptr, 1));
    EXPECT(net.set_progress([](const sc_progress &) {}, 0).code() ==
           SC_ERR_ARG);
}

} // namespace

int main(int argc, char **argv)
{
    std::string dir = argc > 1 ? argv[1] : ".";
    EXPECT(sc::version_number() / 10000 == SC_VERSION_MAJOR);
    EXPECT(std::string(sc::version_string()).size() >= 5);
    EXPECT(sc::strerror(SC_ERR_SHAPE) == std::string(sc_strerror(SC_ERR_SHAPE)));
    test_train();
    test_errors();
    test_moves();
    test_roundtrip(dir);
    test_int8(dir);
    test_settings();
    test_log();
    if (failures) {
        std::fprintf(stderr, "test_hpp: %d of %d checks failed\n", failures,
                     checks);
        return 1;
    }
    std::printf("test_hpp: OK (%d checks)\n", checks);
    return 0;
}
