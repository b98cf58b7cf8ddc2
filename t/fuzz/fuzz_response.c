
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Answer translation (non-stream): a provider's body through the
 * adapter's response() into the client's surface, and through its
 * error() (provider error bodies).  Input: a selector byte (provider:
 * OpenAI, Anthropic, Gemini; client surface: OpenAI or Anthropic), then
 * the body.  Oracle: a translated answer is one valid JSON value.
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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *buf;
    ngx_str_t    body, res, message, type, code;
    ngx_uint_t   sel, n;
    fuzz_req_t   fr;
    ngx_chain_t *out;

    const ngx_http_llm_provider_t  *prov;

    if (size < 1) {
        return 0;
    }

    fuzz_init();

    sel = data[0];
    data++;
    size--;

    buf = ngx_pnalloc(fuzz_pool, size ? size : 1);
    if (size) {
        memcpy(buf, data, size);
    }

    body.data = buf;
    body.len = size;

    prov = fuzz_providers[sel % 3];
    fuzz_request(&fr, prov, fuzz_surfaces[(sel >> 2) & 1]);
    fr.ctx.req = ngx_http_llm_request_create(fuzz_pool);

    out = NULL;

    if (prov->response(&fr.r, &fr.ctx, &body, &out) == NGX_OK && out) {
        res = fuzz_chain_str(out);

        if (ngx_http_llm_json_scan(res.data, res.data + res.len, NULL, 0,
                                   &n)
            != NGX_OK)
        {
            fuzz_fail("a translated answer is not JSON", &body, &res);
        }
    }

    if (prov->error) {
        fuzz_request(&fr, prov, fuzz_surfaces[(sel >> 2) & 1]);
        ngx_str_null(&message);
        ngx_str_null(&type);
        ngx_str_null(&code);
        (void) prov->error(&fr.r, &fr.ctx, &body, &message, &type, &code);
    }

    fuzz_pool_reset();

    return 0;
}
