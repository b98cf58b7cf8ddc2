
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_FALLBACK_H_INCLUDED_
#define _NGX_HTTP_LLM_FALLBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/*
 * Cross-provider fallback: a peer wrapper whose get() moves from one
 * target's upstream{} to the next one's (each with its own peer.init,
 * keepalive pool and TLS name), and a circuit breaker per target in the
 * llm_zone ("llm_cooldown").
 */

/* the route of ctx has fallbacks: sets up ctx->fallback and u->conf */
ngx_int_t ngx_http_llm_fallback_prepare(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* upstream{} peer.init of requests with fallbacks */
ngx_int_t ngx_http_llm_fallback_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);

/*
 * A held error answer: NGX_HTTP_UPSTREAM_INVALID_HEADER when the next
 * target is to be tried instead, NGX_DECLINED when it is the answer.
 */
ngx_int_t ngx_http_llm_fallback_status(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body);

/* whether another target is to be tried now, after this one failed */
ngx_uint_t ngx_http_llm_fallback_next(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* reinit_request: the request is rebuilt when the target changed */
ngx_int_t ngx_http_llm_fallback_reinit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* what a target's breaker answers */
#define NGX_HTTP_LLM_CD_CLOSED   0
#define NGX_HTTP_LLM_CD_OPEN     1
#define NGX_HTTP_LLM_CD_PROBE    2

/*
 * The breaker of the target "provider:model"; with "take", a target whose
 * period is over is given to this request as its probe.
 */
ngx_uint_t ngx_http_llm_cooldown_check(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t take);

/* llm_cooldown: a route without fallbacks probes its target, if due */
ngx_int_t ngx_http_llm_cooldown_choose(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* a request without fallbacks ended (finalize_request's rc) */
void ngx_http_llm_cooldown_done(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t rc);


/* a target's breaker, as llm_status shows it */

#define NGX_HTTP_LLM_COOLDOWN_CLOSED     0
#define NGX_HTTP_LLM_COOLDOWN_OPEN       1
#define NGX_HTTP_LLM_COOLDOWN_HALF_OPEN  2  /* period over, probe due */

typedef struct {
    ngx_str_t                           name;       /* provider:model */
    ngx_uint_t                          state;
    ngx_msec_t                          open_ms;    /* left, when open */
    uint64_t                            failures;   /* in the window */
    uint64_t                            failures_total;
    uint64_t                            opened;
    uint64_t                            probes;
} ngx_http_llm_cooldown_entry_t;

/* entries: an array of ngx_http_llm_cooldown_entry_t, initialized here */
ngx_int_t ngx_http_llm_cooldown_snapshot(ngx_http_request_t *r,
    ngx_array_t *entries);

char *ngx_http_llm_cooldown_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_LLM_FALLBACK_H_INCLUDED_ */
