
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_LLM_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/* after routing: hooks the upstream to the provider and starts it */
void ngx_http_llm_upstream_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/*
 * the upstream conf of the attempt (a provider's): a copy of it when
 * llm_first_token_timeout replaces the read timeout until the first
 * bytes of the answer
 */
ngx_int_t ngx_http_llm_upstream_conf(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_upstream_conf_t *conf);

/* appends one SSE event "data: <payload>\n\n" to the output chain */
ngx_int_t ngx_http_llm_emit_event(ngx_http_request_t *r, ngx_str_t *name,
    u_char *data, size_t len, ngx_chain_t ***ll);


#endif /* _NGX_HTTP_LLM_UPSTREAM_H_INCLUDED_ */
