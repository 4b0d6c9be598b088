# libselfcompress - plain GNU make build.
#
# Main targets:
#   all (default)   lib/libselfcompress.so.X.Y.Z (+ .so.X, .so symlinks) and lib/libselfcompress.a
#   deps            install missing Debian packages listed in DEPS_PKGS (apt-get as root)
#   check           deps, libraries, tests/test_*.c (Check), exports check, header checks
#                   (selfcompress.h as C and C++, selfcompress.hpp as C++17), examples,
#                   tests/*.sh scripts; ends with "N passed, 0 failed"
#   sanitize        make check SANITIZE=1 (ASan+UBSan build under build/san)
#   valgrind        every test program under valgrind (CK_FORK=no)
#   tsan            tests/test_threads.c and the library sources built with gcc's
#                   ThreadSanitizer (build/tsan) and run
#   examples        build/examples/<name> for every examples/<name>.c (against the .so)
#   check-exports   SONAME and exported-symbol check of the shared library
#   abi-check       abidiff of the built library against docs/abi/libselfcompress.so.X.abi
#                   (fails on any difference: see docs/abi.md)
#   abi-baseline    rewrites that baseline from the built library (deliberately!)
#   docs            HTML API reference with Doxygen under build/docs (warnings are errors)
#   bench           build/tests/bench/bench (tests/bench/bench.c) and run it: throughput
#                   of mlp/tinynet/cnn against the FMA peak and sgemm (BENCH_FLAGS)
#   qgemm-bench     build/tests/bench/qgemm_bench: GOP/s of the integer GEMM kernels
#   bench-compare   the same cases with PyTorch (tests/bench/bench_torch.py), side by side
#   bench-deps      installs python3-torch for bench-compare (large; not in DEPS_PKGS)
#   bench-int8      a calibrated model file (MODEL=FILE) in int8 against fp32 and against
#                   PyTorch's fbgemm int8 (tests/bench/int8_bench.c, int8_torch.py)
#   install / uninstall / clean / demo
#   install-python  pip-installs the Python package python/ (docs/python.md) into PYTHON's
#                   environment (a venv's python, or PIP_FLAGS="--user --break-system-packages")
#
# Variables: CC CXX CFLAGS EXTRA_CFLAGS CPPFLAGS LDFLAGS WERROR=1 SANITIZE=1
#            PREFIX LIBDIR INCLUDEDIR PKGCONFIGDIR DESTDIR DEPS_PKGS

.DEFAULT_GOAL := all
SHELL := /bin/sh

# ---------------------------------------------------------------- toolchain
CC ?= cc
ifeq ($(origin CXX),default)
CXX = c++
endif
AR ?= ar
PKG_CONFIG ?= pkg-config
VALGRIND ?= valgrind

CFLAGS ?= -std=c11 -O2 -g -Wall -Wextra -Wpedantic -fPIC -fvisibility=hidden -pthread
EXTRA_CFLAGS ?=
LDFLAGS ?=
# Flags the build relies on (PIC shared lib, export control); added only if
# a user-supplied CFLAGS dropped them.
REQUIRED_CFLAGS := $(filter-out $(CFLAGS),-fPIC -fvisibility=hidden -pthread)

WERROR ?=
SANITIZE ?=
# -Wswitch-enum: a switch over an enum names every value (no default: that
# would hide a new layer kind), so the compiler lists what a new one needs
ifeq ($(WERROR),1)
WERROR_FLAGS := -Werror -Wswitch-enum
endif
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# -O2 plus loop vectorisation: element-wise loops (relu, pools, batch norm,
# the quantiser) run 10-20x faster as SIMD than as branchy scalar code.
# Float reductions are not reordered (no -ffast-math), so results do not
# change; -fno-math-errno lets sqrtf vectorise (the library never reads errno).
VEC_CFLAGS := -ftree-vectorize -fno-math-errno

BASE_CFLAGS = $(CFLAGS) $(VEC_CFLAGS) $(REQUIRED_CFLAGS) $(EXTRA_CFLAGS) $(WERROR_FLAGS)

# ------------------------------------------------------- lazily-evaluated pkg-config
# Recursively expanded and cached on first use: pkg-config only runs when a
# recipe needs it, i.e. after `make deps` had a chance to install packages.
cache = $(eval $(1) := $(2))$($(1))
BLAS_CFLAGS  = $(call cache,BLAS_CFLAGS,$(shell $(PKG_CONFIG) --cflags openblas))
BLAS_LIBS    = $(call cache,BLAS_LIBS,$(shell $(PKG_CONFIG) --libs openblas))
CHECK_CFLAGS = $(call cache,CHECK_CFLAGS,$(shell $(PKG_CONFIG) --cflags check))
CHECK_LIBS   = $(call cache,CHECK_LIBS,$(shell $(PKG_CONFIG) --libs check))
PROTOBUF_CFLAGS = $(call cache,PROTOBUF_CFLAGS,$(shell $(PKG_CONFIG) --cflags libprotobuf-c))
PROTOBUF_LIBS   = $(call cache,PROTOBUF_LIBS,$(shell $(PKG_CONFIG) --libs libprotobuf-c))
SYS_LIBS := -lm -lpthread

# ---------------------------------------------------------------- version
HEADER := include/selfcompress.h
HEADER_CXX := include/selfcompress.hpp
version_part = $(shell sed -n -E 's/^[[:space:]]*\#[[:space:]]*define[[:space:]]+SC_VERSION_$(1)[[:space:]]+\(?([0-9]+)[uU]?\)?.*/\1/p' $(HEADER) 2>/dev/null | head -n 1)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
# Recipes that need the version start with $(need_version).
need_version = $(if $(and $(VERSION_MAJOR),$(VERSION_MINOR),$(VERSION_PATCH)),,$(error cannot parse SC_VERSION_MAJOR/MINOR/PATCH from $(HEADER)))

# ---------------------------------------------------------------- layout
BUILDDIR := build
SANDIR   := $(BUILDDIR)/san
LIBOUT   := lib

LIBNAME := libselfcompress
SONAME  := $(LIBNAME).so.$(VERSION_MAJOR)
SHARED_REAL := $(LIBOUT)/$(LIBNAME).so.$(VERSION)
SHARED_SONAME := $(LIBOUT)/$(SONAME)
SHARED_LINK := $(LIBOUT)/$(LIBNAME).so
STATIC := $(LIBOUT)/$(LIBNAME).a
SAN_STATIC := $(SANDIR)/$(LIBNAME).a
MAPFILE := src/selfcompress.map

LIB_SRCS  := $(sort $(wildcard src/*.c src/*/*.c src/*/*/*.c))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_UTIL_SRCS := $(sort $(wildcard tests/util/*.c))
TEST_SCRIPTS := $(filter-out tests/check_exports.sh,$(sort $(wildcard tests/*.sh)))
EXAMPLE_SRCS := $(filter-out examples/mpi_train.c,$(sort $(wildcard examples/*.c)))
EXAMPLES := $(patsubst examples/%.c,$(BUILDDIR)/examples/%,$(EXAMPLE_SRCS))
# tests/bench/bench.c: `make bench` (built for `make check` too)
BENCH := $(BUILDDIR)/tests/bench/bench
MODEL_RSS := $(BUILDDIR)/tests/bench/model_rss
# tests/bench/qgemm_bench.c: `make qgemm-bench` (built for `make check` too)
QGEMM_BENCH := $(BUILDDIR)/tests/bench/qgemm_bench
# tests/bench/int8_bench.c: `make bench-int8 MODEL=FILE` (built for `make check` too)
INT8_BENCH := $(BUILDDIR)/tests/bench/int8_bench
BENCH_FLAGS ?=
BENCH_DIR ?= $(BUILDDIR)/bench

# Two object trees, each compiled with fixed flags: build/obj (normal) and
# build/san/obj (sanitized). They can never be mixed.
NORMAL_OBJDIR := $(BUILDDIR)/obj
SAN_OBJDIR    := $(SANDIR)/obj
# ONNX's protobuf code, generated into build/gen (docs/onnx.md): part of
# every variant's library objects
GENDIR := $(BUILDDIR)/gen
GEN_SRCS := $(GENDIR)/onnx.pb-c.c
GEN_HDRS := $(GENDIR)/onnx.pb-c.h
lib_objs  = $(patsubst %.c,$(1)/%.o,$(LIB_SRCS)) $(patsubst $(GENDIR)/%.c,$(1)/gen/%.o,$(GEN_SRCS))
# the importer's objects, which include the generated header
onnx_objs = $(patsubst %.c,$(1)/%.o,$(filter src/onnx/%,$(LIB_SRCS)))
test_objs = $(patsubst %.c,$(1)/%.o,$(TEST_UTIL_SRCS))

ifeq ($(SANITIZE),1)
VARIANT_DIR := $(SANDIR)
OBJDIR := $(SAN_OBJDIR)
TEST_ARCHIVE := $(SAN_STATIC)
VARIANT_FLAGS := $(SAN_FLAGS)
else
VARIANT_DIR := $(BUILDDIR)
OBJDIR := $(NORMAL_OBJDIR)
TEST_ARCHIVE := $(STATIC)
VARIANT_FLAGS :=
endif
TEST_BINS := $(patsubst tests/%.c,$(VARIANT_DIR)/tests/%,$(TEST_SRCS))
NORMAL_TEST_BINS := $(patsubst tests/%.c,$(BUILDDIR)/tests/%,$(TEST_SRCS))

DEPFLAGS = -MMD -MP
LIB_CPPFLAGS  = -DSC_BUILDING -Isrc -Iinclude -I$(GENDIR) $(CPPFLAGS)
TEST_CPPFLAGS = -Isrc -Iinclude -Itests $(CPPFLAGS)

# Compile-flag signatures: objects are rebuilt when the flags change
# (e.g. WERROR=1 or EXTRA_CFLAGS after a normal build).
# The .srcs stamps make the libraries relink when a source file is removed.
sig = $(CC) $(BASE_CFLAGS) $(1) | $(LIB_CPPFLAGS) | $(TEST_CPPFLAGS) | $(LDFLAGS)
define write_flags
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(1))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
endef

# ---------------------------------------------------------------- install dirs
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

# ---------------------------------------------------------------- deps
DEPS_PKGS = libopenblas-dev check pkg-config zlib1g-dev dataset-fashion-mnist \
            python3 python3-numpy abigail-tools doxygen gnuplot-nox g++ clang \
            libprotobuf-c-dev protobuf-c-compiler libonnx-dev \
            python3-pytest python3-tqdm python3-mypy python3-setuptools python3-pip python3-onnx \
            libopenmpi-dev openmpi-bin

.PHONY: sweep all deps check check-run sanitize valgrind examples check-exports \
        header-check tests install uninstall clean demo abi-check abi-baseline \
        docs tsan install-python mpi mcu-demo FORCE

all: $(SHARED_REAL) $(SHARED_SONAME) $(SHARED_LINK) $(STATIC)

# ---------------------------------------------------------------- generated code
# C structs and (un)packers for ONNX's messages, from the onnx.proto of
# Debian's libonnx-dev, with protoc-c. The fields through which messages
# nest in themselves (an attribute's graphs, a sequence's, map's or
# optional's element type) are left out of the schema: protobuf-c unpacks
# nested messages recursively, so a file nesting them deeply would exhaust
# the stack; without them a message nests at most 7 deep and those fields
# are skipped as unknown ones (the importer supports no subgraph).
PROTOC_C ?= protoc-c
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ONNX_PROTO_CUT := /^[[:space:]]*(optional|repeated)[[:space:]]+(GraphProto|TypeProto)[[:space:]]+(g|graphs|elem_type|value_type)[[:space:]]*=/d

$(GENDIR)/onnx.proto: $(ONNX_PROTO)
	@mkdir -p $(@D)
	sed -E '$(ONNX_PROTO_CUT)' $< > $@.tmp
	@cut=$$(( $$(wc -l < $<) - $$(wc -l < $@.tmp) )); [ "$$cut" = 5 ] || \
		{ echo "onnx.proto: expected to cut 5 recursive fields, cut $$cut" >&2; rm -f $@.tmp; exit 1; }
	mv -f $@.tmp $@
$(GEN_SRCS) $(GEN_HDRS) &: $(GENDIR)/onnx.proto
	cd $(GENDIR) && $(PROTOC_C) --c_out=. onnx.proto

$(foreach d,obj san/obj tsan/obj fuzz/obj,$(call onnx_objs,$(BUILDDIR)/$(d))): $(GEN_HDRS)

# ---------------------------------------------------------------- objects
$(NORMAL_OBJDIR)/.flags: FORCE
	$(call write_flags,$(call sig,))
$(SAN_OBJDIR)/.flags: FORCE
	$(call write_flags,$(call sig,$(SAN_FLAGS)))
$(NORMAL_OBJDIR)/.srcs $(SAN_OBJDIR)/.srcs: FORCE
	$(call write_flags,$(LIB_SRCS))

$(NORMAL_OBJDIR)/src/%.o: src/%.c $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(SAN_OBJDIR)/src/%.o: src/%.c $(SAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(NORMAL_OBJDIR)/gen/%.o: $(GENDIR)/%.c $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(SAN_OBJDIR)/gen/%.o: $(GENDIR)/%.c $(SAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(NORMAL_OBJDIR)/tests/%.o: tests/%.c $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(TEST_CPPFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@
$(SAN_OBJDIR)/tests/%.o: tests/%.c $(SAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) $(TEST_CPPFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@

# ---------------------------------------------------------------- libraries
$(SHARED_REAL): $(call lib_objs,$(NORMAL_OBJDIR)) $(MAPFILE) $(NORMAL_OBJDIR)/.srcs
	$(need_version)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(MAPFILE) \
		-Wl,--no-undefined $(LDFLAGS) -o $@ $(call lib_objs,$(NORMAL_OBJDIR)) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(SYS_LIBS)

$(SHARED_SONAME): $(SHARED_REAL)
	ln -sf $(notdir $<) $@
$(SHARED_LINK): $(SHARED_SONAME)
	ln -sf $(notdir $<) $@

$(STATIC): $(call lib_objs,$(NORMAL_OBJDIR)) $(NORMAL_OBJDIR)/.srcs
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(call lib_objs,$(NORMAL_OBJDIR))
$(SAN_STATIC): $(call lib_objs,$(SAN_OBJDIR)) $(SAN_OBJDIR)/.srcs
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(call lib_objs,$(SAN_OBJDIR))

# ---------------------------------------------------------------- tests
# Each tests/test_*.c is its own program: test object + tests/util/*.c objects
# + the static archive of the current variant, plus its own link flags
# LINK_FLAGS_<name> (both variants).
# test_alloc interposes the allocator for the library's calls only: --wrap
# redirects the archive's (and the test's) malloc & co. to __wrap_malloc ...
ALLOC_WRAP := malloc calloc realloc aligned_alloc free
LINK_FLAGS_test_alloc := $(foreach f,$(ALLOC_WRAP),-Wl,--wrap=$(f))
test_link_flags = $(LINK_FLAGS_$(notdir $(1)))

$(BUILDDIR)/tests/%: $(NORMAL_OBJDIR)/tests/%.o $(call test_objs,$(NORMAL_OBJDIR)) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LDFLAGS) $(call test_link_flags,$@) -o $@ $< \
		$(call test_objs,$(NORMAL_OBJDIR)) $(STATIC) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(CHECK_LIBS) $(SYS_LIBS)
$(SANDIR)/tests/%: $(SAN_OBJDIR)/tests/%.o $(call test_objs,$(SAN_OBJDIR)) $(SAN_STATIC)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(LDFLAGS) $(call test_link_flags,$@) -o $@ $< \
		$(call test_objs,$(SAN_OBJDIR)) $(SAN_STATIC) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(CHECK_LIBS) $(SYS_LIBS)

tests: $(TEST_BINS)

# ---------------------------------------------------------------- examples
# Linked against the shared library; rpath makes them runnable from the tree.
$(BUILDDIR)/examples/%: examples/%.c $(wildcard examples/*.h) $(SHARED_LINK) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Iinclude $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(LIBOUT) -lselfcompress -Wl,-rpath,'$$ORIGIN/../../$(LIBOUT)' -lz $(SYS_LIBS)

examples: $(EXAMPLES)

# sc_export_c as installed (make install): linked with the static library,
# so it needs no rpath
EXPORT_C_BIN := $(BUILDDIR)/bin/sc_export_c
$(EXPORT_C_BIN): examples/sc_export_c.c examples/common.h $(STATIC) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Iinclude $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		$(STATIC) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(SYS_LIBS)

# ---------------------------------------------------------------- mpi
# The library never links MPI: only examples/mpi_train and the MPI test
# (tests/mpi/mpi_check, run by tests/mpi.sh) do, built with mpicc when it is
# installed (make deps installs Open MPI).
MPICC ?= mpicc
HAVE_MPICC := $(shell command -v $(MPICC) 2>/dev/null)
MPI_BINS := $(BUILDDIR)/examples/mpi_train $(BUILDDIR)/tests/mpi/mpi_check
$(BUILDDIR)/examples/mpi_train: examples/mpi_train.c $(wildcard examples/*.h) $(SHARED_LINK) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(MPICC) $(BASE_CFLAGS) -Iinclude $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(LIBOUT) -lselfcompress -Wl,-rpath,'$$ORIGIN/../../$(LIBOUT)' -lz $(SYS_LIBS)
$(BUILDDIR)/tests/mpi/mpi_check: tests/mpi/mpi_check.c examples/mpi_reduce.h $(STATIC) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(MPICC) $(BASE_CFLAGS) -Iinclude $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		$(STATIC) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(SYS_LIBS)
ifneq ($(HAVE_MPICC),)
mpi: $(MPI_BINS)
else
mpi:
	@echo "mpi: $(MPICC) not found: make deps installs libopenmpi-dev and openmpi-bin" >&2; exit 1
endif

# ---------------------------------------------------------------- checks
check-exports: $(SHARED_REAL)
	@sh tests/check_exports.sh $(SHARED_REAL) $(SONAME)

header-check:
	$(CC) -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only tests/header/header_check.c
	$(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only tests/header/header_check.c
	$(CXX) -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only -x c++ tests/header/header_check.c
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only tests/header/hpp_check.cpp
	$(CXX) -std=c++17 -fno-exceptions -fno-rtti -Wall -Wextra -Wpedantic -Werror -Iinclude -fsyntax-only tests/header/hpp_check.cpp

check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory check-run

sanitize:
	@$(MAKE) --no-print-directory check SANITIZE=1

ifeq ($(SANITIZE),1)
TEST_ENV := ASAN_OPTIONS=$${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1} \
	CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-10}
else
TEST_ENV :=
endif

# Everything is built first (in parallel with -j), then run sequentially.
# Tests run with the BLAS kernel the shipped programs use: the best one the
# CPU supports (examples/blas_kernel.h), unless SC_BLAS_KEEP is set.
check-run: all $(TEST_BINS) examples header-check $(BENCH) $(MODEL_RSS) $(QGEMM_BENCH) $(INT8_BENCH) $(if $(HAVE_MPICC),$(MPI_BINS))
	@ct=$$(./$(BUILDDIR)/examples/blas_kernel --coretype); \
	if [ -n "$$ct" ] && [ -z "$${SC_BLAS_KEEP:-}" ]; then export OPENBLAS_CORETYPE=$$ct; else ct=$${OPENBLAS_CORETYPE:-}; fi; \
	echo "==> BLAS kernel for the tests: $$(OPENBLAS_CORETYPE=$$ct ./$(BUILDDIR)/examples/blas_kernel | sed -n 's/^kernel running: //p')"; \
	pass=0; \
	fail() { echo "FAIL: $$1"; echo "$$pass passed, 1 failed"; exit 1; }; \
	for t in $(TEST_BINS); do \
		echo "==> $$t"; \
		env $(TEST_ENV) ./$$t || fail $$t; \
		pass=$$((pass + 1)); \
	done; \
	echo "==> check-exports"; \
	sh tests/check_exports.sh $(SHARED_REAL) $(SONAME) || fail check-exports; \
	for s in $(TEST_SCRIPTS); do \
		echo "==> $$s"; \
		env SC_ROOT="$(CURDIR)" SC_BUILD="$(CURDIR)/$(VARIANT_DIR)" SC_LIBDIR="$(CURDIR)/$(LIBOUT)" \
			$(TEST_ENV) bash $$s || fail $$s; \
		pass=$$((pass + 1)); \
	done; \
	echo "$$pass passed, 0 failed"

valgrind: all $(NORMAL_TEST_BINS)
	@command -v $(VALGRIND) >/dev/null 2>&1 || { echo "valgrind: '$(VALGRIND)' not found (apt-get install valgrind)" >&2; exit 1; }
	@pass=0; \
	for t in $(NORMAL_TEST_BINS); do \
		echo "==> valgrind $$t"; \
		CK_FORK=no $(VALGRIND) -q --leak-check=full --error-exitcode=1 \
			$(if $(wildcard tests/valgrind.supp),--suppressions=tests/valgrind.supp) ./$$t \
			|| { echo "FAIL: $$t (valgrind)"; echo "$$pass passed, 1 failed"; exit 1; }; \
		pass=$$((pass + 1)); \
	done; \
	echo "$$pass passed, 0 failed"

# ---------------------------------------------------------------- tsan
# ThreadSanitizer over tests/test_threads.c (gcc's by default: TSAN_CC),
# library sources and test compiled into build/tsan/obj. Check runs the
# tests in-process (CK_FORK=no): TSan watches the threads of one process.
# OpenBLAS is not instrumented; the library drives it single-threaded.
# src/core/simd.h compiles no SIMD clones under TSan (their ifunc
# resolvers would run before its runtime is up).
TSAN_CC ?= gcc
TSANDIR := $(BUILDDIR)/tsan
TSAN_OBJDIR := $(TSANDIR)/obj
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS := test_threads
TSAN_BINS := $(patsubst %,$(TSANDIR)/tests/%,$(TSAN_TESTS))
TSAN_OPTIONS_RUN := halt_on_error=1:second_deadlock_stack=1

$(TSAN_OBJDIR)/.flags: FORCE
	$(call write_flags,$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) $(LIB_CPPFLAGS) $(TEST_CPPFLAGS) $(LDFLAGS))
$(TSAN_OBJDIR)/src/%.o: src/%.c $(TSAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(TSAN_OBJDIR)/gen/%.o: $(GENDIR)/%.c $(TSAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) $(DEPFLAGS) $(LIB_CPPFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(TSAN_OBJDIR)/tests/%.o: tests/%.c $(TSAN_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) $(DEPFLAGS) $(TEST_CPPFLAGS) $(CHECK_CFLAGS) $(BLAS_CFLAGS) -c $< -o $@
$(TSANDIR)/tests/%: $(TSAN_OBJDIR)/tests/%.o $(call test_objs,$(TSAN_OBJDIR)) $(call lib_objs,$(TSAN_OBJDIR))
	@mkdir -p $(@D)
	$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) $(LDFLAGS) -o $@ $< $(call test_objs,$(TSAN_OBJDIR)) \
		$(call lib_objs,$(TSAN_OBJDIR)) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(CHECK_LIBS) $(SYS_LIBS)

tsan: $(TSAN_BINS)
	@pass=0; \
	for t in $(TSAN_BINS); do \
		echo "==> tsan $$t"; \
		CK_FORK=no TSAN_OPTIONS="$${TSAN_OPTIONS:-$(TSAN_OPTIONS_RUN)}" ./$$t \
			|| { echo "FAIL: $$t (tsan)"; echo "$$pass passed, 1 failed"; exit 1; }; \
		pass=$$((pass + 1)); \
	done; \
	echo "$$pass passed, 0 failed"

# ---------------------------------------------------------------- ABI
# The baseline is abidw's view of the exported functions and the public
# types they reach (types defined outside include/ are dropped), without
# paths or source locations, so it only changes when the ABI does.
ABIDW ?= abidw
ABIDIFF ?= abidiff
ABIDW_FLAGS := --no-corpus-path --no-comp-dir-path --no-show-locs \
	--type-id-style hash --headers-dir include --drop-private-types
ABI_BASELINE = docs/abi/$(SONAME).abi

abi-baseline: $(SHARED_REAL)
	@mkdir -p $(dir $(ABI_BASELINE))
	$(ABIDW) $(ABIDW_FLAGS) --out-file $(ABI_BASELINE) $(SHARED_REAL)
	@echo "abi-baseline: wrote $(ABI_BASELINE); review 'git diff $(ABI_BASELINE)' and commit it"

abi-check: $(SHARED_REAL)
	@[ -f $(ABI_BASELINE) ] || { echo "abi-check: no baseline $(ABI_BASELINE) (make abi-baseline)" >&2; exit 1; }
	@mkdir -p $(BUILDDIR)/abi
	$(ABIDW) $(ABIDW_FLAGS) --out-file $(BUILDDIR)/abi/current.abi $(SHARED_REAL)
	@rc=0; $(ABIDIFF) $(ABI_BASELINE) $(BUILDDIR)/abi/current.abi || rc=$$?; \
	if [ $$rc -ne 0 ]; then \
		echo "abi-check: FAIL: abidiff exit $$rc: the ABI differs from $(ABI_BASELINE)" >&2; \
		echo "abi-check: an incompatible change needs a SONAME bump; a deliberate compatible" >&2; \
		echo "abi-check: one (new functions, appended fields) needs 'make abi-baseline' (docs/abi.md)" >&2; \
		exit 1; \
	fi; \
	echo "abi-check: OK: $(SHARED_REAL) matches $(ABI_BASELINE)"

# ---------------------------------------------------------------- docs
docs:
	@mkdir -p $(BUILDDIR)/docs
	@rm -f $(BUILDDIR)/docs/doxygen.log
	doxygen docs/Doxyfile
	@if [ -s $(BUILDDIR)/docs/doxygen.log ]; then \
		cat $(BUILDDIR)/docs/doxygen.log >&2; echo "docs: doxygen warnings (above)" >&2; exit 1; \
	fi
	@echo "docs: $(BUILDDIR)/docs/html/index.html"

# ---------------------------------------------------------------- benchmarks
# docs/performance.md. The bench links OpenBLAS directly too (its sgemm
# ceiling); like the examples it runs against the shared library. It re-execs
# itself with the best OPENBLAS_CORETYPE unless that is set: run
# `env -u OPENBLAS_CORETYPE make bench` to let it choose.
PYTHON_BENCH ?= /usr/bin/python3
BENCH_PKGS := python3-torch

.PHONY: bench bench-build bench-deps bench-torch bench-compare qgemm-bench bench-int8

$(BENCH): tests/bench/bench.c examples/nets.h examples/blas_kernel.h examples/common.h $(SHARED_LINK) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Iinclude -Iexamples $(CPPFLAGS) $(BLAS_CFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(LIBOUT) -lselfcompress -Wl,-rpath,'$$ORIGIN/../../../$(LIBOUT)' $(BLAS_LIBS) $(SYS_LIBS)

$(MODEL_RSS): tests/bench/model_rss.c examples/nets.h examples/common.h $(SHARED_LINK) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Iinclude -Iexamples $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(LIBOUT) -lselfcompress -Wl,-rpath,'$$ORIGIN/../../../$(LIBOUT)' $(BLAS_LIBS) $(SYS_LIBS)

# the integer GEMM kernels' throughput: links the static library, whose
# internal symbols (src/kernels/qkernel.h) the shared one does not export
$(QGEMM_BENCH): tests/bench/qgemm_bench.c examples/common.h src/kernels/qkernel.h $(STATIC) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Isrc -Iinclude -Iexamples $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		$(STATIC) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(SYS_LIBS)

qgemm-bench: $(QGEMM_BENCH)
	./$(QGEMM_BENCH)

$(INT8_BENCH): tests/bench/int8_bench.c examples/fmnist_data.h examples/nets.h examples/blas_kernel.h examples/common.h $(SHARED_LINK) $(HEADER) $(NORMAL_OBJDIR)/.flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Iinclude -Iexamples $(CPPFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(LIBOUT) -lselfcompress -Wl,-rpath,'$$ORIGIN/../../../$(LIBOUT)' -lz $(SYS_LIBS)

bench-build: $(BENCH) $(MODEL_RSS) $(QGEMM_BENCH) $(INT8_BENCH)

bench: $(BENCH)
	./$(BENCH) $(BENCH_FLAGS)

bench-deps:
	@if dpkg-query -W -f='$${Status}' $(BENCH_PKGS) 2>/dev/null | grep -q 'install ok installed'; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(BENCH_PKGS); \
	else \
		echo "bench-deps: not root; run: sudo apt-get install -y $(BENCH_PKGS)" >&2; exit 1; \
	fi

# OMP_WAIT_POLICY=PASSIVE: without it PyTorch's OpenMP threads spin against
# its BLAS threads with 2 threads (the script also sets it before importing torch).
bench-torch: bench-deps
	OMP_WAIT_POLICY=PASSIVE $(PYTHON_BENCH) tests/bench/bench_torch.py $(BENCH_FLAGS)

# Both implementations on the same cases, then one table with ours/torch and
# the targets. PyTorch gets the best OpenBLAS kernel for this CPU too (its
# dense layers run on it) unless SC_BLAS_KEEP is set, like our programs.
bench-compare: $(BENCH) bench-deps $(BUILDDIR)/examples/blas_kernel
	@mkdir -p $(BENCH_DIR)
	./$(BENCH) $(BENCH_FLAGS) | tee $(BENCH_DIR)/ours.txt
	@ct=$$(./$(BUILDDIR)/examples/blas_kernel --coretype); \
	if [ -n "$$ct" ] && [ -z "$${SC_BLAS_KEEP:-}" ]; then export OPENBLAS_CORETYPE=$$ct; fi; \
	OMP_WAIT_POLICY=PASSIVE $(PYTHON_BENCH) tests/bench/bench_torch.py $(BENCH_FLAGS) \
		--peak-from $(BENCH_DIR)/ours.txt | tee $(BENCH_DIR)/torch.txt
	@$(PYTHON_BENCH) tests/bench/compare.py $(BENCH_DIR)/ours.txt $(BENCH_DIR)/torch.txt

# A calibrated model file in int8 and fp32 (ours, one process: SPEED lines
# with the paired ratio), then PyTorch's static int8 (fbgemm where it has it,
# else onednn) of the same layers and
# weights (read from the model's ONNX export, calibrated on the same 1,024
# training images; PyTorch's best settings of bench-compare: passive OpenMP
# waits, the tuned allocator, the best OpenBLAS kernel) and the table of both
# ratios with the issue's targets.
# INT8_FLAGS: options of both programs (--threads, --batches, --reps,
# --seconds, --images).
MODEL ?=
INT8_FLAGS ?=
bench-int8: $(INT8_BENCH) bench-deps $(BUILDDIR)/examples/blas_kernel
	@[ -n "$(MODEL)" ] || { echo "bench-int8: name a calibrated model file: make bench-int8 MODEL=FILE" >&2; exit 1; }
	@mkdir -p $(BENCH_DIR)/int8
	./$(INT8_BENCH) $(INT8_FLAGS) --export $(BENCH_DIR)/int8 $(MODEL) | tee $(BENCH_DIR)/int8/ours.txt
	@ct=$$(./$(BUILDDIR)/examples/blas_kernel --coretype); \
	if [ -n "$$ct" ] && [ -z "$${SC_BLAS_KEEP:-}" ]; then export OPENBLAS_CORETYPE=$$ct; fi; \
	OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
		$(PYTHON_BENCH) tests/bench/int8_torch.py $(INT8_FLAGS) \
		--dir $(BENCH_DIR)/int8 --ours $(BENCH_DIR)/int8/ours.txt | tee $(BENCH_DIR)/int8/torch.txt

# ---------------------------------------------------------------- deps
deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "deps: dpkg-query not found (not Debian?); make sure these are installed: $(DEPS_PKGS)"; \
		exit 0; \
	fi; \
	missing=; \
	for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	[ -n "$$missing" ] || exit 0; \
	echo "deps: missing packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "deps: not root; run:" >&2; \
		echo "  sudo apt-get install -y$$missing" >&2; \
		exit 1; \
	fi

# ---------------------------------------------------------------- demo
# sweep: the size/accuracy trade-off figures (examples/sweep.sh, into docs/),
# one net after the other
SWEEP_FLAGS ?= --net tinynet,dscnn,seq1d --epochs 10
sweep:
	@$(MAKE) --no-print-directory deps && \
	$(MAKE) --no-print-directory examples && \
	bash examples/sweep.sh $(SWEEP_FLAGS)

# DEMO_FLAGS: the example's flags (default: tinynet, 10 epochs, size target
# 3% of the bits and 18% of the weights, both cores)
DEMO_FLAGS ?= --net tinynet
demo:
	@$(MAKE) --no-print-directory deps && \
	$(MAKE) --no-print-directory examples && \
	./$(BUILDDIR)/examples/fashion_mnist $(DEMO_FLAGS)

# mcu-demo: the exported tinynet and dscnn on an emulated Cortex-M4
# (examples/mcu/demo.sh, docs/mcu.md); installs its cross compiler and qemu
# as demo does its packages. MCU_TINYNET, MCU_DSCNN: model files to use.
mcu-demo:
	@$(MAKE) --no-print-directory deps && \
	$(MAKE) --no-print-directory examples && \
	bash examples/mcu/demo.sh

# ---------------------------------------------------------------- install
install: all $(EXPORT_C_BIN)
	$(need_version)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(EXPORT_C_BIN) $(DESTDIR)$(BINDIR)/sc_export_c
	install -m 644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/selfcompress.h
	install -m 644 $(HEADER_CXX) $(DESTDIR)$(INCLUDEDIR)/selfcompress.hpp
	install -m 755 $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/$(LIBNAME).so.$(VERSION)
	ln -sf $(LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME).so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/$(LIBNAME).a
	@mkdir -p $(BUILDDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		selfcompress.pc.in > $(BUILDDIR)/selfcompress.pc
	install -m 644 $(BUILDDIR)/selfcompress.pc $(DESTDIR)$(PKGCONFIGDIR)/selfcompress.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then \
		ldconfig || true; \
	fi

# The Python package: pure Python over the shared library (ctypes), built with
# the setuptools of PYTHON's environment (--no-build-isolation: no download).
# Debian's own python3 refuses system-wide pip installs (PEP 668): give a
# venv's interpreter, e.g. PYTHON=/tmp/venv/bin/python after
# `/usr/bin/python3 -m venv --system-site-packages /tmp/venv`.
PYTHON ?= /usr/bin/python3
PIP_FLAGS ?=
install-python:
	$(PYTHON) -m pip install --no-build-isolation $(PIP_FLAGS) ./python
	@rm -rf python/build python/selfcompress.egg-info

uninstall:
	$(need_version)
	rm -f $(DESTDIR)$(INCLUDEDIR)/selfcompress.h $(DESTDIR)$(INCLUDEDIR)/selfcompress.hpp
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME).so $(DESTDIR)$(LIBDIR)/$(LIBNAME).a
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/selfcompress.pc
	rm -f $(DESTDIR)$(BINDIR)/sc_export_c

# ---------------------------------------------------------------- fuzz
# libFuzzer targets tests/fuzz/fuzz_*.c, built with clang against the library
# sources compiled with the same sanitizers (build/fuzz; needs the Debian
# packages clang and libclang-rt-14-dev). `make fuzz FUZZ_SECONDS=60` runs
# the model fuzzer that long, the checkpoint fuzzer FUZZ_CKPT_SECONDS and
# the ONNX importer's FUZZ_ONNX_SECONDS (seeds: tests/data/onnx),
# starting from the committed seeds; a crash, leak or sanitizer report fails.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CKPT_SECONDS ?= 20
FUZZ_DIR := $(BUILDDIR)/fuzz
FUZZ_FLAGS := -std=c11 -g -O1 -Wall -Wextra -pthread -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_ONNX_SECONDS ?= 60
FUZZ_OBJS = $(call lib_objs,$(FUZZ_DIR)/obj)
FUZZ_BINS := $(FUZZ_DIR)/fuzz_model $(FUZZ_DIR)/fuzz_checkpoint $(FUZZ_DIR)/fuzz_onnx

$(FUZZ_DIR)/obj/.flags: FORCE
	$(call write_flags,$(FUZZ_CC) $(FUZZ_FLAGS) $(LIB_CPPFLAGS))
$(FUZZ_DIR)/obj/src/%.o: src/%.c $(FUZZ_DIR)/obj/.flags
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) $(LIB_CPPFLAGS) $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(FUZZ_DIR)/obj/gen/%.o: $(GENDIR)/%.c $(FUZZ_DIR)/obj/.flags
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) $(LIB_CPPFLAGS) $(PROTOBUF_CFLAGS) -c $< -o $@
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) $(FUZZ_DIR)/obj/.flags
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc -Iinclude $(BLAS_CFLAGS) -o $@ $< \
		$(FUZZ_OBJS) $(BLAS_LIBS) $(PROTOBUF_LIBS) $(SYS_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/corpus_model $(FUZZ_DIR)/corpus_checkpoint $(FUZZ_DIR)/corpus_onnx
	@echo "==> fuzz_model for $(FUZZ_SECONDS) s"
	ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/fuzz_model -max_total_time=$(FUZZ_SECONDS) \
		-timeout=20 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus_model tests/data/fuzz_seed
	@echo "==> fuzz_checkpoint for $(FUZZ_CKPT_SECONDS) s"
	ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/fuzz_checkpoint -max_total_time=$(FUZZ_CKPT_SECONDS) \
		-timeout=20 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus_checkpoint tests/data/fuzz_seed_ckpt
	@echo "==> fuzz_onnx for $(FUZZ_ONNX_SECONDS) s"
	ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/fuzz_onnx -max_total_time=$(FUZZ_ONNX_SECONDS) \
		-timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus_onnx tests/data/onnx
	@echo "fuzz: no crash"

# ---------------------------------------------------------------- clean
clean:
	rm -rf $(BUILDDIR)
	rm -f $(LIBOUT)/$(LIBNAME).so $(LIBOUT)/$(LIBNAME).so.* $(LIBOUT)/$(LIBNAME).a

FORCE:

# Keep test objects (they are intermediates of pattern rules).
.SECONDARY:

-include $(wildcard $(NORMAL_OBJDIR)/src/*.d $(NORMAL_OBJDIR)/src/*/*.d $(NORMAL_OBJDIR)/src/*/*/*.d \
                    $(NORMAL_OBJDIR)/tests/*.d $(NORMAL_OBJDIR)/tests/*/*.d \
                    $(SAN_OBJDIR)/src/*.d $(SAN_OBJDIR)/src/*/*.d $(SAN_OBJDIR)/src/*/*/*.d \
                    $(SAN_OBJDIR)/tests/*.d $(SAN_OBJDIR)/tests/*/*.d \
                    $(TSAN_OBJDIR)/src/*/*.d $(TSAN_OBJDIR)/tests/*.d $(TSAN_OBJDIR)/tests/*/*.d \
                    $(FUZZ_DIR)/obj/src/*/*.d $(FUZZ_DIR)/obj/src/*/*/*.d \
                    $(NORMAL_OBJDIR)/gen/*.d $(SAN_OBJDIR)/gen/*.d $(TSAN_OBJDIR)/gen/*.d $(FUZZ_DIR)/obj/gen/*.d)
