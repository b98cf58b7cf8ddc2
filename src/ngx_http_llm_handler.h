
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_HANDLER_H_INCLUDED_
#define _NGX_HTTP_LLM_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


ngx_int_t ngx_http_llm_handler(ngx_http_request_t *r);

/* a token count estimated by the gateway: the answer, the response flagged */
ngx_chain_t *ngx_http_llm_count_estimate(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_HANDLER_H_INCLUDED_ */
