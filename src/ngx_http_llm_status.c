
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_status.h"
#include "ngx_http_llm_shm.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_fallback.h"


/*
 * llm_status: counters of the requests that went through llm_pass, kept
 * in the llm zone, and their presentation, Prometheus text (0.0.4) or
 * JSON.  Accounting is done in the log phase, once the final status and
 * the provider's usage are known; the labels are names from the
 * configuration only (the llm_provider, the llm_route pattern), never
 * the model a client asked for, so a client cannot create series.
 */


/* a request sent to a provider: in flight until its pool is destroyed */

typedef struct {
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_zone_t        *zone;
    ngx_http_llm_node_t        *node;
} ngx_http_llm_status_req_t;


/* what the status page shows of one node, copied out of the zone */

typedef struct {
    ngx_uint_t                  kind;
    ngx_str_t                   name;       /* key, team, or model */
    ngx_str_t                   provider;   /* series only */
    ngx_str_t                   labels;     /* escaped, for the output */

    uint64_t                    requests;   /* key, team */
    uint64_t                    prompt_tokens;
    uint64_t                    completion_tokens;
    uint64_t                    cost;
    uint64_t                    responses[5];

    ngx_http_llm_stats_t        stats;      /* series */
} ngx_http_llm_status_entry_t;


typedef struct {
    ngx_http_llm_status_entry_t  *elts;
    ngx_uint_t                    nelts;
    ngx_atomic_uint_t             evicted;
    ngx_atomic_uint_t             refused;
} ngx_http_llm_status_snap_t;


static ngx_int_t ngx_http_llm_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_log_handler(ngx_http_request_t *r);
static void ngx_http_llm_status_cleanup(void *data);
static ngx_http_llm_status_req_t *ngx_http_llm_status_find(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_series(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name);
static ngx_uint_t ngx_http_llm_status_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t status, ngx_uint_t attempts);
static void ngx_http_llm_status_observe(ngx_http_llm_histogram_t *h,
    ngx_msec_int_t ms);
static ngx_int_t ngx_http_llm_status_snapshot(ngx_http_request_t *r,
    ngx_http_llm_zone_t *zone, ngx_http_llm_status_snap_t *snap);
static ngx_int_t ngx_http_llm_status_cmp(const void *one, const void *two);
static ngx_int_t ngx_http_llm_status_prometheus(ngx_http_request_t *r,
    ngx_http_llm_status_snap_t *snap, ngx_buf_t **bp);
static u_char *ngx_http_llm_status_prom_histogram(u_char *p,
    const char *name, ngx_str_t *labels, ngx_http_llm_histogram_t *h);
static ngx_int_t ngx_http_llm_status_json(ngx_http_request_t *r,
    ngx_str_t *zone_name, ngx_http_llm_status_snap_t *snap,
    ngx_buf_t **bp);
static u_char *ngx_http_llm_status_json_histogram(u_char *p,
    ngx_http_llm_histogram_t *h);
static size_t ngx_http_llm_status_escape_label(u_char *dst, ngx_str_t *src);
static u_char *ngx_http_llm_status_seconds(u_char *p, uint64_t ms);
static ngx_int_t ngx_http_llm_status_cooldown(ngx_http_request_t *r,
    ngx_uint_t json, ngx_buf_t *b, ngx_buf_t **bp);


static ngx_msec_t  ngx_http_llm_status_bounds[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};


static ngx_str_t  ngx_http_llm_status_le[] = {
    ngx_string("0.1"),
    ngx_string("0.25"),
    ngx_string("0.5"),
    ngx_string("1"),
    ngx_string("2.5"),
    ngx_string("5"),
    ngx_string("10"),
    ngx_string("30"),
    ngx_string("60"),
    ngx_string("+Inf")
};


static char  *ngx_http_llm_status_errors[] = {
    "client", "upstream", "timeout", "auth", "limit", "internal"
};


static char  *ngx_http_llm_status_token_types[] = {
    "prompt", "completion", "cached"
};


/* the counters of a series that are one number each */

typedef struct {
    char                       *name;
    char                       *help;
    char                       *json;
    size_t                      offset;
} ngx_http_llm_status_counter_t;


static ngx_http_llm_status_counter_t  ngx_http_llm_status_counters[] = {

    { "llm_upstream_attempts_total",
      "Connections to a provider, next upstream tries included.",
      "upstream_attempts",
      offsetof(ngx_http_llm_stats_t, attempts) },

    { "llm_upstream_retries_total",
      "Tries of the next upstream server after a failed one.",
      "upstream_retries",
      offsetof(ngx_http_llm_stats_t, retries) },

    { "llm_fallbacks_total",
      "Requests that went on to another target of their route.",
      "fallbacks",
      offsetof(ngx_http_llm_stats_t, fallbacks) },

    { NULL, NULL, NULL, 0 }
};


#define NGX_HTTP_LLM_STATUS_NO_ZONE                                           \
    "no llm_zone is configured: llm_status has nothing to count"


char *
ngx_http_llm_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_llm_main_conf_t  *lmcf;

    if (llcf->status_format) {
        return "is duplicate";
    }

    value = cf->args->elts;

    llcf->status_format = NGX_HTTP_LLM_STATUS_PROMETHEUS;

    if (cf->args->nelts == 2) {

        if (value[1].len == 4
            && ngx_strncmp(value[1].data, "json", 4) == 0)
        {
            llcf->status_format = NGX_HTTP_LLM_STATUS_JSON;

        } else if (value[1].len != 10
                   || ngx_strncmp(value[1].data, "prometheus", 10) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler || llcf->enabled == 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llm_status\" cannot be used in a location "
                           "that has another content handler");
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_llm_status_handler;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_module);
    lmcf->status = 1;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_status_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_llm_main_conf_t   *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_module);

    /* nothing is counted when nothing shows it */

    if (!lmcf->status || lmcf->zone == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llm_status_log_handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_status_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_str_t                   name;
    ngx_pool_cleanup_t         *cln;
    ngx_http_llm_stats_t       *stats;
    ngx_http_llm_status_req_t  *sr;
    ngx_http_llm_main_conf_t   *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (!lmcf->status || lmcf->zone == NULL
        || ngx_http_llm_status_find(r))
    {
        return NGX_OK;
    }

    if (ngx_http_llm_status_series(r, ctx, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llm_status_req_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    sr = cln->data;
    sr->ctx = ctx;
    sr->zone = lmcf->zone;

    ngx_http_llm_shm_lock(lmcf->zone);

    sr->node = ngx_http_llm_shm_payload_node(lmcf->zone,
                                             NGX_HTTP_LLM_NODE_SERIES, &name,
                                             ngx_http_llm_shm_hash(&name),
                                             sizeof(ngx_http_llm_stats_t));

    ngx_http_llm_shm_unlock(lmcf->zone);

    if (sr->node) {
        stats = ngx_http_llm_node_payload(sr->node);
        (void) ngx_atomic_fetch_add(&stats->in_flight, 1);
    }

    cln->handler = ngx_http_llm_status_cleanup;

    return NGX_OK;
}


static void
ngx_http_llm_status_cleanup(void *data)
{
    ngx_http_llm_status_req_t *sr = data;

    ngx_http_llm_stats_t  *stats;

    if (sr->node) {
        stats = ngx_http_llm_node_payload(sr->node);
        (void) ngx_atomic_fetch_add(&stats->in_flight, -1);
    }
}


/*
 * The ctx of an llm request, even after an internal redirect (error_page)
 * cleared the module's ctx: the cleanup of llm_status keeps a pointer.
 */

static ngx_http_llm_status_req_t *
ngx_http_llm_status_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_llm_status_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/* the node name of a series: provider, a zero byte, model (route) */

static ngx_int_t
ngx_http_llm_status_series(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *name)
{
    u_char     *p;
    ngx_str_t   provider, model;

    if (ctx->provider) {
        provider = ctx->provider->name;

    } else {
        ngx_str_set(&provider, "none");
    }

    if (ctx->route) {
        model = ctx->route->pattern;

    } else {
        ngx_str_set(&model, "unrouted");
    }

    name->len = provider.len + 1 + model.len;
    name->data = ngx_pnalloc(r->pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name->data, provider.data, provider.len);
    *p++ = '\0';
    ngx_memcpy(p, model.data, model.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_status_log_handler(ngx_http_request_t *r)
{
    uint64_t                    cost;
    ngx_str_t                   name;
    ngx_int_t                   prompt, completion, cached;
    ngx_uint_t                  status, attempts, err;
    ngx_time_t                 *tp;
    ngx_msec_int_t              ttfb, ttft, duration;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_node_t        *node;
    ngx_http_llm_zone_t        *zone;
    ngx_http_llm_stats_t       *stats;
    ngx_http_llm_status_req_t  *sr;
    ngx_http_llm_main_conf_t   *lmcf;

    if (r != r->main) {
        return NGX_OK;
    }

    ngx_str_null(&name);

    sr = ngx_http_llm_status_find(r);

    ctx = sr ? sr->ctx : ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (ctx == NULL || ctx->surface == NGX_HTTP_LLM_SURFACE_MODELS) {
        return NGX_OK;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);
    zone = lmcf->zone;

    /* everything that allocates or takes time, before the lock */

    /*
     * the series of the provider that answered: after a fallback, not
     * the one that was counted in flight at the start
     */

    if (sr == NULL || sr->node == NULL || ctx->attempts > 1) {
        if (ngx_http_llm_status_series(r, ctx, &name) != NGX_OK) {
            return NGX_OK;
        }
    }

    if (r->err_status) {
        status = r->err_status;

    } else {
        status = r->headers_out.status;
    }

    attempts = r->upstream_states ? r->upstream_states->nelts : 0;

    err = ngx_http_llm_status_error(r, ctx, status, attempts);

    prompt = 0;
    completion = 0;
    cached = 0;
    cost = 0;

    if (ctx->usage.known) {
        prompt = ngx_max(ctx->usage.prompt, 0);
        completion = ngx_max(ctx->usage.completion, 0);
        cached = ngx_min(ngx_max(ctx->usage.cached, 0), prompt);

        if (ngx_http_llm_cost(r, ctx, &cost) != NGX_OK) {
            cost = 0;
        }
    }

    ttfb = -1;
    ttft = -1;

    if (ctx->first_token_msec && ctx->start_msec) {
        ttft = (ngx_msec_int_t) (ctx->first_token_msec - ctx->start_msec);
    }

    if (ctx->first_byte_msec && ctx->start_msec) {
        ttfb = (ngx_msec_int_t) (ctx->first_byte_msec - ctx->start_msec);
    }

    tp = ngx_timeofday();

    duration = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                                 + (tp->msec - r->start_msec));

    ngx_http_llm_shm_lock(zone);

    if (sr && sr->node && ctx->attempts <= 1) {
        node = sr->node;

    } else {
        node = ngx_http_llm_shm_payload_node(zone, NGX_HTTP_LLM_NODE_SERIES,
                                             &name,
                                             ngx_http_llm_shm_hash(&name),
                                             sizeof(ngx_http_llm_stats_t));
    }

    if (node == NULL) {
        ngx_http_llm_shm_unlock(zone);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "http llm status: no room in the zone");
        return NGX_OK;
    }

    stats = ngx_http_llm_node_payload(node);

    if (status >= 100 && status < 600) {
        stats->status[status / 100 - 1]++;
    }

    stats->prompt_tokens += prompt;
    stats->completion_tokens += completion;
    stats->cached_tokens += cached;
    stats->cost += cost;

    if (err != NGX_HTTP_LLM_ERR_CLASSES) {
        stats->errors[err]++;
    }

    stats->attempts += attempts;

    if (attempts > 1) {
        stats->retries += attempts - 1;
    }

    /* targets tried before the one that answered (llm_route fallback=) */

    if (ctx->attempts > 1) {
        stats->fallbacks += ctx->attempts - 1;
    }

    if (ttfb >= 0) {
        ngx_http_llm_status_observe(&stats->ttfb, ttfb);
    }

    if (ttft >= 0) {
        ngx_http_llm_status_observe(&stats->ttft, ttft);
    }

    ngx_http_llm_status_observe(&stats->duration, duration);

    ngx_http_llm_shm_unlock(zone);

    return NGX_OK;
}


/*
 * The error class of a request, NGX_HTTP_LLM_ERR_CLASSES when it is none:
 * refused by nginx before any provider was tried (auth, limit, client,
 * internal), or failed at the provider (timeout, upstream, or client
 * when the provider refused the request itself).
 */

static ngx_uint_t
ngx_http_llm_status_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, ngx_uint_t attempts)
{
    ngx_uint_t                  ustatus;
    ngx_http_upstream_state_t  *state;

    /* a stream cut short: by a timeout, by the provider, by the client */

    if (ctx->stream_timeout) {
        return NGX_HTTP_LLM_ERR_TIMEOUT;
    }

    if (ctx->usage_estimated && !ctx->stream_failed) {
        return NGX_HTTP_LLM_ERR_CLIENT;
    }

    if (status < 400 && !ctx->stream_failed) {
        return NGX_HTTP_LLM_ERR_CLASSES;
    }

    if (status == NGX_HTTP_CLIENT_CLOSED_REQUEST) {
        return NGX_HTTP_LLM_ERR_CLIENT;
    }

    if (attempts == 0) {

        switch (status) {

        case NGX_HTTP_UNAUTHORIZED:
        case NGX_HTTP_FORBIDDEN:
            return NGX_HTTP_LLM_ERR_AUTH;

        case NGX_HTTP_TOO_MANY_REQUESTS:
        case NGX_HTTP_SERVICE_UNAVAILABLE:      /* zone_full */
            return NGX_HTTP_LLM_ERR_LIMIT;

        default:
            return (status < 500) ? NGX_HTTP_LLM_ERR_CLIENT
                                  : NGX_HTTP_LLM_ERR_INTERNAL;
        }
    }

    state = r->upstream_states->elts;

    if (state[attempts - 1].status == NGX_HTTP_GATEWAY_TIME_OUT
        || status == NGX_HTTP_GATEWAY_TIME_OUT)
    {
        return NGX_HTTP_LLM_ERR_TIMEOUT;
    }

    ustatus = ctx->upstream_status;

    if (ustatus >= 400 && ustatus < 500
        && ustatus != NGX_HTTP_UNAUTHORIZED
        && ustatus != NGX_HTTP_FORBIDDEN
        && ustatus != NGX_HTTP_TOO_MANY_REQUESTS)
    {
        return NGX_HTTP_LLM_ERR_CLIENT;
    }

    return NGX_HTTP_LLM_ERR_UPSTREAM;
}


static void
ngx_http_llm_status_observe(ngx_http_llm_histogram_t *h, ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    if (ms < 0) {
        ms = 0;
    }

    for (i = 0; i < NGX_HTTP_LLM_STATUS_BUCKETS - 1; i++) {
        if ((ngx_msec_t) ms <= ngx_http_llm_status_bounds[i]) {
            break;
        }
    }

    h->bucket[i]++;
    h->sum += ms;
}


static ngx_int_t
ngx_http_llm_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_buf_t                   *b, *cd;
    ngx_str_t                   *zone_name;
    ngx_chain_t                  out, more;
    ngx_http_llm_loc_conf_t     *llcf;
    ngx_http_llm_main_conf_t    *lmcf;
    ngx_http_llm_status_snap_t   snap;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    ngx_memzero(&snap, sizeof(ngx_http_llm_status_snap_t));

    zone_name = NULL;

    if (lmcf->zone) {
        zone_name = &lmcf->zone->shm_zone->shm.name;

        if (ngx_http_llm_status_snapshot(r, lmcf->zone, &snap) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (llcf->status_format == NGX_HTTP_LLM_STATUS_JSON) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        rc = ngx_http_llm_status_json(r, zone_name, &snap, &b);

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

        if (zone_name) {
            rc = ngx_http_llm_status_prometheus(r, &snap, &b);

        } else {
            b = ngx_create_temp_buf(r->pool,
                                    sizeof("# " NGX_HTTP_LLM_STATUS_NO_ZONE
                                           "\n") - 1);
            if (b == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            b->last = ngx_cpymem(b->last, "# " NGX_HTTP_LLM_STATUS_NO_ZONE
                                 "\n",
                                 sizeof("# " NGX_HTTP_LLM_STATUS_NO_ZONE
                                        "\n") - 1);
            rc = NGX_OK;
        }
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* llm_cooldown: the targets' breakers follow */

    cd = NULL;

    if (zone_name
        && ngx_http_llm_status_cooldown(r, llcf->status_format
                                           == NGX_HTTP_LLM_STATUS_JSON,
                                        b, &cd)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos
                                      + (cd ? cd->last - cd->pos : 0);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    if (cd) {
        more.buf = cd;
        more.next = NULL;
        out.next = &more;
        b = cd;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (b->last == b->pos) {
        b->temporary = 0;
    }

    return ngx_http_output_filter(r, &out);
}


/*
 * The nodes of the zone copied out under its mutex, in two short
 * sections: one counts (to allocate outside the lock), one copies what
 * fits; the copy is sorted by kind and name.
 */

static ngx_int_t
ngx_http_llm_status_snapshot(ngx_http_request_t *r, ngx_http_llm_zone_t *zone,
    ngx_http_llm_status_snap_t *snap)
{
    u_char                       *names, *last;
    size_t                        len;
    ngx_uint_t                    n, i;
    ngx_queue_t                  *q;
    ngx_http_llm_node_t          *ln;
    ngx_http_llm_stats_t         *stats;
    ngx_http_llm_status_entry_t  *e;

    n = 0;
    len = 0;

    ngx_http_llm_shm_lock(zone);

    for (q = ngx_queue_head(&zone->sh->queue);
         q != ngx_queue_sentinel(&zone->sh->queue);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_node_t, queue);
        n++;
        len += ln->len;
    }

    ngx_http_llm_shm_unlock(zone);

    /* room for the nodes created meanwhile */

    n += 64;
    len += 64 * 256;

    snap->elts = ngx_pcalloc(r->pool,
                             n * sizeof(ngx_http_llm_status_entry_t));
    names = ngx_pnalloc(r->pool, len);

    if (snap->elts == NULL || names == NULL) {
        return NGX_ERROR;
    }

    last = names + len;
    i = 0;

    ngx_http_llm_shm_lock(zone);

    for (q = ngx_queue_head(&zone->sh->queue);
         q != ngx_queue_sentinel(&zone->sh->queue) && i < n;
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_node_t, queue);

        if ((size_t) (last - names) < ln->len) {
            continue;
        }

        e = &snap->elts[i++];

        e->kind = ln->kind;
        e->name.data = names;
        e->name.len = ln->len;
        names = ngx_cpymem(names, ln->data, ln->len);

        if (ln->kind == NGX_HTTP_LLM_NODE_SERIES) {
            stats = ngx_http_llm_node_payload(ln);
            e->stats = *stats;
            continue;
        }

        e->requests = ln->requests;
        e->prompt_tokens = ln->prompt_tokens;
        e->completion_tokens = ln->completion_tokens;
        e->cost = ln->cost_total;
        ngx_memcpy(e->responses, ln->responses, sizeof(e->responses));
    }

    snap->evicted = zone->sh->evicted;
    snap->refused = zone->sh->refused;

    ngx_http_llm_shm_unlock(zone);

    snap->nelts = i;

    /* a series is named "provider\0model" */

    for (i = 0; i < snap->nelts; i++) {
        e = &snap->elts[i];

        if (e->kind != NGX_HTTP_LLM_NODE_SERIES) {
            continue;
        }

        last = ngx_strlchr(e->name.data, e->name.data + e->name.len, '\0');

        if (last == NULL) {
            e->kind = 0;
            continue;
        }

        e->provider.data = e->name.data;
        e->provider.len = last - e->name.data;
        e->name.len -= e->provider.len + 1;
        e->name.data = last + 1;
    }

    ngx_sort(snap->elts, snap->nelts, sizeof(ngx_http_llm_status_entry_t),
             ngx_http_llm_status_cmp);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_status_cmp(const void *one, const void *two)
{
    ngx_int_t                     rc;
    ngx_http_llm_status_entry_t  *a, *b;

    a = (ngx_http_llm_status_entry_t *) one;
    b = (ngx_http_llm_status_entry_t *) two;

    if (a->kind != b->kind) {
        return (a->kind < b->kind) ? -1 : 1;
    }

    rc = ngx_memn2cmp(a->provider.data, b->provider.data, a->provider.len,
                      b->provider.len);

    if (rc != 0) {
        return rc;
    }

    return ngx_memn2cmp(a->name.data, b->name.data, a->name.len,
                        b->name.len);
}


/* Prometheus text exposition format 0.0.4 */

#define ngx_http_llm_prom_head(p, name, type, help)                           \
    ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type)


static ngx_int_t
ngx_http_llm_status_prometheus(ngx_http_request_t *r,
    ngx_http_llm_status_snap_t *snap, ngx_buf_t **bp)
{
    u_char                         *p;
    size_t                          size, len;
    uint64_t                        v;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, kind;
    ngx_http_llm_status_entry_t    *e;
    ngx_http_llm_status_counter_t  *c;

    static char  *who[] = { NULL, "key", "team" };

    /* labels escaped, and the size of the output, measured first */

    size = 32 * 512;

    for (i = 0; i < snap->nelts; i++) {
        e = &snap->elts[i];

        if (e->kind == NGX_HTTP_LLM_NODE_SERIES) {
            len = sizeof("provider=\"\",model=\"\"") - 1
                  + ngx_http_llm_status_escape_label(NULL, &e->provider)
                  + ngx_http_llm_status_escape_label(NULL, &e->name);

        } else if (e->kind == NGX_HTTP_LLM_NODE_KEY
                   || e->kind == NGX_HTTP_LLM_NODE_TEAM)
        {
            len = sizeof("team=\"\"") - 1
                  + ngx_http_llm_status_escape_label(NULL, &e->name);

        } else {
            continue;
        }

        e->labels.data = ngx_pnalloc(r->pool, len);
        if (e->labels.data == NULL) {
            return NGX_ERROR;
        }

        p = e->labels.data;

        if (e->kind == NGX_HTTP_LLM_NODE_SERIES) {
            p = ngx_cpymem(p, "provider=\"", sizeof("provider=\"") - 1);
            p += ngx_http_llm_status_escape_label(p, &e->provider);
            p = ngx_cpymem(p, "\",model=\"", sizeof("\",model=\"") - 1);

        } else {
            p = ngx_sprintf(p, "%s=\"", who[e->kind]);
        }

        p += ngx_http_llm_status_escape_label(p, &e->name);
        *p++ = '"';

        e->labels.len = p - e->labels.data;

        size += 64 * (e->labels.len + 128);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

#define ngx_http_llm_prom_series(e)                                           \
    for (i = 0; i < snap->nelts; i++)                                         \
        if ((e = &snap->elts[i])->kind == NGX_HTTP_LLM_NODE_SERIES)

    p = ngx_http_llm_prom_head(p, "llm_requests_total", "counter",
                               "Requests by provider, model (the llm_route "
                               "pattern) and status class.");

    ngx_http_llm_prom_series(e) {
        for (j = 0; j < 5; j++) {
            if (e->stats.status[j]) {
                p = ngx_sprintf(p, "llm_requests_total{%V,status=\"%uixx\"}"
                                " %uL\n", &e->labels, j + 1,
                                e->stats.status[j]);
            }
        }
    }

    p = ngx_http_llm_prom_head(p, "llm_tokens_total", "counter",
                               "Tokens the providers reported: prompt, "
                               "completion, cached (part of prompt).");

    ngx_http_llm_prom_series(e) {
        for (j = 0; j < 3; j++) {
            v = (j == 0) ? e->stats.prompt_tokens
                : (j == 1) ? e->stats.completion_tokens
                : e->stats.cached_tokens;

            p = ngx_sprintf(p, "llm_tokens_total{%V,type=\"%s\"} %uL\n",
                            &e->labels, ngx_http_llm_status_token_types[j],
                            v);
        }
    }

    p = ngx_http_llm_prom_head(p, "llm_cost_dollars_total", "counter",
                               "Cost in US dollars, by llm_price.");

    ngx_http_llm_prom_series(e) {
        p = ngx_sprintf(p, "llm_cost_dollars_total{%V} ", &e->labels);
        p = ngx_http_llm_dollars(p, e->stats.cost);
        *p++ = '\n';
    }

    p = ngx_http_llm_prom_head(p, "llm_errors_total", "counter",
                               "Failed requests by class: client, upstream, "
                               "timeout, auth, limit, internal.");

    ngx_http_llm_prom_series(e) {
        for (j = 0; j < NGX_HTTP_LLM_ERR_CLASSES; j++) {
            if (e->stats.errors[j]) {
                p = ngx_sprintf(p, "llm_errors_total{%V,class=\"%s\"} %uL\n",
                                &e->labels, ngx_http_llm_status_errors[j],
                                e->stats.errors[j]);
            }
        }
    }

    for (c = ngx_http_llm_status_counters; c->name; c++) {
        p = ngx_http_llm_prom_head(p, c->name, "counter", c->help);

        ngx_http_llm_prom_series(e) {
            v = *(uint64_t *) ((u_char *) &e->stats + c->offset);
            p = ngx_sprintf(p, "%s{%V} %uL\n", c->name, &e->labels, v);
        }
    }

    p = ngx_http_llm_prom_head(p, "llm_requests_in_flight", "gauge",
                               "Requests sent to a provider and not "
                               "finished yet.");

    ngx_http_llm_prom_series(e) {
        p = ngx_sprintf(p, "llm_requests_in_flight{%V} %uA\n", &e->labels,
                        e->stats.in_flight);
    }

    p = ngx_http_llm_prom_head(p, "llm_time_to_first_byte_seconds",
                               "histogram",
                               "From the start of the upstream request to "
                               "the provider's response header.");

    ngx_http_llm_prom_series(e) {
        p = ngx_http_llm_status_prom_histogram(p,
                                               "llm_time_to_first_byte_seconds",
                                               &e->labels, &e->stats.ttfb);
    }

    p = ngx_http_llm_prom_head(p, "llm_time_to_first_token_seconds",
                               "histogram",
                               "Streams: from the start of the upstream "
                               "request to the first generated text.");

    ngx_http_llm_prom_series(e) {
        p = ngx_http_llm_status_prom_histogram(p,
                                        "llm_time_to_first_token_seconds",
                                        &e->labels, &e->stats.ttft);
    }

    p = ngx_http_llm_prom_head(p, "llm_request_duration_seconds",
                               "histogram",
                               "From the first byte of the client's request "
                               "to the last byte of the answer.");

    ngx_http_llm_prom_series(e) {
        p = ngx_http_llm_status_prom_histogram(p,
                                               "llm_request_duration_seconds",
                                               &e->labels, &e->stats.duration);
    }

#undef ngx_http_llm_prom_series

    /* the totals of each key and team that has a node in the zone */

    for (kind = NGX_HTTP_LLM_NODE_KEY; kind <= NGX_HTTP_LLM_NODE_TEAM; kind++)
    {
        p = ngx_sprintf(p, "# HELP llm_%s_requests_total Requests admitted "
                        "for the %s.\n# TYPE llm_%s_requests_total counter\n",
                        who[kind], who[kind], who[kind]);

        for (i = 0; i < snap->nelts; i++) {
            e = &snap->elts[i];

            if (e->kind == kind) {
                p = ngx_sprintf(p, "llm_%s_requests_total{%V} %uL\n",
                                who[kind], &e->labels, e->requests);
            }
        }

        p = ngx_sprintf(p, "# HELP llm_%s_responses_total Responses to the "
                        "%s by status class, its 429s included.\n"
                        "# TYPE llm_%s_responses_total counter\n",
                        who[kind], who[kind], who[kind]);

        for (i = 0; i < snap->nelts; i++) {
            e = &snap->elts[i];

            if (e->kind != kind) {
                continue;
            }

            for (j = 0; j < 5; j++) {
                if (e->responses[j]) {
                    p = ngx_sprintf(p, "llm_%s_responses_total{%V,"
                                    "status=\"%uixx\"} %uL\n", who[kind],
                                    &e->labels, j + 1, e->responses[j]);
                }
            }
        }

        p = ngx_sprintf(p, "# HELP llm_%s_tokens_total Tokens used by the "
                        "%s.\n# TYPE llm_%s_tokens_total counter\n",
                        who[kind], who[kind], who[kind]);

        for (i = 0; i < snap->nelts; i++) {
            e = &snap->elts[i];

            if (e->kind == kind) {
                p = ngx_sprintf(p, "llm_%s_tokens_total{%V,type=\"prompt\"} "
                                "%uL\nllm_%s_tokens_total{%V,"
                                "type=\"completion\"} %uL\n",
                                who[kind], &e->labels, e->prompt_tokens,
                                who[kind], &e->labels, e->completion_tokens);
            }
        }

        p = ngx_sprintf(p, "# HELP llm_%s_cost_dollars_total Cost in US "
                        "dollars of the %s.\n"
                        "# TYPE llm_%s_cost_dollars_total counter\n",
                        who[kind], who[kind], who[kind]);

        for (i = 0; i < snap->nelts; i++) {
            e = &snap->elts[i];

            if (e->kind == kind) {
                p = ngx_sprintf(p, "llm_%s_cost_dollars_total{%V} ",
                                who[kind], &e->labels);
                p = ngx_http_llm_dollars(p, e->cost);
                *p++ = '\n';
            }
        }
    }

    p = ngx_http_llm_prom_head(p, "llm_zone_evicted_total", "counter",
                               "Nodes of the llm zone freed to make room.");
    p = ngx_sprintf(p, "llm_zone_evicted_total %uA\n", snap->evicted);

    p = ngx_http_llm_prom_head(p, "llm_zone_refused_total", "counter",
                               "Nodes that found no room in the llm zone.");
    p = ngx_sprintf(p, "llm_zone_refused_total %uA\n", snap->refused);

    b->last = p;
    *bp = b;

    return NGX_OK;
}


static u_char *
ngx_http_llm_status_prom_histogram(u_char *p, const char *name,
    ngx_str_t *labels, ngx_http_llm_histogram_t *h)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < NGX_HTTP_LLM_STATUS_BUCKETS; i++) {
        n += h->bucket[i];
        p = ngx_sprintf(p, "%s_bucket{%V,le=\"%V\"} %uL\n", name, labels,
                        &ngx_http_llm_status_le[i], n);
    }

    p = ngx_sprintf(p, "%s_sum{%V} ", name, labels);
    p = ngx_http_llm_status_seconds(p, h->sum);

    return ngx_sprintf(p, "\n%s_count{%V} %uL\n", name, labels, n);
}


/* the same data as JSON, for dashboards */

static ngx_int_t
ngx_http_llm_status_json(ngx_http_request_t *r, ngx_str_t *zone_name,
    ngx_http_llm_status_snap_t *snap, ngx_buf_t **bp)
{
    u_char                         *p;
    size_t                          size, len;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, kind, n;
    ngx_http_llm_status_entry_t    *e;
    ngx_http_llm_status_counter_t  *c;

    static char  *lists[] = { NULL, "keys", "teams" };

    if (zone_name == NULL) {
        b = ngx_create_temp_buf(r->pool, sizeof("{\"zone\":null,\"error\":\""
                                                NGX_HTTP_LLM_STATUS_NO_ZONE
                                                "\"}\n") - 1);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last = ngx_sprintf(b->last, "{\"zone\":null,\"error\":\"%s\"}\n",
                              NGX_HTTP_LLM_STATUS_NO_ZONE);
        *bp = b;

        return NGX_OK;
    }

    size = 1024 + 2 * zone_name->len
           + ngx_escape_json(NULL, zone_name->data, zone_name->len);

    for (i = 0; i < snap->nelts; i++) {
        e = &snap->elts[i];

        len = e->name.len + e->provider.len
              + ngx_escape_json(NULL, e->name.data, e->name.len)
              + ngx_escape_json(NULL, e->provider.data, e->provider.len);

        size += 2048 + len;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"zone\":\"", sizeof("{\"zone\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, zone_name->data, zone_name->len);
    p = ngx_cpymem(p, "\",\"series\":[", sizeof("\",\"series\":[") - 1);

    n = 0;

    for (i = 0; i < snap->nelts; i++) {
        e = &snap->elts[i];

        if (e->kind != NGX_HTTP_LLM_NODE_SERIES) {
            continue;
        }

        if (n++) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, "{\"provider\":\"", sizeof("{\"provider\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, e->provider.data, e->provider.len);
        p = ngx_cpymem(p, "\",\"model\":\"", sizeof("\",\"model\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, e->name.data, e->name.len);

        p = ngx_sprintf(p, "\",\"in_flight\":%uA,\"requests\":{",
                        e->stats.in_flight);

        for (j = 0; j < 5; j++) {
            p = ngx_sprintf(p, "%s\"%uixx\":%uL", j ? "," : "", j + 1,
                            e->stats.status[j]);
        }

        p = ngx_sprintf(p, "},\"tokens\":{\"prompt\":%uL,\"completion\":%uL,"
                        "\"cached\":%uL},\"cost\":",
                        e->stats.prompt_tokens, e->stats.completion_tokens,
                        e->stats.cached_tokens);
        p = ngx_http_llm_dollars(p, e->stats.cost);

        p = ngx_cpymem(p, ",\"errors\":{", sizeof(",\"errors\":{") - 1);

        for (j = 0; j < NGX_HTTP_LLM_ERR_CLASSES; j++) {
            p = ngx_sprintf(p, "%s\"%s\":%uL", j ? "," : "",
                            ngx_http_llm_status_errors[j],
                            e->stats.errors[j]);
        }

        *p++ = '}';

        for (c = ngx_http_llm_status_counters; c->name; c++) {
            p = ngx_sprintf(p, ",\"%s\":%uL", c->json,
                            *(uint64_t *) ((u_char *) &e->stats + c->offset));
        }

        p = ngx_cpymem(p, ",\"time_to_first_byte\":",
                       sizeof(",\"time_to_first_byte\":") - 1);
        p = ngx_http_llm_status_json_histogram(p, &e->stats.ttfb);

        p = ngx_cpymem(p, ",\"time_to_first_token\":",
                       sizeof(",\"time_to_first_token\":") - 1);
        p = ngx_http_llm_status_json_histogram(p, &e->stats.ttft);

        p = ngx_cpymem(p, ",\"duration\":", sizeof(",\"duration\":") - 1);
        p = ngx_http_llm_status_json_histogram(p, &e->stats.duration);

        *p++ = '}';
    }

    *p++ = ']';

    for (kind = NGX_HTTP_LLM_NODE_KEY; kind <= NGX_HTTP_LLM_NODE_TEAM; kind++)
    {
        p = ngx_sprintf(p, ",\"%s\":[", lists[kind]);

        n = 0;

        for (i = 0; i < snap->nelts; i++) {
            e = &snap->elts[i];

            if (e->kind != kind) {
                continue;
            }

            if (n++) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, "{\"name\":\"", sizeof("{\"name\":\"") - 1);
            p = (u_char *) ngx_escape_json(p, e->name.data, e->name.len);
            p = ngx_sprintf(p, "\",\"requests\":%uL,\"responses\":{",
                            e->requests);

            for (j = 0; j < 5; j++) {
                p = ngx_sprintf(p, "%s\"%uixx\":%uL", j ? "," : "", j + 1,
                                e->responses[j]);
            }

            p = ngx_sprintf(p, "},\"tokens\":{\"prompt\":%uL,"
                            "\"completion\":%uL},\"cost\":",
                            e->prompt_tokens, e->completion_tokens);
            p = ngx_http_llm_dollars(p, e->cost);
            *p++ = '}';
        }

        *p++ = ']';
    }

    p = ngx_sprintf(p, ",\"zone_evicted\":%uA,\"zone_refused\":%uA}\n",
                    snap->evicted, snap->refused);

    b->last = p;
    *bp = b;

    return NGX_OK;
}


/* buckets cumulative, as Prometheus's "le" */

static u_char *
ngx_http_llm_status_json_histogram(u_char *p, ngx_http_llm_histogram_t *h)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    p = ngx_cpymem(p, "{\"buckets\":{", sizeof("{\"buckets\":{") - 1);

    for (i = 0; i < NGX_HTTP_LLM_STATUS_BUCKETS; i++) {
        n += h->bucket[i];
        p = ngx_sprintf(p, "%s\"%V\":%uL", i ? "," : "",
                        &ngx_http_llm_status_le[i], n);
    }

    p = ngx_cpymem(p, "},\"sum\":", sizeof("},\"sum\":") - 1);
    p = ngx_http_llm_status_seconds(p, h->sum);

    return ngx_sprintf(p, ",\"count\":%uL}", n);
}


/* a label value: backslash, double quote and line feed escaped */

static size_t
ngx_http_llm_status_escape_label(u_char *dst, ngx_str_t *src)
{
    u_char  *p, *last, *d;
    size_t   n;

    p = src->data;
    last = p + src->len;

    if (dst == NULL) {
        n = src->len;

        for ( /* void */ ; p < last; p++) {
            if (*p == '\\' || *p == '"' || *p == '\n') {
                n++;
            }
        }

        return n;
    }

    d = dst;

    for ( /* void */ ; p < last; p++) {

        switch (*p) {

        case '\\':
        case '"':
            *d++ = '\\';
            *d++ = *p;
            break;

        case '\n':
            *d++ = '\\';
            *d++ = 'n';
            break;

        default:
            *d++ = *p;
        }
    }

    return d - dst;
}


static u_char *
ngx_http_llm_status_seconds(u_char *p, uint64_t ms)
{
    return ngx_sprintf(p, "%uL.%03uL", ms / 1000, ms % 1000);
}


/*
 * llm_cooldown: each target's breaker (open, half-open or closed; its
 * failures; how often it opened; the probes sent), a Prometheus gauge
 * (open or not) and counters after the rest, or a "cooldown" member at
 * the end of the JSON object (whose "}" moves to the end); nothing
 * without llm_cooldown.  The target is "provider:model", from the
 * configuration, or the model asked for when the route's target names
 * none.
 */

static ngx_int_t
ngx_http_llm_status_cooldown(ngx_http_request_t *r, ngx_uint_t json,
    ngx_buf_t *b, ngx_buf_t **bp)
{
    u_char                         *p;
    size_t                          size;
    ngx_uint_t                      i, m;
    ngx_array_t                     entries;
    ngx_http_llm_cooldown_entry_t  *e;

    ngx_http_llm_main_conf_t       *lmcf;

    static char  *states[] = { "closed", "open", "half_open" };

    static char  *metrics[] = {
        "llm_target_cooldown_open",
        "gauge",
        "1 while the target cools down (skipped while another target is "
        "left), else 0.",
        "llm_target_failures_total",
        "counter",
        "Failed attempts at the target (llm_cooldown).",
        "llm_target_cooldowns_total",
        "counter",
        "Times the target's breaker opened.",
        "llm_target_probes_total",
        "counter",
        "Probes sent to the target after a cooldown period."
    };

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->cooldown_failures == 0) {
        return NGX_OK;
    }

    if (ngx_http_llm_cooldown_snapshot(r, &entries) != NGX_OK) {
        return NGX_ERROR;
    }

    e = entries.elts;

    if (!json && entries.nelts == 0) {
        return NGX_OK;
    }

    size = sizeof(",\"cooldown\":[]}\n") + 4 * 256;

    for (i = 0; i < entries.nelts; i++) {
        size += 4 * (ngx_http_llm_status_escape_label(NULL, &e[i].name)
                     + ngx_escape_json(NULL, e[i].name.data, e[i].name.len)
                     + 128 + 4 * NGX_INT64_LEN);
    }

    *bp = ngx_create_temp_buf(r->pool, size);
    if (*bp == NULL) {
        return NGX_ERROR;
    }

    p = (*bp)->last;

    if (json) {

        /* the object's "}\n" moves to the end */

        if (b->last - b->pos < 2 || b->last[-2] != '}') {
            return NGX_ERROR;
        }

        b->last -= 2;

        p = ngx_cpymem(p, ",\"cooldown\":[", sizeof(",\"cooldown\":[") - 1);

        for (i = 0; i < entries.nelts; i++) {
            p = ngx_cpymem(p, i ? ",{\"target\":\"" : "{\"target\":\"",
                           i ? sizeof(",{\"target\":\"") - 1
                             : sizeof("{\"target\":\"") - 1);
            p = (u_char *) ngx_escape_json(p, e[i].name.data, e[i].name.len);
            p = ngx_sprintf(p, "\",\"state\":\"%s\",\"open_ms\":%M,"
                            "\"failures\":%uL,\"failures_total\":%uL,"
                            "\"opened\":%uL,\"probes\":%uL}",
                            states[e[i].state], e[i].open_ms, e[i].failures,
                            e[i].failures_total, e[i].opened, e[i].probes);
        }

        p = ngx_cpymem(p, "]}\n", 3);

        (*bp)->last = p;

        return NGX_OK;
    }

    for (m = 0; m < 4; m++) {
        p = ngx_http_llm_prom_head(p, metrics[3 * m], metrics[3 * m + 1],
                                   metrics[3 * m + 2]);

        for (i = 0; i < entries.nelts; i++) {
            p = ngx_sprintf(p, "%s{target=\"", metrics[3 * m]);
            p += ngx_http_llm_status_escape_label(p, &e[i].name);
            p = ngx_cpymem(p, "\"} ", 3);

            switch (m) {
            case 0:
                *p++ = (e[i].state == NGX_HTTP_LLM_COOLDOWN_OPEN) ? '1' : '0';
                break;
            case 1:
                p = ngx_sprintf(p, "%uL", e[i].failures_total);
                break;
            case 2:
                p = ngx_sprintf(p, "%uL", e[i].opened);
                break;
            default:
                p = ngx_sprintf(p, "%uL", e[i].probes);
            }

            *p++ = '\n';
        }
    }

    (*bp)->last = p;

    return NGX_OK;
}
