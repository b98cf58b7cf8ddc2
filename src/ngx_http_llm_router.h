
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_ROUTER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


ngx_int_t ngx_http_llm_router_init(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf);

/*
 * Finds the route for ctx->model and picks a target: sets ctx->route,
 * ctx->target, ctx->provider and ctx->upstream_model.
 * NGX_OK, NGX_DECLINED (no route), NGX_ERROR.
 */
ngx_int_t ngx_http_llm_route(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);

/*
 * The exact route (or alias) named "name", compared case-sensitively;
 * NULL when there is none, NGX_HTTP_LLM_ROUTE_ERROR without memory.
 */
ngx_http_llm_route_t *ngx_http_llm_route_exact(ngx_http_request_t *r,
    ngx_str_t *name);

#define NGX_HTTP_LLM_ROUTE_ERROR  ((ngx_http_llm_route_t *) -1)


#endif /* _NGX_HTTP_LLM_ROUTER_H_INCLUDED_ */
