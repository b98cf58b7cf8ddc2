
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_embeddings.h"

#include <stdlib.h>


#define NGX_HTTP_LLM_EMBED_MAX_INPUTS  2048     /* OpenAI's limit */


static ngx_int_t ngx_http_llm_embed_bad(ngx_http_llm_ctx_t *ctx,
    const char *error);
static ngx_int_t ngx_http_llm_embed_base64(ngx_http_request_t *r,
    ngx_http_llm_json_t *js, ngx_int_t arr, ngx_http_llm_jw_t *jw);


ngx_int_t
ngx_http_llm_embed_parse(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js)
{
    ngx_int_t              in, v, i, n;
    ngx_str_t             *s, fmt;
    ngx_http_llm_embed_t  *em;

    em = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_embed_t));
    if (em == NULL
        || ngx_array_init(&em->input, r->pool, 4, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    em->dimensions = -1;
    ctx->embed = em;

    in = ngx_http_llm_json_get(js, 0, "input");

    if (in < 0) {
        return ngx_http_llm_embed_bad(ctx,
                                      "Missing required parameter: 'input'.");
    }

    /* a string, or an array of strings; token arrays are OpenAI's only */

    n = 1;

    if (ngx_http_llm_json_type(js, in) == NGX_HTTP_LLM_JSON_ARRAY) {
        n = js->toks[in].size;

        if (n == 0) {
            return ngx_http_llm_embed_bad(ctx, "'input' cannot be an empty "
                                               "array.");
        }

        if (n > NGX_HTTP_LLM_EMBED_MAX_INPUTS) {
            return ngx_http_llm_embed_bad(ctx, "'input' has more than 2048 "
                                               "items.");
        }
    }

    for (i = 0; i < n; i++) {
        v = (ngx_http_llm_json_type(js, in) == NGX_HTTP_LLM_JSON_ARRAY)
            ? ngx_http_llm_json_index(js, in, i) : in;

        if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING) {
            return ngx_http_llm_embed_bad(ctx,
                       "'input' must be a string or an array of strings for "
                       "this model's provider: token arrays cannot be "
                       "translated.");
        }

        s = ngx_array_push(&em->input);
        if (s == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_string(r->pool, js, v, s) != NGX_OK) {
            return NGX_ERROR;
        }

        if (s->len == 0) {
            return ngx_http_llm_embed_bad(ctx, "'input' cannot contain an "
                                               "empty string.");
        }
    }

    v = ngx_http_llm_json_get(js, 0, "dimensions");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        if (ngx_http_llm_json_int(js, v, &em->dimensions) != NGX_OK
            || em->dimensions < 1)
        {
            return ngx_http_llm_embed_bad(ctx, "'dimensions' must be a "
                                               "positive integer.");
        }
    }

    v = ngx_http_llm_json_get(js, 0, "encoding_format");

    if (v >= 0 && !ngx_http_llm_json_is_null(js, v)) {
        if (ngx_http_llm_json_type(js, v) != NGX_HTTP_LLM_JSON_STRING
            || ngx_http_llm_json_string(r->pool, js, v, &fmt) != NGX_OK)
        {
            return ngx_http_llm_embed_bad(ctx, "'encoding_format' must be "
                                               "'float' or 'base64'.");
        }

        if (fmt.len == 6 && ngx_strncmp(fmt.data, "base64", 6) == 0) {
            em->base64 = 1;

        } else if (fmt.len != 5 || ngx_strncmp(fmt.data, "float", 5) != 0) {
            return ngx_http_llm_embed_bad(ctx, "'encoding_format' must be "
                                               "'float' or 'base64'.");
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_embed_bad(ngx_http_llm_ctx_t *ctx, const char *error)
{
    ctx->error = error;
    return NGX_DECLINED;
}


ngx_int_t
ngx_http_llm_embed_write(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_int_t *vec, ngx_uint_t n,
    ngx_int_t prompt_tokens, ngx_chain_t **out)
{
    size_t                 size;
    ngx_int_t              k, e;
    ngx_str_t              raw;
    ngx_uint_t             i;
    ngx_http_llm_jw_t      jw;
    ngx_http_llm_embed_t  *em;

    em = ctx->embed;

    if (em == NULL || n != em->input.nelts) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" sent %ui embeddings for %ui "
                      "inputs", &ctx->provider->name, n,
                      em ? em->input.nelts : 0);
        return NGX_DECLINED;
    }

    /* every vector an array of numbers */

    size = 256 + ctx->model.len;

    for (i = 0; i < n; i++) {
        if (vec[i] < 0
            || ngx_http_llm_json_type(js, vec[i]) != NGX_HTTP_LLM_JSON_ARRAY)
        {
            return NGX_DECLINED;
        }

        for (k = 0; k < js->toks[vec[i]].size; k++) {
            e = ngx_http_llm_json_index(js, vec[i], k);

            if (ngx_http_llm_json_type(js, e) != NGX_HTTP_LLM_JSON_PRIMITIVE
                || js->data[js->toks[e].start] == 't'
                || js->data[js->toks[e].start] == 'f'
                || js->data[js->toks[e].start] == 'n')
            {
                return NGX_DECLINED;
            }
        }

        size += 64 + js->toks[vec[i]].end - js->toks[vec[i]].start
                + 8 * js->toks[vec[i]].size;
    }

    if (ngx_http_llm_jw_init(&jw, r->pool, size) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(&jw, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_jw_lit(&jw, "{\"object\":\"embedding\",\"index\":");
        ngx_http_llm_jw_int(&jw, i);
        ngx_http_llm_jw_lit(&jw, ",\"embedding\":");

        if (em->base64) {
            if (ngx_http_llm_embed_base64(r, js, vec[i], &jw) != NGX_OK) {
                return NGX_ERROR;
            }

        } else {
            /* the provider's numbers as they were written */
            ngx_http_llm_json_raw(js, vec[i], &raw);
            ngx_http_llm_jw_raw(&jw, raw.data, raw.len);
        }

        ngx_http_llm_jw_lit(&jw, "}");
    }

    if (prompt_tokens < 0) {
        prompt_tokens = 0;
    }

    ngx_http_llm_jw_lit(&jw, "],\"model\":");
    ngx_http_llm_jw_string(&jw, &ctx->model);
    ngx_http_llm_jw_lit(&jw, ",\"usage\":{\"prompt_tokens\":");
    ngx_http_llm_jw_int(&jw, prompt_tokens);
    ngx_http_llm_jw_lit(&jw, ",\"total_tokens\":");
    ngx_http_llm_jw_int(&jw, prompt_tokens);
    ngx_http_llm_jw_lit(&jw, "}}");

    ctx->usage.prompt = prompt_tokens;
    ctx->usage.completion = 0;
    ctx->usage.total = prompt_tokens;
    ctx->usage.known = 1;

    *out = ngx_http_llm_jw_chain(&jw);

    return *out ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_llm_embed_json(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_llm_json_t *js)
{
    ngx_int_t  rc;

    rc = ngx_http_llm_json_parse(r->pool, js, body->data, body->len,
                                 NGX_HTTP_LLM_JSON_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_embed_array(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js, ngx_int_t arr, const char *key,
    ngx_chain_t **out)
{
    ngx_int_t  *vec, i, n;

    if (arr < 0 || ngx_http_llm_json_type(js, arr) != NGX_HTTP_LLM_JSON_ARRAY)
    {
        return NGX_DECLINED;
    }

    n = js->toks[arr].size;

    vec = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_int_t));
    if (vec == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        vec[i] = ngx_http_llm_json_index(js, arr, i);

        if (key) {
            vec[i] = ngx_http_llm_json_get(js, vec[i], key);
        }
    }

    return ngx_http_llm_embed_write(r, ctx, js, vec, n, -1, out);
}


/* OpenAI's base64 form: the vector as little-endian float32s */

static ngx_int_t
ngx_http_llm_embed_base64(ngx_http_request_t *r, ngx_http_llm_json_t *js,
    ngx_int_t arr, ngx_http_llm_jw_t *jw)
{
    u_char      *p, num[64];
    float        f;
    uint32_t     u;
    ngx_int_t    k, e;
    ngx_str_t    bin, b64, raw;

    bin.len = 4 * js->toks[arr].size;
    bin.data = ngx_pnalloc(r->pool, bin.len + 1);
    b64.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(bin.len) + 1);

    if (bin.data == NULL || b64.data == NULL) {
        return NGX_ERROR;
    }

    p = bin.data;

    for (k = 0; k < js->toks[arr].size; k++) {
        e = ngx_http_llm_json_index(js, arr, k);
        ngx_http_llm_json_raw(js, e, &raw);

        if (raw.len >= sizeof(num)) {
            raw.len = sizeof(num) - 1;
        }

        ngx_memcpy(num, raw.data, raw.len);
        num[raw.len] = '\0';

        f = strtof((char *) num, NULL);
        ngx_memcpy(&u, &f, 4);

        *p++ = (u_char) u;
        *p++ = (u_char) (u >> 8);
        *p++ = (u_char) (u >> 16);
        *p++ = (u_char) (u >> 24);
    }

    ngx_encode_base64(&b64, &bin);

    ngx_http_llm_jw_lit(jw, "\"");
    ngx_http_llm_jw_raw(jw, b64.data, b64.len);
    ngx_http_llm_jw_lit(jw, "\"");

    return NGX_OK;
}
