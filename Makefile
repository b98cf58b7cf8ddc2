# ngx_http_llm_module: build, run, test, bench.
#
#   make            build ngx_http_llm_module.so (Debian nginx-dev, or
#                   NGINX_SRC=/path/to/nginx for any nginx source tree)
#   make run        build and run nginx in the foreground on 127.0.0.1:8080
#                   with conf-examples/quickstart.conf (offline mocks)
#   make test       build and run the whole Test::Nginx suite
#   make bench      wrk: plain proxy_pass vs the module, same mock, one run
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

.PHONY: all deps build run test test-sdk bench clean lint valgrind unit

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

$(BUILD)/nginx/objs/Makefile: config | $(BUILD)/.deps
	rm -rf $(BUILD)/nginx
	@if [ -n "$(NGINX_SRC)" ]; then \
	    cp -a $(NGINX_SRC) $(BUILD)/nginx && \
	    cd $(BUILD)/nginx && \
	    { [ -x ./configure ] || cp auto/configure ./configure; } && \
	    ./configure --with-compat --with-debug --with-http_ssl_module \
	        --add-dynamic-module=$(TOP) >$(BUILD)/configure.log 2>&1 \
	        || { cat $(BUILD)/configure.log; exit 1; }; \
	else \
	    cp -a /usr/share/nginx/src $(BUILD)/nginx && \
	    cd $(BUILD)/nginx && \
	    . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
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
