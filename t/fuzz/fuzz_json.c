
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
 *
 * json_parse() tokenizes in one pass of its own since it is not jsmn any
 * more: jsmn (strict mode, with the scanner and the depth limit in front,
 * as json_parse() was) is the oracle for it, token for token.
 */

#include "fuzz.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>


/* json_parse() as it was: the scan, jsmn, the depth limit */

static ngx_int_t
fuzz_jsmn_parse(u_char *buf, size_t size, jsmntok_t **toksp, int *np)
{
    int           n, depth, stack[NGX_HTTP_LLM_JSON_MAX_DEPTH];
    size_t        ntoks, i;
    jsmntok_t    *toks;
    ngx_uint_t    members;
    jsmn_parser   parser;

    if (ngx_http_llm_json_scan(buf, buf + size, NULL, 0, &members)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ntoks = size + 2;
    toks = ngx_palloc(fuzz_pool, ntoks * sizeof(jsmntok_t));

    jsmn_init(&parser);
    n = jsmn_parse(&parser, (const char *) buf, size, toks, ntoks);

    if (n < 1) {
        return NGX_DECLINED;
    }

    i = toks[0].end + (toks[0].type == JSMN_STRING);

    for ( /* void */ ; i < size; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r'
            && buf[i] != '\n')
        {
            return NGX_DECLINED;
        }
    }

    depth = 0;

    for (i = 0; i < (size_t) n; i++) {
        while (depth && toks[i].start >= stack[depth - 1]) {
            depth--;
        }

        if (toks[i].type == JSMN_OBJECT || toks[i].type == JSMN_ARRAY) {
            if (depth == NGX_HTTP_LLM_JSON_MAX_DEPTH) {
                return NGX_DECLINED;
            }

            stack[depth++] = toks[i].end;
        }
    }

    *toksp = toks;
    *np = n;

    return NGX_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *buf, *p;
    ngx_int_t                    rs, rp, i, v, k;
    ngx_str_t                    s, in;
    ngx_uint_t                   n, m;
    int                          jn;
    jsmntok_t                   *jt;
    ngx_int_t                    rj;
    ngx_http_llm_json_t          js, js2;
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

    /* the same answer as jsmn, the same tokens */

    rj = fuzz_jsmn_parse(buf, size, &jt, &jn);

    if (rj != rp && !(rp == NGX_ABORT && rj == NGX_OK && jn > 1 << 16)) {
        fuzz_fail("json_parse and jsmn disagree on validity", &in, NULL);
    }

    if (rp == NGX_OK) {
        if (jn != js.ntoks) {
            fuzz_fail("json_parse and jsmn count different tokens", &in,
                      NULL);
        }

        for (i = 0; i < js.ntoks; i++) {
            if (js.toks[i].type != (int) jt[i].type
                || js.toks[i].start != jt[i].start
                || js.toks[i].end != jt[i].end
                || js.toks[i].size != jt[i].size)
            {
                fuzz_fail("json_parse and jsmn tokens differ", &in, NULL);
            }

            /*
             * ours: "next" is the first token past this one's text (what
             * a walk of jsmn's tokens finds), "esc" a backslash in it
             */

            for (k = i + 1; k < jn && jt[k].start < jt[i].end; k++) {
                /* void */
            }

            if (js.toks[i].next != (int) k
                || (jt[i].type == JSMN_STRING
                    && js.toks[i].esc
                       != (memchr(buf + jt[i].start, '\\',
                                  jt[i].end - jt[i].start) != NULL)))
            {
                fuzz_fail("json_parse next/esc differ from a walk", &in,
                          NULL);
            }
        }
    }

    /* a limit on tokens: NGX_ABORT exactly when jsmn had more */

    if (rp == NGX_OK && js.ntoks > 1) {
        if (ngx_http_llm_json_parse(fuzz_pool, &js2, buf, size,
                                    js.ntoks - 1)
            != NGX_ABORT
            || ngx_http_llm_json_parse(fuzz_pool, &js2, buf, size, js.ntoks)
               != NGX_OK)
        {
            fuzz_fail("json_parse token limit", &in, NULL);
        }
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
