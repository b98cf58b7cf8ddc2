
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"


static ngx_int_t ngx_http_llm_jw_grow(ngx_http_llm_jw_t *jw, size_t n);


static ngx_str_t  ngx_http_llm_finish_names[] = {
    ngx_null_string,
    ngx_string("stop"),
    ngx_string("length"),
    ngx_string("tool_calls"),
    ngx_string("content_filter")
};


ngx_int_t
ngx_http_llm_jw_init(ngx_http_llm_jw_t *jw, ngx_pool_t *pool, size_t size)
{
    jw->pool = pool;
    jw->failed = 0;

    jw->start = ngx_pnalloc(pool, size);
    if (jw->start == NULL) {
        jw->failed = 1;
        return NGX_ERROR;
    }

    jw->pos = jw->start;
    jw->end = jw->start + size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_jw_grow(ngx_http_llm_jw_t *jw, size_t n)
{
    u_char  *p;
    size_t   size, used;

    if (jw->failed) {
        return NGX_ERROR;
    }

    used = jw->pos - jw->start;
    size = (jw->end - jw->start) * 2;

    while (size < used + n) {
        size *= 2;
    }

    p = ngx_pnalloc(jw->pool, size);
    if (p == NULL) {
        jw->failed = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(p, jw->start, used);
    ngx_pfree(jw->pool, jw->start);

    jw->start = p;
    jw->pos = p + used;
    jw->end = p + size;

    return NGX_OK;
}


void
ngx_http_llm_jw_raw(ngx_http_llm_jw_t *jw, u_char *p, size_t n)
{
    if (n == 0) {
        return;     /* p may be NULL: an empty ngx_str_t */
    }

    if ((size_t) (jw->end - jw->pos) < n
        && ngx_http_llm_jw_grow(jw, n) != NGX_OK)
    {
        return;
    }

    jw->pos = ngx_cpymem(jw->pos, p, n);
}


void
ngx_http_llm_jw_str(ngx_http_llm_jw_t *jw, u_char *p, size_t n)
{
    if ((size_t) (jw->end - jw->pos) < 1
        && ngx_http_llm_jw_grow(jw, 1) != NGX_OK)
    {
        return;
    }

    *jw->pos++ = '"';

    ngx_http_llm_jw_esc(jw, p, n);

    if ((size_t) (jw->end - jw->pos) < 1
        && ngx_http_llm_jw_grow(jw, 1) != NGX_OK)
    {
        return;
    }

    *jw->pos++ = '"';
}


void
ngx_http_llm_jw_esc(ngx_http_llm_jw_t *jw, u_char *p, size_t n)
{
    size_t  k, len;

    /* one pass over the plain run, the usual whole string: then a copy */

    if (n == 0) {
        return;         /* and p may be NULL */
    }

    k = ngx_http_llm_json_plain(p, n);

    len = n;

    if (k != n) {
        len += ngx_escape_json(NULL, p + k, n - k);
    }

    if ((size_t) (jw->end - jw->pos) < len
        && ngx_http_llm_jw_grow(jw, len) != NGX_OK)
    {
        return;
    }

    jw->pos = ngx_cpymem(jw->pos, p, k);

    if (k != n) {
        jw->pos = (u_char *) ngx_escape_json(jw->pos, p + k, n - k);
    }
}


void
ngx_http_llm_jw_int(ngx_http_llm_jw_t *jw, ngx_int_t n)
{
    if ((size_t) (jw->end - jw->pos) < NGX_INT_T_LEN
        && ngx_http_llm_jw_grow(jw, NGX_INT_T_LEN) != NGX_OK)
    {
        return;
    }

    if (n < 0) {
        *jw->pos++ = '-';
        jw->pos = ngx_http_llm_write_uint(jw->pos, (ngx_uint_t) 0 - n);

    } else {
        jw->pos = ngx_http_llm_write_uint(jw->pos, n);
    }
}


ngx_chain_t *
ngx_http_llm_jw_chain(ngx_http_llm_jw_t *jw)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (jw->failed) {
        return NULL;
    }

    b = ngx_calloc_buf(jw->pool);
    if (b == NULL) {
        return NULL;
    }

    b->start = jw->start;
    b->pos = jw->start;
    b->last = jw->pos;
    b->end = jw->end;
    b->temporary = 1;

    cl = ngx_alloc_chain_link(jw->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * Tool call arguments (a JSON text) as an object value: "" or anything
 * that is not one valid JSON object is written as {}.
 */

void
ngx_http_llm_jw_args(ngx_http_llm_jw_t *jw, ngx_log_t *log, ngx_str_t *args)
{
    if (args->len && ngx_http_llm_json_is_object(args->data, args->len)) {
        ngx_http_llm_jw_raw(jw, args->data, args->len);
        return;
    }

    if (args->len) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "llm: tool call arguments are not a JSON object, "
                      "sent as {}");
    }

    ngx_http_llm_jw_lit(jw, "{}");
}


/*
 * Why a request is bad, formatted into "*error" (NUL-terminated, at most
 * NGX_HTTP_LLM_ERROR_LEN bytes): what every surface's parser returns
 * NGX_DECLINED with.
 */

ngx_int_t
ngx_http_llm_vbad(ngx_pool_t *pool, const char **error, const char *fmt,
    va_list args)
{
    u_char  *p, *last;

    p = ngx_pnalloc(pool, NGX_HTTP_LLM_ERROR_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_vslprintf(p, p + NGX_HTTP_LLM_ERROR_LEN - 1, fmt, args);
    *last = '\0';

    *error = (const char *) p;

    return NGX_DECLINED;
}


ngx_http_llm_request_t *
ngx_http_llm_request_create(ngx_pool_t *pool)
{
    ngx_http_llm_request_t  *req;

    req = ngx_pcalloc(pool, sizeof(ngx_http_llm_request_t));
    if (req == NULL) {
        return NULL;
    }

    if (ngx_array_init(&req->messages, pool, 8,
                       sizeof(ngx_http_llm_message_t))
        != NGX_OK
        || ngx_array_init(&req->tools, pool, 2, sizeof(ngx_http_llm_tool_t))
           != NGX_OK
        || ngx_array_init(&req->stop, pool, 1, sizeof(ngx_str_t)) != NGX_OK)
    {
        return NULL;
    }

    req->parallel_tool_calls = -1;
    req->max_tokens = -1;
    req->n = -1;
    req->schema_strict = -1;
    req->thinking_budget = -1;

    return req;
}


ngx_str_t *
ngx_http_llm_finish_openai(ngx_uint_t finish)
{
    if (finish > NGX_HTTP_LLM_FINISH_FILTER) {
        finish = NGX_HTTP_LLM_FINISH_STOP;
    }

    return &ngx_http_llm_finish_names[finish];
}


/*
 * Token counting (messages/count_tokens, Gemini :countTokens): the count
 * as the client's surface answers it, {"input_tokens":N} for Anthropic
 * clients, {"totalTokens":N} for Gemini ones.
 */

ngx_chain_t *
ngx_http_llm_count_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t n)
{
    ngx_http_llm_jw_t  jw;

    if (ngx_http_llm_jw_init(&jw, r->pool, 32 + NGX_INT_T_LEN) != NGX_OK) {
        return NULL;
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_GEMINI) {
        ngx_http_llm_jw_lit(&jw, "{\"totalTokens\":");

    } else {
        ngx_http_llm_jw_lit(&jw, "{\"input_tokens\":");
    }

    ngx_http_llm_jw_int(&jw, n);
    ngx_http_llm_jw_lit(&jw, "}\n");

    return ngx_http_llm_jw_chain(&jw);
}


/*
 * A provider's count ({"input_tokens":N}, {"totalTokens":N},
 * {"inputTokens":N}) answered in the client's format; NGX_DECLINED: not
 * such an answer
 */

ngx_int_t
ngx_http_llm_count_response(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, const char *key, ngx_chain_t **out)
{
    ngx_int_t            rc, v, n;
    ngx_http_llm_json_t  js;

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len, 4096);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    v = ngx_http_llm_json_get(&js, 0, key);

    if (v < 0 && js.toks[0].size == 0) {
        /* proto3 JSON leaves out zeros: Gemini's count of nothing is {} */
        n = 0;

    } else if (ngx_http_llm_json_int(&js, v, &n) != NGX_OK) {
        return NGX_DECLINED;
    }

    *out = ngx_http_llm_count_answer(r, ctx, n);

    return *out ? NGX_OK : NGX_ERROR;
}


/* a new part of a message, zeroed, of a type: for every inbound surface */

ngx_http_llm_part_t *
ngx_http_llm_part_add(ngx_http_llm_message_t *msg, ngx_uint_t type)
{
    ngx_http_llm_part_t  *part;

    part = ngx_array_push(&msg->parts);
    if (part == NULL) {
        return NULL;
    }

    ngx_memzero(part, sizeof(ngx_http_llm_part_t));
    part->type = type;

    return part;
}
