
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_ROUTER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/* a workload condition of a route, "if=" */

#define NGX_HTTP_LLM_COND_STREAM  1
#define NGX_HTTP_LLM_COND_TOOLS   2
#define NGX_HTTP_LLM_COND_IMAGES  3
#define NGX_HTTP_LLM_COND_TOKENS  4     /* estimated prompt tokens */
#define NGX_HTTP_LLM_COND_VAR     5

typedef struct {
    ngx_uint_t                  type;
    ngx_uint_t                  op;     /* '<', '>', 'l' (<=), 'g' (>=) */
    ngx_uint_t                  tokens;
    ngx_http_complex_value_t   *value;
    unsigned                    negate:1;
} ngx_http_llm_cond_t;


/* what the conditions look at, computed once per request when needed */

typedef struct {
    ngx_uint_t                  tokens;     /* estimated prompt tokens */
    ngx_uint_t                  messages;
    ngx_http_llm_route_t       *route;      /* the rule that matched */
    unsigned                    tools:1;
    unsigned                    images:1;
    unsigned                    done:1;
} ngx_http_llm_workload_t;


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

/* the workload of the request body (public for the tests' sake) */
ngx_int_t ngx_http_llm_workload(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_workload_t *w);

#define NGX_HTTP_LLM_ROUTE_ERROR  ((ngx_http_llm_route_t *) -1)


#endif /* _NGX_HTTP_LLM_ROUTER_H_INCLUDED_ */
