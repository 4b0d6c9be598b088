/* test_export_c.c -- sc_model_export_c's API: its arguments, options and
 * errors, the files it writes and the arena of a chain (buffers shared by
 * liveness). tests/export_c.sh compiles the code and compares it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"

/* input 64 -> dense 32 + relu -> dense 32 + relu -> dense 32 + relu ->
 * dense 10, calibrated, saved and loaded */
static sc_model *chain_model(int calibrate)
{
    sc_net *net;
    TU_OK(sc_net_create(&net, 64, 1, 1));
    int id = SC_INPUT;
    for (int i = 0; i < 3; i++) {
        TU_OK(sc_net_dense(net, id, 32, SC_BIAS, &id));
        TU_OK(sc_net_relu(net, id, &id));
    }
    TU_OK(sc_net_dense(net, id, 10, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    tu_batch cal = tu_batch_make(16, 64, 1, 1, 0, 2);
    if (calibrate)
        TU_OK(sc_net_calibrate(net, cal.x));
    char *path = tu_path("chain.scm");
    TU_OK(sc_net_save(net, path, NULL));
    sc_model *m;
    TU_OK(sc_model_load(&m, path));
    sc_net_free(net);
    tu_batch_free(&cal);
    return m;
}

START_TEST(t_files_and_arena)
{
    tu_make_tmpdir("sc_test_export_c");
    sc_model *m = chain_model(1);
    sc_c_export_options o = SC_C_EXPORT_OPTIONS_INIT;
    o.description = "a chain of dense layers";
    o.accuracy = 0.5;
    sc_c_footprint fp = SC_C_FOOTPRINT_INIT;
    TU_OK(sc_model_export_c(m, tu_tmpdir(), "chain", &o, &fp));
    /* buffers: the input's 64 bytes live until the first dense, each dense's
     * 32 until the next reads them; the last writes the logits */
    ck_assert_int_eq(fp.arena_bytes, 96);
    ck_assert_int_eq(fp.unshared_bytes, 160);
    /* int8 rows, row sums, multipliers, shifts, offsets, float scales */
    int64_t want = 64 * 32 + 32 * 32 * 2 + 32 * 10 + (4 + 4 + 1 + 8) * 96 +
                   10 * (4 + 4 + 4);
    ck_assert_int_ge(fp.const_bytes, want);
    size_t n;
    char *h = (char *)tu_read_all(tu_path("chain.h"), &n);
    h[n] = 0;
    ck_assert_ptr_nonnull(strstr(h, "#define CHAIN_ARENA_BYTES 96\n"));
    ck_assert_ptr_nonnull(strstr(h, "#define CHAIN_INPUTS 64\n"));
    ck_assert_ptr_nonnull(strstr(h, "#define CHAIN_OUTPUTS 10\n"));
    ck_assert_ptr_nonnull(strstr(h, "void chain_predict(const float *input"));
    ck_assert_ptr_nonnull(strstr(h, "void chain_predict_q8(const uint8_t *input"));
    char *c = (char *)tu_read_all(tu_path("chain.c"), &n);
    c[n] = 0;
    ck_assert_ptr_nonnull(strstr(c, "Model: a chain of dense layers"));
    ck_assert_ptr_nonnull(strstr(c, "Accuracy: 50.00%"));
    ck_assert_ptr_null(strstr(c, "<math.h>")); /* no norm: no libm */
    free(h);
    free(c);
    /* an older caller's footprint (only .size): nothing past it written */
    sc_c_footprint old = {sizeof(size_t), -1, -1, -1};
    TU_OK(sc_model_export_c(m, tu_tmpdir(), "chain", NULL, &old));
    ck_assert_uint_eq(old.size, sizeof(size_t));
    ck_assert_int_eq(old.const_bytes, -1);
    ck_assert_int_eq(old.arena_bytes, -1);
    sc_model_free(m);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(t_errors)
{
    tu_make_tmpdir("sc_test_export_c");
    sc_model *m = chain_model(1);
    const char *d = tu_tmpdir();
    ck_assert_int_eq(sc_model_export_c(NULL, d, "a", NULL, NULL), SC_ERR_NULL);
    ck_assert_int_eq(sc_model_export_c(m, NULL, "a", NULL, NULL), SC_ERR_NULL);
    ck_assert_int_eq(sc_model_export_c(m, d, NULL, NULL, NULL), SC_ERR_NULL);
    char longest[66];
    memset(longest, 'a', 65);
    longest[65] = 0; /* 65 characters: one too many */
    const char *bad[] = {"", "1net", "a-b", "a b", "net.h", longest};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(sc_model_export_c(m, d, bad[i], NULL, NULL), SC_ERR_ARG);
    longest[64] = 0;
    TU_OK(sc_model_export_c(m, d, longest, NULL, NULL));
    sc_c_export_options o = SC_C_EXPORT_OPTIONS_INIT;
    o.size = 0;
    ck_assert_int_eq(sc_model_export_c(m, d, "a", &o, NULL), SC_ERR_ARG);
    o = (sc_c_export_options)SC_C_EXPORT_OPTIONS_INIT;
    o.accuracy = 1.5;
    ck_assert_int_eq(sc_model_export_c(m, d, "a", &o, NULL), SC_ERR_ARG);
    o.accuracy = -1.0;
    o.description = "ends the comment */ early";
    ck_assert_int_eq(sc_model_export_c(m, d, "a", &o, NULL), SC_ERR_ARG);
    sc_c_footprint fp = SC_C_FOOTPRINT_INIT;
    fp.size = 0;
    ck_assert_int_eq(sc_model_export_c(m, d, "a", NULL, &fp), SC_ERR_ARG);
    ck_assert_int_eq(sc_model_export_c(m, tu_path("no/such/dir"), "a", NULL, NULL),
                     SC_ERR_IO);
    /* nothing written by the failures */
    FILE *f = fopen(tu_path("a.c"), "r");
    ck_assert_ptr_null(f);
    sc_model_free(m);
    m = chain_model(0); /* no activation ranges */
    ck_assert_int_eq(sc_model_export_c(m, d, "a", NULL, NULL), SC_ERR_STATE);
    sc_model_free(m);
    tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("export_c");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, t_files_and_arena);
    tcase_add_test(tc, t_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_ENV); }
