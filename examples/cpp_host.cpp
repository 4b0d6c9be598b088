// cpp_host.cpp -- a C++17 host of libselfcompress through its C++ wrapper,
// include/selfcompress.hpp, built against the installed library through
// pkg-config:
//
//     c++ -std=c++17 cpp_host.cpp $(pkg-config --cflags --libs selfcompress)
//     ./a.out [model-path]
//
// It builds with -fno-exceptions -fno-rtti too: every call returns an
// sc::status or an sc::result, and TRY / TRY_SET below hand a failure back
// to main(), which prints its code and the library's message. The handles
// (sc::Net, sc::Optimizer, sc::Tensor, sc::Model) free themselves.
//
// The program trains a small conv net with self-compression on synthetic
// images (4 classes: a bright square in one of the four quadrants), prints
// progress from the library's progress hook, compresses, saves the model,
// loads it back and checks the loaded model's logits equal the net's
// eval-mode logits bit for bit. Exit status 0 only when all of that holds.
#include <selfcompress.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// Returns the status of a failed call from the enclosing function.
#define TRY(expr)                                                             \
    do {                                                                      \
        sc::status st_ = (expr);                                              \
        if (!st_.ok())                                                        \
            return st_;                                                       \
    } while (0)
// Moves a result's value into var, or returns its status on failure.
#define TRY_SET(var, expr)                                                    \
    do {                                                                      \
        auto r_ = (expr);                                                     \
        if (!r_.ok())                                                         \
            return r_.error();                                                \
        var = std::move(r_).value();                                          \
    } while (0)

namespace {

// ---- synthetic data --------------------------------------------------------
constexpr int C = 1, H = 12, W = 12, CLASSES = 4;

struct dataset {
    std::vector<float> x;
    std::vector<int32_t> y;
    int n = 0;
};

dataset make_data(int n, uint32_t seed)
{
    dataset d;
    d.n = n;
    d.x.resize(static_cast<size_t>(n) * C * H * W);
    d.y.resize(static_cast<size_t>(n));
    std::mt19937 rng(seed);
    auto uniform = [&rng] { return static_cast<float>(rng()) / 4294967296.0f; };
    for (int i = 0; i < n; i++) {
        int k = static_cast<int>(rng() % CLASSES);
        d.y[static_cast<size_t>(i)] = k;
        int r0 = (k / 2) * (H / 2) + 1, c0 = (k % 2) * (W / 2) + 1;
        float *img = &d.x[static_cast<size_t>(i) * C * H * W];
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                bool on = r >= r0 && r < r0 + 4 && c >= c0 && c < c0 + 4;
                img[r * W + c] = (on ? 1.0f : 0.0f) + (uniform() - 0.5f);
            }
    }
    return d;
}

// ---- the net ---------------------------------------------------------------
sc::status build_net(sc::Net &net)
{
    TRY_SET(net, sc::Net::create(C, H, W));
    int id = SC_INPUT;
    TRY_SET(id, net.conv2d(id, 8, 3, 3, 1, 1, SC_NO_BIAS));
    TRY_SET(id, net.batchnorm(id, SC_BN_AFFINE));
    TRY_SET(id, net.relu(id));
    TRY_SET(id, net.maxpool(id, 2, 2));
    TRY_SET(id, net.conv2d(id, 8, 3, 3, 1, 1, SC_BIAS));
    TRY_SET(id, net.relu(id));
    TRY_SET(id, net.maxpool(id, 2, 2));
    TRY_SET(id, net.flatten(id));
    TRY_SET(id, net.dense(id, CLASSES, SC_BIAS));
    TRY(net.init(42));
    TRY(net.quantize(SC_ALL_LAYERS));
    TRY(net.set_param(SC_PARAM_GAMMA, 0.005));
    return sc::status();
}

// Eval-mode logits of the whole set into out.
sc::status net_logits(sc::Net &net, dataset &d, std::vector<float> &out)
{
    out.assign(static_cast<size_t>(d.n) * CLASSES, 0.0f);
    sc::Tensor x, y;
    TRY_SET(x, sc::Tensor::wrap({d.n, C, H, W}, d.x)); // no copy
    TRY_SET(y, sc::Tensor::wrap({d.n, CLASSES}, out));
    TRY(net.set_training(false));
    TRY(net.forward(x, y));
    return net.set_training(true);
}

double accuracy(const std::vector<float> &logits, const dataset &d)
{
    int right = 0;
    for (int i = 0; i < d.n; i++) {
        const float *l = &logits[static_cast<size_t>(i) * CLASSES];
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (l[k] > l[best])
                best = k;
        right += best == d.y[static_cast<size_t>(i)];
    }
    return static_cast<double>(right) / d.n;
}

// ---- hooks -----------------------------------------------------------------
void on_progress(const sc_progress &p)
{
    if (p.kind == SC_PROGRESS_EPOCH)
        std::printf("epoch %d: test accuracy %.2f%%, bits %.2f%%, weights "
                    "%.2f%%, %.0f img/s\n",
                    p.epoch, 100.0 * p.test_accuracy, p.bits_pct,
                    p.weights_pct, p.images_per_sec);
    else
        std::printf("step %4llu  loss %.4f  task %.4f  Q %.3f  acc %.2f  "
                    "bits %.2f%%  weights %.2f%%  %.0f img/s\n",
                    static_cast<unsigned long long>(p.step), p.loss,
                    p.task_loss, p.size_loss, p.accuracy, p.bits_pct,
                    p.weights_pct, p.images_per_sec);
    std::fflush(stdout);
}

void on_log(sc_log_level level, std::string_view msg)
{
    const char *tag = level >= SC_LOG_WARN ? "warning" : "info";
    std::fprintf(stderr, "libselfcompress %s: %.*s\n", tag,
                 static_cast<int>(msg.size()), msg.data());
}

// Trains, compresses, saves, loads and compares; *failures counts the
// checks that did not hold (a failed call returns its status instead).
sc::status run(const std::string &path, int *failures)
{
    std::printf("libselfcompress %s, BLAS kernel %s\n", sc::version_string(),
                sc::blas_kernel());

    dataset train = make_data(1024, 1), test = make_data(256, 2);
    sc::Net net;
    TRY(build_net(net));
    TRY(net.set_log(on_log));
    TRY(net.set_progress(on_progress, 32));

    sc::Optimizer opt;
    TRY_SET(opt, sc::Optimizer::create(net, SC_OPT_ADAM));
    TRY(opt.set_lr(SC_GROUP_WEIGHTS, 1e-2));
    TRY(opt.set_lr(SC_GROUP_BIASES, 1e-2));

    constexpr int batch = 32, epochs = 6;
    std::vector<float> bx(static_cast<size_t>(batch) * C * H * W);
    sc::Tensor x;
    TRY_SET(x, sc::Tensor::wrap({batch, C, H, W}, bx));
    std::vector<float> logits;
    for (int epoch = 0; epoch < epochs; epoch++) {
        for (int at = 0; at + batch <= train.n; at += batch) {
            std::memcpy(bx.data(), &train.x[static_cast<size_t>(at) * C * H * W],
                        bx.size() * sizeof(float));
            sc::span<const int32_t> labels(&train.y[static_cast<size_t>(at)],
                                           batch);
            TRY(net.train_step(opt, x, labels).error());
        }
        TRY(net.compress().error()); // logs what it removed
        TRY(net_logits(net, test, logits));
        TRY(net.report_epoch(epoch, accuracy(logits, test)));
    }

    sc_size_report rep{};
    TRY_SET(rep, net.size_report());
    std::vector<float> want;
    TRY(net_logits(net, test, want));
    double acc = accuracy(want, test);
    std::printf("net: accuracy %.2f%%, bits %.2f%% of fp32, weights %.2f%%\n",
                100.0 * acc, rep.bits_pct, rep.weights_pct);

    sc_model_info info{};
    TRY_SET(info, net.save(path));
    sc::Model model;
    TRY_SET(model, sc::Model::load(path));
    std::printf("model: %lld bytes at %s\n",
                static_cast<long long>(info.file_bytes), path.c_str());

    std::vector<float> got(want.size());
    sc::Tensor tx, ty;
    TRY_SET(tx, sc::Tensor::wrap({test.n, C, H, W}, test.x));
    TRY_SET(ty, sc::Tensor::wrap({test.n, CLASSES}, got));
    TRY(model.forward(tx, ty));

    if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) {
        std::fprintf(stderr, "cpp_host: the loaded model's logits differ from "
                             "the net's\n");
        ++*failures;
    }
    if (acc < 0.95) {
        std::fprintf(stderr, "cpp_host: accuracy %.4f is below 0.95\n", acc);
        ++*failures;
    }
    if (!(rep.bits_pct < 25.0)) { // 8-bit start: self-compression must go below
        std::fprintf(stderr, "cpp_host: bits %.2f%% did not go below 25%%\n",
                     rep.bits_pct);
        ++*failures;
    }
    return sc::status();
}

} // namespace

int main(int argc, char **argv)
{
    if (sc::version_number() / 10000 != SC_VERSION_MAJOR) {
        std::fprintf(stderr, "cpp_host: library major version differs from "
                             "the header's\n");
        return 1;
    }
    std::error_code ec;
    std::string path = argc > 1 ? argv[1]
                                : (std::filesystem::temp_directory_path(ec) /
                                   "cpp_host_model.scm")
                                      .string();
    int failures = 0;
    sc::status st = run(path, &failures);
    if (argc <= 1)
        std::filesystem::remove(path, ec);
    if (!st.ok()) {
        std::fprintf(stderr, "cpp_host: %s\n", st.describe().c_str());
        return 1;
    }
    std::printf("%s\n", failures ? "cpp_host: FAILED" : "cpp_host: OK");
    return failures ? 1 : 0;
}
