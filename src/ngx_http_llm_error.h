
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_ERROR_H_INCLUDED_
#define _NGX_HTTP_LLM_ERROR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/* an OpenAI-format error body: {"error":{message,type,param,code}} */
ngx_chain_t *ngx_http_llm_error_body(ngx_http_request_t *r,
    ngx_str_t *message, ngx_str_t *type, ngx_str_t *code, ngx_str_t *param);

/* an error body in the format of the client's surface */
ngx_chain_t *ngx_http_llm_error_chain(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *code, ngx_str_t *message);

/* sends a whole JSON error response; returns what the handler returns */
ngx_int_t ngx_http_llm_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *code, const char *message);

/* sends a whole JSON response from a chain */
ngx_int_t ngx_http_llm_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out);

ngx_int_t ngx_http_llm_error_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ERROR_H_INCLUDED_ */
