
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_error.h"


/*
 * The Anthropic Messages surface (POST /v1/messages): parses a request
 * into the canonical request, writes canonical responses, stream deltas
 * (Anthropic SSE events) and errors in Anthropic's format.
 * (Parsing and writing are being written; until then only errors.)
 */


static ngx_int_t ngx_http_llm_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static ngx_int_t ngx_http_llm_anthropic_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_chain_t *ngx_http_llm_anthropic_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);


const ngx_http_llm_surface_t  ngx_http_llm_surface_anthropic = {
    ngx_string("anthropic"),
    ngx_http_llm_anthropic_parse_request,
    ngx_http_llm_anthropic_write_response,
    ngx_http_llm_anthropic_write_delta,
    ngx_http_llm_anthropic_write_error
};


static ngx_int_t
ngx_http_llm_anthropic_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_llm_anthropic_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llm_anthropic_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    return NGX_ERROR;
}


static ngx_chain_t *
ngx_http_llm_anthropic_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    return ngx_http_llm_error_body(r, message, type, code, NULL);
}
