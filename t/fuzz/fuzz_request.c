
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Request translation.  Input: one flags byte, then a request body.  The
 * body goes through the OpenAI surface's parser (and, separately, the
 * Anthropic surface's) into the canonical request, then through every
 * request writer reachable outside nginx: the OpenAI body writer with
 * the fuzzer's flags, and create_request() of the OpenAI, Anthropic and
 * Gemini adapters on a made-up request.  Oracle: each body written is
 * exactly one valid JSON value (ngx_http_llm_json_scan), or the
 * translation declines; nothing crashes or leaks.
 *
 * Not reached: Bedrock's create_request (SigV4 needs a configured
 * provider with credentials), the OpenAI passthrough edits (the handler
 * finds their offsets in the client body first).
 */

#include "fuzz.h"
#include "ngx_http_llm_openai.h"


static const ngx_http_llm_provider_t  *fuzz_providers[] = {
    &ngx_http_llm_provider_openai,
    &ngx_http_llm_provider_anthropic,
    &ngx_http_llm_provider_gemini,
};


static void
fuzz_check_json(const char *who, u_char *p, size_t n)
{
    ngx_str_t   s;
    ngx_uint_t  m;

    if (ngx_http_llm_json_scan(p, p + n, NULL, 0, &m) != NGX_OK) {
        s.data = p;
        s.len = n;
        fprintf(stderr, "writer: %s\n", who);
        fuzz_fail("a request writer wrote invalid JSON", &s, NULL);
    }
}


static void
fuzz_providers_run(ngx_http_llm_request_t *req, u_char *body, size_t len,
    const ngx_http_llm_surface_t *surf)
{
    u_char       *p, *last;
    ngx_str_t     out;
    ngx_uint_t    i;
    fuzz_req_t    fr;

    for (i = 0; i < sizeof(fuzz_providers) / sizeof(fuzz_providers[0]); i++)
    {
        fuzz_request(&fr, fuzz_providers[i], surf);

        fr.ctx.req = req;
        fr.ctx.body.data = body;
        fr.ctx.body.len = len;
        fr.ctx.stream = req->stream;

        if (fuzz_providers[i]->create_request(&fr.r, &fr.ctx) != NGX_OK) {
            continue;
        }

        out = fuzz_chain_str(fr.u.request_bufs);

        /* the headers, then the body */

        last = out.data + out.len;
        p = ngx_strlcasestrn(out.data, last, (u_char *) "\r\n\r", 3 - 1);

        if (p == NULL || p + 4 > last) {
            fuzz_fail("an upstream request without a header end", &out,
                      NULL);
        }

        fuzz_check_json((char *) fuzz_providers[i]->type.data, p + 4,
                        last - (p + 4));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *buf;
    ngx_str_t                model, out;
    ngx_uint_t               flags, n;
    const char              *error;
    fuzz_req_t               fr;
    ngx_http_llm_json_t      js;
    ngx_http_llm_request_t  *req;

    if (size < 1) {
        return 0;
    }

    fuzz_init();

    flags = data[0] & 0x1f;
    data++;
    size--;

    buf = ngx_pnalloc(fuzz_pool, size ? size : 1);
    if (size) {
        memcpy(buf, data, size);
    }

    /* as the handler: the body is validated by the scanner first */

    if (ngx_http_llm_json_scan(buf, buf + size, NULL, 0, &n) != NGX_OK
        || ngx_http_llm_json_parse(fuzz_pool, &js, buf, size, 1 << 16)
           != NGX_OK)
    {
        fuzz_pool_reset();
        return 0;
    }

    /* the OpenAI surface */

    req = ngx_http_llm_request_create(fuzz_pool);
    error = NULL;

    if (req && ngx_http_llm_openai_parse(fuzz_pool, &js, req, &error)
               == NGX_OK)
    {
        ngx_str_set(&model, "fuzz-model");

        if (ngx_http_llm_openai_write_body(fuzz_pool, req, &model, flags,
                                           &out)
            == NGX_OK)
        {
            fuzz_check_json("openai_write_body", out.data, out.len);
        }

        fuzz_providers_run(req, buf, size, &ngx_http_llm_surface_openai);
    }

    /* the Anthropic surface */

    req = ngx_http_llm_request_create(fuzz_pool);
    fuzz_request(&fr, &ngx_http_llm_provider_anthropic,
                 &ngx_http_llm_surface_anthropic);
    fr.ctx.body.data = buf;
    fr.ctx.body.len = size;

    if (req && ngx_http_llm_surface_anthropic.parse_request(&fr.r, &fr.ctx,
                                                            &js, req)
               == NGX_OK)
    {
        fuzz_providers_run(req, buf, size, &ngx_http_llm_surface_anthropic);
    }

    fuzz_pool_reset();

    return 0;
}
