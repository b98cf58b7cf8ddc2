
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The AWS event-stream decoder of the Bedrock provider, fed in chunk
 * sizes the fuzzer chooses.  Input: a mode byte (bit 0: fix up both
 * CRCs of every frame first, so that the fuzzer reaches the headers and
 * the payload; bits 1-7: the frame size limit), four bytes of chunking
 * seed, then the stream.  Oracle (differential): the frames decoded (or
 * the error) are the same as when the whole stream arrives in one piece.
 */

#include "fuzz.h"
#include <ngx_crc32.h>
#include "ngx_http_llm_eventstream.h"


#define FUZZ_ES_MAX  1024


typedef struct {
    ngx_str_t    frame[FUZZ_ES_MAX];
    ngx_int_t    rc[FUZZ_ES_MAX];
    ngx_uint_t   n;
} fuzz_frames_t;


static fuzz_frames_t  whole, split;


static uint32_t
fuzz_u32(u_char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}


static void
fuzz_put_u32(u_char *p, uint32_t v)
{
    p[0] = (u_char) (v >> 24);
    p[1] = (u_char) (v >> 16);
    p[2] = (u_char) (v >> 8);
    p[3] = (u_char) v;
}


static void
fuzz_fix_crcs(u_char *p, u_char *last)
{
    uint32_t  total;

    while (last - p >= 16) {
        total = fuzz_u32(p);

        if (total < 16 || total > (size_t) (last - p)) {
            return;
        }

        fuzz_put_u32(p + 8, ngx_crc32_long(p, 8));
        fuzz_put_u32(p + total - 4, ngx_crc32_long(p, total - 4));
        p += total;
    }
}


/* the decoded frame as one string: every field, length-prefixed */

static ngx_str_t
fuzz_frame(ngx_http_llm_es_t *es)
{
    u_char      *p;
    ngx_str_t    s, *f[6];
    ngx_uint_t   i;

    f[0] = &es->message_type;
    f[1] = &es->event_type;
    f[2] = &es->exception_type;
    f[3] = &es->error_code;
    f[4] = &es->error_message;
    f[5] = &es->payload;

    s.len = 0;

    for (i = 0; i < 6; i++) {
        s.len += 8 + f[i]->len;
    }

    s.data = ngx_pnalloc(fuzz_pool, s.len);
    p = s.data;

    for (i = 0; i < 6; i++) {
        p = ngx_sprintf(p, "%08uz", f[i]->len);
        if (f[i]->len) {
            p = ngx_cpymem(p, f[i]->data, f[i]->len);
        }
    }

    return s;
}


static void
fuzz_es_run(u_char *buf, size_t size, size_t max, uint32_t seed,
    fuzz_frames_t *fr)
{
    u_char             *p, *last, *end;
    size_t              chunk;
    ngx_int_t           rc;
    ngx_log_t           log;
    ngx_http_llm_es_t   es;

    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_http_llm_es_init(&es, fuzz_pool, &log, max);

    fr->n = 0;
    p = buf;
    end = buf + size;

    while (p < end) {

        if (seed == 0) {
            last = end;

        } else {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            chunk = 1 + (seed % ((seed & 0x100) ? 64 : 4));
            last = (size_t) (end - p) < chunk ? end : p + chunk;
        }

        for ( ;; ) {
            rc = ngx_http_llm_es_parse(&es, &p, last);

            if (p > last) {
                fuzz_fail("es_parse moved past the end of its input",
                          NULL, NULL);
            }

            if (rc == NGX_AGAIN) {
                break;
            }

            if (fr->n == FUZZ_ES_MAX) {
                return;
            }

            fr->rc[fr->n] = rc;

            if (rc == NGX_OK) {
                fr->frame[fr->n++] = fuzz_frame(&es);
                continue;
            }

            fr->n++;
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

    max = 16 + (size_t) (data[0] >> 1) * 512;
    seed = (uint32_t) data[1] | (uint32_t) data[2] << 8
           | (uint32_t) data[3] << 16 | (uint32_t) data[4] << 24;
    seed |= 1;

    buf = ngx_pnalloc(fuzz_pool, size - 5 ? size - 5 : 1);
    if (size > 5) {
        memcpy(buf, data + 5, size - 5);
    }

    if (data[0] & 1) {
        fuzz_fix_crcs(buf, buf + size - 5);
    }

    fuzz_es_run(buf, size - 5, max, 0, &whole);
    fuzz_es_run(buf, size - 5, max, seed, &split);

    if (whole.n != split.n) {
        fuzz_fail("a different number of frames when split", NULL, NULL);
    }

    for (i = 0; i < whole.n; i++) {
        if (whole.rc[i] != split.rc[i]) {
            fuzz_fail("a different result when split", NULL, NULL);
        }

        if (whole.rc[i] == NGX_OK
            && (whole.frame[i].len != split.frame[i].len
                || ngx_memcmp(whole.frame[i].data, split.frame[i].data,
                              whole.frame[i].len) != 0))
        {
            fuzz_fail("a frame differs when split", &whole.frame[i],
                      &split.frame[i]);
        }
    }

    fuzz_pool_reset();

    return 0;
}
