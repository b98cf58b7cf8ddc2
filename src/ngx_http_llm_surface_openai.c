
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
 * The OpenAI Chat Completions surface: parses a chat request into the
 * canonical request, writes canonical responses, stream deltas (as
 * chat.completion.chunk events) and errors in OpenAI's format.
 * (Parsing and writing are being written; until then only errors.)
 */


static ngx_int_t ngx_http_llm_openai_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req);
static ngx_int_t ngx_http_llm_openai_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out);
static ngx_int_t ngx_http_llm_openai_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta,
    ngx_chain_t ***ll);
static ngx_chain_t *ngx_http_llm_openai_write_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code,
    ngx_str_t *message);


const ngx_http_llm_surface_t  ngx_http_llm_surface_openai = {
    ngx_string("openai"),
    ngx_http_llm_openai_parse_request,
    ngx_http_llm_openai_write_response,
    ngx_http_llm_openai_write_delta,
    ngx_http_llm_openai_write_error
};


static ngx_int_t
ngx_http_llm_openai_parse_request(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_json_t *js,
    ngx_http_llm_request_t *req)
{
    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_llm_openai_write_response(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_response_t *resp,
    ngx_chain_t **out)
{
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llm_openai_write_delta(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_delta_t *delta, ngx_chain_t ***ll)
{
    return NGX_ERROR;
}


static ngx_chain_t *
ngx_http_llm_openai_write_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *code, ngx_str_t *message)
{
    return ngx_http_llm_error_body(r, message, type, code, NULL);
}
