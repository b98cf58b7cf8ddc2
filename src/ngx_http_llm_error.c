
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_canonical.h"


/*
 * Responses that nginx itself generates in an llm_pass location (413
 * from client_max_body_size, 502 and 504 from the upstream, 500) are
 * replaced by JSON errors, so that every client SDK can parse them.
 */

typedef struct {
    ngx_uint_t   status;
    ngx_str_t    type;
    ngx_str_t    code;
    ngx_str_t    message;
} ngx_http_llm_status_error_t;


static ngx_int_t ngx_http_llm_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static const ngx_http_llm_status_error_t *ngx_http_llm_status_error(
    ngx_uint_t status);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static const ngx_http_llm_status_error_t  ngx_http_llm_status_errors[] = {

    { NGX_HTTP_BAD_REQUEST, ngx_string("invalid_request_error"),
      ngx_string("bad_request"),
      ngx_string("The request could not be read.") },

    { NGX_HTTP_NOT_FOUND, ngx_string("invalid_request_error"),
      ngx_string("not_found"),
      ngx_string("Unknown API endpoint.") },

    { NGX_HTTP_NOT_ALLOWED, ngx_string("invalid_request_error"),
      ngx_string("method_not_allowed"),
      ngx_string("Method not allowed for this endpoint.") },

    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string("invalid_request_error"),
      ngx_string("request_timeout"),
      ngx_string("The client did not send the request in time.") },

    { NGX_HTTP_LENGTH_REQUIRED, ngx_string("invalid_request_error"),
      ngx_string("length_required"),
      ngx_string("A request body with a length is required.") },

    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("invalid_request_error"),
      ngx_string("request_too_large"),
      ngx_string("The request body is larger than this gateway accepts.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("rate_limit_error"),
      ngx_string("rate_limit_exceeded"),
      ngx_string("Too many requests.") },

    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("api_error"),
      ngx_string("internal_error"),
      ngx_string("The gateway failed to process the request.") },

    { NGX_HTTP_BAD_GATEWAY, ngx_string("api_error"),
      ngx_string("upstream_error"),
      ngx_string("The model provider could not be reached or sent an "
                 "invalid response.") },

    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("api_error"),
      ngx_string("service_unavailable"),
      ngx_string("The model provider is unavailable.") },

    { NGX_HTTP_GATEWAY_TIME_OUT, ngx_string("api_error"),
      ngx_string("upstream_timeout"),
      ngx_string("The model provider did not answer in time.") },

    { 0, ngx_null_string, ngx_null_string, ngx_null_string }
};


ngx_chain_t *
ngx_http_llm_error_body(ngx_http_request_t *r, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *param)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = sizeof("{\"error\":{\"message\":\"\",\"type\":\"\",\"param\":,"
                 "\"code\":}}\n") - 1
          + ngx_http_llm_json_escape_len(message->data, message->len)
          + ngx_http_llm_json_escape_len(type->data, type->len)
          + (param && param->len
             ? ngx_http_llm_json_escape_len(param->data, param->len) + 2
             : 4)
          + (code && code->len
             ? ngx_http_llm_json_escape_len(code->data, code->len) + 2
             : 4);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_cpymem(b->last, "{\"error\":{\"message\":\"",
                         sizeof("{\"error\":{\"message\":\"") - 1);
    b->last = ngx_http_llm_json_escape(b->last, message->data, message->len);
    b->last = ngx_cpymem(b->last, "\",\"type\":\"",
                         sizeof("\",\"type\":\"") - 1);
    b->last = ngx_http_llm_json_escape(b->last, type->data, type->len);
    b->last = ngx_cpymem(b->last, "\",\"param\":", sizeof("\",\"param\":") - 1);

    if (param && param->len) {
        *b->last++ = '"';
        b->last = ngx_http_llm_json_escape(b->last, param->data, param->len);
        *b->last++ = '"';

    } else {
        b->last = ngx_cpymem(b->last, "null", 4);
    }

    b->last = ngx_cpymem(b->last, ",\"code\":", sizeof(",\"code\":") - 1);

    if (code && code->len) {
        *b->last++ = '"';
        b->last = ngx_http_llm_json_escape(b->last, code->data, code->len);
        *b->last++ = '"';

    } else {
        b->last = ngx_cpymem(b->last, "null", 4);
    }

    b->last = ngx_cpymem(b->last, "}}\n", 3);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


ngx_chain_t *
ngx_http_llm_error_chain(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    size_t                         len;
    ngx_http_llm_ctx_t            *ctx;
    const ngx_http_llm_surface_t  *surf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx && ctx->surf) {
        surf = ctx->surf;

    } else {
        /* before the handler ran (413): the URI tells the surface */

        len = sizeof("/messages") - 1;

        if (r->uri.len >= len
            && ngx_strncmp(r->uri.data + r->uri.len - len, "/messages", len)
               == 0)
        {
            surf = &ngx_http_llm_surface_anthropic;

        } else if (r->uri.len >= sizeof("enerateContent") - 1
                   && ngx_strncmp(r->uri.data + r->uri.len
                                  - (sizeof("enerateContent") - 1),
                                  "enerateContent",
                                  sizeof("enerateContent") - 1)
                      == 0)
        {
            /* Gemini's ":generateContent", ":streamGenerateContent" */
            surf = &ngx_http_llm_surface_gemini;

        } else if (r->uri.len >= sizeof("/responses") - 1
                   && ngx_strncmp(r->uri.data + r->uri.len
                                  - (sizeof("/responses") - 1),
                                  "/responses", sizeof("/responses") - 1)
                      == 0)
        {
            surf = &ngx_http_llm_surface_responses;

        } else {
            surf = &ngx_http_llm_surface_openai;
        }
    }

    return surf->write_error(r, status, type, code, message);
}


ngx_int_t
ngx_http_llm_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out)
{
    off_t                len;
    ngx_int_t            rc;
    ngx_chain_t         *cl;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx) {
        ctx->own_response = 1;
    }

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


ngx_int_t
ngx_http_llm_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *code, const char *message)
{
    ngx_str_t     m, t, c;
    ngx_chain_t  *out;

    m.data = (u_char *) message;
    m.len = ngx_strlen(message);
    t.data = (u_char *) type;
    t.len = ngx_strlen(type);
    c.data = (u_char *) code;
    c.len = code ? ngx_strlen(code) : 0;

    out = ngx_http_llm_error_chain(r, status, &t, &c, &m);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_llm_send_json(r, status, out);
}


ngx_int_t
ngx_http_llm_error_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_error_body_filter;

    return NGX_OK;
}


static const ngx_http_llm_status_error_t *
ngx_http_llm_status_error(ngx_uint_t status)
{
    const ngx_http_llm_status_error_t  *e;

    for (e = ngx_http_llm_status_errors; e->status; e++) {
        if (e->status == status) {
            return e;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llm_error_header_filter(ngx_http_request_t *r)
{
    off_t                               len;
    ngx_chain_t                        *cl;
    ngx_http_llm_ctx_t                 *ctx;
    ngx_http_llm_loc_conf_t            *llcf;
    const ngx_http_llm_status_error_t  *e;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    if (!llcf->enabled) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx && (ctx->own_response || ctx->streaming)) {
        return ngx_http_next_header_filter(r);
    }

    e = ngx_http_llm_status_error(r->headers_out.status);

    if (e == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_llm_module);
    }

    cl = ngx_http_llm_error_chain(r, e->status, (ngx_str_t *) &e->type,
                                  (ngx_str_t *) &e->code,
                                  (ngx_str_t *) &e->message);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    /* the body filter drops nginx's page and sends this instead */

    ctx->error_out = cl;
    ctx->own_response = 1;
    ctx->replace_body = 1;

    len = ngx_buf_size(cl->buf);

    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_llm_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t         *cl, *out;
    ngx_http_llm_ctx_t  *ctx;

    if (in == NULL || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx == NULL || ctx->error_out == NULL || !ctx->replace_body)
    {
        return ngx_http_next_body_filter(r, in);
    }

    /* swallow nginx's own error page, send the JSON once */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }

        if (cl->buf->last_buf) {
            out = ctx->error_out;
            ctx->error_out = NULL;
            return ngx_http_next_body_filter(r, out);
        }
    }

    return NGX_OK;
}
