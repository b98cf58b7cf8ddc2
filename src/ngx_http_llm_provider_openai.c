
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_provider.h"
#include "ngx_http_llm_upstream.h"
#include "ngx_http_llm_json.h"


/*
 * The OpenAI-compatible adapter: the passthrough fast path.  The client's
 * body is forwarded as it is, but for the "model" value and, on streams,
 * "stream_options.include_usage" so that usage is always known; the
 * usage-only chunk is removed again when the client did not ask for it.
 */


#define NGX_HTTP_LLM_OPENAI_MAX_TOKENS  (4 * 1024 * 1024)


typedef struct {
    ngx_int_t    start;
    ngx_int_t    end;
    ngx_str_t    text;
} ngx_http_llm_edit_t;


static ngx_int_t ngx_http_llm_openai_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_openai_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
static ngx_int_t ngx_http_llm_openai_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);
static void ngx_http_llm_openai_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage);
static ngx_int_t ngx_http_llm_openai_has_usage(ngx_str_t *data);
static ngx_chain_t *ngx_http_llm_memory_buf(ngx_http_request_t *r,
    u_char *p, size_t n);
static ngx_int_t ngx_http_llm_openai_strip_names(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_array_t *list);
static ngx_int_t ngx_http_llm_openai_finish_reasons(ngx_http_request_t *r,
    ngx_str_t *data, ngx_str_t *out);


const ngx_http_llm_provider_t  ngx_http_llm_provider_openai = {
    ngx_string("openai"),
    ngx_string("/v1"),
    0,
    1,                                     /* openai_format */
    1,                                     /* embeddings */
    ngx_http_llm_openai_create_request,
    ngx_http_llm_openai_stream_event,
    ngx_http_llm_openai_response,
    ngx_http_llm_openai_error
};


static ngx_int_t
ngx_http_llm_openai_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    u_char                        *p, *q, *body;
    size_t                         len, blen;
    ngx_int_t                      pos, v;
    ngx_str_t                      path, model;
    ngx_buf_t                     *b;
    ngx_uint_t                     i, j, n;
    ngx_array_t                    list;
    ngx_chain_t                   *cl, **ll;
    ngx_http_llm_edit_t           *edits, *e, tmp;
    ngx_http_llm_json_t           *js;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;
    body = ctx->body.data;

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        ngx_str_set(&path, "/embeddings");

    } else {
        ngx_str_set(&path, "/chat/completions");
    }

    /* the edits of the body, in order of their offsets */

    if (ngx_array_init(&list, r->pool, 4, sizeof(ngx_http_llm_edit_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (pc->quirks & NGX_HTTP_LLM_Q_STRIP_NAME) {
        if (ngx_http_llm_openai_strip_names(r, ctx, &list) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ctx->upstream_model.data != ctx->model.data
        || ctx->upstream_model.len != ctx->model.len)
    {
        len = ngx_http_llm_json_escape_len(ctx->upstream_model.data,
                                           ctx->upstream_model.len);

        model.data = ngx_pnalloc(r->pool, len);
        if (model.data == NULL) {
            return NGX_ERROR;
        }

        model.len = ngx_http_llm_json_escape(model.data,
                                             ctx->upstream_model.data,
                                             ctx->upstream_model.len)
                    - model.data;

        e = ngx_array_push(&list);
        if (e == NULL) {
            return NGX_ERROR;
        }

        e->start = ctx->model_start;
        e->end = ctx->model_end;
        e->text = model;
    }

    ctx->inject_usage = 0;

    if (ctx->stream && !ctx->client_usage
        && !(pc->quirks & NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS))
    {
        ctx->inject_usage = 1;

        e = ngx_array_push(&list);
        if (e == NULL) {
            return NGX_ERROR;
        }

        js = ctx->json;
        v = (js && ctx->sopts_start < 0)
            ? ngx_http_llm_json_get(js, 0, "stream_options") : -1;

        if (v >= 0) {
            /* "stream_options": null, or not an object: replaced */

            e->start = js->toks[v].start;
            e->end = js->toks[v].end;

            if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
                e->start--;
                e->end++;
            }

            ngx_str_set(&e->text, "{\"include_usage\":true}");

        } else if (ctx->sopts_start < 0) {
            /* right after the opening brace of the body */

            p = ngx_strlchr(body, body + ctx->body.len, '{');
            pos = p - body + 1;

            for (q = p + 1; q < body + ctx->body.len; q++) {
                if (*q != ' ' && *q != '\t' && *q != CR && *q != LF) {
                    break;
                }
            }

            e->start = pos;
            e->end = pos;

            if (*q == '}') {
                ngx_str_set(&e->text,
                            "\"stream_options\":{\"include_usage\":true}");

            } else {
                ngx_str_set(&e->text,
                            "\"stream_options\":{\"include_usage\":true},");
            }

        } else if (ctx->iu_start < 0) {
            pos = ctx->sopts_start + 1;

            for (q = body + pos; q < body + ctx->body.len; q++) {
                if (*q != ' ' && *q != '\t' && *q != CR && *q != LF) {
                    break;
                }
            }

            e->start = pos;
            e->end = pos;

            if (*q == '}') {
                ngx_str_set(&e->text, "\"include_usage\":true");

            } else {
                ngx_str_set(&e->text, "\"include_usage\":true,");
            }

        } else {
            e->start = ctx->iu_start;
            e->end = ctx->iu_end;
            ngx_str_set(&e->text, "true");
        }
    }

    edits = list.elts;
    n = list.nelts;

    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && edits[j].start < edits[j - 1].start; j--) {
            tmp = edits[j];
            edits[j] = edits[j - 1];
            edits[j - 1] = tmp;
        }
    }

    blen = ctx->body.len;

    for (i = 0; i < n; i++) {
        blen += edits[i].text.len - (edits[i].end - edits[i].start);
    }

    /* the request line and headers */

    len = sizeof("POST ") - 1 + pc->base.len + path.len
          + sizeof(" HTTP/1.1" CRLF) - 1
          + sizeof("Host: " CRLF) - 1 + pc->host.len
          + sizeof("Content-Type: application/json" CRLF) - 1
          + sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN
          + sizeof("Accept: text/event-stream" CRLF) - 1
          + sizeof("Accept-Encoding: identity" CRLF) - 1
          + pc->extra_headers.len
          + sizeof(CRLF) - 1;

    if (pc->key.len) {
        len += sizeof("Authorization: Bearer " CRLF) - 1 + pc->key.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, pc->base.data, pc->base.len);
    p = ngx_cpymem(p, path.data, path.len);
    p = ngx_cpymem(p, " HTTP/1.1" CRLF "Host: ",
                   sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    p = ngx_cpymem(p, pc->host.data, pc->host.len);
    p = ngx_sprintf(p, CRLF "Content-Type: application/json" CRLF
                    "Content-Length: %uz" CRLF, blen);

    if (ctx->stream) {
        p = ngx_cpymem(p, "Accept: text/event-stream" CRLF,
                       sizeof("Accept: text/event-stream" CRLF) - 1);

    } else {
        p = ngx_cpymem(p, "Accept: application/json" CRLF,
                       sizeof("Accept: application/json" CRLF) - 1);
    }

    p = ngx_cpymem(p, "Accept-Encoding: identity" CRLF,
                   sizeof("Accept-Encoding: identity" CRLF) - 1);

    if (pc->key.len) {
        p = ngx_cpymem(p, "Authorization: Bearer ",
                       sizeof("Authorization: Bearer ") - 1);
        p = ngx_cpymem(p, pc->key.data, pc->key.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_cpymem(p, pc->extra_headers.data, pc->extra_headers.len);
    *p++ = CR; *p++ = LF;

    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    r->upstream->request_bufs = cl;
    ll = &cl->next;

    /* the body: slices of the client's body around the edits */

    pos = 0;

    for (i = 0; i <= n; i++) {

        len = (i < n ? edits[i].start : (ngx_int_t) ctx->body.len) - pos;

        if (len) {
            cl = ngx_http_llm_memory_buf(r, body + pos, len);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            *ll = cl;
            ll = &cl->next;
        }

        if (i == n) {
            break;
        }

        cl = ngx_http_llm_memory_buf(r, edits[i].text.data,
                                     edits[i].text.len);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        *ll = cl;
        ll = &cl->next;

        pos = edits[i].end;
    }

    *ll = NULL;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm openai request: %V%V, %uz body bytes, "
                   "%ui edits", &pc->base, &path, blen, n);

    return NGX_OK;
}


/*
 * Groq rejects "name" in messages (PROVIDERS.md 4.3): the key and its
 * value are cut out of every message, with one adjacent comma.
 */

static ngx_int_t
ngx_http_llm_openai_strip_names(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_array_t *list)
{
    u_char               *body, *p, *last;
    ngx_int_t             msgs, m, k, v, i, start, end;
    ngx_http_llm_edit_t  *e;
    ngx_http_llm_json_t  *js;

    js = ctx->json;

    if (js == NULL || js->ntoks == 0) {
        return NGX_OK;
    }

    body = js->data;
    last = js->data + js->len;

    msgs = ngx_http_llm_json_get(js, 0, "messages");

    for (i = 0; ; i++) {
        m = ngx_http_llm_json_index(js, msgs, i);

        if (m < 0) {
            break;
        }

        v = ngx_http_llm_json_get(js, m, "name");

        if (v < 0) {
            continue;
        }

        k = v - 1;

        /* from the key's opening quote to the end of the value */

        start = js->toks[k].start - 1;
        end = js->toks[v].end;

        if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_STRING) {
            end++;
        }

        for (p = body + end; p < last && (*p == ' ' || *p == '\t'
                                         || *p == CR || *p == LF); p++)
        {
            /* void */
        }

        if (p < last && *p == ',') {
            end = p - body + 1;

        } else {
            for (p = body + start - 1; p > body && (*p == ' ' || *p == '\t'
                                                   || *p == CR || *p == LF);
                 p--)
            {
                /* void */
            }

            if (*p == ',') {
                start = p - body;
            }
        }

        e = ngx_array_push(list);
        if (e == NULL) {
            return NGX_ERROR;
        }

        e->start = start;
        e->end = end;
        ngx_str_null(&e->text);
    }

    return NGX_OK;
}


/*
 * OpenAI SDKs know five finish reasons; vendors send others (Together
 * "eos", Mistral "model_length" and "error", DeepSeek
 * "insufficient_system_resource"): they are mapped, in place of a copy.
 * NGX_OK: "out" is the rewritten data; NGX_DECLINED: nothing to change.
 */

static ngx_int_t
ngx_http_llm_openai_finish_reasons(ngx_http_request_t *r, ngx_str_t *data,
    ngx_str_t *out)
{
    u_char      *p, *q, *v, *last, *d, *from;
    ngx_str_t    value, *std, *map;
    ngx_uint_t   changed;

    static ngx_str_t  standard[] = {
        ngx_string("stop"), ngx_string("length"), ngx_string("tool_calls"),
        ngx_string("content_filter"), ngx_string("function_call"),
        ngx_null_string
    };

    static ngx_str_t  mapping[] = {
        ngx_string("model_length"), ngx_string("length"),
        ngx_string("max_tokens"), ngx_string("length"),
        ngx_string("tool_use"), ngx_string("tool_calls"),
        ngx_null_string, ngx_string("stop")
    };

    last = data->data + data->len;
    changed = 0;
    d = NULL;
    from = data->data;

    for (p = data->data; ; /* void */) {

        p = ngx_strlcasestrn(p, last, (u_char *) "\"finish_reason\"",
                             15 - 1);
        if (p == NULL) {
            break;
        }

        for (q = p + 15; q < last && (*q == ' ' || *q == ':'); q++) {
            /* void */
        }

        p = q;

        if (q == last || *q != '"') {
            continue;
        }

        v = q + 1;
        q = ngx_strlchr(v, last, '"');

        if (q == NULL) {
            break;
        }

        value.data = v;
        value.len = q - v;

        for (std = standard; std->len; std++) {
            if (std->len == value.len
                && ngx_strncmp(std->data, v, value.len) == 0)
            {
                break;
            }
        }

        if (std->len) {
            p = q;
            continue;
        }

        for (map = mapping; map->len; map += 2) {
            if (map->len == value.len
                && ngx_strncmp(map->data, v, value.len) == 0)
            {
                break;
            }
        }

        if (d == NULL) {
            /* a value grows by 5 bytes at most, each match is 17 or more */
            out->data = ngx_pnalloc(r->pool, data->len * 2 + 16);
            if (out->data == NULL) {
                return NGX_ERROR;
            }

            d = out->data;
        }

        d = ngx_cpymem(d, from, v - from);
        d = ngx_cpymem(d, map[1].data, map[1].len);
        from = q;
        p = q;
        changed = 1;
    }

    if (!changed) {
        return NGX_DECLINED;
    }

    d = ngx_cpymem(d, from, last - from);
    out->len = d - out->data;

    return NGX_OK;
}


static ngx_chain_t *
ngx_http_llm_memory_buf(ngx_http_request_t *r, u_char *p, size_t n)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    /* start == pos: the upstream rewinds to start on a retry */

    b->start = p;
    b->pos = p;
    b->last = p + n;
    b->end = p + n;
    b->memory = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * "usage": {...} somewhere in the event, not "usage": null
 */

static ngx_int_t
ngx_http_llm_openai_has_usage(ngx_str_t *data)
{
    u_char  *p, *last;

    p = data->data;
    last = data->data + data->len;

    for ( ;; ) {
        p = ngx_strlcasestrn(p, last, (u_char *) "\"usage\"", 7 - 1);

        if (p == NULL) {
            return 0;
        }

        for (p += 7; p < last; p++) {
            if (*p != ' ' && *p != ':' && *p != '\t' && *p != CR
                && *p != LF)
            {
                break;
            }
        }

        if (p < last && *p == '{') {
            return 1;
        }
    }
}


static ngx_int_t
ngx_http_llm_openai_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t            rc, u, ch, empty;
    ngx_str_t            mapped;
    ngx_http_llm_json_t  js;

    if (data == NULL) {
        /* the end of the upstream body: nothing to add */
        return NGX_OK;
    }

    if (data->len == 6 && ngx_strncmp(data->data, "[DONE]", 6) == 0) {
        ctx->done = 1;
        return ngx_http_llm_emit_event(r, NULL, data->data, data->len, ll);
    }

    if (data->len == 0) {
        return NGX_OK;
    }

    if (ngx_http_llm_openai_has_usage(data)) {

        rc = ngx_http_llm_json_parse(r->pool, &js, data->data, data->len,
                                     NGX_HTTP_LLM_OPENAI_MAX_TOKENS);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            u = ngx_http_llm_json_get(&js, 0, "usage");
            ngx_http_llm_openai_usage(&js, u, &ctx->usage);

            ch = ngx_http_llm_json_get(&js, 0, "choices");

            empty = (ch >= 0
                     && ngx_http_llm_json_type(&js, ch)
                        == NGX_HTTP_LLM_JSON_ARRAY
                     && js.toks[ch].size == 0);

            ngx_pfree(r->pool, js.toks);

            /* the usage-only chunk that we asked for, not the client */

            if (empty && ctx->inject_usage && !ctx->client_usage) {
                return NGX_OK;
            }
        }
    }

    rc = ngx_http_llm_openai_finish_reasons(r, data, &mapped);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        data = &mapped;
    }

    return ngx_http_llm_emit_event(r, NULL, data->data, data->len, ll);
}


static ngx_int_t
ngx_http_llm_openai_response(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_chain_t **out)
{
    ngx_int_t            rc, u;
    ngx_str_t            mapped;
    ngx_http_llm_json_t  js;

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len,
                                 NGX_HTTP_LLM_OPENAI_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    u = ngx_http_llm_json_get(&js, 0, "usage");
    ngx_http_llm_openai_usage(&js, u, &ctx->usage);

    ngx_pfree(r->pool, js.toks);

    rc = ngx_http_llm_openai_finish_reasons(r, body, &mapped);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        body = &mapped;
    }

    *out = ngx_http_llm_memory_buf(r, body->data, body->len);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    (*out)->buf->tag = r->upstream->output.tag;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_str_t *message, ngx_str_t *type, ngx_str_t *code)
{
    ngx_int_t            rc, e, m, t, c;
    ngx_http_llm_json_t  js;

    if (body->len == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llm_json_parse(r->pool, &js, body->data, body->len, 65536);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    /* {"error":{...}} (OpenAI, vLLM >= 0.10.1), {"error":"..."} */

    e = ngx_http_llm_json_get(&js, 0, "error");

    if (e >= 0 && ngx_http_llm_json_type(&js, e) == NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_json_string(r->pool, &js, e, message) == NGX_OK
               ? NGX_OK : NGX_DECLINED;
    }

    if (e < 0) {
        /* flat: Mistral, old vLLM; FastAPI's {"detail": "..."} */

        e = 0;

        if (ngx_http_llm_json_get(&js, 0, "message") < 0) {
            m = ngx_http_llm_json_get(&js, 0, "detail");

            if (m >= 0
                && ngx_http_llm_json_type(&js, m) == NGX_HTTP_LLM_JSON_STRING)
            {
                return ngx_http_llm_json_string(r->pool, &js, m, message)
                       == NGX_OK ? NGX_OK : NGX_DECLINED;
            }

            return NGX_DECLINED;
        }
    }

    m = ngx_http_llm_json_get(&js, e, "message");
    t = ngx_http_llm_json_get(&js, e, "type");
    c = ngx_http_llm_json_get(&js, e, "code");

    if (m < 0
        || ngx_http_llm_json_string(r->pool, &js, m, message) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (t >= 0) {
        (void) ngx_http_llm_json_string(r->pool, &js, t, type);
    }

    if (c >= 0) {
        if (ngx_http_llm_json_type(&js, c) == NGX_HTTP_LLM_JSON_STRING) {
            (void) ngx_http_llm_json_string(r->pool, &js, c, code);

        } else if (!ngx_http_llm_json_is_null(&js, c)) {
            ngx_http_llm_json_raw(&js, c, code);
        }
    }

    return NGX_OK;
}


static void
ngx_http_llm_openai_usage(ngx_http_llm_json_t *js, ngx_int_t u,
    ngx_http_llm_usage_t *usage)
{
    ngx_int_t  v, d;

    if (u < 0 || ngx_http_llm_json_type(js, u) != NGX_HTTP_LLM_JSON_OBJECT) {
        return;
    }

    v = ngx_http_llm_json_get(js, u, "prompt_tokens");

    if (ngx_http_llm_json_int(js, v, &usage->prompt) == NGX_OK) {
        usage->known = 1;
    }

    v = ngx_http_llm_json_get(js, u, "completion_tokens");
    (void) ngx_http_llm_json_int(js, v, &usage->completion);

    v = ngx_http_llm_json_get(js, u, "total_tokens");

    if (ngx_http_llm_json_int(js, v, &usage->total) != NGX_OK) {
        usage->total = usage->prompt + usage->completion;
    }

    d = ngx_http_llm_json_get(js, u, "prompt_tokens_details");
    v = ngx_http_llm_json_get(js, d, "cached_tokens");
    (void) ngx_http_llm_json_int(js, v, &usage->cached);
}
