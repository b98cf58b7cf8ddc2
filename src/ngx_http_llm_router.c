
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_router.h"


static ngx_int_t ngx_http_llm_route_link(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_route_t *route);
static ngx_http_llm_target_t *ngx_http_llm_pick(ngx_http_llm_route_t *route);
static ngx_int_t ngx_http_llm_expand(ngx_http_request_t *r,
    ngx_str_t *tmpl, ngx_str_t *subject, int *captures, ngx_int_t n,
    ngx_str_t *out);


ngx_int_t
ngx_http_llm_router_init(ngx_conf_t *cf, ngx_http_llm_main_conf_t *lmcf)
{
    ngx_str_t               name;
    ngx_uint_t              i, j;
    ngx_hash_key_t         *hk;
    ngx_hash_init_t         hash;
    ngx_hash_keys_arrays_t  keys;
    ngx_http_llm_route_t   *route, **rp;

    if (lmcf->routes.nelts == 0) {
        return NGX_OK;
    }

    ngx_memzero(&keys, sizeof(ngx_hash_keys_arrays_t));

    keys.pool = cf->pool;
    keys.temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(&keys, NGX_HASH_SMALL) != NGX_OK) {
        return NGX_ERROR;
    }

    route = lmcf->routes.elts;

    for (i = 0; i < lmcf->routes.nelts; i++) {

        if (ngx_http_llm_route_link(cf, lmcf, &route[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        if (route[i].targets.nelts == 0) {
            /* every target is an optional provider without a key */
            continue;
        }

        if (route[i].is_default) {
            if (lmcf->default_route) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "duplicate default llm_route in %s:%ui",
                              route[i].file, route[i].line);
                return NGX_ERROR;
            }

            lmcf->default_route = &route[i];
            continue;
        }

        if (route[i].regex) {
            rp = ngx_array_push(&lmcf->regexes);
            if (rp == NULL) {
                return NGX_ERROR;
            }

            *rp = &route[i];
            continue;
        }

        /*
         * ngx_hash_init() keeps the names in lowercase: the keys are
         * lowercase copies, and a lookup compares the pattern exactly
         */

        name.len = route[i].pattern.len;
        name.data = ngx_pnalloc(cf->pool, name.len);
        if (name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_strlow(name.data, route[i].pattern.data, name.len);

        switch (ngx_hash_add_key(&keys, &name, &route[i],
                                 NGX_HASH_READONLY_KEY))
        {
        case NGX_OK:
            break;

        case NGX_BUSY:
            for (j = 0; j < i; j++) {
                if (route[j].pattern.len == route[i].pattern.len
                    && ngx_strncmp(route[j].pattern.data,
                                   route[i].pattern.data,
                                   route[i].pattern.len) == 0)
                {
                    break;
                }
            }

            if (j == i) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "llm_route \"%V\" differs from another "
                              "only in case in %s:%ui",
                              &route[i].pattern, route[i].file,
                              route[i].line);
                return NGX_ERROR;
            }

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "duplicate llm_route \"%V\" in %s:%ui",
                          &route[i].pattern, route[i].file, route[i].line);
            return NGX_ERROR;

        default:
            return NGX_ERROR;
        }
    }

    hash.hash = &lmcf->exact;
    hash.key = ngx_hash_key;
    hash.max_size = 4096;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "llm_route_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    hk = keys.keys.elts;

    if (ngx_hash_init(&hash, hk, keys.keys.nelts) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_link(ngx_conf_t *cf, ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_route_t *route)
{
    ngx_uint_t                      i, j, k;
    ngx_http_llm_target_t          *t;
    ngx_http_llm_provider_conf_t  **pp;

    t = route->targets.elts;
    pp = lmcf->providers.elts;

    for (i = 0; i < route->targets.nelts; i++) {

        for (j = 0; j < lmcf->providers.nelts; j++) {
            if (pp[j]->name.len == t[i].provider_name.len
                && ngx_strncmp(pp[j]->name.data, t[i].provider_name.data,
                               t[i].provider_name.len) == 0)
            {
                break;
            }
        }

        if (j == lmcf->providers.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown llm provider \"%V\" in llm_route "
                          "\"%V\" in %s:%ui", &t[i].provider_name,
                          &route->pattern, route->file, route->line);
            return NGX_ERROR;
        }

        t[i].provider = pp[j];
    }

    /* drop the targets of disabled (optional, keyless) providers */

    route->nprimary = 0;

    for (i = 0, k = 0; i < route->targets.nelts; i++) {
        if (!t[i].provider->disabled) {
            route->nprimary += !t[i].fallback;
            t[k++] = t[i];
        }
    }

    route->targets.nelts = k;

    /* only fallbacks are left: the first one is the primary */

    if (route->nprimary == 0 && k) {
        t[0].fallback = 0;
        route->nprimary = 1;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    int                        captures[30];
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_http_llm_route_t      *route, **rp;
    ngx_http_llm_target_t     *t;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    rc = 0;

    route = ngx_http_llm_route_exact(r, &ctx->model);

    if (route == NGX_HTTP_LLM_ROUTE_ERROR) {
        return NGX_ERROR;
    }

    if (route == NULL) {
        rp = lmcf->regexes.elts;

        for (i = 0; i < lmcf->regexes.nelts; i++) {
            rc = ngx_regex_exec(rp[i]->regex, &ctx->model, captures, 30);

            if (rc == NGX_REGEX_NO_MATCHED) {
                continue;
            }

            if (rc < 0) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              ngx_regex_exec_n " failed: %i on \"%V\"",
                              rc, &ctx->model);
                return NGX_ERROR;
            }

            route = rp[i];
            break;
        }
    }

    if (route == NULL) {
        route = lmcf->default_route;
        rc = 0;
    }

    if (route == NULL) {
        return NGX_DECLINED;
    }

    t = ngx_http_llm_pick(route);

    ctx->route = route;
    ctx->target = t;
    ctx->provider = t->provider;

    if (t->model.len == 0) {
        ctx->upstream_model = ctx->model;

    } else if (route->regex
               && ngx_strlchr(t->model.data, t->model.data + t->model.len,
                              '$'))
    {
        if (ngx_http_llm_expand(r, &t->model, &ctx->model, captures, rc,
                                &ctx->upstream_model)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        ctx->upstream_model = t->model;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm route \"%V\" -> %V:%V", &route->pattern,
                   &ctx->provider->name, &ctx->upstream_model);

    return NGX_OK;
}


ngx_http_llm_route_t *
ngx_http_llm_route_exact(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *low;
    ngx_uint_t                 key;
    ngx_http_llm_route_t      *route;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (lmcf->exact.buckets == NULL || name->len == 0) {
        return NULL;
    }

    low = ngx_pnalloc(r->pool, name->len);
    if (low == NULL) {
        return NGX_HTTP_LLM_ROUTE_ERROR;
    }

    key = ngx_hash_strlow(low, name->data, name->len);

    route = ngx_hash_find(&lmcf->exact, key, low, name->len);

    ngx_pfree(r->pool, low);

    if (route == NULL
        || route->pattern.len != name->len
        || ngx_strncmp(route->pattern.data, name->data, name->len) != 0)
    {
        return NULL;
    }

    return route;
}


static ngx_http_llm_target_t *
ngx_http_llm_pick(ngx_http_llm_route_t *route)
{
    ngx_uint_t              i, total, n;
    ngx_http_llm_target_t  *t;

    t = route->targets.elts;

    if (route->nprimary == 1) {
        return &t[0];
    }

    /* weighted random choice among the primary targets */

    total = 0;

    for (i = 0; i < route->nprimary; i++) {
        total += t[i].weight;
    }

    n = (ngx_uint_t) ngx_random() % total;

    for (i = 0; i < route->nprimary; i++) {
        if (n < t[i].weight) {
            return &t[i];
        }

        n -= t[i].weight;
    }

    return &t[0];
}


static ngx_int_t
ngx_http_llm_expand(ngx_http_request_t *r, ngx_str_t *tmpl,
    ngx_str_t *subject, int *captures, ngx_int_t n, ngx_str_t *out)
{
    u_char      *p, *last, *d;
    size_t       len;
    ngx_int_t    k;

    /* "$1".."$9" in the target model name take regex captures */

    len = 0;
    last = tmpl->data + tmpl->len;

    for (p = tmpl->data; p < last; p++) {
        if (*p == '$' && p + 1 < last && p[1] >= '1' && p[1] <= '9') {
            k = p[1] - '0';

            /* a group that did not take part is empty */

            if (k < n && captures[2 * k] >= 0) {
                len += captures[2 * k + 1] - captures[2 * k];
            }

            p++;
            continue;
        }

        len++;
    }

    d = ngx_pnalloc(r->pool, len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;

    for (p = tmpl->data; p < last; p++) {
        if (*p == '$' && p + 1 < last && p[1] >= '1' && p[1] <= '9') {
            k = p[1] - '0';

            if (k < n && captures[2 * k] >= 0) {
                d = ngx_cpymem(d, subject->data + captures[2 * k],
                               captures[2 * k + 1] - captures[2 * k]);
            }

            p++;
            continue;
        }

        *d++ = *p;
    }

    out->len = d - out->data;

    return NGX_OK;
}
