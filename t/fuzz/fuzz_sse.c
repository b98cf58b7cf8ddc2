
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The SSE parser fed in chunk sizes the fuzzer chooses.  Input: one byte
 * of event size limit, four bytes of chunking seed, then the stream.
 * Oracle (differential): the events (name, data, over-the-limit) are the
 * same as when the whole stream is parsed in one piece.
 */

#include "fuzz.h"


#define FUZZ_SSE_MAX_EVENTS  4096


typedef struct {
    ngx_str_t    name[FUZZ_SSE_MAX_EVENTS];
    ngx_str_t    data[FUZZ_SSE_MAX_EVENTS];
    ngx_int_t    rc[FUZZ_SSE_MAX_EVENTS];
    ngx_uint_t   n;
} fuzz_events_t;


static fuzz_events_t  whole, split;


static ngx_str_t
fuzz_copy(u_char *p, size_t n)
{
    ngx_str_t  s;

    s.data = ngx_pnalloc(fuzz_pool, n + 1);
    s.len = n;

    if (n) {
        memcpy(s.data, p, n);
    }

    return s;
}


static void
fuzz_sse_run(u_char *buf, size_t size, size_t max, uint32_t seed,
    fuzz_events_t *ev)
{
    u_char              *p, *last, *end;
    size_t               chunk;
    ngx_int_t            rc;
    ngx_log_t            log;
    ngx_http_llm_sse_t   sse;

    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_http_llm_sse_init(&sse, fuzz_pool, &log, max);

    ev->n = 0;
    p = buf;
    end = buf + size;

    while (p < end) {

        if (seed == 0) {
            last = end;

        } else {
            /* xorshift: chunks of 1..64 bytes, mostly small */
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            chunk = 1 + (seed % ((seed & 0x100) ? 64 : 4));
            last = (size_t) (end - p) < chunk ? end : p + chunk;
        }

        for ( ;; ) {
            rc = ngx_http_llm_sse_parse(&sse, &p, last);

            if (p > last) {
                fuzz_fail("sse_parse moved past the end of its input",
                          NULL, NULL);
            }

            if (rc == NGX_AGAIN) {
                if (p != last) {
                    fuzz_fail("sse_parse: NGX_AGAIN with input left",
                              NULL, NULL);
                }

                break;
            }

            if (ev->n == FUZZ_SSE_MAX_EVENTS) {
                return;
            }

            ev->rc[ev->n] = rc;

            if (rc == NGX_OK) {
                if (sse.len > max) {
                    fuzz_fail("sse event over the limit", NULL, NULL);
                }

                ev->data[ev->n] = fuzz_copy(sse.data, sse.len);
                ev->name[ev->n] = fuzz_copy(sse.name, sse.name_len);
                ev->n++;
                continue;
            }

            ev->n++;

            /* NGX_DECLINED (over the limit) or NGX_ERROR: the end */
            return;
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *buf;
    size_t       max;
    uint32_t     seed;
    ngx_uint_t   i;

    if (size < 5) {
        return 0;
    }

    fuzz_init();

    max = (size_t) data[0] * 4 + 1;
    seed = (uint32_t) data[1] | (uint32_t) data[2] << 8
           | (uint32_t) data[3] << 16 | (uint32_t) data[4] << 24;
    seed |= 1;

    data += 5;
    size -= 5;

    buf = ngx_pnalloc(fuzz_pool, size ? size : 1);
    if (size) {
        memcpy(buf, data, size);
    }

    fuzz_sse_run(buf, size, max, 0, &whole);
    fuzz_sse_run(buf, size, max, seed, &split);

    if (whole.n != split.n) {
        fprintf(stderr, "events: %lu whole, %lu split\n",
                (unsigned long) whole.n, (unsigned long) split.n);
        fuzz_fail("a different number of events when split", NULL, NULL);
    }

    for (i = 0; i < whole.n; i++) {
        if (whole.rc[i] != split.rc[i]) {
            fuzz_fail("a different result when split", NULL, NULL);
        }

        if (whole.rc[i] != NGX_OK) {
            continue;
        }

        if (whole.data[i].len != split.data[i].len
            || ngx_memcmp(whole.data[i].data, split.data[i].data,
                          whole.data[i].len) != 0)
        {
            fuzz_fail("event data differs when split", &whole.data[i],
                      &split.data[i]);
        }

        if (whole.name[i].len != split.name[i].len
            || ngx_memcmp(whole.name[i].data, split.name[i].data,
                          whole.name[i].len) != 0)
        {
            fuzz_fail("event name differs when split", &whole.name[i],
                      &split.name[i]);
        }
    }

    fuzz_pool_reset();

    return 0;
}
