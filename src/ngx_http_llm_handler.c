
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_handler.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_router.h"
#include "ngx_http_llm_upstream.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_embeddings.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_status.h"
#include "ngx_http_llm_fallback.h"
#include "ngx_http_llm_provider.h"


#define NGX_HTTP_LLM_MEMBERS     64


static ngx_uint_t ngx_http_llm_surface(ngx_http_request_t *r,
    ngx_str_t *model_id);
static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static void ngx_http_llm_body_in_one_buffer(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_read_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_check_model(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_models(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *id);
static ngx_int_t ngx_http_llm_not_allowed(ngx_http_request_t *r,
    const char *allow);
static ngx_int_t ngx_http_llm_count_tokens(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


ngx_int_t
ngx_http_llm_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 id;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_llm_module);

    ngx_str_null(&id);

    ctx->surface = ngx_http_llm_surface(r, &id);

    if (llcf->surface != NGX_HTTP_LLM_SURFACE_AUTO
        && (llcf->surface != NGX_HTTP_LLM_SURFACE_MODELS
            || ctx->surface != NGX_HTTP_LLM_SURFACE_MODELS))
    {
        ctx->surface = llcf->surface;
        ngx_str_null(&id);
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_COUNT_TOKENS) {
        ctx->surface = NGX_HTTP_LLM_SURFACE_MESSAGES;
        ctx->count_tokens = 1;
    }

    /* errors and answers are written in the format the client speaks */

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_MESSAGES) {
        ctx->surf = &ngx_http_llm_surface_anthropic;

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_GEMINI) {
        ctx->surf = &ngx_http_llm_surface_gemini;

        /* the model and the method are in the URL: "{model}:stream..." */

        ctx->model = id;
        ctx->stream = (id.data[id.len + 1] == 's');
        ctx->count_tokens = (id.data[id.len + 1] == 'c');

    } else if (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES) {
        ctx->surf = &ngx_http_llm_surface_responses;

    } else {
        ctx->surf = &ngx_http_llm_surface_openai;
    }

    /* the client's virtual key, before anything else is answered */

    rc = ngx_http_llm_keys_auth(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        return rc;
    }

    switch (ctx->surface) {

    case NGX_HTTP_LLM_SURFACE_MODELS:

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_llm_not_allowed(r, "GET, HEAD");
        }

        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_llm_models(r, ctx, &id);

    case NGX_HTTP_LLM_SURFACE_CHAT:
    case NGX_HTTP_LLM_SURFACE_EMBEDDINGS:
    case NGX_HTTP_LLM_SURFACE_MESSAGES:
    case NGX_HTTP_LLM_SURFACE_GEMINI:
    case NGX_HTTP_LLM_SURFACE_RESPONSES:

        if (r->method != NGX_HTTP_POST) {
            return ngx_http_llm_not_allowed(r, "POST");
        }

        break;

    default:
        return ngx_http_llm_send_error(r, NGX_HTTP_NOT_FOUND,
                                       "invalid_request_error", "not_found",
                                       "Unknown API endpoint.");
    }

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_body_in_one_buffer(r);

    rc = ngx_http_read_client_request_body(r, ngx_http_llm_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The body is parsed in place, so it is wanted in one piece of memory.
 * nginx reads a body that did not come whole with the headers into a
 * buffer of its own, after the part that came with them (in r->header_in):
 * two pieces, which ngx_http_llm_read_body() would have to copy into a
 * third.  When the whole body fits in r->header_in nginx reads it there,
 * in one piece.  So when the body would be held in memory anyway (no
 * larger than the buffer nginx would allocate for it: client_body_buffer_size
 * and a quarter), r->header_in is pointed at memory of the body's size
 * holding the part already read: nginx reads the rest after it, and
 * allocates no buffer of its own.  r->header_in held only body bytes (no
 * pipelined request), all consumed.
 *
 * The buffer structure stays nginx's (c->buffer, or a large header
 * buffer, which outlive the request: ngx_http_set_keepalive() reads it
 * after the request's pool is gone); its memory is given back when the
 * request's pool is destroyed, by a cleanup that runs first.  Chunked,
 * HTTP/2 and in-file bodies are read as nginx does.
 */

typedef struct {
    ngx_buf_t  *buf;
    u_char     *start;
    u_char     *last;
    u_char     *end;
} ngx_http_llm_header_in_t;


static void
ngx_http_llm_header_in_restore(void *data)
{
    ngx_http_llm_header_in_t  *hi = data;

    hi->buf->start = hi->start;
    hi->buf->pos = hi->last;
    hi->buf->last = hi->last;
    hi->buf->end = hi->end;
}


static void
ngx_http_llm_body_in_one_buffer(ngx_http_request_t *r)
{
    off_t                      len;
    size_t                     preread, max;
    u_char                    *p;
    ngx_buf_t                 *h;
    ngx_pool_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_llm_header_in_t  *hi;

    h = r->header_in;
    len = r->headers_in.content_length_n;

    if (len <= 0
        || r->headers_in.chunked
        || r->request_body_in_file_only
        || r != r->main
        || r->request_body
        || h == NULL
#if (NGX_HTTP_V2)
        || r->stream
#endif
       )
    {
        return;
    }

    preread = h->last - h->pos;

    if ((off_t) preread >= len || len <= h->end - h->pos) {
        return;     /* whole already, or nginx reads it into r->header_in */
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    max = clcf->client_body_buffer_size;
    max += max >> 2;

    if (len > (off_t) max
        || (clcf->client_max_body_size && len > clcf->client_max_body_size))
    {
        return;     /* nginx writes it to a file, or refuses it */
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llm_header_in_t));
    if (cln == NULL) {
        return;     /* nginx's own way */
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return;     /* nginx's own way; the cleanup has nothing to do */
    }

    hi = cln->data;
    hi->buf = h;
    hi->start = h->start;
    hi->last = h->last;
    hi->end = h->end;

    cln->handler = ngx_http_llm_header_in_restore;

    h->start = p;
    h->last = ngx_cpymem(p, h->pos, preread);
    h->pos = p;
    h->end = p + len;
}


static ngx_uint_t
ngx_http_llm_surface(ngx_http_request_t *r, ngx_str_t *model_id)
{
    u_char     *p, *last;
    ngx_str_t  *uri;

    uri = &r->uri;
    last = uri->data + uri->len;

    /* a trailing slash is tolerated, as the SDKs never send one */

    if (uri->len > 1 && last[-1] == '/') {
        last--;
    }

#define ngx_http_llm_ends_with(s)                                             \
    ((size_t) (last - uri->data) >= sizeof(s) - 1                             \
     && ngx_memcmp(last - (sizeof(s) - 1), s, sizeof(s) - 1) == 0)

    if (ngx_http_llm_ends_with("/chat/completions")) {
        return NGX_HTTP_LLM_SURFACE_CHAT;
    }

    if (ngx_http_llm_ends_with("/embeddings")) {
        return NGX_HTTP_LLM_SURFACE_EMBEDDINGS;
    }

    if (ngx_http_llm_ends_with("/models")) {
        return NGX_HTTP_LLM_SURFACE_MODELS;
    }

    if (ngx_http_llm_ends_with("/messages")) {
        return NGX_HTTP_LLM_SURFACE_MESSAGES;
    }

    if (ngx_http_llm_ends_with("/responses")) {
        return NGX_HTTP_LLM_SURFACE_RESPONSES;
    }

    if (ngx_http_llm_ends_with("/messages/count_tokens")) {
        return NGX_HTTP_LLM_SURFACE_COUNT_TOKENS;
    }

    /* Gemini: "/v1beta/models/{model}:generateContent" (r->uri is decoded) */

    p = ngx_strlcasestrn(uri->data, last, (u_char *) "/models/", 8 - 1);

    if (p && ngx_http_llm_ends_with(":generateContent")) {
        last -= sizeof(":generateContent") - 1;
        goto gemini;
    }

    if (p && ngx_http_llm_ends_with(":streamGenerateContent")) {
        last -= sizeof(":streamGenerateContent") - 1;
        goto gemini;
    }

    if (p && ngx_http_llm_ends_with(":countTokens")) {
        last -= sizeof(":countTokens") - 1;
        goto gemini;
    }

#undef ngx_http_llm_ends_with

    /* "/v1/models/{id}"; ids may contain "/" (Together: "org/model") */

    if (p && p + 8 < last) {
        model_id->data = p + 8;
        model_id->len = last - p - 8;
        return NGX_HTTP_LLM_SURFACE_MODELS;
    }

    return NGX_HTTP_LLM_SURFACE_AUTO;

gemini:

    if (p + 8 >= last) {
        return NGX_HTTP_LLM_SURFACE_AUTO;
    }

    model_id->data = p + 8;
    model_id->len = last - p - 8;

    return NGX_HTTP_LLM_SURFACE_GEMINI;
}


static ngx_int_t
ngx_http_llm_not_allowed(ngx_http_request_t *r, const char *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return ngx_http_llm_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                   "invalid_request_error",
                                   "method_not_allowed",
                                   "Method not allowed for this endpoint.");
}


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_http_llm_ctx_t   *ctx;
    ngx_http_llm_json_t  *js;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    /*
     * an error sent with ngx_http_llm_send_error() returns the output
     * filter's code, NGX_OK too: ctx->own_response tells it apart
     */

    rc = ngx_http_llm_read_body(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_llm_parse_request(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_llm_keys_access(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_llm_route(r, ctx);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: no route for the requested model");

        ngx_http_finalize_request(r,
            ngx_http_llm_send_error(r, NGX_HTTP_NOT_FOUND,
                                    "invalid_request_error",
                                    "model_not_found",
                                    "The requested model does not exist "
                                    "or is not routed by this gateway."));
        return;
    }

    rc = ngx_http_llm_check_model(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* llm_cooldown: a target whose period is over is probed */

    if (ngx_http_llm_cooldown_choose(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * OpenAI clients of OpenAI-format providers (Responses clients of
     * those with responses=native) take the passthrough path; everything
     * else goes through the canonical request
     */

    if (!ngx_http_llm_passthrough(ctx, ctx->provider)) {
        if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS
            && !ctx->provider->type->embeddings)
        {
            ngx_http_finalize_request(r,
                ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_request_error",
                                        "unsupported_endpoint",
                                        "The provider of this model has no "
                                        "embeddings endpoint."));
            return;
        }

        /* translation reads the whole tree: tokenized only now */

        rc = ngx_http_llm_request_json(r, ctx, &js);

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r,
                rc == NGX_ERROR ? NGX_HTTP_INTERNAL_SERVER_ERROR
                : ngx_http_llm_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "invalid_request_error",
                                          "request_too_large",
                                          "The JSON body has too many "
                                          "elements."));
            return;
        }

        /*
         * embeddings have no canonical request (ctx->req stays NULL: an
         * OpenAI-format fallback passes the body on), only ctx->embed
         */

        if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
            rc = ngx_http_llm_embed_parse(r, ctx, js);

        } else {
            ctx->req = ngx_http_llm_request_create(r->pool);
            if (ctx->req == NULL) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            rc = ctx->surf->parse_request(r, ctx, js, ctx->req);
        }

        if (rc == NGX_OK && ctx->provider->type->check) {
            rc = ctx->provider->type->check(r, ctx);
        }

        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: client sent an invalid request: %s",
                          ctx->error ? ctx->error : "unsupported");

            ngx_http_finalize_request(r,
                ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_request_error",
                                        "invalid_request",
                                        ctx->error ? ctx->error
                                        : "The request cannot be "
                                          "translated for this model's "
                                          "provider."));
            return;
        }
    }

    if (ctx->count_tokens) {

        /*
         * the provider counts when it has an endpoint for it (no limits,
         * no fallback: a count is free and belongs to one model);
         * otherwise the estimate
         */

        if (ctx->provider->type != &ngx_http_llm_provider_anthropic
            && ctx->provider->type != &ngx_http_llm_provider_gemini
            && ctx->provider->type != &ngx_http_llm_provider_bedrock)
        {
            ngx_http_finalize_request(r, ngx_http_llm_count_tokens(r, ctx));
            return;
        }

        ctx->stream = 0;
        ctx->req->stream = 0;

        ngx_http_llm_upstream_start(r, ctx);
        return;
    }

    /* rate limits and budgets: the last word before the provider */

    rc = ngx_http_llm_limit_admit(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (ngx_http_llm_status_start(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_llm_upstream_start(r, ctx);
}


/*
 * A model name with control characters (CR, LF, NUL...) is no model's:
 * refused before it reaches a provider's request, whatever the provider
 * does with it; one that a Gemini provider cannot take into its path
 * ("/", "?", "#", "\\", "..") is refused too, as a client error, not as
 * the gateway's when the request is written.
 */

static ngx_int_t
ngx_http_llm_check_model(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char     *p, *last;
    ngx_str_t  *m, encoded;

    m = &ctx->model;

    for ( ;; ) {
        last = m->data + m->len;

        for (p = m->data; p < last; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                goto invalid;
            }
        }

        if (m == &ctx->upstream_model) {
            break;
        }

        m = &ctx->upstream_model;
    }

    if (ctx->provider->type == &ngx_http_llm_provider_gemini
        && ngx_http_llm_gemini_model(r->pool, &ctx->upstream_model, &encoded)
           != NGX_OK)
    {
        goto invalid;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llm: client sent a model name that cannot be used");

    return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request_error", "invalid_model",
                                   "The model name has characters that "
                                   "cannot be sent to its provider.");
}


static ngx_int_t
ngx_http_llm_read_body(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_body",
                                       "The request has no JSON body.");
    }

    /*
     * the common case: in memory, in one piece (one buffer, or buffers
     * that follow one another in one, ngx_http_llm_body_in_one_buffer()),
     * used in place
     */

    cl = r->request_body->bufs;
    p = cl->buf->pos;

    for ( /* void */ ; cl; cl = cl->next) {
        if (cl->buf->in_file || cl->buf->pos != p) {
            break;
        }

        p = cl->buf->last;
    }

    if (cl == NULL) {
        ctx->body.data = r->request_body->bufs->buf->pos;
        ctx->body.len = p - ctx->body.data;
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_body",
                                       "The request has no JSON body.");
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body.data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {

            /*
             * a body larger than client_body_buffer_size: read back from
             * the temporary file (usually still in the page cache)
             */

            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm: could not read the request body back "
                              "from \"%V\"", &b->file->name);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    ctx->body.len = p - ctx->body.data;

    return NGX_OK;
}


/*
 * The request is validated and its top-level members found in one scan
 * without tokens (ngx_http_llm_json_scan): the passthrough needs no more.
 * Translation tokenizes the body later, ngx_http_llm_request_json().
 */

static ngx_int_t
ngx_http_llm_parse_request(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                      *body, *p;
    ngx_int_t                    rc;
    ngx_str_t                    key;
    ngx_uint_t                   i, n, nm, models, have_messages, have_input;
    ngx_http_llm_json_member_t   local[NGX_HTTP_LLM_MEMBERS], *m, *model;
    ngx_http_llm_json_member_t   opts[8], *so;

    body = ctx->body.data;
    m = local;

    rc = ngx_http_llm_json_scan(body, body + ctx->body.len, m,
                                NGX_HTTP_LLM_MEMBERS, &n);

    if (rc == NGX_OK && n > NGX_HTTP_LLM_MEMBERS) {
        m = ngx_palloc(r->pool, n * sizeof(ngx_http_llm_json_member_t));
        if (m == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_llm_json_scan(body, body + ctx->body.len, m, n, &n);
    }

    for (p = body; p < body + ctx->body.len; p++) {
        if (*p != ' ' && *p != '\t' && *p != CR && *p != LF) {
            break;
        }
    }

    if (rc != NGX_OK || p == body + ctx->body.len || *p != '{') {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent invalid JSON");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "invalid_json",
                                       "We could not parse the JSON body of "
                                       "your request: it must be one JSON "
                                       "object.");
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_GEMINI) {

        /*
         * the model and the stream flag came with the URL; :countTokens
         * takes "contents", or a whole "generateContentRequest": then
         * that object is the request
         */

        for (i = 0; ctx->count_tokens && i < n; i++) {
            if (m[i].type == NGX_HTTP_LLM_JSON_OBJECT
                && m[i].key.len == sizeof("generateContentRequest") - 1
                && ngx_memcmp(m[i].key.data, "generateContentRequest",
                               m[i].key.len) == 0)
            {
                ctx->body.data = m[i].start;
                ctx->body.len = m[i].end - m[i].start;
                break;
            }
        }

        return NGX_OK;
    }

    model = NULL;
    so = NULL;
    models = 0;
    have_messages = 0;
    have_input = 0;

    ctx->sopts_start = -1;
    ctx->sopts_value_start = -1;
    ctx->iu_start = -1;

    for (i = 0; i < n; i++) {

        key = m[i].key;

        /*
         * a key written with escapes is compared decoded: the provider's
         * decoder would see "mod\u0065l" as "model"
         */

        if (m[i].escaped
            && ngx_http_llm_json_unescape(r->pool, key.data,
                                          key.data + key.len, &key)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

#define ngx_http_llm_key_is(s)                                                \
        (key.len == sizeof(s) - 1 && ngx_memcmp(key.data, s, key.len) == 0)

        if (ngx_http_llm_key_is("model")) {
            model = &m[i];
            models++;

        } else if (ngx_http_llm_key_is("messages")) {
            have_messages = (m[i].type == NGX_HTTP_LLM_JSON_ARRAY);

        } else if (ngx_http_llm_key_is("input")) {
            have_input = 1;

        } else if (ngx_http_llm_key_is("stream")) {

            switch (*m[i].start) {
            case 't':
                ctx->stream = 1;
                break;
            case 'f':
            case 'n':
                ctx->stream = 0;
                break;
            default:
                return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                               "invalid_request_error",
                                               "invalid_type",
                                               "Invalid type for 'stream': "
                                               "expected a boolean.");
            }

        } else if (ngx_http_llm_key_is("stream_options")) {
            so = &m[i];
        }

#undef ngx_http_llm_key_is
    }

    if (model == NULL || model->type != NGX_HTTP_LLM_JSON_STRING
        || model->end - model->start < 3
        || ngx_http_llm_json_unescape(r->pool, model->start + 1,
                                      model->end - 1, &ctx->model)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent no \"model\"");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_required_parameter",
                                       "You must provide a model parameter "
                                       "(a string).");
    }

    /*
     * The provider's decoder keeps the last of equal keys: a second
     * "model", however spelled, would be the model it runs and not the
     * one routed here
     */

    if (models > 1) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent \"model\" more than once");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "invalid_json",
                                       "The JSON body has more than one "
                                       "\"model\".");
    }

    ctx->model_start = model->start + 1 - body;
    ctx->model_end = model->end - 1 - body;

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {

        if (!have_input) {
            return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request_error",
                                           "missing_required_parameter",
                                           "Missing required parameter: "
                                           "'input'.");
        }

        ctx->stream = 0;

        return NGX_OK;
    }

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_RESPONSES) {
        /* "input" and the rest: the Responses surface's parser */
        return NGX_OK;
    }

    if (!have_messages) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent no \"messages\" array");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_required_parameter",
                                       "Missing required parameter: "
                                       "'messages' (an array).");
    }

    if (!ctx->stream || so == NULL) {
        return NGX_OK;
    }

    ctx->sopts_value_start = so->start - body;
    ctx->sopts_value_end = so->end - body;

    if (so->type != NGX_HTTP_LLM_JSON_OBJECT) {
        /* null, or anything else: replaced by the adapter */
        return NGX_OK;
    }

    ctx->sopts_start = so->start - body;

    if (ngx_http_llm_json_scan(so->start, so->end, opts, 8, &nm) != NGX_OK) {
        return NGX_OK;
    }

    for (i = 0; i < ngx_min(nm, 8); i++) {
        if (opts[i].key.len == sizeof("include_usage") - 1
            && ngx_memcmp(opts[i].key.data, "include_usage",
                           opts[i].key.len) == 0)
        {
            ctx->iu_start = opts[i].start - body;
            ctx->iu_end = opts[i].end - body;
            ctx->client_usage = (*opts[i].start == 't');
        }
    }

    return NGX_OK;
}


/*
 * GET /v1/models and /v1/models/{id}: the exact routes, those the
 * client's key may use only (a model it may not use is not found)
 */

static ngx_int_t
ngx_http_llm_models(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *id)
{
    size_t                     len;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_uint_t                 i, n;
    ngx_chain_t               *cl;
    ngx_http_llm_route_t      *route;
    ngx_http_llm_target_t     *t;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (id->len) {
        route = ngx_http_llm_route_exact(r, id);

        if (route == NGX_HTTP_LLM_ROUTE_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = (route == NULL) ? 0
             : ngx_http_llm_keys_model_allowed(r, ctx->key, id);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == 0) {
            return ngx_http_llm_send_error(r, NGX_HTTP_NOT_FOUND,
                                           "invalid_request_error",
                                           "model_not_found",
                                           "The requested model does not "
                                           "exist or is not routed by this "
                                           "gateway.");
        }

        n = 1;

    } else {
        route = NULL;
        n = lmcf->routes.nelts;
    }

    /* measure */

    len = sizeof("{\"object\":\"list\",\"data\":[]}\n") - 1;

    for (i = 0; i < n; i++) {
        if (id->len == 0) {
            route = lmcf->routes.elts;
            route += i;
        }

        if (route->targets.nelts == 0) {
            continue;
        }

        t = route->targets.elts;

        len += sizeof("{\"id\":\"\",\"object\":\"model\",\"created\":,"
                      "\"owned_by\":\"\"},") - 1
               + ngx_http_llm_json_escape_len(route->pattern.data,
                                              route->pattern.len)
               + ngx_http_llm_json_escape_len(t[0].provider->name.data,
                                              t[0].provider->name.len)
               + NGX_TIME_T_LEN;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id->len == 0) {
        b->last = ngx_cpymem(b->last, "{\"object\":\"list\",\"data\":[",
                             sizeof("{\"object\":\"list\",\"data\":[") - 1);
    }

    for (i = 0; i < n; i++) {

        if (id->len == 0) {
            route = lmcf->routes.elts;
            route += i;

            if (route->regex || route->is_default || route->chained
                || route->targets.nelts == 0)
            {
                continue;
            }

            rc = ngx_http_llm_keys_model_allowed(r, ctx->key,
                                                 &route->pattern);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == 0) {
                continue;
            }

            if (b->last[-1] == '}') {
                *b->last++ = ',';
            }
        }

        t = route->targets.elts;

        b->last = ngx_cpymem(b->last, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
        b->last = ngx_http_llm_json_escape(b->last, route->pattern.data,
                                           route->pattern.len);
        b->last = ngx_sprintf(b->last,
                              "\",\"object\":\"model\",\"created\":%T,"
                              "\"owned_by\":\"",
                              lmcf->created);
        b->last = ngx_http_llm_json_escape(b->last,
                                           t[0].provider->name.data,
                                           t[0].provider->name.len);
        b->last = ngx_cpymem(b->last, "\"}", 2);
    }

    if (id->len == 0) {
        b->last = ngx_cpymem(b->last, "]}", 2);
    }

    *b->last++ = LF;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    return ngx_http_llm_send_json(r, NGX_HTTP_OK, cl);
}


/*
 * POST /v1/messages/count_tokens (and Gemini's :countTokens) for a
 * provider with no count endpoint (OpenAI-compatible, Azure)
 * is answered here with an estimate, flagged "X-LLM-Token-Count:
 * estimated": the UTF-8 bytes of
 * all texts, tool calls and tool definitions divided by 4 (rounded up),
 * plus 3 per message and per tool, plus 1000 per image, document or audio
 * part.
 */

static ngx_int_t
ngx_http_llm_count_tokens(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_chain_t  *cl;

    cl = ngx_http_llm_count_estimate(r, ctx);
    if (cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return ngx_http_llm_send_json(r, NGX_HTTP_OK, cl);
}


/* the estimate as the answer's body, the response flagged */

ngx_chain_t *
ngx_http_llm_count_estimate(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    size_t                     bytes;
    ngx_int_t                  n;
    ngx_uint_t                 i, j, media;
    ngx_table_elt_t           *h;
    ngx_http_llm_tool_t       *tool;
    ngx_http_llm_part_t       *part;
    ngx_http_llm_message_t    *msg;
    ngx_http_llm_tool_call_t  *tc;

    bytes = 0;
    media = 0;

    msg = ctx->req->messages.elts;

    for (i = 0; i < ctx->req->messages.nelts; i++) {

        part = msg[i].parts.elts;

        for (j = 0; j < msg[i].parts.nelts; j++) {
            if (part[j].type == NGX_HTTP_LLM_PART_TEXT
                || part[j].type == NGX_HTTP_LLM_PART_THINKING)
            {
                bytes += part[j].text.len;

            } else if (part[j].type != NGX_HTTP_LLM_PART_REDACTED) {
                media++;
            }
        }

        if (msg[i].role != NGX_HTTP_LLM_ROLE_ASSISTANT) {
            continue;
        }

        tc = msg[i].tool_calls.elts;

        for (j = 0; j < msg[i].tool_calls.nelts; j++) {
            bytes += tc[j].name.len + tc[j].arguments.len;
        }
    }

    tool = ctx->req->tools.elts;

    for (i = 0; i < ctx->req->tools.nelts; i++) {
        bytes += tool[i].name.len + tool[i].description.len
                 + tool[i].parameters.len;
    }

    n = (bytes + 3) / 4 + 3 * ctx->req->messages.nelts
        + 3 * ctx->req->tools.nelts + 1000 * media;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-LLM-Token-Count");
    ngx_str_set(&h->value, "estimated");

    return ngx_http_llm_count_answer(r, ctx, n);
}
