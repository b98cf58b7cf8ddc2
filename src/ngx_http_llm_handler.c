
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
#include "ngx_http_llm_router.h"
#include "ngx_http_llm_upstream.h"
#include "ngx_http_llm_canonical.h"


#define NGX_HTTP_LLM_MAX_TOKENS  (4 * 1024 * 1024)


static ngx_uint_t ngx_http_llm_surface(ngx_http_request_t *r,
    ngx_str_t *model_id);
static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_read_body(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js);
static ngx_int_t ngx_http_llm_model_once(ngx_http_request_t *r,
    ngx_http_llm_json_t *js);
static ngx_int_t ngx_http_llm_models(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_llm_not_allowed(ngx_http_request_t *r,
    const char *allow);


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

    /* errors and answers are written in the format the client speaks */

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_MESSAGES) {
        ctx->surf = &ngx_http_llm_surface_anthropic;

    } else {
        ctx->surf = &ngx_http_llm_surface_openai;
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

        return ngx_http_llm_models(r, &id);

    case NGX_HTTP_LLM_SURFACE_CHAT:
    case NGX_HTTP_LLM_SURFACE_EMBEDDINGS:
    case NGX_HTTP_LLM_SURFACE_MESSAGES:

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

    rc = ngx_http_read_client_request_body(r, ngx_http_llm_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
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
     && ngx_strncmp(last - (sizeof(s) - 1), s, sizeof(s) - 1) == 0)

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

#undef ngx_http_llm_ends_with

    /* "/v1/models/{id}"; ids may contain "/" (Together: "org/model") */

    p = ngx_strlcasestrn(uri->data, last, (u_char *) "/models/", 8 - 1);

    if (p && p + 8 < last) {
        model_id->data = p + 8;
        model_id->len = last - p - 8;
        return NGX_HTTP_LLM_SURFACE_MODELS;
    }

    return NGX_HTTP_LLM_SURFACE_AUTO;
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

    js = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_json_t));
    if (js == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the tokens stay with the request: adapters read them */

    ctx->json = js;

    /*
     * an error sent with ngx_http_llm_send_error() returns the output
     * filter's code, NGX_OK too: ctx->own_response tells it apart
     */

    rc = ngx_http_llm_read_body(r, ctx);

    if (rc != NGX_OK || ctx->own_response) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_llm_parse_request(r, ctx, js);

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

    /*
     * OpenAI clients of OpenAI-format providers take the passthrough
     * path; everything else goes through the canonical request
     */

    if (!ctx->provider->type->openai_format
        || (ctx->surface != NGX_HTTP_LLM_SURFACE_CHAT
            && ctx->surface != NGX_HTTP_LLM_SURFACE_EMBEDDINGS))
    {
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

        ctx->req = ngx_http_llm_request_create(r->pool);
        if (ctx->req == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        rc = ctx->surf->parse_request(r, ctx, js, ctx->req);

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

    ngx_http_llm_upstream_start(r, ctx);
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

    cl = r->request_body->bufs;

    /* the common case: one buffer in memory, used in place */

    if (cl->next == NULL && !cl->buf->in_file) {
        ctx->body.data = cl->buf->pos;
        ctx->body.len = cl->buf->last - cl->buf->pos;
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


static ngx_int_t
ngx_http_llm_parse_request(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t *js)
{
    ngx_int_t  rc, i, v;

    rc = ngx_http_llm_json_parse(r->pool, js, ctx->body.data, ctx->body.len,
                                 NGX_HTTP_LLM_MAX_TOKENS);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent a JSON body with too many elements");

        return ngx_http_llm_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "invalid_request_error",
                                       "request_too_large",
                                       "The JSON body has too many "
                                       "elements.");
    }

    if (rc != NGX_OK || ngx_http_llm_json_type(js, 0)
                        != NGX_HTTP_LLM_JSON_OBJECT)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent invalid JSON");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "invalid_json",
                                       "We could not parse the JSON body of "
                                       "your request: it must be one JSON "
                                       "object.");
    }

    i = ngx_http_llm_json_get(js, 0, "model");

    if (i < 0 || ngx_http_llm_json_type(js, i) != NGX_HTTP_LLM_JSON_STRING
        || ngx_http_llm_json_string(r->pool, js, i, &ctx->model) != NGX_OK
        || ctx->model.len == 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent no \"model\"");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_required_parameter",
                                       "You must provide a model parameter "
                                       "(a string).");
    }

    rc = ngx_http_llm_model_once(r, js);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent \"model\" more than once");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "invalid_json",
                                       "The JSON body has more than one "
                                       "\"model\".");
    }

    ctx->model_start = js->toks[i].start;
    ctx->model_end = js->toks[i].end;

    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        i = ngx_http_llm_json_get(js, 0, "input");

        if (i < 0) {
            return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request_error",
                                           "missing_required_parameter",
                                           "Missing required parameter: "
                                           "'input'.");
        }

        return NGX_OK;
    }

    i = ngx_http_llm_json_get(js, 0, "messages");

    if (i < 0 || ngx_http_llm_json_type(js, i) != NGX_HTTP_LLM_JSON_ARRAY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent no \"messages\" array");

        return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_request_error",
                                       "missing_required_parameter",
                                       "Missing required parameter: "
                                       "'messages' (an array).");
    }

    i = ngx_http_llm_json_get(js, 0, "stream");

    if (i >= 0 && !ngx_http_llm_json_is_null(js, i)) {
        v = ngx_http_llm_json_bool(js, i);

        if (v < 0) {
            return ngx_http_llm_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request_error",
                                           "invalid_type",
                                           "Invalid type for 'stream': "
                                           "expected a boolean.");
        }

        ctx->stream = v;
    }

    ctx->sopts_start = -1;
    ctx->iu_start = -1;

    if (!ctx->stream) {
        return NGX_OK;
    }

    i = ngx_http_llm_json_get(js, 0, "stream_options");

    if (i >= 0 && ngx_http_llm_json_type(js, i) == NGX_HTTP_LLM_JSON_OBJECT) {
        ctx->sopts_start = js->toks[i].start;

        v = ngx_http_llm_json_get(js, i, "include_usage");

        if (v >= 0) {
            ctx->iu_start = js->toks[v].start;
            ctx->iu_end = js->toks[v].end;
            ctx->client_usage = (ngx_http_llm_json_bool(js, v) == 1);
        }
    }

    return NGX_OK;
}


/*
 * The provider's decoder unescapes keys and keeps the last of equal
 * ones: a second "model", however spelled, would be the model it runs
 * and not the one routed here.  NGX_DECLINED when there is one.
 */

static ngx_int_t
ngx_http_llm_model_once(ngx_http_request_t *r, ngx_http_llm_json_t *js)
{
    ngx_int_t  i, n, rc, found;
    ngx_str_t  key;

    found = 0;

    for (i = 1, n = 0; n < js->toks[0].size && i < js->ntoks; n++) {

        rc = ngx_http_llm_json_string(r->pool, js, i, &key);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK && key.len == 5
            && ngx_strncmp(key.data, "model", 5) == 0
            && found++)
        {
            return NGX_DECLINED;
        }

        i = ngx_http_llm_json_skip(js, i + 1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_models(ngx_http_request_t *r, ngx_str_t *id)
{
    size_t                     len;
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

        if (route == NULL) {
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

            if (route->regex || route->is_default
                || route->targets.nelts == 0)
            {
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
