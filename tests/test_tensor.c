/* test_tensor.c -- tensors: create, from_data, wrap, queries, copies, and
 * their errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"

START_TEST(test_create_zero_filled)
{
    for (int nd = 1; nd <= SC_MAX_DIMS; nd++) {
        int64_t shape[4] = {2, 3, 4, 5};
        sc_tensor *t = NULL;
        TU_OK(sc_tensor_create(&t, nd, shape));
        ck_assert_ptr_nonnull(t);
        size_t want = 1;
        for (int i = 0; i < nd; i++)
            want *= (size_t)shape[i];
        ck_assert_int_eq(sc_tensor_ndim(t), nd);
        ck_assert_uint_eq(sc_tensor_numel(t), want);
        for (int i = 0; i < nd; i++)
            ck_assert_int_eq(sc_tensor_dim(t, i), shape[i]);
        ck_assert_int_eq(sc_tensor_dim(t, nd), -1);
        ck_assert_int_eq(sc_tensor_dim(t, -1), -1);
        float *d = sc_tensor_data(t);
        ck_assert_ptr_nonnull(d);
        for (size_t i = 0; i < want; i++)
            ck_assert_float_eq(d[i], 0.0f);
        /* the shape was copied: changing the caller's array changes nothing */
        shape[0] = 99;
        ck_assert_int_eq(sc_tensor_dim(t, 0), 2);
        sc_tensor_free(t);
    }
}
END_TEST

START_TEST(test_from_data_copies)
{
    float src[6] = {1.5f, -2.0f, NAN, INFINITY, 0.0f, 7.0f};
    int64_t shape[2] = {2, 3};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_from_data(&t, 2, shape, src));
    float *d = sc_tensor_data(t);
    ck_assert_ptr_ne(d, src);
    /* non-finite values are stored as they are (bitwise) */
    ck_assert(memcmp(d, src, sizeof src) == 0);
    src[0] = 42.0f;
    ck_assert_float_eq(d[0], 1.5f);
    sc_tensor_free(t);
}
END_TEST

START_TEST(test_wrap_aliases)
{
    float buf[24];
    for (int i = 0; i < 24; i++)
        buf[i] = (float)i;
    int64_t shape[4] = {1, 2, 3, 4};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_wrap(&t, 4, shape, buf));
    ck_assert_ptr_eq(sc_tensor_data(t), buf);
    ck_assert_uint_eq(sc_tensor_numel(t), 24);
    buf[5] = -1.0f; /* writes through in both directions */
    ck_assert_float_eq(sc_tensor_data(t)[5], -1.0f);
    float in[24];
    for (int i = 0; i < 24; i++)
        in[i] = 100.0f + (float)i;
    TU_OK(sc_tensor_copy_from(t, in, 24));
    ck_assert(memcmp(buf, in, sizeof in) == 0);
    sc_tensor_free(t); /* does not free buf */
    ck_assert_float_eq(buf[23], 123.0f);
}
END_TEST

START_TEST(test_copy_round_trip)
{
    int64_t shape[3] = {4, 1, 5};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_create(&t, 3, shape));
    float in[20], out[20];
    tu_lcg r;
    tu_lcg_seed(&r, 8);
    tu_fill(&r, in, 20, -3.0, 3.0);
    memset(out, 0, sizeof out);
    TU_OK(sc_tensor_copy_from(t, in, 20));
    TU_OK(sc_tensor_copy_to(t, out, 20));
    ck_assert(memcmp(in, out, sizeof in) == 0);
    ck_assert(memcmp(sc_tensor_data(t), in, sizeof in) == 0);

    /* wrong counts fail and change nothing */
    float junk[21];
    for (int i = 0; i < 21; i++)
        junk[i] = -9.0f;
    TU_FAILS(sc_tensor_copy_from(t, junk, 21), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_copy_from(t, junk, 19), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_copy_from(t, junk, 0), SC_ERR_SHAPE);
    ck_assert(memcmp(sc_tensor_data(t), in, sizeof in) == 0);
    TU_FAILS(sc_tensor_copy_to(t, junk, 21), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_copy_to(t, junk, 1), SC_ERR_SHAPE);
    for (int i = 0; i < 21; i++)
        ck_assert_float_eq(junk[i], -9.0f);
    TU_FAILS(sc_tensor_copy_to(t, NULL, 20), SC_ERR_NULL);
    TU_FAILS(sc_tensor_copy_from(t, NULL, 20), SC_ERR_NULL);
    TU_FAILS(sc_tensor_copy_to(NULL, out, 20), SC_ERR_NULL);
    TU_FAILS(sc_tensor_copy_from(NULL, in, 20), SC_ERR_NULL);
    sc_tensor_free(t);
}
END_TEST

START_TEST(test_create_errors)
{
    sc_tensor *t = (sc_tensor *)(uintptr_t)0x1; /* must stay untouched */
    sc_tensor *const sentinel = t;
    int64_t ok[4] = {2, 2, 2, 2};
    float data[16] = {0};
    /* ndim out of range */
    TU_FAILS(sc_tensor_create(&t, 0, ok), SC_ERR_ARG);
    TU_FAILS(sc_tensor_create(&t, 5, ok), SC_ERR_ARG);
    TU_FAILS(sc_tensor_create(&t, -1, ok), SC_ERR_ARG);
    TU_FAILS(sc_tensor_from_data(&t, 5, ok, data), SC_ERR_ARG);
    TU_FAILS(sc_tensor_wrap(&t, 0, ok, data), SC_ERR_ARG);
    /* zero, negative and overflowing sizes */
    int64_t zero[2] = {3, 0}, neg[2] = {-2, 3};
    int64_t huge[4] = {INT64_MAX, INT64_MAX, 2, 2};
    int64_t big[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 1};
    TU_FAILS(sc_tensor_create(&t, 2, zero), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_create(&t, 2, neg), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_create(&t, 4, huge), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_create(&t, 3, big), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_wrap(&t, 2, neg, data), SC_ERR_SHAPE);
    TU_FAILS(sc_tensor_from_data(&t, 2, zero, data), SC_ERR_SHAPE);
    /* NULLs */
    TU_FAILS(sc_tensor_create(NULL, 2, ok), SC_ERR_NULL);
    TU_FAILS(sc_tensor_create(&t, 2, NULL), SC_ERR_NULL);
    TU_FAILS(sc_tensor_from_data(&t, 2, ok, NULL), SC_ERR_NULL);
    TU_FAILS(sc_tensor_from_data(NULL, 2, ok, data), SC_ERR_NULL);
    TU_FAILS(sc_tensor_from_data(&t, 2, NULL, data), SC_ERR_NULL);
    TU_FAILS(sc_tensor_wrap(&t, 2, ok, NULL), SC_ERR_NULL);
    TU_FAILS(sc_tensor_wrap(NULL, 2, ok, data), SC_ERR_NULL);
    TU_FAILS(sc_tensor_wrap(&t, 2, NULL, data), SC_ERR_NULL);
    ck_assert_ptr_eq(t, sentinel);
}
END_TEST

START_TEST(test_null_queries)
{
    ck_assert_int_eq(sc_tensor_ndim(NULL), 0);
    ck_assert_int_eq(sc_tensor_dim(NULL, 0), -1);
    ck_assert_uint_eq(sc_tensor_numel(NULL), 0);
    ck_assert_ptr_null(sc_tensor_data(NULL));
    sc_tensor_free(NULL);
}
END_TEST

START_TEST(test_large_but_valid)
{
    /* a 1-D tensor of a million floats: numel without overflow */
    int64_t shape[1] = {1 << 20};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_create(&t, 1, shape));
    ck_assert_uint_eq(sc_tensor_numel(t), (size_t)1 << 20);
    ck_assert_float_eq(sc_tensor_data(t)[(1 << 20) - 1], 0.0f);
    sc_tensor_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_test(tc, test_create_zero_filled);
    tcase_add_test(tc, test_from_data_copies);
    tcase_add_test(tc, test_wrap_aliases);
    tcase_add_test(tc, test_copy_round_trip);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_null_queries);
    tcase_add_test(tc, test_large_but_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
