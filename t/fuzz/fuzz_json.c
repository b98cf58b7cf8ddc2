
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The two JSON readers against each other: ngx_http_llm_json_scan() (the
 * strict one-pass scanner of the passthrough) and ngx_http_llm_json_parse()
 * (jsmn, strict mode, of the translators).  jsmn is laxer than RFC 8259
 * (a primitive is checked by its first byte only), so the oracle is one
 * way: what the scanner accepts, jsmn accepts, with the same top-level
 * members; and whatever jsmn accepts, walking its tokens stays in bounds.
 */

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *buf, *p;
    ngx_int_t                    rs, rp, i, v, k;
    ngx_str_t                    s, in;
    ngx_uint_t                   n, m;
    ngx_http_llm_json_t          js;
    ngx_http_llm_json_member_t   members[16];

    fuzz_init();

    /* an exact-size copy: ASan sees any read past the end */
    buf = ngx_pnalloc(fuzz_pool, size);
    if (size) {
        memcpy(buf, data, size);
    }

    in.data = buf;
    in.len = size;

    n = 0;
    rs = ngx_http_llm_json_scan(buf, buf + size, members, 16, &n);
    rp = ngx_http_llm_json_parse(fuzz_pool, &js, buf, size, 1 << 16);

    /*
     * jsmn's strict mode wants a top-level number or literal followed by
     * a delimiter: the oracle holds for objects and arrays (what bodies
     * and events are)
     */

    for (p = buf; p < buf + size; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (rs == NGX_OK && rp == NGX_DECLINED
        && p < buf + size && (*p == '{' || *p == '['))
    {
        fuzz_fail("json_scan accepts what json_parse declines", &in, NULL);
    }

    if (rp != NGX_OK) {
        fuzz_pool_reset();
        return 0;
    }

    if (rs == NGX_OK && js.toks[0].type == NGX_HTTP_LLM_JSON_OBJECT) {

        if ((ngx_uint_t) js.toks[0].size != n) {
            fuzz_fail("member counts differ", &in, NULL);
        }

        /* the same keys, in the same order, at the same places */

        for (m = 0, i = 1; m < n && m < 16; m++) {
            if (js.data + js.toks[i].start != members[m].key.data
                || (size_t) (js.toks[i].end - js.toks[i].start)
                   != members[m].key.len
                || js.data + js.toks[i + 1].start
                   - (js.toks[i + 1].type == NGX_HTTP_LLM_JSON_STRING)
                   != members[m].start
                || js.toks[i + 1].type != (int) members[m].type)
            {
                fuzz_fail("members differ", &in, NULL);
            }

            i = ngx_http_llm_json_skip(&js, i + 1);
        }
    }

    /* walk every token with the accessors the translators use */

    for (i = 0; i < js.ntoks; i++) {
        switch (ngx_http_llm_json_type(&js, i)) {

        case NGX_HTTP_LLM_JSON_STRING:
            (void) ngx_http_llm_json_string(fuzz_pool, &js, i, &s);
            break;

        case NGX_HTTP_LLM_JSON_PRIMITIVE:
            (void) ngx_http_llm_json_int(&js, i, &v);
            (void) ngx_http_llm_json_bool(&js, i);
            (void) ngx_http_llm_json_is_null(&js, i);
            break;

        case NGX_HTTP_LLM_JSON_OBJECT:
            (void) ngx_http_llm_json_get(&js, i, "model");
            (void) ngx_http_llm_json_get(&js, i, "messages");
            break;

        case NGX_HTTP_LLM_JSON_ARRAY:
            k = ngx_http_llm_json_index(&js, i, 0);
            (void) k;
            (void) ngx_http_llm_json_index(&js, i, js.toks[i].size);
            break;
        }

        ngx_http_llm_json_raw(&js, i, &s);

        if (ngx_http_llm_json_skip(&js, i) > js.ntoks) {
            fuzz_fail("json_skip past the last token", &in, NULL);
        }
    }

    fuzz_pool_reset();

    return 0;
}
