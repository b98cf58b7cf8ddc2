
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Stream translation: a provider's SSE stream through the SSE parser and
 * the adapter's stream_event() into the client's surface, fed in chunk
 * sizes the fuzzer chooses.  Input: a selector byte (provider: OpenAI,
 * Anthropic, Gemini; client surface: OpenAI or Anthropic; include_usage),
 * four bytes of chunking seed, then the stream.  Oracle (differential):
 * the bytes written to the client, and the result, are the same as when
 * the whole stream arrives in one piece.
 */

#include "fuzz.h"


static const ngx_http_llm_provider_t  *fuzz_providers[] = {
    &ngx_http_llm_provider_openai,
    &ngx_http_llm_provider_anthropic,
    &ngx_http_llm_provider_gemini,
};

static const ngx_http_llm_surface_t  *fuzz_surfaces[] = {
    &ngx_http_llm_surface_openai,
    &ngx_http_llm_surface_anthropic,
};


static ngx_int_t
fuzz_stream_run(u_char *buf, size_t size, ngx_uint_t sel, uint32_t seed,
    ngx_str_t *res)
{
    u_char              *p, *last, *end;
    size_t               chunk;
    ngx_int_t            rc;
    ngx_str_t            name, data;
    fuzz_req_t           fr;
    ngx_chain_t         *out, **ll;
    ngx_http_llm_sse_t   sse;

    const ngx_http_llm_provider_t  *prov;

    srandom(1);
    unit_set_time(1700000000);

    prov = fuzz_providers[sel % 3];
    fuzz_request(&fr, prov, fuzz_surfaces[(sel >> 2) & 1]);

    fr.ctx.req = ngx_http_llm_request_create(fuzz_pool);
    fr.ctx.req->stream = 1;
    fr.ctx.req->include_usage = (sel >> 3) & 1;
    fr.ctx.stream = 1;

    ngx_http_llm_sse_init(&sse, fuzz_pool, &fr.log, 65536);

    out = NULL;
    ll = &out;
    rc = NGX_OK;
    p = buf;
    end = buf + size;

    while (p < end && rc == NGX_OK) {

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
            rc = ngx_http_llm_sse_parse(&sse, &p, last);

            if (rc == NGX_AGAIN) {
                rc = NGX_OK;
                break;
            }

            if (rc != NGX_OK) {
                break;
            }

            name.data = sse.name;
            name.len = sse.name_len;
            data.data = sse.data;
            data.len = sse.len;

            rc = prov->stream_event(&fr.r, &fr.ctx, &name, &data, &ll);

            if (rc != NGX_OK) {
                break;
            }
        }
    }

    if (rc == NGX_OK) {
        rc = prov->stream_event(&fr.r, &fr.ctx, NULL, NULL, &ll);
    }

    *res = fuzz_chain_str(out);

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *buf;
    uint32_t     seed;
    ngx_int_t    rc1, rc2;
    ngx_str_t    whole, split;
    ngx_uint_t   sel;

    if (size < 5) {
        return 0;
    }

    fuzz_init();

    sel = data[0];
    seed = (uint32_t) data[1] | (uint32_t) data[2] << 8
           | (uint32_t) data[3] << 16 | (uint32_t) data[4] << 24;
    seed |= 1;

    data += 5;
    size -= 5;

    buf = ngx_pnalloc(fuzz_pool, size ? size : 1);
    if (size) {
        memcpy(buf, data, size);
    }

    rc1 = fuzz_stream_run(buf, size, sel, 0, &whole);
    rc2 = fuzz_stream_run(buf, size, sel, seed, &split);

    if (rc1 != rc2) {
        fprintf(stderr, "rc %ld whole, %ld split\n", (long) rc1, (long) rc2);
        fuzz_fail("a different result when split", &whole, &split);
    }

    if (whole.len != split.len
        || ngx_memcmp(whole.data, split.data, whole.len) != 0)
    {
        fuzz_fail("a different translation when split", &whole, &split);
    }

    fuzz_pool_reset();

    return 0;
}
