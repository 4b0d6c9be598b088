// cpp_host.cpp -- a C++17 host of libselfcompress, built against the
// installed library through pkg-config:
//
//     c++ -std=c++17 cpp_host.cpp $(pkg-config --cflags --libs selfcompress)
//     ./a.out [model-path]
//
// Every handle lives in a std::unique_ptr whose deleter is the library's
// destructor; every status is checked and a failure becomes an exception.
// The program trains a small conv net with self-compression on synthetic
// images (4 classes: a bright square in one of the four quadrants), prints
// progress from the library's progress hook, compresses, saves the model,
// loads it back and checks the loaded model's logits equal the net's
// eval-mode logits bit for bit. Exit status 0 only when all of that holds.
#include <selfcompress.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ---- RAII owners: the library's destructors as deleters ------------------
template <class T, void (*Free)(T *)> struct deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
using net_ptr = std::unique_ptr<sc_net, deleter<sc_net, sc_net_free>>;
using opt_ptr =
    std::unique_ptr<sc_optimizer, deleter<sc_optimizer, sc_optimizer_free>>;
using tensor_ptr =
    std::unique_ptr<sc_tensor, deleter<sc_tensor, sc_tensor_free>>;
using model_ptr = std::unique_ptr<sc_model, deleter<sc_model, sc_model_free>>;

struct sc_error : std::runtime_error {
    sc_status status;
    sc_error(sc_status st, const std::string &what)
        : std::runtime_error(what), status(st) {}
};

// Throws when a call failed, with the status and the library's message.
void check(sc_status st, const char *call)
{
    if (st != SC_OK)
        throw sc_error(st, std::string(call) + ": " + sc_strerror(st) + ": " +
                               sc_last_error());
}
#define CHECK(call) check((call), #call)

// A tensor over the caller's vector (no copy); the vector must outlive it.
tensor_ptr wrap(std::vector<float> &v, std::initializer_list<int64_t> dims)
{
    std::vector<int64_t> shape(dims);
    sc_tensor *t = nullptr;
    CHECK(sc_tensor_wrap(&t, static_cast<int>(shape.size()), shape.data(),
                         v.data()));
    return tensor_ptr(t);
}

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
net_ptr build_net()
{
    sc_net *raw = nullptr;
    CHECK(sc_net_create(&raw, C, H, W));
    net_ptr net(raw);
    int id = SC_INPUT;
    CHECK(sc_net_conv2d(net.get(), id, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    CHECK(sc_net_batchnorm(net.get(), id, SC_BN_AFFINE, &id));
    CHECK(sc_net_relu(net.get(), id, &id));
    CHECK(sc_net_maxpool(net.get(), id, 2, 2, &id));
    CHECK(sc_net_conv2d(net.get(), id, 8, 3, 3, 1, 1, SC_BIAS, &id));
    CHECK(sc_net_relu(net.get(), id, &id));
    CHECK(sc_net_maxpool(net.get(), id, 2, 2, &id));
    CHECK(sc_net_flatten(net.get(), id, &id));
    CHECK(sc_net_dense(net.get(), id, CLASSES, SC_BIAS, &id));
    CHECK(sc_net_init(net.get(), 42));
    CHECK(sc_net_quantize(net.get(), SC_ALL_LAYERS));
    CHECK(sc_net_set_param(net.get(), SC_PARAM_GAMMA, 0.005));
    return net;
}

// Eval-mode logits of the whole set.
std::vector<float> net_logits(sc_net *net, dataset &d)
{
    std::vector<float> out(static_cast<size_t>(d.n) * CLASSES);
    tensor_ptr x = wrap(d.x, {d.n, C, H, W});
    tensor_ptr y = wrap(out, {d.n, CLASSES});
    CHECK(sc_net_set_training(net, 0));
    CHECK(sc_net_forward(net, x.get(), y.get()));
    CHECK(sc_net_set_training(net, 1));
    return out;
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
void on_progress(const sc_progress *p, void *)
{
    if (p->kind == SC_PROGRESS_EPOCH)
        std::printf("epoch %d: test accuracy %.2f%%, bits %.2f%%, weights "
                    "%.2f%%, %.0f img/s\n",
                    p->epoch, 100.0 * p->test_accuracy, p->bits_pct,
                    p->weights_pct, p->images_per_sec);
    else
        std::printf("step %4llu  loss %.4f  task %.4f  Q %.3f  acc %.2f  "
                    "bits %.2f%%  weights %.2f%%  %.0f img/s\n",
                    static_cast<unsigned long long>(p->step), p->loss,
                    p->task_loss, p->size_loss, p->accuracy, p->bits_pct,
                    p->weights_pct, p->images_per_sec);
    std::fflush(stdout);
}

void on_log(int level, const char *msg, void *)
{
    const char *tag = level >= SC_LOG_WARN ? "warning" : "info";
    std::fprintf(stderr, "libselfcompress %s: %s\n", tag, msg);
}

int run(const std::string &path)
{
    if (sc_version_number() / 10000 != SC_VERSION_MAJOR)
        throw std::runtime_error("library major version differs from header");
    std::printf("libselfcompress %s, BLAS kernel %s\n", sc_version_string(),
                sc_blas_kernel());

    dataset train = make_data(1024, 1), test = make_data(256, 2);
    net_ptr net = build_net();
    CHECK(sc_net_set_log(net.get(), on_log, nullptr));
    CHECK(sc_net_set_progress(net.get(), on_progress, nullptr, 32));

    sc_optimizer *raw_opt = nullptr;
    CHECK(sc_optimizer_create(&raw_opt, net.get(), SC_OPT_ADAM));
    opt_ptr opt(raw_opt);
    CHECK(sc_optimizer_set_lr(opt.get(), SC_GROUP_WEIGHTS, 1e-2));
    CHECK(sc_optimizer_set_lr(opt.get(), SC_GROUP_BIASES, 1e-2));

    constexpr int batch = 32, epochs = 6;
    std::vector<float> bx(static_cast<size_t>(batch) * C * H * W);
    tensor_ptr x = wrap(bx, {batch, C, H, W});
    sc_step_stats st = SC_STEP_STATS_INIT;
    for (int epoch = 0; epoch < epochs; epoch++) {
        for (int at = 0; at + batch <= train.n; at += batch) {
            std::memcpy(bx.data(), &train.x[static_cast<size_t>(at) * C * H * W],
                        bx.size() * sizeof(float));
            CHECK(sc_net_train_step(net.get(), opt.get(), x.get(),
                                    &train.y[static_cast<size_t>(at)], &st));
        }
        CHECK(sc_net_compress(net.get(), nullptr)); // logs what it removed
        CHECK(sc_net_report_epoch(net.get(), epoch,
                                  accuracy(net_logits(net.get(), test), test)));
    }

    sc_size_report rep = SC_SIZE_REPORT_INIT;
    CHECK(sc_net_size_report(net.get(), SC_ALL_LAYERS, &rep));
    std::vector<float> want = net_logits(net.get(), test);
    double acc = accuracy(want, test);
    std::printf("net: accuracy %.2f%%, bits %.2f%% of fp32, weights %.2f%%\n",
                100.0 * acc, rep.bits_pct, rep.weights_pct);

    sc_model_info info = SC_MODEL_INFO_INIT;
    CHECK(sc_net_save(net.get(), path.c_str(), &info));
    sc_model *raw_model = nullptr;
    CHECK(sc_model_load(&raw_model, path.c_str()));
    model_ptr model(raw_model);
    std::printf("model: %lld bytes at %s\n",
                static_cast<long long>(info.file_bytes), path.c_str());

    std::vector<float> got(want.size());
    tensor_ptr tx = wrap(test.x, {test.n, C, H, W});
    tensor_ptr ty = wrap(got, {test.n, CLASSES});
    CHECK(sc_model_forward(model.get(), tx.get(), ty.get()));

    int failures = 0;
    if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) {
        std::fprintf(stderr, "cpp_host: the loaded model's logits differ from "
                             "the net's\n");
        failures++;
    }
    if (acc < 0.95) {
        std::fprintf(stderr, "cpp_host: accuracy %.4f is below 0.95\n", acc);
        failures++;
    }
    if (!(rep.bits_pct < 25.0)) { // 8-bit start: self-compression must go below
        std::fprintf(stderr, "cpp_host: bits %.2f%% did not go below 25%%\n",
                     rep.bits_pct);
        failures++;
    }
    std::printf("%s\n", failures ? "cpp_host: FAILED" : "cpp_host: OK");
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
    std::string path = argc > 1 ? argv[1]
                                : (std::filesystem::temp_directory_path() /
                                   "cpp_host_model.scm")
                                      .string();
    try {
        int rc = run(path);
        if (argc <= 1)
            std::filesystem::remove(path);
        return rc;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_host: %s\n", e.what());
        return 1;
    }
}
