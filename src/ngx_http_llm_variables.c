
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_variables.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_limit.h"


enum {
    ngx_http_llm_var_model = 0,
    ngx_http_llm_var_provider,
    ngx_http_llm_var_upstream_model,
    ngx_http_llm_var_route,
    ngx_http_llm_var_prompt_tokens,
    ngx_http_llm_var_completion_tokens,
    ngx_http_llm_var_total_tokens,
    ngx_http_llm_var_cached_tokens,
    ngx_http_llm_var_stream,
    ngx_http_llm_var_upstream_status,
    ngx_http_llm_var_usage,
    ngx_http_llm_var_ttfb,
    ngx_http_llm_var_ttft,
    ngx_http_llm_var_key_name,
    ngx_http_llm_var_key_team,
    ngx_http_llm_var_cost,
    ngx_http_llm_var_attempts,
    ngx_http_llm_var_fallback_reason,
    ngx_http_llm_var_rule
};


static ngx_int_t ngx_http_llm_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_llm_vars[] = {

    { ngx_string("llm_attempts"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_attempts, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_fallback_reason"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_fallback_reason, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_model"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_model, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_provider"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_provider, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_upstream_model"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_upstream_model, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_route, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_rule"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_rule, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_prompt_tokens"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_prompt_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_completion_tokens"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_completion_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_total_tokens"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_total_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cached_tokens"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_cached_tokens, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_stream"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_stream, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_upstream_status"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_upstream_status, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_usage, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_ttfb"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_ttfb, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_ttft"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_ttft, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_key_name"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_key_name, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_key_team"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_key_team, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cost"), NULL, ngx_http_llm_variable,
      ngx_http_llm_var_cost, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_llm_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llm_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    uint64_t             nano;
    ngx_str_t            s;
    ngx_int_t            n;
    ngx_msec_t           t;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llm_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = -1;
    ngx_str_null(&s);

    switch (data) {

    case ngx_http_llm_var_model:
        s = ctx->model;
        break;

    case ngx_http_llm_var_provider:
        if (ctx->provider) {
            s = ctx->provider->name;
        }
        break;

    case ngx_http_llm_var_upstream_model:
        s = ctx->upstream_model;
        break;

    case ngx_http_llm_var_route:
        if (ctx->route) {
            s = ctx->route->pattern;
        }
        break;

    case ngx_http_llm_var_rule:

        /* which llm_route line matched: "/etc/nginx/routes.conf:12" */

        if (ctx->route) {
            p = ngx_pnalloc(r->pool, ngx_strlen(ctx->route->file) + 1
                                     + NGX_INT_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            s.data = p;
            s.len = ngx_sprintf(p, "%s:%ui", ctx->route->file,
                                ctx->route->line)
                    - p;
        }
        break;

    case ngx_http_llm_var_prompt_tokens:
        n = ctx->usage.known ? ctx->usage.prompt : -1;
        break;

    case ngx_http_llm_var_completion_tokens:
        n = ctx->usage.known ? ctx->usage.completion : -1;
        break;

    case ngx_http_llm_var_total_tokens:
        n = ctx->usage.known ? ctx->usage.total : -1;
        break;

    case ngx_http_llm_var_cached_tokens:
        n = ctx->usage.known ? ctx->usage.cached : -1;
        break;

    case ngx_http_llm_var_stream:
        if (ctx->model.len) {
            n = ctx->stream;
        }
        break;

    case ngx_http_llm_var_upstream_status:
        if (ctx->upstream_status) {
            n = ctx->upstream_status;
        }
        break;

    case ngx_http_llm_var_usage:
        if (ctx->upstream_status) {
            if (ctx->usage_estimated) {

                /* a stream cut short: the provider's counts so far and
                 * the text streamed */

                ngx_str_set(&s, "estimated");

            } else if (ctx->usage.known) {
                ngx_str_set(&s, "provider");

            } else {
                ngx_str_set(&s, "none");
            }
        }
        break;

    case ngx_http_llm_var_ttfb:
    case ngx_http_llm_var_ttft:
        t = (data == ngx_http_llm_var_ttfb) ? ctx->first_byte_msec
                                               : ctx->first_token_msec;

        if (t) {
            p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
            if (p == NULL) {
                return NGX_ERROR;
            }

            n = t - ctx->start_msec;

            s.data = p;
            s.len = ngx_sprintf(p, "%T.%03M", (time_t) n / 1000, n % 1000)
                    - p;
            n = -1;
        }
        break;

    case ngx_http_llm_var_key_name:
        if (ctx->key) {
            s = ctx->key->name;
        }
        break;

    case ngx_http_llm_var_key_team:
        if (ctx->key) {
            s = ctx->key->team_name;
        }
        break;

    case ngx_http_llm_var_attempts:
        if (ctx->attempts) {
            n = ctx->attempts;
        }
        break;

    case ngx_http_llm_var_fallback_reason:
        s = ctx->fallback_reason;
        break;

    case ngx_http_llm_var_cost:

        /* US dollars, to the nano-dollar, trailing zeros dropped */

        if (ngx_http_llm_cost(r, ctx, &nano) == NGX_OK) {
            p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 11);
            if (p == NULL) {
                return NGX_ERROR;
            }

            s.data = p;
            s.len = ngx_http_llm_dollars(p, nano) - p;
        }
        break;
    }

    if (n >= 0) {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%i", n) - p;
    }

    if (s.data == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s.data;

    return NGX_OK;
}
