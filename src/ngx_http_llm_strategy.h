
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_STRATEGY_H_INCLUDED_
#define _NGX_HTTP_LLM_STRATEGY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/*
 * How a route chooses its primary target (llm_route strategy=): weighted
 * random, priority order, least-busy, lowest-latency, cheapest; targets
 * whose breaker is open (llm_cooldown) are passed over while another is
 * left.  The in-flight count and the latency of each target live in the
 * llm_zone, in a node of kind NGX_HTTP_LLM_NODE_BALANCE named as the
 * target is written ("provider:model"), shared by every route and worker.
 */

/* a target's counters in the zone */

typedef struct {
    ngx_atomic_t                in_flight;
    ngx_atomic_t                ttft;       /* EWMA, ms */
    ngx_atomic_t                total;      /* EWMA, ms */
    ngx_atomic_t                samples;
    ngx_atomic_t                measured;   /* ngx_current_msec */
    ngx_atomic_t                explored;   /* a request sent to measure */
} ngx_http_llm_balance_t;


/* a target unmeasured for this long gets one request to measure it */
#define NGX_HTTP_LLM_EXPLORE_MS  30000


/* config time, for every route: prices, the zone the strategy needs */
ngx_int_t ngx_http_llm_strategy_init(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_route_t *route);

/* the primary target of the request, by the route's strategy */
ngx_http_llm_target_t *ngx_http_llm_strategy_pick(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_route_t *route);

/*
 * An attempt goes to ctx->target: counted in flight there (and no more
 * at the previous target), timed; until the request ends.
 */
ngx_int_t ngx_http_llm_strategy_attempt(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/*
 * The upstream part of the request is over (u->finalize_request): no
 * longer in flight; a good answer's times are kept.  Otherwise the same
 * is done when the request ends.
 */
void ngx_http_llm_strategy_done(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t rc);

/* the counters of a target; NULL without a zone or room in it */
ngx_http_llm_balance_t *ngx_http_llm_balance(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_target_t *t);


#endif /* _NGX_HTTP_LLM_STRATEGY_H_INCLUDED_ */
