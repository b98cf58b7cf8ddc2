
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
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_openai.h"


/*
 * The OpenAI-compatible adapter: the passthrough fast path.  The client's
 * body is forwarded as it is, but for the "model" value and, on streams,
 * "stream_options.include_usage" so that usage is always known; the
 * usage-only chunk is removed again when the client did not ask for it.
 *
 * When the client speaks another format (ctx->req, the canonical request,
 * is set), the adapter translates: it writes an OpenAI chat body from the
 * canonical request and parses the answers, whole or chunk by chunk, into
 * canonical responses and deltas for the client's surface.
 */


#define NGX_HTTP_LLM_OPENAI_MAX_TOKENS  (4 * 1024 * 1024)
#define NGX_HTTP_LLM_OPENAI_MEMBERS     32

/* a value of this type (i may be -1: not found) */
#define ngx_http_llm_openai_is(js, i, t)                                      \
    ((i) >= 0 && ngx_http_llm_json_type(js, i) == NGX_HTTP_LLM_JSON_##t)


typedef struct {
    ngx_int_t    start;
    ngx_int_t    end;
    ngx_str_t    text;
} ngx_http_llm_edit_t;


/* a tool call of a translated stream */

typedef struct {
    ngx_int_t    upstream;      /* its "index" in the provider's chunks */
    ngx_str_t    id;
} ngx_http_llm_openai_call_t;


/* translated stream state, ctx->in_state */

typedef struct {
    ngx_pool_t  *scratch;       /* one event's tokens, reset after it */
    ngx_array_t  calls;         /* ngx_http_llm_openai_call_t */
    unsigned     started:1;
    unsigned     finished:1;
    unsigned     closed:1;
    unsigned     bad_json:1;
} ngx_http_llm_openai_in_t;


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
static ngx_int_t ngx_http_llm_openai_check_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *data);
static ngx_chain_t *ngx_http_llm_memory_buf(ngx_http_request_t *r,
    u_char *p, size_t n);
static ngx_int_t ngx_http_llm_openai_strip_names(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_array_t *list);
static ngx_int_t ngx_http_llm_openai_finish_reasons(ngx_http_request_t *r,
    ngx_str_t *data, ngx_str_t *out);
static ngx_chain_t *ngx_http_llm_openai_headers(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *path, size_t blen);

static ngx_int_t ngx_http_llm_openai_translate_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_openai_max_tokens(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_array_t *list);
static ngx_uint_t ngx_http_llm_openai_dialect(
    ngx_http_llm_provider_conf_t *pc);
static void ngx_http_llm_openai_jw_id(ngx_http_llm_jw_t *jw, ngx_str_t *id,
    ngx_uint_t flags);
static void ngx_http_llm_openai_jw_text(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg, ngx_uint_t type);
static void ngx_http_llm_openai_jw_message(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg, ngx_uint_t flags);
static void ngx_http_llm_openai_jw_parts(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg);
static ngx_int_t ngx_http_llm_openai_translate_response(
    ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx, ngx_str_t *body,
    ngx_chain_t **out);
static ngx_int_t ngx_http_llm_openai_message_content(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t c, ngx_str_t *text,
    ngx_str_t *reasoning);
static ngx_int_t ngx_http_llm_openai_translate_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *data, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_http_llm_json_t *js, ngx_int_t delta, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_tool_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_http_llm_json_t *js, ngx_int_t tc, ngx_uint_t pos,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_http_llm_json_t *js, ngx_int_t e, ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_close(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_chain_t ***ll);
static ngx_int_t ngx_http_llm_openai_emit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t type, ngx_str_t *text,
    ngx_chain_t ***ll);
static void ngx_http_llm_openai_scratch_cleanup(void *data);
static ngx_int_t ngx_http_llm_openai_responses_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);


const ngx_http_llm_provider_t  ngx_http_llm_provider_openai = {
    ngx_string("openai"),
    ngx_string("/v1"),
    0,
    1,                                     /* openai_format */
    1,                                     /* embeddings */
    ngx_http_llm_openai_create_request,
    ngx_http_llm_openai_stream_event,
    ngx_http_llm_openai_response,
    ngx_http_llm_openai_error,
    NULL                                   /* check */
};


/*
 * Azure OpenAI: the same wire format and functions; only the URL (the
 * deployment, api-version) and the "api-key" header differ.
 */

const ngx_http_llm_provider_t  ngx_http_llm_provider_azure = {
    ngx_string("azure"),
    ngx_string("/openai"),
    0,
    1,                                     /* openai_format */
    1,                                     /* embeddings */
    ngx_http_llm_openai_create_request,
    ngx_http_llm_openai_stream_event,
    ngx_http_llm_openai_response,
    ngx_http_llm_openai_error,
    NULL                                   /* check */
};


static ngx_int_t
ngx_http_llm_openai_create_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    u_char                        *p, *q, *body;
    size_t                         len, blen;
    ngx_int_t                      pos;
    ngx_str_t                      path, model;
    ngx_uint_t                     i, j, n;
    ngx_array_t                    list;
    ngx_chain_t                   *cl, **ll;
    ngx_http_llm_edit_t           *edits, *e, tmp;
    ngx_http_llm_provider_conf_t  *pc;

    if (ctx->req) {
        return ngx_http_llm_openai_translate_request(r, ctx);
    }

    pc = ctx->provider;
    body = ctx->body.data;

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        ngx_str_set(&path, "/embeddings");

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES) {
        /* responses=native: the model is the only edit */
        ngx_str_set(&path, "/responses");

    } else {
        ngx_str_set(&path, "/chat/completions");
    }

    /* the edits of the body, in order of their offsets */

    if (ngx_array_init(&list, r->pool, 4, sizeof(ngx_http_llm_edit_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((pc->quirks & NGX_HTTP_LLM_Q_STRIP_NAME)
        && ctx->surface == NGX_HTTP_LLM_SURFACE_CHAT)
    {
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

    if (pc->max_tokens > 0 && ctx->surface == NGX_HTTP_LLM_SURFACE_CHAT) {
        if (ngx_http_llm_openai_max_tokens(r, ctx, &list) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ctx->inject_usage = 0;

    if (ctx->stream && !ctx->client_usage
        && ctx->surface == NGX_HTTP_LLM_SURFACE_CHAT
        && !(pc->quirks & NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS))
    {
        ctx->inject_usage = 1;

        e = ngx_array_push(&list);
        if (e == NULL) {
            return NGX_ERROR;
        }

        if (ctx->sopts_start < 0 && ctx->sopts_value_start >= 0) {
            /* "stream_options": null, or not an object: replaced */

            e->start = ctx->sopts_value_start;
            e->end = ctx->sopts_value_end;

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

    cl = ngx_http_llm_openai_headers(r, ctx, &path, blen);
    if (cl == NULL) {
        return NGX_ERROR;
    }

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


static ngx_chain_t *
ngx_http_llm_openai_headers(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *path, size_t blen)
{
    u_char                        *p;
    size_t                         len;
    ngx_buf_t                     *b;
    ngx_uint_t                     azure, classic, deployment;
    ngx_chain_t                   *cl;
    ngx_http_llm_provider_conf_t  *pc;

    pc = ctx->provider;

    /*
     * Azure: "{base}/deployments/{model}{path}?api-version={version}",
     * or the v1 endpoint "{base}/v1{path}" with "version=v1"
     */

    azure = (pc->type == &ngx_http_llm_provider_azure);
    classic = azure
              && !(pc->version.len == 2
                   && ngx_memcmp(pc->version.data, "v1", 2) == 0);

    /*
     * the classic API's Responses are not per deployment:
     * "{base}/responses?api-version=", the deployment in "model"
     */

    deployment = classic && !(ctx->req == NULL
                              && ctx->surface
                                 == NGX_HTTP_LLM_SURFACE_RESPONSES);

    len = sizeof("POST ") - 1 + pc->base.len + path->len
          + NGX_HTTP_LLM_COMMON_HEADERS_LEN(pc)
          + pc->extra_headers.len
          + sizeof(CRLF) - 1;

    if (classic) {
        len += sizeof("?api-version=") - 1 + pc->version.len;
    }

    if (deployment) {
        len += sizeof("/deployments/") - 1
               + ctx->upstream_model.len
               + 2 * ngx_escape_uri(NULL, ctx->upstream_model.data,
                                    ctx->upstream_model.len,
                                    NGX_ESCAPE_URI_COMPONENT);

    } else if (azure && !classic) {
        len += sizeof("/v1") - 1;
    }

    if (pc->key.len) {
        len += sizeof("Authorization: Bearer " CRLF) - 1 + pc->key.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;

    p = ngx_cpymem(p, "POST ", sizeof("POST ") - 1);
    p = ngx_cpymem(p, pc->base.data, pc->base.len);

    if (deployment) {
        p = ngx_cpymem(p, "/deployments/", sizeof("/deployments/") - 1);
        p = (u_char *) ngx_escape_uri(p, ctx->upstream_model.data,
                                      ctx->upstream_model.len,
                                      NGX_ESCAPE_URI_COMPONENT);

    } else if (azure && !classic) {
        p = ngx_cpymem(p, "/v1", sizeof("/v1") - 1);
    }

    p = ngx_cpymem(p, path->data, path->len);

    if (classic) {
        p = ngx_cpymem(p, "?api-version=", sizeof("?api-version=") - 1);
        p = ngx_cpymem(p, pc->version.data, pc->version.len);
    }

    p = ngx_http_llm_common_headers(p, pc, ctx->stream, blen);

    if (pc->key.len && azure) {
        p = ngx_cpymem(p, "api-key: ", sizeof("api-key: ") - 1);
        p = ngx_cpymem(p, pc->key.data, pc->key.len);
        *p++ = CR; *p++ = LF;

    } else if (pc->key.len) {
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
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * The max_tokens of the target (llm_route ... max_tokens=N), when the
 * client sent neither "max_tokens" nor "max_completion_tokens": written
 * first in the body, named as the provider wants it
 */

static ngx_int_t
ngx_http_llm_openai_max_tokens(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_array_t *list)
{
    u_char                      *body, *p, *q;
    ngx_str_t                    key;
    ngx_uint_t                   i, n;
    ngx_http_llm_edit_t         *e;
    ngx_http_llm_json_member_t   local[32], *m;

    body = ctx->body.data;
    m = local;

    if (ngx_http_llm_json_scan(body, body + ctx->body.len, m, 32, &n)
        != NGX_OK)
    {
        return NGX_OK;
    }

    if (n > 32) {
        m = ngx_palloc(r->pool, n * sizeof(ngx_http_llm_json_member_t));
        if (m == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_scan(body, body + ctx->body.len, m, n, &n)
            != NGX_OK)
        {
            return NGX_OK;
        }
    }

    for (i = 0; i < n; i++) {
        key = m[i].key;

        if (m[i].escaped
            && ngx_http_llm_json_unescape(r->pool, key.data,
                                          key.data + key.len, &key)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if ((key.len == sizeof("max_tokens") - 1
             && ngx_memcmp(key.data, "max_tokens", key.len) == 0)
            || (key.len == sizeof("max_completion_tokens") - 1
                && ngx_memcmp(key.data, "max_completion_tokens", key.len)
                   == 0))
        {
            return NGX_OK;
        }
    }

    p = ngx_strlchr(body, body + ctx->body.len, '{');

    for (q = p + 1; q < body + ctx->body.len; q++) {
        if (*q != ' ' && *q != '\t' && *q != CR && *q != LF) {
            break;
        }
    }

    e = ngx_array_push(list);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->start = p - body + 1;
    e->end = e->start;

    e->text.data = ngx_pnalloc(r->pool, sizeof("\"max_completion_tokens\":,")
                                        - 1 + NGX_INT_T_LEN);
    if (e->text.data == NULL) {
        return NGX_ERROR;
    }

    e->text.len = ngx_sprintf(e->text.data, "\"%s\":%i%s",
                              (ngx_http_llm_openai_dialect(ctx->provider)
                               & NGX_HTTP_LLM_OPENAI_MAX_COMPLETION)
                              ? "max_completion_tokens" : "max_tokens",
                              ctx->provider->max_tokens,
                              *q == '}' ? "" : ",")
                  - e->text.data;

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

    if (ngx_http_llm_request_json(r, ctx, &js) != NGX_OK) {
        return NGX_ERROR;
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

        p = ngx_http_llm_memmem(p, last, "\"finish_reason\"", 15);
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
                && ngx_memcmp(std->data, v, value.len) == 0)
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
                && ngx_memcmp(map->data, v, value.len) == 0)
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
        p = ngx_http_llm_memmem(p, last, "\"usage\"", 7);

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


/*
 * A passthrough event goes to the client as it came, once checked: one
 * JSON object (else the stream ends with an error event, NGX_ERROR), and
 * not an in-band error ({"error":{...}}: passed on as the stream's last
 * event, logged once; NGX_DONE)
 */

static ngx_int_t
ngx_http_llm_openai_check_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *data)
{
    ngx_int_t  rc;
    ngx_str_t  message, type, code;

    rc = ngx_http_llm_json_error_object(data->data, data->len);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm provider \"%V\" sent an event that is not "
                      "a JSON object", &ctx->provider->name);
        return NGX_ERROR;
    }

    ngx_str_null(&message);

    if (ngx_http_llm_openai_error(r, ctx, data, &message, &type, &code)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm provider \"%V\" sent an error in the stream: \"%V\"",
                  &ctx->provider->name, &message);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_llm_openai_stream_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t            rc, u, ch, empty;
    ngx_str_t            mapped;
    ngx_http_llm_json_t  js;

    if (ctx->req) {
        return ngx_http_llm_openai_translate_event(r, ctx, data, ll);
    }

    if (data == NULL) {
        /* the end of the upstream body: nothing to add */
        return NGX_OK;
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES) {
        return ngx_http_llm_openai_responses_event(r, ctx, name, data, ll);
    }

    if (data->len == 6 && ngx_memcmp(data->data, "[DONE]", 6) == 0) {
        ctx->done = 1;
        return ngx_http_llm_emit_event(r, NULL, data->data, data->len, ll);
    }

    if (data->len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_llm_openai_check_event(r, ctx, data);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        /* the last event: the rest of the stream is not passed on */
        ctx->stream_failed = 1;
        return ngx_http_llm_emit_event(r, NULL, data->data, data->len, ll);
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


/*
 * A Responses stream passed through (responses=native): every event as
 * it came, its name kept; the usage of the final event (response.
 * completed, .incomplete or .failed: {"response":{"usage":{...}}}) is
 * read for the accounting.  After a final event the stream is complete:
 * a failure then adds no error event.
 */

static ngx_int_t
ngx_http_llm_openai_responses_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll)
{
    ngx_int_t            rc, resp;
    ngx_str_t            fin;
    ngx_http_llm_json_t  js;

    if (data->len == 0) {
        return NGX_OK;
    }

    if (ngx_http_llm_openai_has_usage(data)) {

        rc = ngx_http_llm_json_parse(r->pool, &js, data->data, data->len,
                                     NGX_HTTP_LLM_OPENAI_MAX_TOKENS);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK
            && ngx_http_llm_json_type(&js, 0) == NGX_HTTP_LLM_JSON_OBJECT)
        {
            resp = ngx_http_llm_json_get(&js, 0, "response");

            ngx_http_llm_openai_usage(&js,
                                      ngx_http_llm_json_get(&js, resp,
                                                            "usage"),
                                      &ctx->usage);

            ngx_pfree(r->pool, js.toks);
        }
    }

    if (name->len > sizeof("response.") - 1
        && ngx_memcmp(name->data, "response.", sizeof("response.") - 1)
           == 0)
    {
        fin.data = name->data + sizeof("response.") - 1;
        fin.len = name->len - (sizeof("response.") - 1);

        if ((fin.len == 9 && ngx_memcmp(fin.data, "completed", 9) == 0)
            || (fin.len == 10 && ngx_memcmp(fin.data, "incomplete", 10) == 0)
            || (fin.len == 6 && ngx_memcmp(fin.data, "failed", 6) == 0))
        {
            ctx->done = 1;
        }
    }

    return ngx_http_llm_emit_event(r, name, data->data, data->len, ll);
}


static ngx_int_t
ngx_http_llm_openai_response(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body, ngx_chain_t **out)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_str_t                    mapped;
    ngx_uint_t                   i, n;
    ngx_http_llm_json_t          js;
    ngx_http_llm_json_member_t   m[NGX_HTTP_LLM_OPENAI_MEMBERS];

    if (ctx->req) {
        return ngx_http_llm_openai_translate_response(r, ctx, body, out);
    }

    /*
     * the answer is checked whole by the scanner; only its "usage"
     * object is tokenized
     */

    for (p = body->data; p < body->data + body->len; p++) {
        if (*p != ' ' && *p != '\t' && *p != CR && *p != LF) {
            break;
        }
    }

    if (p == body->data + body->len || *p != '{'
        || ngx_http_llm_json_scan(body->data, body->data + body->len, m,
                                  NGX_HTTP_LLM_OPENAI_MEMBERS, &n)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < ngx_min(n, NGX_HTTP_LLM_OPENAI_MEMBERS); i++) {

        /* {"error":{...}} with a 200: not an answer */

        if (m[i].key.len == sizeof("error") - 1
            && ngx_memcmp(m[i].key.data, "error", m[i].key.len) == 0
            && (m[i].type == NGX_HTTP_LLM_JSON_OBJECT
                || m[i].type == NGX_HTTP_LLM_JSON_STRING))
        {
            return NGX_DECLINED;
        }

        if (m[i].type != NGX_HTTP_LLM_JSON_OBJECT
            || m[i].key.len != sizeof("usage") - 1
            || ngx_memcmp(m[i].key.data, "usage", m[i].key.len) != 0)
        {
            continue;
        }

        rc = ngx_http_llm_json_parse(r->pool, &js, m[i].start,
                                     m[i].end - m[i].start, 4096);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ngx_http_llm_openai_usage(&js, 0, &ctx->usage);
            ngx_pfree(r->pool, js.toks);
        }
    }

    rc = (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES)
         ? NGX_DECLINED
         : ngx_http_llm_openai_finish_reasons(r, body, &mapped);

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

    if (v < 0) {
        /* the Responses API's names (a passed-through response) */

        v = ngx_http_llm_json_get(js, u, "input_tokens");

        if (ngx_http_llm_json_int(js, v, &usage->prompt) == NGX_OK) {
            usage->known = 1;
        }

        v = ngx_http_llm_json_get(js, u, "output_tokens");
        (void) ngx_http_llm_json_int(js, v, &usage->completion);

        v = ngx_http_llm_json_get(js, u, "total_tokens");

        if (ngx_http_llm_json_int(js, v, &usage->total) != NGX_OK) {
            usage->total = usage->prompt + usage->completion;
        }

        d = ngx_http_llm_json_get(js, u, "input_tokens_details");
        v = ngx_http_llm_json_get(js, d, "cached_tokens");
        (void) ngx_http_llm_json_int(js, v, &usage->cached);

        return;
    }

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


/* translation: the canonical request as an OpenAI chat body -------------- */


static ngx_int_t
ngx_http_llm_openai_translate_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t     max, rc;
    ngx_str_t     path, body;
    ngx_chain_t  *cl;

    /* the target's default (llm_route ... max_tokens=N), for this body */

    max = ctx->req->max_tokens;

    if (max == -1 && ctx->provider->max_tokens > 0) {
        ctx->req->max_tokens = ctx->provider->max_tokens;
    }

    rc = ngx_http_llm_openai_write_body(r->pool, ctx->req,
                                        &ctx->upstream_model,
                                        ngx_http_llm_openai_dialect(
                                                             ctx->provider),
                                        &body);

    ctx->req->max_tokens = max;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&path, "/chat/completions");

    cl = ngx_http_llm_openai_headers(r, ctx, &path, body.len);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    r->upstream->request_bufs = cl;

    cl->next = ngx_http_llm_memory_buf(r, body.data, body.len);
    if (cl->next == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm openai request: %V%V, %uz body bytes, "
                   "translated", &ctx->provider->base, &path, body.len);

    return NGX_OK;
}


/*
 * What the OpenAI-compatible providers take differs a little: OpenAI
 * itself rejects "max_tokens" on reasoning models and unknown message
 * fields; DeepSeek wants "reasoning_content" back; Mistral takes no
 * "stream_options" and only 9-character tool call ids; Groq no "name".
 */

static ngx_uint_t
ngx_http_llm_openai_dialect(ngx_http_llm_provider_conf_t *pc)
{
    ngx_str_t   *h;
    ngx_uint_t   flags;

    h = &pc->host;

    flags = 0;

    if (pc->type == &ngx_http_llm_provider_azure
        || (h->len == sizeof("api.openai.com") - 1
            && ngx_strncasecmp(h->data, (u_char *) "api.openai.com", h->len)
               == 0)
        || (h->len > sizeof(".openai.azure.com") - 1
            && ngx_strncasecmp(h->data + h->len
                               - (sizeof(".openai.azure.com") - 1),
                               (u_char *) ".openai.azure.com",
                               sizeof(".openai.azure.com") - 1)
               == 0))
    {
        flags |= NGX_HTTP_LLM_OPENAI_MAX_COMPLETION;

    } else if (!(pc->quirks & (NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS
                               |NGX_HTTP_LLM_Q_STRIP_NAME)))
    {
        flags |= NGX_HTTP_LLM_OPENAI_REASONING;
    }

    /* the Mistral preset is the one without stream_options */

    if (pc->quirks & NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS) {
        flags |= NGX_HTTP_LLM_OPENAI_SHORT_IDS;

    } else {
        flags |= NGX_HTTP_LLM_OPENAI_STREAM_USAGE;
    }

    if (pc->quirks & NGX_HTTP_LLM_Q_STRIP_NAME) {
        flags |= NGX_HTTP_LLM_OPENAI_NO_NAMES;
    }

    return flags;
}


ngx_int_t
ngx_http_llm_openai_write_body(ngx_pool_t *pool, ngx_http_llm_request_t *req,
    ngx_str_t *model, ngx_uint_t flags, ngx_str_t *body)
{
    size_t                   size;
    ngx_str_t               *stop;
    ngx_uint_t               i, j;
    ngx_http_llm_jw_t        jw;
    ngx_http_llm_tool_t     *tool;
    ngx_http_llm_part_t     *part;
    ngx_http_llm_message_t  *msg;

    /* a first guess of the size: the strings it is made of */

    size = 1024;
    msg = req->messages.elts;

    for (i = 0; i < req->messages.nelts; i++) {
        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {
            size += 64 + part[j].text.len + part[j].data.len
                    + part[j].url.len;
        }

        size += 64 + 128 * msg[i].tool_calls.nelts;
    }

    tool = req->tools.elts;

    for (i = 0; i < req->tools.nelts; i++) {
        size += 64 + tool[i].name.len + tool[i].description.len
                + tool[i].parameters.len;
    }

    if (ngx_http_llm_jw_init(&jw, pool, size) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llm_jw_lit(&jw, "{\"model\":");
    ngx_http_llm_jw_string(&jw, model);
    ngx_http_llm_jw_lit(&jw, ",\"messages\":[");

    for (i = 0; i < req->messages.nelts; i++) {
        if (i) {
            ngx_http_llm_jw_lit(&jw, ",");
        }

        ngx_http_llm_openai_jw_message(&jw, &msg[i], flags);
    }

    ngx_http_llm_jw_lit(&jw, "]");

    if (req->tools.nelts) {
        ngx_http_llm_jw_lit(&jw, ",\"tools\":[");

        for (i = 0; i < req->tools.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(&jw, ",");
            }

            ngx_http_llm_jw_lit(&jw, "{\"type\":\"function\",\"function\":"
                                     "{\"name\":");
            ngx_http_llm_jw_string(&jw, &tool[i].name);

            if (tool[i].description.len) {
                ngx_http_llm_jw_lit(&jw, ",\"description\":");
                ngx_http_llm_jw_string(&jw, &tool[i].description);
            }

            ngx_http_llm_jw_lit(&jw, ",\"parameters\":");

            if (tool[i].parameters.len) {
                ngx_http_llm_jw_raw(&jw, tool[i].parameters.data,
                                    tool[i].parameters.len);

            } else {
                ngx_http_llm_jw_lit(&jw, "{\"type\":\"object\","
                                         "\"properties\":{}}");
            }

            ngx_http_llm_jw_lit(&jw, "}}");
        }

        ngx_http_llm_jw_lit(&jw, "]");

        /* both are errors for OpenAI without tools */

        switch (req->tool_choice) {

        case NGX_HTTP_LLM_TOOL_CHOICE_AUTO:
            ngx_http_llm_jw_lit(&jw, ",\"tool_choice\":\"auto\"");
            break;

        case NGX_HTTP_LLM_TOOL_CHOICE_NONE:
            ngx_http_llm_jw_lit(&jw, ",\"tool_choice\":\"none\"");
            break;

        case NGX_HTTP_LLM_TOOL_CHOICE_ANY:
            ngx_http_llm_jw_lit(&jw, ",\"tool_choice\":\"required\"");
            break;

        case NGX_HTTP_LLM_TOOL_CHOICE_NAMED:
            ngx_http_llm_jw_lit(&jw, ",\"tool_choice\":{\"type\":\"function\","
                                     "\"function\":{\"name\":");
            ngx_http_llm_jw_string(&jw, &req->tool_choice_name);
            ngx_http_llm_jw_lit(&jw, "}}");
            break;
        }

        if (req->parallel_tool_calls != -1) {
            if (req->parallel_tool_calls) {
                ngx_http_llm_jw_lit(&jw, ",\"parallel_tool_calls\":true");

            } else {
                ngx_http_llm_jw_lit(&jw, ",\"parallel_tool_calls\":false");
            }
        }
    }

    if (req->max_tokens != -1) {
        if (flags & NGX_HTTP_LLM_OPENAI_MAX_COMPLETION) {
            ngx_http_llm_jw_lit(&jw, ",\"max_completion_tokens\":");

        } else {
            ngx_http_llm_jw_lit(&jw, ",\"max_tokens\":");
        }

        ngx_http_llm_jw_int(&jw, req->max_tokens);
    }

#define ngx_http_llm_number(name, v)                                          \
    if ((v).len) {                                                            \
        ngx_http_llm_jw_lit(&jw, ",\"" name "\":");                           \
        ngx_http_llm_jw_raw(&jw, (v).data, (v).len);                          \
    }

    ngx_http_llm_number("temperature", req->temperature);
    ngx_http_llm_number("top_p", req->top_p);
    ngx_http_llm_number("seed", req->seed);
    ngx_http_llm_number("presence_penalty", req->presence_penalty);
    ngx_http_llm_number("frequency_penalty", req->frequency_penalty);

#undef ngx_http_llm_number

    /* "top_k" is not OpenAI's: OpenAI and Mistral reject it */

    if (req->n != -1) {
        ngx_http_llm_jw_lit(&jw, ",\"n\":");
        ngx_http_llm_jw_int(&jw, req->n);
    }

    if (req->stop.nelts) {
        stop = req->stop.elts;

        ngx_http_llm_jw_lit(&jw, ",\"stop\":[");

        for (i = 0; i < req->stop.nelts; i++) {
            if (i) {
                ngx_http_llm_jw_lit(&jw, ",");
            }

            ngx_http_llm_jw_string(&jw, &stop[i]);
        }

        ngx_http_llm_jw_lit(&jw, "]");
    }

    switch (req->format) {

    case NGX_HTTP_LLM_FORMAT_JSON:
        ngx_http_llm_jw_lit(&jw, ",\"response_format\":"
                                 "{\"type\":\"json_object\"}");
        break;

    case NGX_HTTP_LLM_FORMAT_SCHEMA:
        ngx_http_llm_jw_lit(&jw, ",\"response_format\":{\"type\":"
                                 "\"json_schema\",\"json_schema\":"
                                 "{\"name\":");

        if (req->schema_name.len) {
            ngx_http_llm_jw_string(&jw, &req->schema_name);

        } else {
            ngx_http_llm_jw_lit(&jw, "\"response\"");
        }

        if (req->schema.len) {
            ngx_http_llm_jw_lit(&jw, ",\"schema\":");
            ngx_http_llm_jw_raw(&jw, req->schema.data, req->schema.len);
        }

        if (req->schema_strict != -1) {
            if (req->schema_strict) {
                ngx_http_llm_jw_lit(&jw, ",\"strict\":true");

            } else {
                ngx_http_llm_jw_lit(&jw, ",\"strict\":false");
            }
        }

        ngx_http_llm_jw_lit(&jw, "}}");
        break;
    }

    if (req->reasoning_effort.len) {
        ngx_http_llm_jw_lit(&jw, ",\"reasoning_effort\":");
        ngx_http_llm_jw_string(&jw, &req->reasoning_effort);
    }

    if (req->user.len) {
        ngx_http_llm_jw_lit(&jw, ",\"user\":");
        ngx_http_llm_jw_string(&jw, &req->user);
    }

    if (req->stream) {
        ngx_http_llm_jw_lit(&jw, ",\"stream\":true");

        /* usage is always asked for: it is the client's to see */

        if (flags & NGX_HTTP_LLM_OPENAI_STREAM_USAGE) {
            ngx_http_llm_jw_lit(&jw, ",\"stream_options\":"
                                     "{\"include_usage\":true}");
        }
    }

    ngx_http_llm_jw_lit(&jw, "}");

    if (jw.failed) {
        return NGX_ERROR;
    }

    body->data = jw.start;
    body->len = jw.pos - jw.start;

    return NGX_OK;
}


static void
ngx_http_llm_openai_jw_message(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg, ngx_uint_t flags)
{
    ngx_uint_t                 i, text, other, thinking;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_tool_call_t  *tc;

    text = 0;
    other = 0;
    thinking = 0;

    part = msg->parts.elts;

    for (i = 0; i < msg->parts.nelts; i++) {
        switch (part[i].type) {

        case NGX_HTTP_LLM_PART_TEXT:
            text++;
            break;

        case NGX_HTTP_LLM_PART_THINKING:
            if (part[i].text.len) {
                thinking++;
            }

            break;

        case NGX_HTTP_LLM_PART_REDACTED:
            break;

        default:
            other++;
        }
    }

    switch (msg->role) {

    case NGX_HTTP_LLM_ROLE_SYSTEM:
        ngx_http_llm_jw_lit(jw, "{\"role\":\"system\",\"content\":");
        ngx_http_llm_openai_jw_text(jw, msg, NGX_HTTP_LLM_PART_TEXT);
        break;

    case NGX_HTTP_LLM_ROLE_USER:
        ngx_http_llm_jw_lit(jw, "{\"role\":\"user\",\"content\":");

        if (other) {
            ngx_http_llm_openai_jw_parts(jw, msg);

        } else {
            ngx_http_llm_openai_jw_text(jw, msg, NGX_HTTP_LLM_PART_TEXT);
        }

        break;

    case NGX_HTTP_LLM_ROLE_ASSISTANT:
        ngx_http_llm_jw_lit(jw, "{\"role\":\"assistant\",\"content\":");

        if (text || msg->tool_calls.nelts == 0) {
            ngx_http_llm_openai_jw_text(jw, msg, NGX_HTTP_LLM_PART_TEXT);

        } else {
            ngx_http_llm_jw_lit(jw, "null");
        }

        if (thinking && (flags & NGX_HTTP_LLM_OPENAI_REASONING)) {
            ngx_http_llm_jw_lit(jw, ",\"reasoning_content\":");
            ngx_http_llm_openai_jw_text(jw, msg, NGX_HTTP_LLM_PART_THINKING);
        }

        if (msg->tool_calls.nelts) {
            tc = msg->tool_calls.elts;

            ngx_http_llm_jw_lit(jw, ",\"tool_calls\":[");

            for (i = 0; i < msg->tool_calls.nelts; i++) {
                if (i) {
                    ngx_http_llm_jw_lit(jw, ",");
                }

                ngx_http_llm_jw_lit(jw, "{\"id\":");
                ngx_http_llm_openai_jw_id(jw, &tc[i].id, flags);
                ngx_http_llm_jw_lit(jw, ",\"type\":\"function\","
                                        "\"function\":{\"name\":");
                ngx_http_llm_jw_string(jw, &tc[i].name);
                ngx_http_llm_jw_lit(jw, ",\"arguments\":");

                if (tc[i].arguments.len) {
                    ngx_http_llm_jw_string(jw, &tc[i].arguments);

                } else {
                    ngx_http_llm_jw_lit(jw, "\"{}\"");
                }

                ngx_http_llm_jw_lit(jw, "}}");
            }

            ngx_http_llm_jw_lit(jw, "]");
        }

        break;

    default: /* NGX_HTTP_LLM_ROLE_TOOL */

        /* images in a tool result have no place in OpenAI's format */

        ngx_http_llm_jw_lit(jw, "{\"role\":\"tool\",\"tool_call_id\":");
        ngx_http_llm_openai_jw_id(jw, &msg->tool_call_id, flags);
        ngx_http_llm_jw_lit(jw, ",\"content\":");
        ngx_http_llm_openai_jw_text(jw, msg, NGX_HTTP_LLM_PART_TEXT);
        ngx_http_llm_jw_lit(jw, "}");
        return;
    }

    if (msg->name.len && !(flags & NGX_HTTP_LLM_OPENAI_NO_NAMES)) {
        ngx_http_llm_jw_lit(jw, ",\"name\":");
        ngx_http_llm_jw_string(jw, &msg->name);
    }

    ngx_http_llm_jw_lit(jw, "}");
}


/*
 * The parts of one type as one string, joined with new lines: every
 * OpenAI-compatible provider takes a string, not all take text parts.
 */

static void
ngx_http_llm_openai_jw_text(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg, ngx_uint_t type)
{
    ngx_uint_t            i, n;
    ngx_http_llm_part_t  *part;

    part = msg->parts.elts;

    ngx_http_llm_jw_lit(jw, "\"");

    for (i = 0, n = 0; i < msg->parts.nelts; i++) {
        if (part[i].type != type
            || (type == NGX_HTTP_LLM_PART_THINKING && part[i].text.len == 0))
        {
            continue;
        }

        if (n++) {
            ngx_http_llm_jw_lit(jw, "\\n");
        }

        ngx_http_llm_jw_esc(jw, part[i].text.data, part[i].text.len);
    }

    ngx_http_llm_jw_lit(jw, "\"");
}


static void
ngx_http_llm_openai_jw_parts(ngx_http_llm_jw_t *jw,
    ngx_http_llm_message_t *msg)
{
    u_char               *p, *last;
    ngx_str_t             format;
    ngx_uint_t            i, n;
    ngx_http_llm_part_t  *part;

    part = msg->parts.elts;

    ngx_http_llm_jw_lit(jw, "[");

    for (i = 0, n = 0; i < msg->parts.nelts; i++) {

        switch (part[i].type) {

        case NGX_HTTP_LLM_PART_TEXT:
        case NGX_HTTP_LLM_PART_IMAGE:
        case NGX_HTTP_LLM_PART_AUDIO:
            break;

        case NGX_HTTP_LLM_PART_FILE:
            if (part[i].data.len) {
                break;
            }

            /* a document by URL: OpenAI has no such thing */
            continue;

        default:
            continue;
        }

        if (n++) {
            ngx_http_llm_jw_lit(jw, ",");
        }

        switch (part[i].type) {

        case NGX_HTTP_LLM_PART_TEXT:
            ngx_http_llm_jw_lit(jw, "{\"type\":\"text\",\"text\":");
            ngx_http_llm_jw_string(jw, &part[i].text);
            ngx_http_llm_jw_lit(jw, "}");
            break;

        case NGX_HTTP_LLM_PART_IMAGE:
            ngx_http_llm_jw_lit(jw, "{\"type\":\"image_url\",\"image_url\":"
                                    "{\"url\":\"");

            if (part[i].data.len) {
                ngx_http_llm_jw_lit(jw, "data:");
                ngx_http_llm_jw_esc(jw, part[i].media_type.data,
                                    part[i].media_type.len);
                ngx_http_llm_jw_lit(jw, ";base64,");
                ngx_http_llm_jw_esc(jw, part[i].data.data,
                                    part[i].data.len);

            } else {
                ngx_http_llm_jw_esc(jw, part[i].url.data,
                                    part[i].url.len);
            }

            ngx_http_llm_jw_lit(jw, "\"}}");
            break;

        case NGX_HTTP_LLM_PART_AUDIO:

            /* "audio/wav" -> "wav", "audio/mpeg" -> "mp3" */

            format = part[i].media_type;
            last = format.data + format.len;
            p = ngx_strlchr(format.data, last, '/');

            if (p) {
                format.data = p + 1;
                format.len = last - p - 1;
            }

            if (format.len == 4 && ngx_memcmp(format.data, "mpeg", 4) == 0)
            {
                ngx_str_set(&format, "mp3");

            } else if (format.len == 5
                       && ngx_memcmp(format.data, "x-wav", 5) == 0)
            {
                ngx_str_set(&format, "wav");
            }

            ngx_http_llm_jw_lit(jw, "{\"type\":\"input_audio\","
                                    "\"input_audio\":{\"data\":");
            ngx_http_llm_jw_string(jw, &part[i].data);
            ngx_http_llm_jw_lit(jw, ",\"format\":");
            ngx_http_llm_jw_string(jw, &format);
            ngx_http_llm_jw_lit(jw, "}}");
            break;

        default: /* NGX_HTTP_LLM_PART_FILE */
            ngx_http_llm_jw_lit(jw, "{\"type\":\"file\",\"file\":"
                                    "{\"filename\":");

            if (part[i].name.len) {
                ngx_http_llm_jw_string(jw, &part[i].name);

            } else if (part[i].media_type.len == sizeof("application/pdf") - 1
                       && ngx_strncasecmp(part[i].media_type.data,
                                          (u_char *) "application/pdf",
                                          part[i].media_type.len)
                          == 0)
            {
                ngx_http_llm_jw_lit(jw, "\"document.pdf\"");

            } else {
                ngx_http_llm_jw_lit(jw, "\"document\"");
            }

            ngx_http_llm_jw_lit(jw, ",\"file_data\":\"data:");
            ngx_http_llm_jw_esc(jw, part[i].media_type.data,
                                part[i].media_type.len);
            ngx_http_llm_jw_lit(jw, ";base64,");
            ngx_http_llm_jw_esc(jw, part[i].data.data,
                                part[i].data.len);
            ngx_http_llm_jw_lit(jw, "\"}}");
            break;
        }
    }

    ngx_http_llm_jw_lit(jw, "]");
}


/*
 * A tool call id; for Mistral, which takes only 9 letters and digits,
 * other ids become 9 characters of their FNV-1a hash, the same in the
 * assistant's call and in the tool's result.
 */

static void
ngx_http_llm_openai_jw_id(ngx_http_llm_jw_t *jw, ngx_str_t *id,
    ngx_uint_t flags)
{
    u_char      c, buf[9];
    uint64_t    h;
    ngx_uint_t  i, ok;

    static u_char  alnum[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    if (!(flags & NGX_HTTP_LLM_OPENAI_SHORT_IDS)) {
        ngx_http_llm_jw_string(jw, id);
        return;
    }

    ok = (id->len == 9);

    for (i = 0; ok && i < id->len; i++) {
        c = id->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')))
        {
            ok = 0;
        }
    }

    if (ok) {
        ngx_http_llm_jw_string(jw, id);
        return;
    }

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < id->len; i++) {
        h ^= id->data[i];
        h *= 0x100000001b3ULL;
    }

    for (i = 0; i < 9; i++) {
        buf[i] = alnum[h % (sizeof(alnum) - 1)];
        h /= sizeof(alnum) - 1;
    }

    ngx_http_llm_jw_lit(jw, "\"");
    ngx_http_llm_jw_raw(jw, buf, 9);
    ngx_http_llm_jw_lit(jw, "\"");
}


/* translation: a chat.completion into the canonical response ------------ */


ngx_uint_t
ngx_http_llm_openai_finish(ngx_str_t *reason)
{
    ngx_uint_t  i;

    static struct {
        ngx_str_t   name;
        ngx_uint_t  finish;
    } map[] = {
        { ngx_string("stop"), NGX_HTTP_LLM_FINISH_STOP },
        { ngx_string("length"), NGX_HTTP_LLM_FINISH_LENGTH },
        { ngx_string("tool_calls"), NGX_HTTP_LLM_FINISH_TOOL_CALLS },
        { ngx_string("content_filter"), NGX_HTTP_LLM_FINISH_FILTER },
        { ngx_string("function_call"), NGX_HTTP_LLM_FINISH_TOOL_CALLS },
        { ngx_string("model_length"), NGX_HTTP_LLM_FINISH_LENGTH },
        { ngx_string("max_tokens"), NGX_HTTP_LLM_FINISH_LENGTH },
        { ngx_string("tool_use"), NGX_HTTP_LLM_FINISH_TOOL_CALLS },
        { ngx_string("null"), NGX_HTTP_LLM_FINISH_NONE },
        { ngx_null_string, 0 }
    };

    if (reason->len == 0) {
        return NGX_HTTP_LLM_FINISH_NONE;
    }

    for (i = 0; map[i].name.len; i++) {
        if (map[i].name.len == reason->len
            && ngx_memcmp(map[i].name.data, reason->data, reason->len) == 0)
        {
            return map[i].finish;
        }
    }

    /* "eos", "error", "insufficient_system_resource", ... */

    return NGX_HTTP_LLM_FINISH_STOP;
}


static ngx_int_t
ngx_http_llm_openai_translate_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out)
{
    ngx_int_t                rc;
    ngx_http_llm_response_t  resp;

    rc = ngx_http_llm_openai_parse_response(r->pool, body, &resp);

    if (rc != NGX_OK) {
        return rc;
    }

    if (resp.usage.known) {
        ctx->usage = resp.usage;
    }

    return ngx_http_llm_emit_response(r, ctx, &resp, out);
}


ngx_int_t
ngx_http_llm_openai_parse_response(ngx_pool_t *pool, ngx_str_t *body,
    ngx_http_llm_response_t *resp)
{
    ngx_int_t                  rc, v, ch, c, m, tcs, t, f, n;
    ngx_str_t                  s;
    ngx_http_llm_json_t        js;
    ngx_http_llm_tool_call_t  *tc;

    ngx_memzero(resp, sizeof(ngx_http_llm_response_t));

    rc = ngx_http_llm_json_parse(pool, &js, body->data, body->len,
                                 NGX_HTTP_LLM_OPENAI_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        return NGX_DECLINED;
    }

    if (ngx_array_init(&resp->tool_calls, pool, 1,
                       sizeof(ngx_http_llm_tool_call_t))
        != NGX_OK
        || ngx_array_init(&resp->thinking, pool, 1,
                          sizeof(ngx_http_llm_part_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(&js, 0, "id");

    if (ngx_http_llm_json_string(pool, &js, v, &resp->id) == NGX_ERROR) {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(&js, 0, "model");

    if (ngx_http_llm_json_string(pool, &js, v, &resp->model) == NGX_ERROR) {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(&js, 0, "created");

    if (ngx_http_llm_json_int(&js, v, &n) == NGX_OK) {
        resp->created = (time_t) n;
    }

    v = ngx_http_llm_json_get(&js, 0, "usage");
    ngx_http_llm_openai_usage(&js, v, &resp->usage);

    /* the first choice: translated clients ask for one */

    ch = ngx_http_llm_json_get(&js, 0, "choices");

    if (ch < 0 || ngx_http_llm_json_type(&js, ch) != NGX_HTTP_LLM_JSON_ARRAY)
    {
        return NGX_DECLINED;
    }

    c = ngx_http_llm_json_index(&js, ch, 0);

    if (c < 0) {
        /* no choice at all: filtered (Azure) */
        resp->finish = NGX_HTTP_LLM_FINISH_FILTER;
        return NGX_OK;
    }

    v = ngx_http_llm_json_get(&js, c, "finish_reason");

    if (ngx_http_llm_openai_is(&js, v, STRING)) {
        ngx_http_llm_json_raw(&js, v, &s);
        resp->finish = ngx_http_llm_openai_finish(&s);
    }

    m = ngx_http_llm_json_get(&js, c, "message");

    if (m < 0 || ngx_http_llm_json_type(&js, m) != NGX_HTTP_LLM_JSON_OBJECT) {
        return NGX_OK;
    }

    rc = ngx_http_llm_openai_message_content(pool, &js,
                                       ngx_http_llm_json_get(&js, m, "content"),
                                       &resp->text, &resp->reasoning);
    if (rc != NGX_OK) {
        return rc;
    }

    v = ngx_http_llm_json_get(&js, m, "reasoning_content");

    if (v < 0 || ngx_http_llm_json_is_null(&js, v)) {
        v = ngx_http_llm_json_get(&js, m, "reasoning");
    }

    if (resp->reasoning.len == 0
        && ngx_http_llm_json_string(pool, &js, v, &resp->reasoning)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(&js, m, "refusal");

    if (ngx_http_llm_json_string(pool, &js, v, &resp->refusal) == NGX_ERROR) {
        return NGX_ERROR;
    }

    tcs = ngx_http_llm_json_get(&js, m, "tool_calls");

    for (n = 0; ; n++) {
        t = ngx_http_llm_json_index(&js, tcs, n);
        if (t < 0) {
            break;
        }

        f = ngx_http_llm_json_get(&js, t, "function");

        if (f < 0) {
            continue;
        }

        tc = ngx_array_push(&resp->tool_calls);
        if (tc == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(tc, sizeof(ngx_http_llm_tool_call_t));

        v = ngx_http_llm_json_get(&js, t, "id");

        if (ngx_http_llm_json_string(pool, &js, v, &tc->id) == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* Gemini's OpenAI endpoint sends "" */

        if (tc->id.len == 0
            && ngx_http_llm_openai_make_id(pool, "call_", &tc->id) != NGX_OK)
        {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(&js, f, "name");

        if (ngx_http_llm_json_string(pool, &js, v, &tc->name) == NGX_ERROR) {
            return NGX_ERROR;
        }

        v = ngx_http_llm_json_get(&js, f, "arguments");

        if (ngx_http_llm_openai_is(&js, v, OBJECT)) {
            /* an object instead of a string (some local servers) */
            ngx_http_llm_json_raw(&js, v, &tc->arguments);

        } else if (ngx_http_llm_json_string(pool, &js, v, &tc->arguments)
                   == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (tc->arguments.len == 0) {
            ngx_str_set(&tc->arguments, "{}");
        }
    }

    if (resp->tool_calls.nelts && resp->finish == NGX_HTTP_LLM_FINISH_STOP) {
        resp->finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
    }

    return NGX_OK;
}


/*
 * "content": a string, or (Mistral's Magistral) an array of text and
 * thinking chunks, {"type":"thinking","thinking":[{"type":"text",...}]}.
 * The text is appended to "text", the thinking to "reasoning".
 */

static ngx_int_t
ngx_http_llm_openai_message_content(ngx_pool_t *pool,
    ngx_http_llm_json_t *js, ngx_int_t c, ngx_str_t *text,
    ngx_str_t *reasoning)
{
    u_char     *p;
    ngx_int_t   i, k, e, t, x, pass;
    ngx_str_t   s, type, *to;
    size_t      tlen, rlen;

    if (c < 0 || ngx_http_llm_json_is_null(js, c)) {
        return NGX_OK;
    }

    if (ngx_http_llm_json_type(js, c) == NGX_HTTP_LLM_JSON_STRING) {
        return ngx_http_llm_json_string(pool, js, c, text) == NGX_ERROR
               ? NGX_ERROR : NGX_OK;
    }

    if (ngx_http_llm_json_type(js, c) != NGX_HTTP_LLM_JSON_ARRAY) {
        return NGX_OK;
    }

    /* measure, then copy */

    tlen = 0;
    rlen = 0;

    for (pass = 0; pass < 2; pass++) {

        if (pass == 1) {
            p = ngx_pnalloc(pool, tlen + rlen + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            text->data = p;
            text->len = 0;
            reasoning->data = p + tlen;
            reasoning->len = 0;
        }

        for (i = 0; ; i++) {
            e = ngx_http_llm_json_index(js, c, i);
            if (e < 0) {
                break;
            }

            t = ngx_http_llm_json_get(js, e, "type");

            if (!ngx_http_llm_openai_is(js, t, STRING)) {
                continue;
            }

            ngx_http_llm_json_raw(js, t, &type);

            if (type.len == 4 && ngx_memcmp(type.data, "text", 4) == 0) {
                x = ngx_http_llm_json_get(js, e, "text");
                to = text;

                if (ngx_http_llm_json_string(pool, js, x, &s) != NGX_OK) {
                    continue;
                }

                if (pass == 0) {
                    tlen += s.len;

                } else {
                    ngx_memcpy(to->data + to->len, s.data, s.len);
                    to->len += s.len;
                }

                continue;
            }

            if (type.len != 8 || ngx_memcmp(type.data, "thinking", 8) != 0) {
                continue;
            }

            x = ngx_http_llm_json_get(js, e, "thinking");

            for (k = 0; ; k++) {
                t = ngx_http_llm_json_index(js, x, k);
                if (t < 0) {
                    break;
                }

                t = ngx_http_llm_json_get(js, t, "text");

                if (ngx_http_llm_json_string(pool, js, t, &s) != NGX_OK) {
                    continue;
                }

                if (pass == 0) {
                    rlen += s.len;

                } else {
                    ngx_memcpy(reasoning->data + reasoning->len, s.data,
                               s.len);
                    reasoning->len += s.len;
                }
            }
        }
    }

    return NGX_OK;
}


/* translation: chat.completion.chunk events into canonical deltas ------- */


static ngx_int_t
ngx_http_llm_openai_translate_event(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *data, ngx_chain_t ***ll)
{
    ngx_int_t                  rc, v, ch, c, i;
    ngx_str_t                  s;
    ngx_uint_t                 finish;
    ngx_http_llm_json_t        js;
    ngx_http_llm_delta_t       d;
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_openai_in_t  *st;

    st = ctx->in_state;

    if (st == NULL) {
        st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_openai_in_t));
        if (st == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&st->calls, r->pool, 2,
                           sizeof(ngx_http_llm_openai_call_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        st->scratch = ngx_create_pool(4096, r->connection->log);
        if (st->scratch == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llm_openai_scratch_cleanup;
        cln->data = st->scratch;

        ctx->in_state = st;
    }

    if (st->closed) {
        return NGX_OK;
    }

    if (data == NULL
        || (data->len == 6 && ngx_memcmp(data->data, "[DONE]", 6) == 0))
    {
        ctx->done = 1;
        return ngx_http_llm_openai_close(r, ctx, st, ll);
    }

    if (data->len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_llm_json_parse(st->scratch, &js, data->data, data->len,
                                 NGX_HTTP_LLM_OPENAI_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_llm_json_type(&js, 0) != NGX_HTTP_LLM_JSON_OBJECT)
    {
        if (!st->bad_json) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm provider \"%V\" sent an event that is not "
                          "a JSON object, ignored", &ctx->provider->name);
            st->bad_json = 1;
        }

        ngx_reset_pool(st->scratch);
        return NGX_OK;
    }

    /*
     * Azure's first chunk: "choices":[] with only the prompt filter
     * results (PROVIDERS.md 5.1), no id nor model yet: skipped
     */

    ch = ngx_http_llm_json_get(&js, 0, "choices");

    if (ngx_http_llm_openai_is(&js, ch, ARRAY)
        && js.toks[ch].size == 0
        && ngx_http_llm_json_get(&js, 0, "prompt_filter_results") >= 0
        && ngx_http_llm_json_get(&js, 0, "usage") < 0)
    {
        ngx_reset_pool(st->scratch);
        return NGX_OK;
    }

    v = ngx_http_llm_json_get(&js, 0, "error");

    if (v >= 0 && !ngx_http_llm_json_is_null(&js, v)) {
        rc = ngx_http_llm_openai_stream_error(r, ctx, st, &js, v, ll);
        ngx_reset_pool(st->scratch);
        return rc;
    }

    if (!st->started) {
        ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));
        d.type = NGX_HTTP_LLM_DELTA_START;

        /* kept by the surface: in the request's pool */

        v = ngx_http_llm_json_get(&js, 0, "id");

        if (ngx_http_llm_json_string(st->scratch, &js, v, &s) == NGX_OK
            && s.len)
        {
            d.id.data = ngx_pstrdup(r->pool, &s);
            if (d.id.data == NULL) {
                return NGX_ERROR;
            }

            d.id.len = s.len;
        }

        v = ngx_http_llm_json_get(&js, 0, "model");

        if (ngx_http_llm_json_string(st->scratch, &js, v, &s) == NGX_OK
            && s.len)
        {
            d.model.data = ngx_pstrdup(r->pool, &s);
            if (d.model.data == NULL) {
                return NGX_ERROR;
            }

            d.model.len = s.len;
        }

        st->started = 1;

        if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* the first choice only; Azure starts with "choices": [] */

    ch = ngx_http_llm_json_get(&js, 0, "choices");

    for (i = 0; ; i++) {
        c = ngx_http_llm_json_index(&js, ch, i);
        if (c < 0) {
            break;
        }

        v = ngx_http_llm_json_get(&js, c, "index");

        if (v >= 0 && ngx_http_llm_json_int(&js, v, &rc) == NGX_OK
            && rc != 0)
        {
            continue;
        }

        v = ngx_http_llm_json_get(&js, c, "delta");

        if (ngx_http_llm_openai_is(&js, v, OBJECT)) {
            if (ngx_http_llm_openai_delta(r, ctx, st, &js, v, ll) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        v = ngx_http_llm_json_get(&js, c, "finish_reason");

        if (!st->finished
            && ngx_http_llm_openai_is(&js, v, STRING))
        {
            ngx_http_llm_json_raw(&js, v, &s);
            finish = ngx_http_llm_openai_finish(&s);

            if (finish != NGX_HTTP_LLM_FINISH_NONE) {

                if (finish == NGX_HTTP_LLM_FINISH_STOP && st->calls.nelts) {
                    finish = NGX_HTTP_LLM_FINISH_TOOL_CALLS;
                }

                ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));
                d.type = NGX_HTTP_LLM_DELTA_FINISH;
                d.finish = finish;

                st->finished = 1;

                if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
                    return NGX_ERROR;
                }
            }
        }

        break;
    }

    /* usage: on the last chunk, or on its own after it; sent at the end */

    v = ngx_http_llm_json_get(&js, 0, "usage");
    ngx_http_llm_openai_usage(&js, v, &ctx->usage);

    ngx_reset_pool(st->scratch);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_openai_delta(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_openai_in_t *st, ngx_http_llm_json_t *js, ngx_int_t delta,
    ngx_chain_t ***ll)
{
    ngx_int_t   v, t, n;
    ngx_str_t   text, reasoning;

    /* the chain of thought: DeepSeek, vLLM; "reasoning": Groq, Ollama */

    v = ngx_http_llm_json_get(js, delta, "reasoning_content");

    if (v < 0 || ngx_http_llm_json_is_null(js, v)) {
        v = ngx_http_llm_json_get(js, delta, "reasoning");
    }

    if (ngx_http_llm_json_string(st->scratch, js, v, &reasoning) == NGX_OK
        && reasoning.len
        && ngx_http_llm_openai_emit(r, ctx, NGX_HTTP_LLM_DELTA_REASONING,
                                    &reasoning, ll)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_null(&text);
    ngx_str_null(&reasoning);

    if (ngx_http_llm_openai_message_content(st->scratch, js,
                                    ngx_http_llm_json_get(js, delta, "content"),
                                    &text, &reasoning)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (reasoning.len
        && ngx_http_llm_openai_emit(r, ctx, NGX_HTTP_LLM_DELTA_REASONING,
                                    &reasoning, ll)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (text.len
        && ngx_http_llm_openai_emit(r, ctx, NGX_HTTP_LLM_DELTA_TEXT, &text,
                                    ll)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, delta, "refusal");

    if (ngx_http_llm_json_string(st->scratch, js, v, &text) == NGX_OK
        && text.len
        && ngx_http_llm_openai_emit(r, ctx, NGX_HTTP_LLM_DELTA_TEXT, &text,
                                    ll)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = ngx_http_llm_json_get(js, delta, "tool_calls");

    for (n = 0; ; n++) {
        t = ngx_http_llm_json_index(js, v, n);
        if (t < 0) {
            break;
        }

        if (ngx_http_llm_openai_tool_delta(r, ctx, st, js, t, n, ll)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Tool call pieces are keyed by their "index"; Mistral sends whole calls
 * without one: a new id starts a new call, no id continues the last one.
 * The client sees indexes 0..n-1 in the order the calls started.
 */

static ngx_int_t
ngx_http_llm_openai_tool_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_http_llm_json_t *js, ngx_int_t tc, ngx_uint_t pos, ngx_chain_t ***ll)
{
    ngx_int_t                    v, f, upstream;
    ngx_str_t                    id, name, args;
    ngx_uint_t                   i;
    ngx_http_llm_delta_t         d;
    ngx_http_llm_openai_call_t  *call;

    ngx_str_null(&id);
    ngx_str_null(&name);
    ngx_str_null(&args);

    v = ngx_http_llm_json_get(js, tc, "id");
    (void) ngx_http_llm_json_string(st->scratch, js, v, &id);

    f = ngx_http_llm_json_get(js, tc, "function");

    v = ngx_http_llm_json_get(js, f, "name");
    (void) ngx_http_llm_json_string(st->scratch, js, v, &name);

    v = ngx_http_llm_json_get(js, f, "arguments");

    if (ngx_http_llm_openai_is(js, v, OBJECT)) {
        ngx_http_llm_json_raw(js, v, &args);

    } else {
        (void) ngx_http_llm_json_string(st->scratch, js, v, &args);
    }

    call = st->calls.elts;

    v = ngx_http_llm_json_get(js, tc, "index");

    if (ngx_http_llm_json_int(js, v, &upstream) == NGX_OK) {

        for (i = 0; i < st->calls.nelts; i++) {
            if (call[i].upstream == upstream) {
                break;
            }
        }

    } else if (id.len) {
        upstream = -1 - (ngx_int_t) pos;

        for (i = 0; i < st->calls.nelts; i++) {
            if (call[i].id.len == id.len
                && ngx_memcmp(call[i].id.data, id.data, id.len) == 0)
            {
                break;
            }
        }

    } else {
        upstream = -1 - (ngx_int_t) pos;
        i = st->calls.nelts ? st->calls.nelts - 1 : 0;
    }

    ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

    if (i == st->calls.nelts) {

        /* a new call */

        call = ngx_array_push(&st->calls);
        if (call == NULL) {
            return NGX_ERROR;
        }

        call->upstream = upstream;

        if (id.len) {
            call->id.data = ngx_pstrdup(r->pool, &id);
            if (call->id.data == NULL) {
                return NGX_ERROR;
            }

            call->id.len = id.len;

        } else if (ngx_http_llm_openai_make_id(r->pool, "call_", &call->id)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        d.type = NGX_HTTP_LLM_DELTA_TOOL_START;
        d.index = i;
        d.id = call->id;

        d.name.data = ngx_pstrdup(r->pool, &name);
        if (d.name.data == NULL && name.len) {
            return NGX_ERROR;
        }

        d.name.len = name.len;

        if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (args.len == 0) {
        return NGX_OK;
    }

    d.type = NGX_HTTP_LLM_DELTA_TOOL_ARGS;
    d.index = i;
    d.text = args;
    ngx_str_null(&d.id);
    ngx_str_null(&d.name);

    return ngx_http_llm_emit_delta(r, ctx, &d, ll);
}


/* {"error": {...}} or {"error": "..."} in the stream: the end of it */

static ngx_int_t
ngx_http_llm_openai_stream_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_openai_in_t *st,
    ngx_http_llm_json_t *js, ngx_int_t e, ngx_chain_t ***ll)
{
    ngx_int_t             v;
    ngx_http_llm_delta_t  d;

    ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

    d.type = NGX_HTTP_LLM_DELTA_ERROR;
    d.status = NGX_HTTP_BAD_GATEWAY;

    if (ngx_http_llm_json_type(js, e) == NGX_HTTP_LLM_JSON_STRING) {
        (void) ngx_http_llm_json_string(st->scratch, js, e, &d.error_message);

    } else {
        v = ngx_http_llm_json_get(js, e, "message");
        (void) ngx_http_llm_json_string(st->scratch, js, v, &d.error_message);

        v = ngx_http_llm_json_get(js, e, "type");
        (void) ngx_http_llm_json_string(st->scratch, js, v, &d.error_type);
    }

    if (d.error_type.len == 0) {
        ngx_str_set(&d.error_type, "api_error");
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm provider \"%V\" sent an error in the stream: \"%V\"",
                  &ctx->provider->name, &d.error_message);

    st->closed = 1;

    return ngx_http_llm_emit_delta(r, ctx, &d, ll);
}


/*
 * [DONE], or the end of the body: whatever the provider left out (a
 * start, a finish reason) is made up, then usage and the end
 */

static ngx_int_t
ngx_http_llm_openai_close(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_openai_in_t *st, ngx_chain_t ***ll)
{
    ngx_http_llm_delta_t  d;

    st->closed = 1;

    ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

    if (!st->started) {
        d.type = NGX_HTTP_LLM_DELTA_START;

        if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (!st->finished) {
        d.type = NGX_HTTP_LLM_DELTA_FINISH;
        d.finish = st->calls.nelts ? NGX_HTTP_LLM_FINISH_TOOL_CALLS
                                   : NGX_HTTP_LLM_FINISH_STOP;

        if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ctx->usage.known) {
        if (ctx->usage.total == 0) {
            ctx->usage.total = ctx->usage.prompt + ctx->usage.completion;
        }

        d.type = NGX_HTTP_LLM_DELTA_USAGE;

        if (ngx_http_llm_emit_delta(r, ctx, &d, ll) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    d.type = NGX_HTTP_LLM_DELTA_DONE;

    return ngx_http_llm_emit_delta(r, ctx, &d, ll);
}


static ngx_int_t
ngx_http_llm_openai_emit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t type, ngx_str_t *text, ngx_chain_t ***ll)
{
    ngx_http_llm_delta_t  d;

    ngx_memzero(&d, sizeof(ngx_http_llm_delta_t));

    d.type = type;
    d.text = *text;

    return ngx_http_llm_emit_delta(r, ctx, &d, ll);
}


static void
ngx_http_llm_openai_scratch_cleanup(void *data)
{
    ngx_pool_t  *pool = data;

    ngx_destroy_pool(pool);
}
