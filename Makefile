# ngx_http_llm_module: build, run, test, bench.
#
#   make            build ngx_http_llm_module.so (Debian nginx-dev, or
#                   NGINX_SRC=/path/to/nginx for any nginx source tree)
#   make run        build and run nginx in the foreground on 127.0.0.1:8080
#                   with conf-examples/quickstart.conf (offline mocks)
#   make test       build and run the whole Test::Nginx suite
#   make bench      wrk: plain proxy_pass vs the module, same mock, one run
#   make bench-peers the same through the Portkey gateway too (npm, build/)
#   make reload-test nginx -s reload every second under wrk: no failures
#
# Missing Debian packages are installed with apt-get (sudo when not root).

SHELL        := /bin/bash
TOP          := $(CURDIR)
BUILD        ?= $(TOP)/build
NGINX_SRC    ?=
NGINX        ?= /usr/sbin/nginx
ECHO_MODULE  ?= /usr/lib/nginx/modules/ngx_http_echo_module.so
MODULE       := $(BUILD)/ngx_http_llm_module.so
PROVE_JOBS   ?= 1

SRCS := ngx_http_llm_module.c $(wildcard src/*.c) $(wildcard src/*.h) config

DEB_PKGS := nginx nginx-dev libjsmn-dev libpcre2-dev zlib1g-dev libssl-dev \
            libtest-base-perl libtest-longstring-perl libhttp-message-perl \
            liblist-moreutils-perl libtext-diff-perl libnginx-mod-http-echo \
            libjson-pp-perl wrk openssl make gcc prometheus

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build run test test-sdk bench clean lint valgrind unit \
        asan asan-build fuzz fuzz-build bench-peers reload-test

all: build

deps: $(BUILD)/.deps

$(BUILD)/.deps:
	@mkdir -p $(BUILD)
	@missing=""; \
	for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi
	@touch $@

build: $(MODULE)

# nginx-dev's configure flags carry no optimisation (its objects get "-O");
# Debian's nginx and its module packages are built with -O2, and so is
# this module (the flags do not enter the module's binary signature)
MODULE_CC_OPT ?= -O2

$(BUILD)/nginx/objs/Makefile: config Makefile | $(BUILD)/.deps
	rm -rf $(BUILD)/nginx
	@if [ -n "$(NGINX_SRC)" ]; then \
	    cp -a $(NGINX_SRC) $(BUILD)/nginx && \
	    cd $(BUILD)/nginx && \
	    { [ -x ./configure ] || cp auto/configure ./configure; } && \
	    ./configure --with-compat --with-debug --with-http_ssl_module \
	        --with-cc-opt="$(MODULE_CC_OPT)" \
	        --add-dynamic-module=$(TOP) >$(BUILD)/configure.log 2>&1 \
	        || { cat $(BUILD)/configure.log; exit 1; }; \
	else \
	    cp -a /usr/share/nginx/src $(BUILD)/nginx && \
	    cd $(BUILD)/nginx && \
	    . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(MODULE_CC_OPT)" --add-dynamic-module=$(TOP) \
	        >$(BUILD)/configure.log 2>&1 \
	        || { cat $(BUILD)/configure.log; exit 1; }; \
	fi

$(MODULE): $(BUILD)/nginx/objs/Makefile $(SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules >$(BUILD)/make.log 2>&1 \
	    || { grep -E "error|warning" -A3 $(BUILD)/make.log | head -60; exit 1; }
	cp $(BUILD)/nginx/objs/ngx_http_llm_module.so $@
	@echo "built $@"

# -- unit tests of the pure parts, outside nginx (shim for pool and log) --

UNIT_CC     ?= cc
UNIT_CFLAGS ?= -O1 -g -Wall -Wno-unused-parameter -Werror
UNIT_INCS    = -I $(BUILD)/nginx/src/core -I $(BUILD)/nginx/src/event \
               -I $(BUILD)/nginx/src/event/modules \
               -I $(BUILD)/nginx/src/os/unix -I $(BUILD)/nginx/objs \
               -I $(BUILD)/nginx/src/http -I $(BUILD)/nginx/src/http/modules \
               -I $(BUILD)/nginx/src/http/v2 -I $(TOP)/src
UNIT_BIN     = $(BUILD)/unit/sse_split $(BUILD)/unit/openai_roundtrip

unit: $(UNIT_BIN)

$(BUILD)/unit/sse_split: t/unit/sse_split.c t/unit/shim.c \
             src/ngx_http_llm_sse.c src/ngx_http_llm_sse.h \
             $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INCS) -o $@ t/unit/sse_split.c \
	    t/unit/shim.c src/ngx_http_llm_sse.c

OPENAI_UNIT_SRCS = t/unit/openai_roundtrip.c t/unit/openai_shim.c \
                   t/unit/shim.c src/ngx_http_llm_json.c \
                   src/ngx_http_llm_canonical.c \
                   src/ngx_http_llm_surface_openai.c \
                   src/ngx_http_llm_provider_openai.c src/ngx_http_llm_sse.c

$(BUILD)/unit/openai_roundtrip: $(OPENAI_UNIT_SRCS) $(wildcard src/*.h) \
             $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INCS) -o $@ $(OPENAI_UNIT_SRCS)

# -- run ---------------------------------------------------------------------

run: build
	@t/bin/run-quickstart $(NGINX) $(MODULE)

# -- tests -------------------------------------------------------------------

TEST_ENV = TEST_NGINX_BINARY=$(NGINX) \
           TEST_NGINX_LOAD_MODULES="$(ECHO_MODULE) $(MODULE)" \
           LLM_MODULE=$(MODULE) LLM_UNIT_DIR=$(BUILD)/unit

PROVE_INC = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                    || echo "-It/compat")

test: build unit
	$(TEST_ENV) prove -j$(PROVE_JOBS) -I. $(PROVE_INC) -r t

# the whole suite under valgrind (Test::Nginx reads ./valgrind.suppress)
valgrind: build
	cp t/valgrind.suppress valgrind.suppress
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_SLEEP=0.3 \
	    prove -I. $(PROVE_INC) -r t

bench: build
	@t/bin/bench $(NGINX) $(MODULE)

bench-peers: build
	@t/bin/bench-peers $(NGINX) $(MODULE)

reload-test: build
	@t/bin/reload-test $(NGINX) $(MODULE)

# -- asan: the whole suite against nginx 1.22.1 built from Debian's source
#    package with AddressSanitizer + UBSan and NGX_DEBUG_PALLOC (t/bin/asan-build;
#    cached under build/asan).  Any sanitizer report in error.log fails a block.
#    Leak checking is valgrind's job: nginx frees pools, not the cycle, at exit.
#    A 1 MB quarantine: the default 256 MB one shows as VmRSS growth to
#    t/170-stream-memory.t (NGX_DEBUG_PALLOC frees every block), and so
#    did 4 MB once an event's tokens took a few hundred bytes, not 1.8 KB:
#    the quarantine was still filling after the 10,000 events of warm-up.

ASAN_DIR  ?= $(BUILD)/asan
ASAN_ENV   = TEST_NGINX_BINARY=$(ASAN_DIR)/sbin/nginx \
             TEST_NGINX_LOAD_MODULES="$(ASAN_DIR)/modules/ngx_http_echo_module.so $(ASAN_DIR)/modules/ngx_http_llm_module.so" \
             LLM_MODULE=$(ASAN_DIR)/modules/ngx_http_llm_module.so \
             LLM_UNIT_DIR=$(BUILD)/unit \
             ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:quarantine_size_mb=1 \
             UBSAN_OPTIONS=suppressions=$(TOP)/t/ubsan.supp:print_stacktrace=1

ASAN_PKGS := patch xz-utils
FUZZ_PKGS := clang libclang-rt-14-dev

$(BUILD)/.deps-asan $(BUILD)/.deps-fuzz: | $(BUILD)/.deps
	@pkgs="$(if $(findstring asan,$@),$(ASAN_PKGS),$(FUZZ_PKGS))"; \
	missing=""; \
	for p in $$pkgs; do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi
	@touch $@

asan-build: | $(BUILD)/.deps-asan
	t/bin/asan-build $(TOP) $(ASAN_DIR)

asan: asan-build build unit
	$(ASAN_ENV) prove -j$(PROVE_JOBS) -I. $(PROVE_INC) -r t

lint:
	@t/bin/lint ngx_http_llm_module.c src/*.c src/*.h

clean:
	rm -rf $(BUILD) t/servroot*

# -- unit: the Anthropic Messages surface (t/131-anthropic-unit.t) -----------

ANTHROPIC_UNIT_SRCS = t/unit/anthropic_surface.c t/unit/shim.c \
                      t/unit/openai_shim.c \
                      src/ngx_http_llm_surface_anthropic.c \
                      src/ngx_http_llm_surface_openai.c \
                      src/ngx_http_llm_provider_openai.c \
                      src/ngx_http_llm_provider_anthropic.c \
                      src/ngx_http_llm_json.c src/ngx_http_llm_canonical.c \
                      src/ngx_http_llm_sse.c

unit: $(BUILD)/unit/anthropic_surface

$(BUILD)/unit/anthropic_surface: $(ANTHROPIC_UNIT_SRCS) $(wildcard src/*.h) \
                                 $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INCS) -o $@ $(ANTHROPIC_UNIT_SRCS)

# -- unit: the client key compare timed (t/205-key-timing.t); only what the
#    lookup needs is kept of ngx_http_llm_keys.c (--gc-sections)

KEY_TIMING_SRCS = t/unit/key_timing.c t/unit/shim.c t/unit/openai_shim.c \
                  src/ngx_http_llm_keys.c

unit: $(BUILD)/unit/key_timing

$(BUILD)/unit/key_timing: $(KEY_TIMING_SRCS) $(wildcard src/*.h) \
                          $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(UNIT_CFLAGS) -ffunction-sections -fdata-sections \
	    $(UNIT_INCS) -o $@ $(KEY_TIMING_SRCS) -Wl,--gc-sections -lcrypto -lm

# -- fuzz: libFuzzer targets under t/fuzz (clang, ASan + UBSan) ---------------
#    make fuzz FUZZ_SECONDS=N   each target N seconds (default 10), seeded
#    from t/fixtures and t/fuzz/seeds; corpora kept in build/fuzz/corpus;
#    crashes land in build/fuzz/crash-*: copy them to t/fuzz/regress/ (make
#    test replays that directory, t/095-fuzz-regress.t).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Wall \
                -Wno-unused-parameter -Wno-unused-function $(UNIT_INCS) \
                -I $(TOP)/t/fuzz
FUZZ_TARGETS  = json sse request stream response eventstream
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_LIB_SRCS = src/ngx_http_llm_json.c src/ngx_http_llm_canonical.c \
                src/ngx_http_llm_sse.c src/ngx_http_llm_surface_openai.c \
                src/ngx_http_llm_surface_anthropic.c \
                src/ngx_http_llm_provider_openai.c \
                src/ngx_http_llm_provider_anthropic.c \
                src/ngx_http_llm_provider_gemini.c \
                src/ngx_http_llm_eventstream.c \
                src/ngx_http_llm_embeddings.c \
                t/fuzz/fuzz_common.c t/fuzz/fuzz_alloc.c
FUZZ_SHIMS    = $(FUZZ_DIR)/shim.o $(FUZZ_DIR)/openai_shim.o

$(FUZZ_DIR)/shim.o: t/unit/shim.c $(BUILD)/nginx/objs/Makefile | $(BUILD)/.deps-fuzz
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Dngx_palloc=shim_palloc \
	    -Dngx_pnalloc=shim_pnalloc -Dngx_pcalloc=shim_pcalloc \
	    -Dngx_pfree=shim_pfree -c -o $@ $<

$(FUZZ_DIR)/openai_shim.o: t/unit/openai_shim.c $(BUILD)/nginx/objs/Makefile \
                            | $(BUILD)/.deps-fuzz
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Dngx_create_pool=shim_create_pool \
	    -Dngx_destroy_pool=shim_destroy_pool \
	    -Dngx_reset_pool=shim_reset_pool \
	    -Dngx_pool_cleanup_add=shim_pool_cleanup_add -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $(FUZZ_LIB_SRCS) \
                    $(FUZZ_SHIMS) $(wildcard src/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_LIB_SRCS) $(FUZZ_SHIMS) -lm

# the replay of t/fuzz/regress without libFuzzer (gcc with ASan + UBSan),
# for make test (t/095-fuzz-regress.t)
FUZZ_REPLAY_CFLAGS = -g -O1 -Wall -Wno-unused-parameter \
                     -Wno-unused-function $(UNIT_INCS) -I $(TOP)/t/fuzz \
                     -fsanitize=address,undefined \
                     -fno-sanitize-recover=undefined
$(BUILD)/unit/shim_fz.o: t/unit/shim.c $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(FUZZ_REPLAY_CFLAGS) -Dngx_palloc=shim_palloc \
	    -Dngx_pnalloc=shim_pnalloc -Dngx_pcalloc=shim_pcalloc \
	    -Dngx_pfree=shim_pfree -c -o $@ $<

$(BUILD)/unit/openai_shim_fz.o: t/unit/openai_shim.c $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(FUZZ_REPLAY_CFLAGS) -Dngx_create_pool=shim_create_pool \
	    -Dngx_destroy_pool=shim_destroy_pool \
	    -Dngx_reset_pool=shim_reset_pool \
	    -Dngx_pool_cleanup_add=shim_pool_cleanup_add -c -o $@ $<

$(BUILD)/unit/fuzz_replay_%: t/fuzz/fuzz_%.c t/fuzz/replay.c t/fuzz/fuzz.h \
                    $(FUZZ_LIB_SRCS) $(BUILD)/unit/shim_fz.o \
                    $(BUILD)/unit/openai_shim_fz.o $(wildcard src/*.h)
	$(UNIT_CC) $(FUZZ_REPLAY_CFLAGS) -o $@ $< t/fuzz/replay.c \
	    $(FUZZ_LIB_SRCS) $(BUILD)/unit/shim_fz.o \
	    $(BUILD)/unit/openai_shim_fz.o -lm

unit: $(FUZZ_TARGETS:%=$(BUILD)/unit/fuzz_replay_%)

# -- unit: whole vs split for the Responses and Gemini-native surfaces
#    (t/430-surface-split.t), with the fuzz targets' request and pools,
#    optimized and without sanitizers: it runs every split of every stream

SPLIT_CFLAGS = -O2 -g -Wall -Wno-unused-parameter -Wno-unused-function \
               $(UNIT_INCS) -I $(TOP)/t/fuzz
SPLIT_SRCS   = t/unit/surface_split.c $(FUZZ_LIB_SRCS) \
               src/ngx_http_llm_surface_responses.c \
               src/ngx_http_llm_surface_gemini.c \
               src/ngx_http_llm_provider_bedrock.c src/ngx_http_llm_sigv4.c

$(BUILD)/unit/split_shim.o: t/unit/shim.c $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(SPLIT_CFLAGS) -Dngx_palloc=shim_palloc \
	    -Dngx_pnalloc=shim_pnalloc -Dngx_pcalloc=shim_pcalloc \
	    -Dngx_pfree=shim_pfree -c -o $@ $<

$(BUILD)/unit/split_openai_shim.o: t/unit/openai_shim.c \
                                   $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(SPLIT_CFLAGS) -Dngx_create_pool=shim_create_pool \
	    -Dngx_destroy_pool=shim_destroy_pool \
	    -Dngx_reset_pool=shim_reset_pool \
	    -Dngx_pool_cleanup_add=shim_pool_cleanup_add -c -o $@ $<

$(BUILD)/unit/surface_split: $(SPLIT_SRCS) t/fuzz/fuzz.h $(wildcard src/*.h) \
             $(BUILD)/unit/split_shim.o $(BUILD)/unit/split_openai_shim.o
	$(UNIT_CC) $(SPLIT_CFLAGS) -o $@ $(SPLIT_SRCS) \
	    $(BUILD)/unit/split_shim.o $(BUILD)/unit/split_openai_shim.o \
	    -lcrypto -lm

unit: $(BUILD)/unit/surface_split

fuzz-build: $(BUILD)/.deps-fuzz $(FUZZ_BIN)

fuzz: fuzz-build
	@t/bin/fuzz-run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# -- unit: SigV4 against AWS's published test suite (t/151-sigv4-vectors.t) --

SIGV4_UNIT_SRCS = t/unit/sigv4_vectors.c t/unit/shim.c t/unit/openai_shim.c \
                  src/ngx_http_llm_sigv4.c

unit: $(BUILD)/unit/sigv4_vectors

$(BUILD)/unit/sigv4_vectors: $(SIGV4_UNIT_SRCS) src/ngx_http_llm_sigv4.h \
                             $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INCS) -o $@ $(SIGV4_UNIT_SRCS) -lcrypto

# -- unit: recorded streams whole vs split, every provider into the OpenAI
#    and Anthropic surfaces (t/152-stream-replay.t); the fuzz targets'
#    pools (t/fuzz/fuzz_alloc.c), optimized, no sanitizers: it is O(N^2)

REPLAY_CFLAGS = -O2 -g -Wall -Wno-unused-parameter -Wno-unused-function \
                -Wno-maybe-uninitialized \
                -Werror $(UNIT_INCS) -I $(TOP)/t/fuzz
REPLAY_SRCS   = t/unit/stream_replay.c $(FUZZ_LIB_SRCS) \
                src/ngx_http_llm_provider_bedrock.c src/ngx_http_llm_sigv4.c

$(BUILD)/unit/replay_shim.o: t/unit/shim.c $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(REPLAY_CFLAGS) -Dngx_palloc=shim_palloc \
	    -Dngx_pnalloc=shim_pnalloc -Dngx_pcalloc=shim_pcalloc \
	    -Dngx_pfree=shim_pfree -c -o $@ $<

$(BUILD)/unit/replay_openai_shim.o: t/unit/openai_shim.c \
                                    $(BUILD)/nginx/objs/Makefile
	@mkdir -p $(BUILD)/unit
	$(UNIT_CC) $(REPLAY_CFLAGS) -Dngx_create_pool=shim_create_pool \
	    -Dngx_destroy_pool=shim_destroy_pool \
	    -Dngx_reset_pool=shim_reset_pool \
	    -Dngx_pool_cleanup_add=shim_pool_cleanup_add -c -o $@ $<

unit: $(BUILD)/unit/stream_replay

$(BUILD)/unit/stream_replay: $(REPLAY_SRCS) $(wildcard src/*.h) t/fuzz/fuzz.h \
                             $(BUILD)/unit/replay_shim.o \
                             $(BUILD)/unit/replay_openai_shim.o
	$(UNIT_CC) $(REPLAY_CFLAGS) -o $@ $(REPLAY_SRCS) \
	    $(BUILD)/unit/replay_shim.o $(BUILD)/unit/replay_openai_shim.o \
	    -lcrypto -lm
