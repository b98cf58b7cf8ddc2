
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_fallback.h"
#include "ngx_http_llm_canonical.h"
#include "ngx_http_llm_embeddings.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_shm.h"
#include "ngx_http_llm_upstream.h"
#include "ngx_http_llm_strategy.h"


/* Retry-After is honoured up to an hour */
#define NGX_HTTP_LLM_RETRY_MAX   3600


/* one target of the request, with its own upstream{} peer */

typedef struct {
    ngx_http_llm_target_t              *target;
    ngx_str_t                           model;      /* sent upstream */
    ngx_str_t                           name;       /* "provider:model" */

    ngx_event_get_peer_pt               get;
    ngx_event_free_peer_pt              free;
    void                               *data;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt       set_session;
    ngx_event_save_peer_session_pt      save_session;
#endif

    ngx_uint_t                          tries;

    unsigned                            checked:1;  /* breaker asked */
    unsigned                            probe:1;    /* holds the probe */
} ngx_http_llm_fb_target_t;


typedef struct {
    ngx_http_request_t                 *request;
    ngx_http_llm_fb_target_t           *targets;
    ngx_uint_t                          n;
    ngx_uint_t                          cur;        /* in use */
    ngx_uint_t                          built;      /* request bufs for */
    ngx_uint_t                          left;       /* attempts left */
    ngx_msec_t                          retry_after;
    unsigned                            started:1;
    unsigned                            innocent:1; /* not the target's
                                                       fault: no count */
} ngx_http_llm_fb_t;


static ngx_int_t ngx_http_llm_fb_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_fb_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_llm_fb_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_fb_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif
static ngx_int_t ngx_http_llm_fb_switch(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_fb_t *fb);
static ngx_uint_t ngx_http_llm_fb_usable(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_fb_target_t *ft);
static ngx_uint_t ngx_http_llm_fb_tries(ngx_http_llm_fb_t *fb);
static void ngx_http_llm_fb_drop_provider(ngx_http_llm_fb_t *fb);
static void ngx_http_llm_fb_reason(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const char *what, ngx_uint_t status,
    ngx_str_t *name);
static void ngx_http_llm_cooldown_report(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t probe, ngx_uint_t ok,
    ngx_msec_t retry_after);
static ngx_int_t ngx_http_llm_cooldown_name(ngx_http_request_t *r,
    ngx_http_llm_provider_conf_t *pc, ngx_str_t *model, ngx_str_t *name);
static ngx_msec_t ngx_http_llm_retry_after(ngx_http_request_t *r);
static ngx_uint_t ngx_http_llm_body_has(ngx_str_t *body, const char *s);


ngx_int_t
ngx_http_llm_fallback_prepare(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                 i, n;
    ngx_http_llm_fb_t         *fb;
    ngx_http_llm_target_t     *t;
    ngx_http_llm_fb_target_t  *ft;

    fb = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_fb_t));
    if (fb == NULL) {
        return NGX_ERROR;
    }

    t = ctx->route->targets.elts;
    n = 1 + ctx->route->targets.nelts - ctx->route->nprimary;

    fb->targets = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llm_fb_target_t));
    if (fb->targets == NULL) {
        return NGX_ERROR;
    }

    fb->request = r;
    fb->n = n;

    /* the weighted choice first, then the fallbacks in order */

    fb->targets[0].target = ctx->target;
    fb->targets[0].model = ctx->upstream_model;

    for (i = ctx->route->nprimary, n = 1;
         i < ctx->route->targets.nelts;
         i++, n++)
    {
        fb->targets[n].target = &t[i];
        fb->targets[n].model = t[i].model.len ? t[i].model : ctx->model;
    }

    for (i = 0; i < fb->n; i++) {
        ft = &fb->targets[i];

        if (ngx_http_llm_cooldown_name(r, ft->target->provider, &ft->model,
                                       &ft->name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ctx->fallback = fb;

    return NGX_OK;
}


/*
 * Every target's own peer.init is run (round robin, keepalive, hash:
 * whatever its upstream{} says), its get/free/data kept, as the
 * keepalive module keeps round robin's.
 */

ngx_int_t
ngx_http_llm_fallback_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                     i, tries;
    ngx_http_upstream_t           *u;
    ngx_http_llm_fb_t             *fb;
    ngx_http_llm_ctx_t            *ctx;
    ngx_http_llm_fb_target_t      *ft;
    ngx_http_upstream_srv_conf_t  *uscf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);
    u = r->upstream;
    fb = ctx->fallback;

    tries = 0;

    for (i = 0; i < fb->n; i++) {
        ft = &fb->targets[i];
        uscf = ft->target->provider->upstream;

        /* round robin's init reuses peer.data when it is set */

        u->peer.data = NULL;

        if (uscf->peer.init(r, uscf) != NGX_OK) {
            return NGX_ERROR;
        }

        ft->get = u->peer.get;
        ft->free = u->peer.free;
        ft->data = u->peer.data;
        ft->tries = u->peer.tries;
#if (NGX_HTTP_SSL)
        ft->set_session = u->peer.set_session;
        ft->save_session = u->peer.save_session;
#endif

        tries += ft->tries;
    }

    u->peer.data = fb;
    u->peer.get = ngx_http_llm_fb_get_peer;
    u->peer.free = ngx_http_llm_fb_free_peer;
    u->peer.tries = tries;
#if (NGX_HTTP_SSL)
    u->peer.set_session = ngx_http_llm_fb_set_session;
    u->peer.save_session = ngx_http_llm_fb_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_fb_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_fb_t *fb = data;

    ngx_int_t                  rc;
    ngx_uint_t                 cd, j, later;
    ngx_http_request_t        *r;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_fb_target_t  *ft;

    r = fb->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (!fb->started) {
        /* llm_next_upstream_tries is applied by now */
        fb->started = 1;
        fb->left = pc->tries;
    }

    for ( ;; ) {

        if (fb->cur >= fb->n || fb->left == 0) {
            pc->tries = 0;
            pc->name = &fb->targets[fb->n - 1].target->provider->upstream_name;
            return NGX_BUSY;
        }

        ft = &fb->targets[fb->cur];

        if (ft->tries == 0 || !ngx_http_llm_fb_usable(ctx, ft)) {
            fb->cur++;
            continue;
        }

        if (!ft->checked) {
            ft->checked = 1;

            /* a target cooling down is skipped while another is left */

            later = 0;

            for (j = fb->cur + 1; j < fb->n; j++) {
                if (fb->targets[j].tries
                    && ngx_http_llm_fb_usable(ctx, &fb->targets[j]))
                {
                    later = 1;
                    break;
                }
            }

            cd = ngx_http_llm_cooldown_check(r, &ft->name, 1);

            if (cd == NGX_HTTP_LLM_CD_OPEN && later) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "llm target \"%V\" is cooling down, skipped",
                              &ft->name);

                ngx_http_llm_fb_reason(r, ctx, "cooldown of", 0, &ft->name);

                ft->tries = 0;
                fb->cur++;
                continue;
            }

            ft->probe = (cd == NGX_HTTP_LLM_CD_PROBE);
        }

        rc = ft->get(pc, ft->data);

        if (rc == NGX_BUSY) {
            ft->tries = 0;
            fb->cur++;
            continue;
        }

        if (rc != NGX_OK && rc != NGX_DONE) {
            return rc;
        }

        break;
    }

    ctx->attempts++;

    if (ngx_http_llm_fb_switch(r, ctx, fb) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * nginx calls reinit_request only when the request was sent: after a
     * connect error it would go as built for the previous target
     */

    if (!r->upstream->request_sent && fb->built != fb->cur
        && r->upstream->reinit_request(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    pc->tries = ngx_min(fb->left, ngx_http_llm_fb_tries(fb));

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm attempt %ui: \"%V\", %ui tries left",
                   ctx->attempts, &ft->name, pc->tries);

    return rc;
}


static void
ngx_http_llm_fb_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_llm_fb_t *fb = data;

    ngx_uint_t                 status, ok, inner;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_fb_target_t  *ft;

    r = fb->request;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_module);

    if (fb->cur >= fb->n) {
        return;
    }

    ft = &fb->targets[fb->cur];
    c = pc->connection;

    /*
     * a status-driven fallback read the error answer whole: its
     * connection goes back to the pool (the breaker counts the failure,
     * not the server's max_fails)
     */

    inner = state;

    if (ctx->fallback_next && r->upstream->keepalive) {
        inner &= ~NGX_PEER_FAILED;
    }

    pc->tries = ft->tries;
    ft->free(pc, ft->data, inner);
    ft->tries = pc->tries;

    if (fb->left) {
        fb->left--;
    }

    status = ctx->upstream_status;

    if (state & NGX_PEER_FAILED) {

        if (ctx->fallback_next) {
            ngx_http_llm_fb_reason(r, ctx, NULL, status,
                                   &ft->target->provider->name);

            /* status-driven: the next target, never this one again */

            ft->tries = 0;

        } else if (c && (c->read->timedout || c->write->timedout)) {
            ngx_http_llm_fb_reason(r, ctx, "timeout from", 0,
                                   &ft->target->provider->name);

        } else if (status
                   && !(c && (c->read->error || c->read->eof
                              || c->write->error)))
        {
            ngx_http_llm_fb_reason(r, ctx, "invalid response from", 0,
                                   &ft->target->provider->name);

        } else {
            ngx_http_llm_fb_reason(r, ctx, "error from", 0,
                                   &ft->target->provider->name);

            if (pc->cached) {
                /* a stale keepalive connection: nginx tries again */
                ft->tries++;
                fb->left++;
            }
        }

        if (!fb->innocent) {
            ngx_http_llm_cooldown_report(r, &ft->name, ft->probe, 0,
                                         fb->retry_after);
            ft->probe = 0;
        }

    } else if (status) {
        /* the answer: an error of the provider's own counts too */

        ok = !(status == 429 || status >= 500);

        ngx_http_llm_cooldown_report(r, &ft->name, ft->probe, ok,
                                     fb->retry_after);
        ft->probe = 0;
    }

    ctx->fallback_next = 0;
    fb->innocent = 0;
    fb->retry_after = 0;

    pc->tries = ngx_min(fb->left, ngx_http_llm_fb_tries(fb));
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_llm_fb_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_fb_t *fb = data;

    ngx_http_llm_fb_target_t  *ft;

    if (fb->cur >= fb->n) {
        return NGX_OK;
    }

    ft = &fb->targets[fb->cur];

    if (ft->set_session == NULL) {
        return NGX_OK;
    }

    return ft->set_session(pc, ft->data);
}


static void
ngx_http_llm_fb_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_llm_fb_t *fb = data;

    ngx_http_llm_fb_target_t  *ft;

    if (fb->cur >= fb->n) {
        return;
    }

    ft = &fb->targets[fb->cur];

    if (ft->save_session) {
        ft->save_session(pc, ft->data);
    }
}

#endif


/* the request now goes to the current target: its conf, TLS, names */

static ngx_int_t
ngx_http_llm_fb_switch(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_fb_t *fb)
{
    ngx_http_upstream_t           *u;
    ngx_http_llm_loc_conf_t       *llcf;
    ngx_http_llm_fb_target_t      *ft;
    ngx_http_llm_provider_conf_t  *pc;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);
    u = r->upstream;
    ft = &fb->targets[fb->cur];
    pc = ft->target->provider;

    ctx->target = ft->target;
    ctx->provider = pc;
    ctx->upstream_model = ft->model;

    /* in flight at this target now (least-busy, lowest-latency) */
    (void) ngx_http_llm_strategy_attempt(r, ctx);

    if (ngx_http_llm_upstream_conf(r, ctx,
                                   &llcf->fallback_provider[pc->index])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

#if (NGX_HTTP_SSL)
    u->ssl = pc->tls;
#endif

    if (pc->tls) {
        ngx_str_set(&u->schema, "https://");

    } else {
        ngx_str_set(&u->schema, "http://");
    }

    return NGX_OK;
}


/* a target that cannot serve the client's endpoint is passed over */

static ngx_uint_t
ngx_http_llm_fb_usable(ngx_http_llm_ctx_t *ctx, ngx_http_llm_fb_target_t *ft)
{
    if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS
        && !ft->target->provider->type->embeddings)
    {
        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_http_llm_fb_tries(ngx_http_llm_fb_t *fb)
{
    ngx_uint_t  i, n;

    n = 0;

    for (i = fb->cur; i < fb->n; i++) {
        n += fb->targets[i].tries;
    }

    return n;
}


/* "429 from claude; timeout from openai" */

static void
ngx_http_llm_fb_reason(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const char *what, ngx_uint_t status, ngx_str_t *name)
{
    u_char  *p, *last;
    size_t   len;

    len = ctx->fallback_reason.len + sizeof("; ") - 1
          + (what ? ngx_strlen(what) : NGX_INT_T_LEN + sizeof(" from") - 1)
          + 1 + name->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return;
    }

    last = p;

    if (ctx->fallback_reason.len) {     /* data is NULL before the first */
        last = ngx_cpymem(last, ctx->fallback_reason.data,
                          ctx->fallback_reason.len);
        *last++ = ';';
        *last++ = ' ';
    }

    if (what) {
        last = ngx_sprintf(last, "%s %V", what, name);

    } else {
        last = ngx_sprintf(last, "%ui from %V", status, name);
    }

    ctx->fallback_reason.data = p;
    ctx->fallback_reason.len = last - p;
}


/*
 * Whether another target is to be tried now: the same conditions as
 * ngx_http_upstream_next() (tries left, llm_next_upstream_timeout, the
 * client still there), and a target left that is not cooling down
 */

ngx_uint_t
ngx_http_llm_fallback_next(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                 i;
    ngx_msec_t                 timeout;
    ngx_http_upstream_t       *u;
    ngx_http_llm_fb_t         *fb;
    ngx_http_llm_fb_target_t  *ft;

    fb = ctx->fallback;
    u = r->upstream;

    if (fb == NULL
        || fb->left <= 1
        || r->connection->error
        || (u->conf->next_upstream & NGX_HTTP_UPSTREAM_FT_INVALID_HEADER) == 0)
    {
        return 0;
    }

    timeout = u->conf->next_upstream_timeout;

    if (timeout && ngx_current_msec - u->peer.start_time >= timeout) {
        return 0;
    }

    for (i = fb->cur + 1; i < fb->n; i++) {
        ft = &fb->targets[i];

        if (ft->tries && ngx_http_llm_fb_usable(ctx, ft)
            && (ft->checked
                || ngx_http_llm_cooldown_check(r, &ft->name, 0)
                   != NGX_HTTP_LLM_CD_OPEN
                || i == fb->n - 1))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The provider's account is the problem (a spend cap, the key): no
 * target of the same provider is tried again in this request
 */

static void
ngx_http_llm_fb_drop_provider(ngx_http_llm_fb_t *fb)
{
    ngx_uint_t                     i;
    ngx_http_llm_provider_conf_t  *pc;

    pc = fb->targets[fb->cur].target->provider;

    for (i = fb->cur + 1; i < fb->n; i++) {
        if (fb->targets[i].target->provider == pc) {
            fb->targets[i].tries = 0;
        }
    }
}


ngx_int_t
ngx_http_llm_fallback_status(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_str_t *body)
{
    ngx_uint_t            status, drop;
    ngx_http_upstream_t  *u;
    ngx_http_llm_fb_t    *fb;

    fb = ctx->fallback;
    u = r->upstream;
    status = ctx->upstream_status;

    if (fb == NULL) {
        return NGX_DECLINED;
    }

    fb->retry_after = 0;
    drop = 0;

    switch (status) {

    case NGX_HTTP_TOO_MANY_REQUESTS:

        /*
         * a spend cap ("insufficient_quota"): waiting does not help,
         * nor another model of the same account; a status-driven
         * fallback never goes back to the same target anyway
         */

        if (ngx_http_llm_body_has(body, "insufficient_quota")
            || ngx_http_llm_body_has(body, "billing"))
        {
            drop = 1;
            break;
        }

        /* fall through */

    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case 529:
        fb->retry_after = ngx_http_llm_retry_after(r);
        break;

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_GATEWAY_TIME_OUT:
        break;

    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:
        /* this provider's key: the next provider has another */
        drop = 1;
        break;

    case NGX_HTTP_BAD_REQUEST:

        /* too long for this model: a longer-context one may take it */

        if (ngx_http_llm_body_has(body, "context_length_exceeded")
            || ngx_http_llm_body_has(body, "maximum context length")
            || ngx_http_llm_body_has(body, "prompt is too long")
            || ngx_http_llm_body_has(body, "context window"))
        {
            fb->innocent = 1;
            break;
        }

        /* Anthropic's spend cap: "Your credit balance is too low" */

        if (ngx_http_llm_body_has(body, "credit balance")) {
            drop = 1;
            break;
        }

        return NGX_DECLINED;

    default:
        return NGX_DECLINED;
    }

    if (drop) {
        ngx_http_llm_fb_drop_provider(fb);
    }

    if (!ngx_http_llm_fallback_next(r, ctx)) {
        /* this is the answer: counted for the breaker when freed */
        fb->innocent = 0;
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm provider \"%V\" answered %ui, trying the next target",
                  &ctx->provider->name, status);

    ctx->fallback_next = 1;

    /* the answer was read whole: the connection may be kept */

    u->keepalive = !u->headers_in.connection_close;

    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}


/*
 * NGX_OK: the request is to be built again, for another target;
 * NGX_DECLINED: the same target, the same request
 */

ngx_int_t
ngx_http_llm_fallback_reinit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_http_llm_fb_t    *fb;
    ngx_http_llm_json_t  *js;

    fb = ctx->fallback;

    if (fb == NULL || fb->built == fb->cur) {
        return NGX_DECLINED;
    }

    fb->built = fb->cur;

    /* an OpenAI-format request may now need translating */

    if ((ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS
         ? ctx->embed == NULL : ctx->req == NULL)
        && !ngx_http_llm_passthrough(ctx, ctx->provider))
    {
        rc = ngx_http_llm_request_json(r, ctx, &js);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
            rc = ngx_http_llm_embed_parse(r, ctx, js);

        } else {
            ctx->req = ngx_http_llm_request_create(r->pool);
            if (ctx->req == NULL) {
                return NGX_ERROR;
            }

            rc = ctx->surf->parse_request(r, ctx, js, ctx->req);
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm: the request cannot be translated for "
                          "\"%V\": %s", &ctx->provider->name,
                          ctx->error ? ctx->error : "unsupported");
            return NGX_ERROR;
        }
    }

    /* what this provider cannot take, though an earlier one could */

    if ((ctx->req || ctx->embed) && ctx->provider->type->check
        && ctx->provider->type->check(r, ctx) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the request cannot be translated for "
                      "\"%V\": %s", &ctx->provider->name,
                      ctx->error ? ctx->error : "unsupported");
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm request rebuilt for \"%V\"",
                   &fb->targets[fb->cur].name);

    return NGX_OK;
}


/* Retry-After in seconds (the HTTP-date form is not used by providers) */

static ngx_msec_t
ngx_http_llm_retry_after(ngx_http_request_t *r)
{
    ngx_int_t         n;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len != sizeof("Retry-After") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1)
               != 0)
        {
            continue;
        }

        n = ngx_atoi(h[i].value.data, h[i].value.len);

        if (n == NGX_ERROR) {
            return 0;
        }

        if (n > NGX_HTTP_LLM_RETRY_MAX) {
            n = NGX_HTTP_LLM_RETRY_MAX;
        }

        return (ngx_msec_t) n * 1000;
    }

    return 0;
}


static ngx_uint_t
ngx_http_llm_body_has(ngx_str_t *body, const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    if (body->len < len) {
        return 0;
    }

    return ngx_strlcasestrn(body->data, body->data + body->len,
                            (u_char *) s, len - 1)
           != NULL;
}


/*
 * The breaker of a target, a node of kind NGX_HTTP_LLM_NODE_TARGET
 * named "provider:model": rpm.level counts failures in the window that
 * started at rpm.last; tpm.last is when the target opens again (0:
 * closed); tpm.level, while a probe is out, until when.
 */

#define ngx_http_llm_cd_failures(node)     (node)->rpm.level
#define ngx_http_llm_cd_window(node)       (node)->rpm.last
#define ngx_http_llm_cd_open_until(node)   (node)->tpm.last
#define ngx_http_llm_cd_probe_until(node)  (node)->tpm.level

/* and totals since the node was created */
#define ngx_http_llm_cd_failures_total(node)  (node)->requests
#define ngx_http_llm_cd_opened(node)          (node)->prompt_tokens
#define ngx_http_llm_cd_probes(node)          (node)->completion_tokens


ngx_uint_t
ngx_http_llm_cooldown_check(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t take)
{
    ngx_uint_t                 rc;
    ngx_msec_t                 now, until;
    ngx_http_llm_node_t       *node;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0) {
        return NGX_HTTP_LLM_CD_CLOSED;
    }

    now = ngx_current_msec;
    rc = NGX_HTTP_LLM_CD_CLOSED;

    ngx_http_llm_shm_lock(lmcf->zone);

    node = ngx_http_llm_shm_node(lmcf->zone, NGX_HTTP_LLM_NODE_TARGET, name,
                                 ngx_http_llm_shm_hash(name), 0);

    if (node == NULL || ngx_http_llm_cd_open_until(node) == 0) {
        goto done;
    }

    until = ngx_http_llm_cd_open_until(node);

    if ((ngx_msec_int_t) (until - now) > 0) {
        rc = NGX_HTTP_LLM_CD_OPEN;
        goto done;
    }

    /* the period is over: one request probes the target */

    until = (ngx_msec_t) ngx_http_llm_cd_probe_until(node);

    if (until && (ngx_msec_int_t) (until - now) > 0) {
        rc = NGX_HTTP_LLM_CD_OPEN;
        goto done;
    }

    if (take) {
        ngx_http_llm_cd_probe_until(node) = now + lmcf->cooldown_period;
        ngx_http_llm_cd_probes(node)++;
    }

    rc = NGX_HTTP_LLM_CD_PROBE;

done:

    ngx_http_llm_shm_unlock(lmcf->zone);

    return rc;
}


static void
ngx_http_llm_cooldown_report(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t probe, ngx_uint_t ok, ngx_msec_t retry_after)
{
    ngx_msec_t                 now, period;
    ngx_http_llm_node_t       *node;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0) {
        return;
    }

    now = ngx_current_msec;
    period = 0;

    ngx_http_llm_shm_lock(lmcf->zone);

    node = ngx_http_llm_shm_node(lmcf->zone, NGX_HTTP_LLM_NODE_TARGET,
                                 name, ngx_http_llm_shm_hash(name), !ok);

    if (node == NULL) {
        goto done;
    }

    if (ok) {
        if (ngx_http_llm_cd_open_until(node)) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "llm target \"%V\" answered again, "
                          "cooldown over", name);
        }

        ngx_http_llm_cd_failures(node) = 0;
        ngx_http_llm_cd_open_until(node) = 0;
        ngx_http_llm_cd_probe_until(node) = 0;
        goto done;
    }

    ngx_http_llm_cd_failures_total(node)++;

    if (probe || ngx_http_llm_cd_open_until(node)) {

        /* the probe failed, or the target was open anyway: again */

        period = retry_after ? retry_after : lmcf->cooldown_period;

    } else {
        if (now - ngx_http_llm_cd_window(node) > lmcf->cooldown_window) {
            ngx_http_llm_cd_window(node) = now;
            ngx_http_llm_cd_failures(node) = 0;
        }

        ngx_http_llm_cd_failures(node)++;

        if (retry_after) {
            period = retry_after;

        } else if (ngx_http_llm_cd_failures(node)
                   >= lmcf->cooldown_failures)
        {
            period = lmcf->cooldown_period;
        }
    }

    if (period) {
        ngx_http_llm_cd_open_until(node) = now + period;
        ngx_http_llm_cd_probe_until(node) = 0;
        ngx_http_llm_cd_failures(node) = 0;
        ngx_http_llm_cd_opened(node)++;

        /* not forgotten to make room while it matters */
        node->keep = ngx_time() + period / 1000 + 1;
    }

done:

    ngx_http_llm_shm_unlock(lmcf->zone);

    if (period) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llm target \"%V\" cools down for %Mms",
                      name, period);
    }
}


/* a target's breaker is named "provider:model" */

static ngx_int_t
ngx_http_llm_cooldown_name(ngx_http_request_t *r,
    ngx_http_llm_provider_conf_t *pc, ngx_str_t *model, ngx_str_t *name)
{
    name->data = ngx_pnalloc(r->pool, pc->name.len + 1 + model->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    name->len = ngx_sprintf(name->data, "%V:%V", &pc->name, model)
                - name->data;

    return NGX_OK;
}


/*
 * The route's strategy chose a target that is not cooling down while
 * another is left (ngx_http_llm_strategy_pick()); if its period is over,
 * this request is its probe.  With fallbacks, the peer wrapper takes the
 * probe as it connects.
 */

ngx_int_t
ngx_http_llm_cooldown_choose(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_str_t                  name;
    ngx_http_llm_route_t      *route;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);
    route = ctx->route;

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0
        || route == NULL || route->targets.nelts > route->nprimary)
    {
        return NGX_OK;
    }

    if (ngx_http_llm_cooldown_name(r, ctx->provider, &ctx->upstream_model,
                                   &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_cooldown_check(r, &name, 1) == NGX_HTTP_LLM_CD_PROBE) {
        ctx->cooldown_probe = 1;
    }

    return NGX_OK;
}


/*
 * The end of a request without fallbacks (those are counted as each
 * attempt ends): its target answered, or failed (429, 5xx, or no
 * answer: connect error, timeout, reset)
 */

void
ngx_http_llm_cooldown_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
    ngx_str_t                  name;
    ngx_uint_t                 status, ok;
    ngx_msec_t                 retry_after;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0
        || ctx->fallback || ctx->provider == NULL)
    {
        return;
    }

    status = ctx->upstream_status;

    if (rc == NGX_HTTP_BAD_GATEWAY || rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        ok = 0;

    } else if (status) {
        ok = !(status == NGX_HTTP_TOO_MANY_REQUESTS || status >= 500);

    } else {
        /* the client went away, or nothing was sent: nothing learned */
        return;
    }

    retry_after = 0;

    if (!ok && status && r->upstream) {
        retry_after = ngx_http_llm_retry_after(r);
    }

    if (ngx_http_llm_cooldown_name(r, ctx->provider, &ctx->upstream_model,
                                   &name)
        != NGX_OK)
    {
        return;
    }

    ngx_http_llm_cooldown_report(r, &name, ctx->cooldown_probe, ok,
                                 retry_after);

    ctx->cooldown_probe = 0;
}


/* the breakers of the zone, copied out for llm_status */

ngx_int_t
ngx_http_llm_cooldown_snapshot(ngx_http_request_t *r, ngx_array_t *entries)
{
    u_char                         *names, *last;
    size_t                          len;
    ngx_uint_t                      n;
    ngx_msec_t                      now, until;
    ngx_queue_t                    *q;
    ngx_http_llm_node_t            *node;
    ngx_http_llm_main_conf_t       *lmcf;
    ngx_http_llm_cooldown_entry_t  *e;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (ngx_array_init(entries, r->pool, 4,
                       sizeof(ngx_http_llm_cooldown_entry_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (lmcf->zone == NULL || lmcf->cooldown_failures == 0) {
        return NGX_OK;
    }

    /* counted first, to allocate outside the lock */

    n = 0;
    len = 0;

    ngx_http_llm_shm_lock(lmcf->zone);

    for (q = ngx_queue_head(&lmcf->zone->sh->queue);
         q != ngx_queue_sentinel(&lmcf->zone->sh->queue);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_llm_node_t, queue);

        if (node->kind == NGX_HTTP_LLM_NODE_TARGET) {
            n++;
            len += node->len;
        }
    }

    ngx_http_llm_shm_unlock(lmcf->zone);

    n += 16;
    len += 16 * 256;

    e = ngx_array_push_n(entries, n);
    names = ngx_pnalloc(r->pool, len);

    if (e == NULL || names == NULL) {
        return NGX_ERROR;
    }

    last = names + len;
    entries->nelts = 0;
    now = ngx_current_msec;

    ngx_http_llm_shm_lock(lmcf->zone);

    for (q = ngx_queue_head(&lmcf->zone->sh->queue);
         q != ngx_queue_sentinel(&lmcf->zone->sh->queue)
         && entries->nelts < n;
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_llm_node_t, queue);

        if (node->kind != NGX_HTTP_LLM_NODE_TARGET
            || (size_t) (last - names) < node->len)
        {
            continue;
        }

        e = (ngx_http_llm_cooldown_entry_t *) entries->elts
            + entries->nelts++;

        e->name.data = names;
        e->name.len = node->len;
        names = ngx_cpymem(names, node->data, node->len);

        until = ngx_http_llm_cd_open_until(node);

        if (until == 0) {
            e->state = NGX_HTTP_LLM_COOLDOWN_CLOSED;
            e->open_ms = 0;

        } else if ((ngx_msec_int_t) (until - now) > 0) {
            e->state = NGX_HTTP_LLM_COOLDOWN_OPEN;
            e->open_ms = until - now;

        } else {
            e->state = NGX_HTTP_LLM_COOLDOWN_HALF_OPEN;
            e->open_ms = 0;
        }

        e->failures = ngx_http_llm_cd_failures(node);
        e->failures_total = ngx_http_llm_cd_failures_total(node);
        e->opened = ngx_http_llm_cd_opened(node);
        e->probes = ngx_http_llm_cd_probes(node);
    }

    ngx_http_llm_shm_unlock(lmcf->zone);

    return NGX_OK;
}


/* llm_cooldown failures=N window=time period=time | off */

char *
ngx_http_llm_cooldown_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i;
    ngx_msec_t   ms;

    value = cf->args->elts;

    if (lmcf->cooldown_window) {
        return "is duplicate";
    }

    lmcf->cooldown_failures = 3;
    lmcf->cooldown_window = 30000;
    lmcf->cooldown_period = 60000;

    for (i = 1; i < cf->args->nelts; i++) {

        if (i == 1 && cf->args->nelts == 2
            && ngx_strcmp(value[i].data, "off") == 0)
        {
            lmcf->cooldown_failures = 0;
            return NGX_CONF_OK;
        }

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n == NGX_ERROR || n < 1 || n > 1000) {
                goto invalid;
            }

            lmcf->cooldown_failures = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            lmcf->cooldown_window = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "period=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            lmcf->cooldown_period = ms;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
