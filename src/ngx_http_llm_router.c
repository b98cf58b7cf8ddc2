
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_router.h"
#include "ngx_http_llm_directive.h"
#include "ngx_http_llm_strategy.h"
#include "ngx_http_llm_json.h"


static ngx_int_t ngx_http_llm_route_link(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_route_t *route);
static ngx_int_t ngx_http_llm_route_chain(ngx_conf_t *cf,
    ngx_http_llm_route_t *first, ngx_http_llm_route_t *route);
static ngx_int_t ngx_http_llm_route_match(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_route_t *route,
    ngx_http_llm_workload_t *w);
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
                if (ngx_http_llm_route_chain(cf, lmcf->default_route,
                                             &route[i])
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                continue;
            }

            lmcf->default_route = &route[i];
            continue;
        }

        if (route[i].regex) {

            /* the same expression again: its next rule */

            rp = lmcf->regexes.elts;

            for (j = 0; j < lmcf->regexes.nelts; j++) {
                if (rp[j]->pattern.len == route[i].pattern.len
                    && ngx_memcmp(rp[j]->pattern.data, route[i].pattern.data,
                                   route[i].pattern.len) == 0)
                {
                    break;
                }
            }

            if (j < lmcf->regexes.nelts) {
                if (ngx_http_llm_route_chain(cf, rp[j], &route[i])
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                continue;
            }

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

            /* the first rule of the name, whose targets are not all off */

            for (j = 0; j < i; j++) {
                if (route[j].pattern.len == route[i].pattern.len
                    && ngx_memcmp(route[j].pattern.data,
                                   route[i].pattern.data,
                                   route[i].pattern.len) == 0
                    && route[j].targets.nelts && !route[j].chained)
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

            if (ngx_http_llm_route_chain(cf, &route[j], &route[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;

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
    ngx_http_llm_provider_conf_t  **pp, *pc;

    t = route->targets.elts;
    pp = lmcf->providers.elts;

    for (i = 0; i < route->targets.nelts; i++) {

        for (j = 0; j < lmcf->providers.nelts; j++) {
            if (pp[j]->name.len == t[i].provider_name.len
                && ngx_memcmp(pp[j]->name.data, t[i].provider_name.data,
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

    /*
     * a target with its own max_tokens or headers goes with a copy of its
     * provider: the adapters read them there
     */

    for (i = 0; i < k; i++) {
        if (t[i].max_tokens == 0 && t[i].headers == NULL) {
            continue;
        }

        pc = ngx_palloc(cf->pool, sizeof(ngx_http_llm_provider_conf_t));
        if (pc == NULL) {
            return NGX_ERROR;
        }

        *pc = *t[i].provider;

        if (t[i].max_tokens) {
            pc->max_tokens = t[i].max_tokens;
        }

        if (ngx_http_llm_headers_build(cf->pool, t[i].provider->headers,
                                       t[i].headers, &pc->extra_headers)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        t[i].provider = pc;
    }

    return ngx_http_llm_strategy_init(cf, lmcf, route);
}


/* another rule for the same name: tried when the ones before do not match */

static ngx_int_t
ngx_http_llm_route_chain(ngx_conf_t *cf, ngx_http_llm_route_t *first,
    ngx_http_llm_route_t *route)
{
    ngx_http_llm_route_t  *last;

    for (last = first; last->next; last = last->next) { /* void */ }

    /* a rule after one without "if=" would never be used */

    if (last->conditions == NULL) {
        if (route->is_default) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "duplicate default llm_route in %s:%ui",
                          route->file, route->line);

        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "duplicate llm_route \"%V\" in %s:%ui",
                          &route->pattern, route->file, route->line);
        }

        return NGX_ERROR;
    }

    last->next = route;
    route->chained = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    int                        captures[30];
    ngx_int_t                  rc, n;
    ngx_uint_t                 i;
    ngx_http_llm_route_t      *route, *head, **rp;
    ngx_http_llm_target_t     *t;
    ngx_http_llm_workload_t    w;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    ngx_memzero(&w, sizeof(ngx_http_llm_workload_t));

    /*
     * the exact name, the regular expressions in order, the default; of
     * the rules of one name, the first whose conditions hold
     */

    n = 0;
    route = NULL;

    head = ngx_http_llm_route_exact(r, &ctx->model);

    if (head == NGX_HTTP_LLM_ROUTE_ERROR) {
        return NGX_ERROR;
    }

    if (head) {
        rc = ngx_http_llm_route_match(r, ctx, head, &w);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            route = w.route;
        }
    }

    rp = lmcf->regexes.elts;

    for (i = 0; route == NULL && i < lmcf->regexes.nelts; i++) {
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

        n = rc;

        rc = ngx_http_llm_route_match(r, ctx, rp[i], &w);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            route = w.route;
        }
    }

    if (route == NULL && lmcf->default_route) {
        n = 0;

        rc = ngx_http_llm_route_match(r, ctx, lmcf->default_route, &w);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            route = w.route;
        }
    }

    if (route == NULL) {
        return NGX_DECLINED;
    }

    rc = n;

    t = ngx_http_llm_strategy_pick(r, ctx, route);

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

    return ngx_http_llm_strategy_attempt(r, ctx);
}


/*
 * The first rule of a chain whose "if=" conditions all hold, in w->route:
 * NGX_OK, NGX_DECLINED (none), NGX_ERROR
 */

static ngx_int_t
ngx_http_llm_route_match(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_route_t *route, ngx_http_llm_workload_t *w)
{
    ngx_str_t             value;
    ngx_uint_t            i, ok;
    ngx_http_llm_cond_t  *cond;

    for ( /* void */ ; route; route = route->next) {

        if (route->conditions == NULL) {
            w->route = route;
            return NGX_OK;
        }

        cond = route->conditions->elts;
        ok = 1;

        for (i = 0; ok && i < route->conditions->nelts; i++) {

            if (cond[i].type != NGX_HTTP_LLM_COND_STREAM
                && cond[i].type != NGX_HTTP_LLM_COND_VAR
                && !w->done)
            {
                if (ngx_http_llm_workload(r, ctx, w) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            switch (cond[i].type) {

            case NGX_HTTP_LLM_COND_STREAM:
                ok = ctx->stream;
                break;

            case NGX_HTTP_LLM_COND_TOOLS:
                ok = w->tools;
                break;

            case NGX_HTTP_LLM_COND_IMAGES:
                ok = w->images;
                break;

            case NGX_HTTP_LLM_COND_TOKENS:
                switch (cond[i].op) {
                case '<':
                    ok = (w->tokens < cond[i].tokens);
                    break;
                case 'l':
                    ok = (w->tokens <= cond[i].tokens);
                    break;
                case '>':
                    ok = (w->tokens > cond[i].tokens);
                    break;
                default: /* 'g' */
                    ok = (w->tokens >= cond[i].tokens);
                    break;
                }

                break;

            default: /* NGX_HTTP_LLM_COND_VAR */

                if (ngx_http_complex_value(r, cond[i].value, &value)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                ok = !(value.len == 0
                       || (value.len == 1 && value.data[0] == '0'));
                break;
            }

            if (cond[i].negate) {
                ok = !ok;
            }
        }

        if (ok) {
            w->route = route;
            return NGX_OK;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "http llm route \"%V\" of line %ui: no match",
                       &route->pattern, route->line);
    }

    return NGX_DECLINED;
}


/*
 * The workload of the request, from its tokenized body (the translation
 * uses the same tokens later):
 *
 *   estimated prompt tokens = ceil(body bytes / 4) + 3 * messages
 *
 * where messages are the elements of "messages" (chat, Anthropic),
 * "contents" (Gemini) or "input" (Responses; a string is one), plus one
 * for a "system", "instructions" or "systemInstruction"; tools: a
 * non-empty "tools" or "functions" array; images: any part of type
 * "image_url", "image" or "input_image", or any "mimeType"/"mime_type"
 * of "image/...".
 */

ngx_int_t
ngx_http_llm_workload(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_workload_t *w)
{
    ngx_int_t             rc, i, v;
    ngx_str_t             key, val;
    ngx_http_llm_json_t  *js;

    static const char    *lists[] = { "messages", "contents", "input", NULL };
    static const char    *systems[] = { "system", "instructions",
                                        "systemInstruction",
                                        "system_instruction", NULL };
    static const char    *tools[] = { "tools", "functions", NULL };
    const char          **name;

    w->done = 1;
    w->messages = 0;

    rc = ngx_http_llm_request_json(r, ctx, &js);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && js->ntoks > 0
        && ngx_http_llm_json_type(js, 0) == NGX_HTTP_LLM_JSON_OBJECT)
    {
        for (name = lists; *name; name++) {
            v = ngx_http_llm_json_get(js, 0, *name);

            if (v < 0) {
                continue;
            }

            if (ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_ARRAY) {
                w->messages += js->toks[v].size;

            } else if (ngx_http_llm_json_type(js, v)
                       == NGX_HTTP_LLM_JSON_STRING)
            {
                w->messages++;
            }

            break;
        }

        for (name = systems; *name; name++) {
            if (ngx_http_llm_json_get(js, 0, *name) >= 0) {
                w->messages++;
                break;
            }
        }

        for (name = tools; *name; name++) {
            v = ngx_http_llm_json_get(js, 0, *name);

            if (v >= 0
                && ngx_http_llm_json_type(js, v) == NGX_HTTP_LLM_JSON_ARRAY
                && js->toks[v].size > 0)
            {
                w->tools = 1;
                break;
            }
        }

        /* a key is a string token with one child: its value follows */

        for (i = 1; i + 1 < js->ntoks && !w->images; i++) {

            if (js->toks[i].type != NGX_HTTP_LLM_JSON_STRING
                || js->toks[i].size != 1
                || js->toks[i + 1].type != NGX_HTTP_LLM_JSON_STRING)
            {
                continue;
            }

            ngx_http_llm_json_raw(js, i, &key);
            ngx_http_llm_json_raw(js, i + 1, &val);

#define ngx_http_llm_str_is(s, lit)                                          \
            ((s).len == sizeof(lit) - 1                                       \
             && ngx_memcmp((s).data, lit, sizeof(lit) - 1) == 0)

            if (ngx_http_llm_str_is(key, "type")) {
                w->images = ngx_http_llm_str_is(val, "image_url")
                            || ngx_http_llm_str_is(val, "image")
                            || ngx_http_llm_str_is(val, "input_image");

            } else if (ngx_http_llm_str_is(key, "mimeType")
                       || ngx_http_llm_str_is(key, "mime_type"))
            {
                w->images = (val.len > 6
                             && ngx_memcmp(val.data, "image/", 6) == 0);
            }

#undef ngx_http_llm_str_is
        }
    }

    w->tokens = (ctx->body.len + 3) / 4 + 3 * w->messages;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm workload: ~%ui tokens, %ui messages, "
                   "tools:%ui images:%ui", w->tokens, w->messages,
                   (ngx_uint_t) w->tools, (ngx_uint_t) w->images);

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
        || ngx_memcmp(route->pattern.data, name->data, name->len) != 0)
    {
        return NULL;
    }

    return route;
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
