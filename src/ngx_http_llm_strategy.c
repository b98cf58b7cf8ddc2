
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_strategy.h"
#include "ngx_http_llm_fallback.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_shm.h"


/* a primary target that is not to be chosen (cooling down) */
#define NGX_HTTP_LLM_RANK_NONE  ((uint64_t) -1)

/* the rank of a target without a price (or not measured yet), after
 * every priced (measured) one */
#define NGX_HTTP_LLM_RANK_UNPRICED  ((uint64_t) -2)
#define NGX_HTTP_LLM_RANK_UNKNOWN   NGX_HTTP_LLM_RANK_UNPRICED

/* new EWMA sample weight, in tenths */
#define NGX_HTTP_LLM_EWMA_NEW   3


/* the attempt counted in flight, until the request ends */

typedef struct {
    ngx_http_request_t         *request;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_target_t      *target;
    ngx_http_llm_balance_t     *balance;
    ngx_msec_t                  start;
} ngx_http_llm_busy_t;


static ngx_http_llm_target_t *ngx_http_llm_explore(ngx_http_request_t *r,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_target_t *t,
    uint64_t *rank, ngx_uint_t n);
static ngx_uint_t ngx_http_llm_cooling(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_target_t *t);
static void ngx_http_llm_busy_cleanup(void *data);
static void ngx_http_llm_busy_end(ngx_http_llm_busy_t *busy, ngx_uint_t ok);


ngx_int_t
ngx_http_llm_strategy_init(ngx_conf_t *cf, ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_route_t *route)
{
    ngx_uint_t              i;
    ngx_http_llm_price_t   *price;
    ngx_http_llm_target_t  *t;

    t = route->targets.elts;

    switch (route->strategy) {

    case NGX_HTTP_LLM_STRATEGY_LEAST_BUSY:
    case NGX_HTTP_LLM_STRATEGY_LATENCY:

        /* counted across workers, or not at all */

        if (lmcf->zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "strategy=%s of llm_route \"%V\" requires "
                          "\"llm_zone\" in %s:%ui",
                          route->strategy == NGX_HTTP_LLM_STRATEGY_LATENCY
                          ? "lowest-latency" : "least-busy",
                          &route->pattern, route->file, route->line);
            return NGX_ERROR;
        }

        lmcf->track = 1;
        break;

    case NGX_HTTP_LLM_STRATEGY_CHEAPEST:

        /* a target that names its model is priced now, others per request */

        for (i = 0; i < route->nprimary; i++) {
            if (t[i].model.len == 0
                || ngx_strlchr(t[i].model.data,
                               t[i].model.data + t[i].model.len, '$'))
            {
                continue;
            }

            price = ngx_http_llm_price_of(lmcf, &t[i].model);

            if (price) {
                t[i].price = price->input + price->output;
            }

            t[i].priced = 1;

            if (price == NULL) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "no llm_price of \"%V\": strategy=cheapest "
                              "of llm_route \"%V\" tries it last in %s:%ui",
                              &t[i].model, &route->pattern, route->file,
                              route->line);
                t[i].price = NGX_HTTP_LLM_RANK_UNPRICED;
            }
        }

        break;

    default:
        break;
    }

    return NGX_OK;
}


/*
 * Every strategy ranks the primary targets (lower is better), then picks
 * among the best by weight, at random: weighted gives all the same rank,
 * priority its position, least-busy the requests in flight, cheapest
 * the price, lowest-latency the EWMA of the time to the first generated
 * text (streams, $llm_ttft) or of the total time.
 */

ngx_http_llm_target_t *
ngx_http_llm_strategy_pick(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_route_t *route)
{
    uint64_t                   best, local[16], *rank;
    ngx_uint_t                 i, n, total, usable, w;
    ngx_http_llm_price_t      *price;
    ngx_http_llm_target_t     *t, *found;
    ngx_http_llm_balance_t    *b;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    t = route->targets.elts;
    n = route->nprimary;

    if (n == 1) {
        return &t[0];
    }

    rank = local;

    if (n > 16) {
        rank = ngx_palloc(r->pool, n * sizeof(uint64_t));
        if (rank == NULL) {
            return &t[0];
        }
    }

    /* a target cooling down is passed over while another is left */

    usable = 0;

    for (i = 0; i < n; i++) {
        rank[i] = ngx_http_llm_cooling(r, ctx, &t[i]) ? NGX_HTTP_LLM_RANK_NONE
                                                      : 0;
        usable += (rank[i] == 0);
    }

    if (usable == 0) {
        ngx_memzero(rank, n * sizeof(uint64_t));
    }

    for (i = 0; i < n; i++) {

        if (rank[i] == NGX_HTTP_LLM_RANK_NONE) {
            continue;
        }

        switch (route->strategy) {

        case NGX_HTTP_LLM_STRATEGY_PRIORITY:
            rank[i] = i;
            break;

        case NGX_HTTP_LLM_STRATEGY_LEAST_BUSY:
            b = ngx_http_llm_balance(lmcf, &t[i]);
            rank[i] = b ? b->in_flight : 0;
            break;

        case NGX_HTTP_LLM_STRATEGY_LATENCY:

            /* one not measured yet (its first request is out) comes last */

            b = ngx_http_llm_balance(lmcf, &t[i]);
            rank[i] = (b && b->samples) ? (ctx->stream ? b->ttft : b->total)
                                        : NGX_HTTP_LLM_RANK_UNKNOWN;
            break;

        case NGX_HTTP_LLM_STRATEGY_CHEAPEST:

            if (t[i].priced) {
                rank[i] = t[i].price;
                break;
            }

            /* the requested name goes upstream: its price */

            price = ngx_http_llm_price_of(lmcf, &ctx->model);

            rank[i] = price ? price->input + price->output
                            : NGX_HTTP_LLM_RANK_UNPRICED;
            break;

        default:
            break;
        }
    }

    if (route->strategy == NGX_HTTP_LLM_STRATEGY_LATENCY) {
        found = ngx_http_llm_explore(r, lmcf, t, rank, n);

        if (found) {
            return found;
        }
    }

    best = NGX_HTTP_LLM_RANK_NONE;

    for (i = 0; i < n; i++) {
        best = ngx_min(best, rank[i]);
    }

    /* weighted random choice among the best */

    total = 0;

    for (i = 0; i < n; i++) {
        if (rank[i] == best) {
            total += t[i].weight;
        }
    }

    w = (ngx_uint_t) ngx_random() % total;

    for (i = 0; i < n; i++) {
        if (rank[i] != best) {
            continue;
        }

        if (w < t[i].weight) {
            break;
        }

        w -= t[i].weight;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm strategy %ui: \"%V\" of %ui, rank %uL",
                   route->strategy, &t[i].name, n, rank[i]);

    return &t[i];
}


/*
 * lowest-latency: a target never measured, or not for a while, gets the
 * next request (one request, across the workers), in the order written
 */

static ngx_http_llm_target_t *
ngx_http_llm_explore(ngx_http_request_t *r, ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_target_t *t, uint64_t *rank, ngx_uint_t n)
{
    ngx_uint_t               i;
    ngx_msec_t               now, last;
    ngx_atomic_uint_t        explored;
    ngx_http_llm_balance_t  *b;

    now = ngx_current_msec;

    for (i = 0; i < n; i++) {

        if (rank[i] == NGX_HTTP_LLM_RANK_NONE) {
            continue;
        }

        b = ngx_http_llm_balance(lmcf, &t[i]);

        if (b == NULL) {
            continue;
        }

        explored = b->explored;

        /*
         * the stamps come from other workers too, whose cached time may
         * be a little ahead of this one's: signed differences
         */

        if (b->samples) {
            last = b->measured;

            if ((ngx_msec_int_t) (explored - last) > 0) {
                last = explored;
            }

            if ((ngx_msec_int_t) (now - last) < NGX_HTTP_LLM_EXPLORE_MS) {
                continue;
            }

        } else if (explored
                   && (ngx_msec_int_t) (now - explored)
                      < NGX_HTTP_LLM_EXPLORE_MS)
        {
            /* its first request is out */
            continue;
        }

        if (!ngx_atomic_cmp_set(&b->explored, explored, now ? now : 1)) {
            continue;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "http llm strategy: \"%V\" measured", &t[i].name);

        return &t[i];
    }

    return NULL;
}


static ngx_uint_t
ngx_http_llm_cooling(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_target_t *t)
{
    u_char                    *p;
    ngx_str_t                  name, *model;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0) {
        return 0;
    }

    /* the breaker's name: "provider:model" as sent upstream */

    model = t->model.len ? &t->model : &ctx->model;

    name.len = t->provider->name.len + 1 + model->len;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return 0;
    }

    p = ngx_cpymem(name.data, t->provider->name.data, t->provider->name.len);
    *p++ = ':';
    ngx_memcpy(p, model->data, model->len);

    return ngx_http_llm_cooldown_check(r, &name, 0) == NGX_HTTP_LLM_CD_OPEN;
}


ngx_http_llm_balance_t *
ngx_http_llm_balance(ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_target_t *t)
{
    ngx_http_llm_node_t  *node;

    /*
     * the node is never freed (one per target of the configuration):
     * its address is kept by this worker
     */

    if (t->stats || lmcf->zone == NULL) {
        return t->stats;
    }

    ngx_http_llm_shm_lock(lmcf->zone);

    node = ngx_http_llm_shm_payload_node(lmcf->zone,
                                         NGX_HTTP_LLM_NODE_BALANCE, &t->name,
                                         ngx_http_llm_shm_hash(&t->name),
                                         sizeof(ngx_http_llm_balance_t));

    ngx_http_llm_shm_unlock(lmcf->zone);

    if (node) {
        t->stats = ngx_http_llm_node_payload(node);
    }

    return t->stats;
}


ngx_int_t
ngx_http_llm_strategy_attempt(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_busy_t       *busy;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (!lmcf->track || ctx->target == NULL) {
        return NGX_OK;
    }

    busy = ctx->busy;

    if (busy == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llm_busy_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        busy = cln->data;
        ngx_memzero(busy, sizeof(ngx_http_llm_busy_t));

        busy->request = r;
        busy->ctx = ctx;

        cln->handler = ngx_http_llm_busy_cleanup;
        ctx->busy = busy;
    }

    if (busy->target == ctx->target) {
        return NGX_OK;
    }

    /* a fallback: the previous target is no longer busy with it */

    if (busy->balance) {
        (void) ngx_atomic_fetch_add(&busy->balance->in_flight, -1);
    }

    busy->target = ctx->target;
    busy->start = ngx_current_msec;
    busy->balance = ngx_http_llm_balance(lmcf, ctx->target);

    if (busy->balance) {
        (void) ngx_atomic_fetch_add(&busy->balance->in_flight, 1);
    }

    return NGX_OK;
}


/* the request is over: not in flight */

static void
ngx_http_llm_busy_cleanup(void *data)
{
    ngx_http_llm_busy_t *busy = data;

    ngx_http_llm_busy_end(busy, 0);
}


void
ngx_http_llm_strategy_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
    if (ctx->busy) {
        ngx_http_llm_busy_end(ctx->busy, rc == NGX_OK);
    }
}


/* once: not in flight; the times of a good answer are kept */

static void
ngx_http_llm_busy_end(ngx_http_llm_busy_t *busy, ngx_uint_t ok)
{
    ngx_msec_t                 now, total, ttft;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_balance_t    *b;
    ngx_http_llm_main_conf_t  *lmcf;

    b = busy->balance;

    if (b == NULL) {
        return;
    }

    busy->balance = NULL;

    (void) ngx_atomic_fetch_add(&b->in_flight, -1);

    ctx = busy->ctx;

    if (!ok || ctx->upstream_status < 200 || ctx->upstream_status >= 300
        || ctx->stream_failed || busy->request->connection->error)
    {
        return;
    }

    lmcf = ngx_http_get_module_main_conf(busy->request, ngx_http_llm_module);

    now = ngx_current_msec;
    total = now - busy->start;

    /*
     * the first generated text of this attempt ($llm_ttft), else its
     * first byte ($llm_ttfb), not those of one before a fallback
     */

    if (ctx->first_token_msec
        && (ngx_msec_int_t) (ctx->first_token_msec - busy->start) >= 0)
    {
        ttft = ctx->first_token_msec - busy->start;

    } else if (ctx->first_byte_msec
               && (ngx_msec_int_t) (ctx->first_byte_msec - busy->start) >= 0)
    {
        ttft = ctx->first_byte_msec - busy->start;

    } else {
        ttft = total;
    }

    ngx_http_llm_shm_lock(lmcf->zone);

    if (b->samples == 0) {
        b->ttft = ttft;
        b->total = total;

    } else {
        b->ttft = (b->ttft * (10 - NGX_HTTP_LLM_EWMA_NEW)
                   + ttft * NGX_HTTP_LLM_EWMA_NEW) / 10;
        b->total = (b->total * (10 - NGX_HTTP_LLM_EWMA_NEW)
                    + total * NGX_HTTP_LLM_EWMA_NEW) / 10;
    }

    b->samples++;
    b->measured = now;

    ngx_http_llm_shm_unlock(lmcf->zone);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, busy->request->connection->log, 0,
                   "http llm latency of \"%V\": %Mms, %Mms to first token",
                   &busy->target->name, total, ttft);
}
