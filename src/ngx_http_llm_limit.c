
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_shm.h"
#include "ngx_http_llm_json.h"
#include "ngx_http_llm_error.h"

#if (defined __SSE2__ && defined __GNUC__)
#include <emmintrin.h>
#endif


/* a window is one minute; its units are 1/60000 of a request or token */
#define NGX_HTTP_LLM_WINDOW        60000

#define NGX_HTTP_LLM_MAX_RATE      1000000000000ULL      /* per minute */
#define NGX_HTTP_LLM_MAX_BUDGET    1000000000000000ULL
#define NGX_HTTP_LLM_MAX_PRICE     10000000000ULL     /* $10000 per 1M */

/* tokens of one request, far above any context: no overflow in costs */
#define NGX_HTTP_LLM_MAX_TOKENS    100000000

/* the model in the name of a per-model node, at most */
#define NGX_HTTP_LLM_MODEL_NODE    256

/* key, team, and each on the model asked for */
#define NGX_HTTP_LLM_NODES         4


typedef enum {
    ngx_http_llm_deny_none = 0,
    ngx_http_llm_deny_rpm,
    ngx_http_llm_deny_tpm,
    ngx_http_llm_deny_too_large,
    ngx_http_llm_deny_tokens,
    ngx_http_llm_deny_cost,
    ngx_http_llm_deny_zone
} ngx_http_llm_deny_e;


/* what the x-ratelimit-* headers say about one kind of window */

typedef struct {
    uint64_t                    limit;
    uint64_t                    remaining;
    ngx_msec_t                  reset;
    ngx_uint_t                  set;
} ngx_http_llm_ratelimit_t;


typedef struct {
    ngx_http_llm_deny_e         reason;
    ngx_uint_t                  node;       /* whose limit: a->kind[] */
    uint64_t                    limit;
    ngx_msec_t                  retry;      /* 0: no Retry-After */
    ngx_uint_t                  period;
    ngx_http_llm_ratelimit_t    requests;
    ngx_http_llm_ratelimit_t    tokens;
} ngx_http_llm_verdict_t;


/* one admitted request: what it reserved where, settled at its end */

typedef struct {
    ngx_http_request_t         *request;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_zone_t        *zone;
    ngx_http_llm_main_conf_t   *lmcf;

    ngx_http_llm_node_t        *node[NGX_HTTP_LLM_NODES];
    ngx_http_llm_limits_t      *limits[NGX_HTTP_LLM_NODES];
    ngx_uint_t                  kind[NGX_HTTP_LLM_NODES];
    ngx_str_t                  *rule[NGX_HTTP_LLM_NODES]; /* "rpm:<model>" */
    ngx_uint_t                  nodes;

    uint64_t                    prompt;     /* estimates */
    uint64_t                    completion;
    uint64_t                    cost;       /* nano-dollars */
} ngx_http_llm_admission_t;


static ngx_http_llm_model_limits_t *ngx_http_llm_limit_model(
    ngx_array_t *list, ngx_str_t *model);
static ngx_int_t ngx_http_llm_limit_decimal(u_char *p, u_char *last,
    ngx_uint_t digits, uint64_t max, uint64_t *out);
static ngx_int_t ngx_http_llm_limit_period(ngx_str_t *value,
    ngx_uint_t *period);
static ngx_int_t ngx_http_llm_limit_estimate(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_admission_t *a);
static ngx_int_t ngx_http_llm_limit_check(ngx_http_llm_admission_t *a,
    ngx_uint_t i, time_t now, ngx_msec_t now_ms, ngx_http_llm_verdict_t *v);
static void ngx_http_llm_limit_reserve(ngx_http_llm_admission_t *a,
    ngx_uint_t i, time_t now);
static void ngx_http_llm_limit_report(ngx_http_llm_admission_t *a,
    ngx_uint_t i, ngx_http_llm_verdict_t *v);
static void ngx_http_llm_limit_keep(ngx_http_llm_node_t *node,
    ngx_http_llm_limits_t *limits, time_t now);
static void ngx_http_llm_limit_settle(void *data);
static void ngx_http_llm_limit_usage(ngx_http_llm_ctx_t *ctx,
    uint64_t *prompt, uint64_t *cached, uint64_t *completion);
static void ngx_http_llm_window_drain(ngx_http_llm_window_t *w,
    uint64_t rate, ngx_msec_t now);
static void ngx_http_llm_budget_roll(ngx_http_llm_budget_t *b,
    ngx_uint_t kind, time_t now);
static ngx_uint_t ngx_http_llm_period_id(ngx_uint_t kind, time_t now,
    time_t *end);
static ngx_int_t ngx_http_llm_limit_deny(ngx_http_request_t *r,
    ngx_http_llm_admission_t *a, ngx_http_llm_verdict_t *v);
static ngx_int_t ngx_http_llm_limit_headers(ngx_http_request_t *r,
    ngx_http_llm_verdict_t *v);
static ngx_int_t ngx_http_llm_limit_header(ngx_http_request_t *r,
    const char *name, u_char *value, u_char *last);
static u_char *ngx_http_llm_limit_duration(u_char *p, ngx_msec_t ms);
static ngx_http_llm_price_t *ngx_http_llm_price_find(
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_ctx_t *ctx);
static ngx_http_llm_price_t *ngx_http_llm_price_match(
    ngx_http_llm_main_conf_t *lmcf, ngx_str_t *model);
static uint64_t ngx_http_llm_price_cost(ngx_http_llm_price_t *price,
    uint64_t prompt, uint64_t cached, uint64_t completion);


static ngx_str_t  ngx_http_llm_periods[] = {
    ngx_string("total"),
    ngx_string("hour"),
    ngx_string("day"),
    ngx_string("month"),
    ngx_null_string
};


static ngx_str_t  ngx_http_llm_period_phrases[] = {
    ngx_string("in total"),
    ngx_string("an hour"),
    ngx_string("a day"),
    ngx_string("a month")
};


/*
 * "rpm=60", "tpm=100000", "budget_tokens=1000000/day",
 * "budget_cost=50/month" (dollars, "12.5" too); the period is "hour",
 * "day", "month" (calendar, UTC) or "total", the default.
 */

ngx_int_t
ngx_http_llm_limit_param(ngx_str_t *param, ngx_http_llm_limits_t *limits)
{
    u_char     *p, *last;
    uint64_t   *field, max;
    ngx_str_t   period;
    ngx_uint_t  digits, *kind;

    p = param->data;
    last = p + param->len;
    kind = NULL;
    digits = 0;

    if (param->len > 4 && ngx_strncmp(p, "rpm=", 4) == 0) {
        field = &limits->rpm;
        max = NGX_HTTP_LLM_MAX_RATE;
        p += 4;

    } else if (param->len > 4 && ngx_strncmp(p, "tpm=", 4) == 0) {
        field = &limits->tpm;
        max = NGX_HTTP_LLM_MAX_RATE;
        p += 4;

    } else if (param->len > 14 && ngx_strncmp(p, "budget_tokens=", 14) == 0) {
        field = &limits->budget_tokens;
        kind = &limits->tokens_period;
        max = NGX_HTTP_LLM_MAX_BUDGET;
        p += 14;

    } else if (param->len > 12 && ngx_strncmp(p, "budget_cost=", 12) == 0) {
        field = &limits->budget_cost;
        kind = &limits->cost_period;
        max = NGX_HTTP_LLM_MAX_BUDGET;
        digits = 9;                                      /* nano-dollars */
        p += 12;

    } else {
        return NGX_DECLINED;
    }

    if (*field) {
        return NGX_ERROR;
    }

    if (kind) {
        period.data = ngx_strlchr(p, last, '/');

        if (period.data) {
            period.len = last - period.data - 1;
            last = period.data++;

            if (ngx_http_llm_limit_period(&period, kind) != NGX_OK) {
                return NGX_ERROR;
            }

        } else {
            *kind = NGX_HTTP_LLM_PERIOD_TOTAL;
        }
    }

    if (ngx_http_llm_limit_decimal(p, last, digits, max, field) != NGX_OK
        || *field == 0)
    {
        *field = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_limit_model_param(ngx_pool_t *pool, ngx_str_t *param,
    ngx_array_t **list)
{
    u_char                       *colon, *eq, *p;
    ngx_int_t                     rc;
    ngx_str_t                     model, value;
    ngx_uint_t                    i;
    ngx_http_llm_limits_t         check;
    ngx_http_llm_model_limits_t  *ml;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');
    colon = ngx_strlchr(param->data, param->data + param->len, ':');

    if (eq == NULL || colon == NULL || colon > eq) {
        return NGX_DECLINED;
    }

    model.data = colon + 1;
    model.len = eq - model.data;

    /* "rpm=60" checked as itself: the limit's name, then the value */

    value.len = (colon - param->data) + (param->data + param->len - eq);

    p = ngx_pnalloc(pool, value.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    p = ngx_cpymem(p, param->data, colon - param->data);
    ngx_memcpy(p, eq, param->data + param->len - eq);

    ngx_memzero(&check, sizeof(ngx_http_llm_limits_t));

    rc = ngx_http_llm_limit_param(&value, &check);

    if (rc != NGX_OK) {
        return rc;
    }

    if (model.len == 0) {
        return NGX_ERROR;
    }

    if (*list == NULL) {
        *list = ngx_array_create(pool, 2, sizeof(ngx_http_llm_model_limits_t));
        if (*list == NULL) {
            return NGX_ERROR;
        }
    }

    ml = (*list)->elts;

    for (i = 0; i < (*list)->nelts; i++) {
        if (ml[i].model.len == model.len
            && ngx_strncmp(ml[i].model.data, model.data, model.len) == 0)
        {
            break;
        }
    }

    if (i == (*list)->nelts) {
        ml = ngx_array_push(*list);
        if (ml == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(ml, sizeof(ngx_http_llm_model_limits_t));

        /* the words of a keys file live in a buffer that is wiped */

        ml->model.data = ngx_pstrdup(pool, &model);
        if (ml->model.data == NULL) {
            return NGX_ERROR;
        }

        ml->model.len = model.len;

    } else {
        ml = &ml[i];
    }

    return ngx_http_llm_limit_param(&value, &ml->limits);
}


/* the limits of a key or team on a model: its own, else those of "*" */

static ngx_http_llm_model_limits_t *
ngx_http_llm_limit_model(ngx_array_t *list, ngx_str_t *model)
{
    ngx_uint_t                    i;
    ngx_http_llm_model_limits_t  *ml, *any;

    if (list == NULL) {
        return NULL;
    }

    any = NULL;
    ml = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (ml[i].model.len == 1 && ml[i].model.data[0] == '*') {
            any = &ml[i];
            continue;
        }

        if (ml[i].model.len == model->len
            && ngx_strncmp(ml[i].model.data, model->data, model->len) == 0)
        {
            return &ml[i];
        }
    }

    return any;
}


/* a non-negative decimal number, as an integer in 10^-digits units */

static ngx_int_t
ngx_http_llm_limit_decimal(u_char *p, u_char *last, ngx_uint_t digits,
    uint64_t max, uint64_t *out)
{
    uint64_t    n;
    ngx_uint_t  frac, seen;

    n = 0;
    frac = 0;
    seen = 0;

    if (p == last) {
        return NGX_ERROR;
    }

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (n > max) {
            return NGX_ERROR;
        }

        n = n * 10 + (*p - '0');
        seen = 1;
    }

    if (p < last && *p == '.') {
        p++;

        for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
            if (frac == digits) {
                return NGX_ERROR;
            }

            if (n > max) {
                return NGX_ERROR;
            }

            n = n * 10 + (*p - '0');
            frac++;
            seen = 1;
        }
    }

    if (p != last || !seen) {
        return NGX_ERROR;
    }

    for ( /* void */ ; frac < digits; frac++) {
        if (n > max) {
            return NGX_ERROR;
        }

        n *= 10;
    }

    if (n > max) {
        return NGX_ERROR;
    }

    *out = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_limit_period(ngx_str_t *value, ngx_uint_t *period)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_llm_periods[i].len; i++) {
        if (ngx_http_llm_periods[i].len == value->len
            && ngx_strncmp(ngx_http_llm_periods[i].data, value->data,
                           value->len)
               == 0)
        {
            *period = i;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/* llm_price <model> input=<$ per 1M> [output=] [cached=]; */

char *
ngx_http_llm_price_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    u_char                 *p;
    uint64_t               *field;
    ngx_str_t              *value, model;
    ngx_uint_t              i, cached;
    ngx_regex_compile_t     rc;
    ngx_http_llm_price_t   *price, *pr;
    u_char                  errstr[NGX_MAX_CONF_ERRSTR];

    value = cf->args->elts;

    if (lmcf->prices == NULL) {
        lmcf->prices = ngx_array_create(cf->pool, 8,
                                        sizeof(ngx_http_llm_price_t));
        if (lmcf->prices == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    model = value[1];

    pr = lmcf->prices->elts;

    for (i = 0; i < lmcf->prices->nelts; i++) {
        if (pr[i].model.len == model.len
            && ngx_strncmp(pr[i].model.data, model.data, model.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate price of \"%V\"", &model);
            return NGX_CONF_ERROR;
        }
    }

    price = ngx_array_push(lmcf->prices);
    if (price == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(price, sizeof(ngx_http_llm_price_t));

    price->model = model;

    if (model.len > 1 && model.data[0] == '~') {
        ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

        rc.pattern.data = model.data + 1;
        rc.pattern.len = model.len - 1;

        if (rc.pattern.data[0] == '*') {
            rc.pattern.data++;
            rc.pattern.len--;
            rc.options = NGX_REGEX_CASELESS;
        }

        rc.pool = cf->pool;
        rc.err.len = NGX_MAX_CONF_ERRSTR;
        rc.err.data = errstr;

        if (rc.pattern.len == 0 || ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid regex \"%V\"%s%V",
                               &model, rc.err.len ? ": " : "", &rc.err);
            return NGX_CONF_ERROR;
        }

        price->regex = rc.regex;
    }

    cached = 0;

    for (i = 2; i < cf->args->nelts; i++) {
        p = value[i].data;

        if (ngx_strncmp(p, "input=", 6) == 0) {
            field = &price->input;
            p += 6;

        } else if (ngx_strncmp(p, "output=", 7) == 0) {
            field = &price->output;
            p += 7;

        } else if (ngx_strncmp(p, "cached=", 7) == 0) {
            field = &price->cached;
            cached = 1;
            p += 7;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_llm_limit_decimal(p, value[i].data + value[i].len, 6,
                                       NGX_HTTP_LLM_MAX_PRICE, field)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (!cached) {
        price->cached = price->input;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_limit_admit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    time_t                        now;
    ngx_str_t                    *name[NGX_HTTP_LLM_NODES];
    ngx_str_t                     scoped[2], model;
    uint32_t                      hash[NGX_HTTP_LLM_NODES];
    ngx_int_t                     rc;
    ngx_uint_t                    i, n;
    ngx_msec_t                    now_ms;
    ngx_http_llm_model_limits_t  *ml;
    ngx_pool_cleanup_t           *cln;
    ngx_http_llm_key_t           *key;
    ngx_http_llm_zone_t          *zone;
    ngx_http_llm_verdict_t        v;
    ngx_http_llm_admission_t     *a;
    ngx_http_llm_main_conf_t     *lmcf;

    key = ctx->key;
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    if (key == NULL || lmcf->zone == NULL) {
        return NGX_OK;
    }

    zone = lmcf->zone;

    /* everything that allocates, before the lock */

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_admission_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a->request = r;
    a->ctx = ctx;
    a->zone = zone;
    a->lmcf = lmcf;

    a->limits[0] = &key->limits;
    name[0] = &key->name;
    hash[0] = key->hash;
    a->kind[0] = NGX_HTTP_LLM_NODE_KEY;
    a->nodes = 1;

    if (key->team_name.len) {
        a->limits[1] = key->team ? &key->team->limits : NULL;
        name[1] = &key->team_name;
        hash[1] = key->team_hash;
        a->kind[1] = NGX_HTTP_LLM_NODE_TEAM;
        a->nodes = 2;
    }

    /*
     * per-model limits: a node of their own, "<key> <model>" (names have
     * no spaces), for the key's and for the team's
     */

    n = a->nodes;

    for (i = 0; i < n; i++) {
        ml = ngx_http_llm_limit_model((i == 0) ? key->model_limits
                                      : (key->team ? key->team->model_limits
                                                   : NULL),
                                      &ctx->model);
        if (ml == NULL) {
            continue;
        }

        /*
         * "*": a window of each route apart, named by its pattern (the
         * model itself for an exact route), so that a client cannot make
         * nodes of its own with made-up names for a regex route
         */

        if (ml->model.len == 1 && ml->model.data[0] == '*' && ctx->route) {
            model = ctx->route->pattern;

        } else {
            model = ctx->model;
        }

        model.len = ngx_min(model.len, NGX_HTTP_LLM_MODEL_NODE);

        scoped[i].len = name[i]->len + 1 + model.len;
        scoped[i].data = ngx_pnalloc(r->pool, scoped[i].len);
        if (scoped[i].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(scoped[i].data, "%V %V", name[i], &model);

        a->limits[a->nodes] = &ml->limits;
        a->rule[a->nodes] = &ml->model;
        name[a->nodes] = &scoped[i];
        hash[a->nodes] = ngx_http_llm_shm_hash(&scoped[i]);
        a->kind[a->nodes] = (i == 0) ? NGX_HTTP_LLM_NODE_KEY_MODEL
                                     : NGX_HTTP_LLM_NODE_TEAM_MODEL;
        a->nodes++;
    }

    if (ngx_http_llm_limit_estimate(r, ctx, a) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&v, sizeof(ngx_http_llm_verdict_t));

    now = ngx_time();
    now_ms = ngx_current_msec;

    ngx_http_llm_shm_lock(zone);

    for (i = 0; i < a->nodes; i++) {
        a->node[i] = ngx_http_llm_shm_node(zone, a->kind[i], name[i],
                                           hash[i], 1);

        if (a->node[i] == NULL) {
            v.reason = ngx_http_llm_deny_zone;
            break;
        }

        /* not to be freed for the team's node */
        a->node[i]->refs++;
    }

    for (i = 0; i < a->nodes && a->node[i]; i++) {
        a->node[i]->refs--;
    }

    for (i = 0; i < a->nodes && v.reason == ngx_http_llm_deny_none; i++) {
        rc = ngx_http_llm_limit_check(a, i, now, now_ms, &v);

        if (rc != NGX_OK) {
            v.node = i;
            break;
        }
    }

    if (v.reason == ngx_http_llm_deny_none) {
        for (i = 0; i < a->nodes; i++) {
            ngx_http_llm_limit_reserve(a, i, now);
        }

    } else if (v.reason != ngx_http_llm_deny_zone) {

        /* the 429 answered, by key and team */

        for (i = 0; i < a->nodes; i++) {
            a->node[i]->responses[3]++;
        }
    }

    for (i = 0; i < a->nodes && v.reason != ngx_http_llm_deny_zone; i++) {
        ngx_http_llm_limit_report(a, i, &v);
    }

    ngx_http_llm_shm_unlock(zone);

    if (v.reason != ngx_http_llm_deny_none) {
        return ngx_http_llm_limit_deny(r, a, &v);
    }

    cln->handler = ngx_http_llm_limit_settle;
    cln->data = a;

    if (ngx_http_llm_limit_headers(r, &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * What a request may use: its prompt, about 4 bytes of body a token, and
 * its completion, max_tokens (times "n") or llm_reserve_tokens.  The
 * body, already validated, is scanned for these only when a window or a
 * budget needs them.
 */

static ngx_int_t
ngx_http_llm_limit_estimate(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_admission_t *a)
{
    u_char                      *body;
    uint64_t                     v;
    ngx_int_t                    max, n, limit[2];
    ngx_str_t                    key;
    ngx_uint_t                   i, k, nm, need;
    ngx_http_llm_price_t        *price;
    ngx_http_llm_limits_t       *l;
    ngx_http_llm_loc_conf_t     *llcf;
    ngx_http_llm_json_member_t   local[32], *m;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    a->prompt = ngx_min((ctx->body.len + 3) / 4, NGX_HTTP_LLM_MAX_TOKENS);
    a->completion = 0;

    need = 0;

    for (i = 0; i < a->nodes; i++) {
        l = a->limits[i];

        if (l && (l->tpm || l->budget_tokens || l->budget_cost)) {
            need = 1;
        }
    }

    if (!need || ctx->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS) {
        goto cost;
    }

    body = ctx->body.data;
    m = local;

    if (ngx_http_llm_json_scan(body, body + ctx->body.len, m, 32, &nm)
        != NGX_OK)
    {
        nm = 0;
    }

    if (nm > 32) {
        m = ngx_palloc(r->pool, nm * sizeof(ngx_http_llm_json_member_t));
        if (m == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_llm_json_scan(body, body + ctx->body.len, m, nm, &nm)
            != NGX_OK)
        {
            nm = 0;
        }
    }

    /*
     * the last of equal keys, decoded, as the provider reads them; the
     * larger of max_tokens and max_completion_tokens
     */

    limit[0] = -1;
    limit[1] = -1;
    n = 1;

    for (i = 0; i < nm; i++) {
        key = m[i].key;

        if (m[i].escaped
            && ngx_http_llm_json_unescape(r->pool, key.data,
                                          key.data + key.len, &key)
               != NGX_OK)
        {
            continue;
        }

        if (key.len == sizeof("max_tokens") - 1
            && ngx_strncmp(key.data, "max_tokens", key.len) == 0)
        {
            k = 0;

        } else if (key.len == sizeof("max_completion_tokens") - 1
                   && ngx_strncmp(key.data, "max_completion_tokens", key.len)
                      == 0)
        {
            k = 1;

        } else if (key.len == 1 && key.data[0] == 'n') {
            k = 2;

        } else {
            continue;
        }

        if (m[i].type != NGX_HTTP_LLM_JSON_PRIMITIVE) {
            continue;
        }

        v = 0;

        for (body = m[i].start;
             body < m[i].end && *body >= '0' && *body <= '9';
             body++)
        {
            v = ngx_min(v * 10 + (*body - '0'), NGX_HTTP_LLM_MAX_TOKENS);
        }

        if (body == m[i].start) {
            continue;                                     /* null, -1 */
        }

        if (k == 2) {
            n = ngx_max((ngx_int_t) v, 1);

        } else {
            limit[k] = v;
        }
    }

    max = ngx_max(limit[0], limit[1]);

    if (max < 0) {
        max = ngx_min(llcf->reserve_tokens, NGX_HTTP_LLM_MAX_TOKENS);
    }

    a->completion = ngx_min((uint64_t) max * ngx_min(n, 128),
                            NGX_HTTP_LLM_MAX_TOKENS);

cost:

    price = ngx_http_llm_price_find(a->lmcf, ctx);

    if (price) {
        a->cost = (ngx_http_llm_price_cost(price, a->prompt, 0, a->completion)
                   + 999) / 1000;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_limit_check(ngx_http_llm_admission_t *a, ngx_uint_t i,
    time_t now, ngx_msec_t now_ms, ngx_http_llm_verdict_t *v)
{
    time_t                  end;
    uint64_t                tokens, cap, need;
    ngx_http_llm_node_t    *node;
    ngx_http_llm_limits_t  *l;

    l = a->limits[i];
    node = a->node[i];

    if (l == NULL) {
        return NGX_OK;
    }

    tokens = a->prompt + a->completion;

    if (l->rpm) {
        ngx_http_llm_window_drain(&node->rpm, l->rpm, now_ms);

        cap = l->rpm * NGX_HTTP_LLM_WINDOW;

        if (node->rpm.level + NGX_HTTP_LLM_WINDOW > cap) {
            v->reason = ngx_http_llm_deny_rpm;
            v->limit = l->rpm;
            v->retry = (node->rpm.level + NGX_HTTP_LLM_WINDOW - cap
                        + l->rpm - 1) / l->rpm;
            return NGX_BUSY;
        }
    }

    if (l->tpm) {
        ngx_http_llm_window_drain(&node->tpm, l->tpm, now_ms);

        if (tokens > l->tpm) {
            v->reason = ngx_http_llm_deny_too_large;
            v->limit = l->tpm;
            return NGX_BUSY;
        }

        cap = l->tpm * NGX_HTTP_LLM_WINDOW;
        need = tokens * NGX_HTTP_LLM_WINDOW;

        if (node->tpm.level + need > cap) {
            v->reason = ngx_http_llm_deny_tpm;
            v->limit = l->tpm;
            v->retry = (node->tpm.level + need - cap + l->tpm - 1) / l->tpm;
            return NGX_BUSY;
        }
    }

    /* a budget spent to the last unit refuses even what costs nothing */

    if (l->budget_tokens) {
        ngx_http_llm_budget_roll(&node->tokens, l->tokens_period, now);

        need = node->tokens.used + node->tokens.reserved;

        if (need + tokens > l->budget_tokens || need >= l->budget_tokens) {
            v->reason = ngx_http_llm_deny_tokens;
            v->limit = l->budget_tokens;
            v->period = l->tokens_period;

            if (l->tokens_period != NGX_HTTP_LLM_PERIOD_TOTAL) {
                (void) ngx_http_llm_period_id(l->tokens_period, now, &end);
                v->retry = (ngx_msec_t) (end - now) * 1000;
            }

            return NGX_BUSY;
        }
    }

    if (l->budget_cost) {
        ngx_http_llm_budget_roll(&node->cost, l->cost_period, now);

        need = node->cost.used + node->cost.reserved;

        if (need + a->cost > l->budget_cost || need >= l->budget_cost) {
            v->reason = ngx_http_llm_deny_cost;
            v->limit = l->budget_cost;
            v->period = l->cost_period;

            if (l->cost_period != NGX_HTTP_LLM_PERIOD_TOTAL) {
                (void) ngx_http_llm_period_id(l->cost_period, now, &end);
                v->retry = (ngx_msec_t) (end - now) * 1000;
            }

            return NGX_BUSY;
        }
    }

    return NGX_OK;
}


static void
ngx_http_llm_limit_reserve(ngx_http_llm_admission_t *a, ngx_uint_t i,
    time_t now)
{
    ngx_http_llm_node_t    *node;
    ngx_http_llm_limits_t  *l;

    l = a->limits[i];
    node = a->node[i];

    node->refs++;
    node->requests++;

    if (l == NULL) {
        return;
    }

    if (l->rpm) {
        node->rpm.level += NGX_HTTP_LLM_WINDOW;
    }

    if (l->tpm) {
        node->tpm.level += (a->prompt + a->completion) * NGX_HTTP_LLM_WINDOW;
    }

    if (l->budget_tokens) {
        node->tokens.reserved += a->prompt + a->completion;
    }

    if (l->budget_cost) {
        node->cost.reserved += a->cost;
    }

    ngx_http_llm_limit_keep(node, l, now);
}


/* the window of each kind with the least room left goes in the headers */

static void
ngx_http_llm_limit_report(ngx_http_llm_admission_t *a, ngx_uint_t i,
    ngx_http_llm_verdict_t *v)
{
    uint64_t                   cap, room;
    ngx_http_llm_node_t       *node;
    ngx_http_llm_limits_t     *l;
    ngx_http_llm_ratelimit_t  *rl;

    l = a->limits[i];
    node = a->node[i];

    if (l == NULL) {
        return;
    }

    if (l->rpm) {
        rl = &v->requests;
        cap = l->rpm * NGX_HTTP_LLM_WINDOW;
        room = (node->rpm.level < cap)
               ? (cap - node->rpm.level) / NGX_HTTP_LLM_WINDOW : 0;

        if (!rl->set || room < rl->remaining) {
            rl->set = 1;
            rl->limit = l->rpm;
            rl->remaining = room;
            rl->reset = (node->rpm.level + l->rpm - 1) / l->rpm;
        }
    }

    if (l->tpm) {
        rl = &v->tokens;
        cap = l->tpm * NGX_HTTP_LLM_WINDOW;
        room = (node->tpm.level < cap)
               ? (cap - node->tpm.level) / NGX_HTTP_LLM_WINDOW : 0;

        if (!rl->set || room < rl->remaining) {
            rl->set = 1;
            rl->limit = l->tpm;
            rl->remaining = room;
            rl->reset = (node->tpm.level + l->tpm - 1) / l->tpm;
        }
    }
}


/* until when the node holds something a full zone must not forget */

static void
ngx_http_llm_limit_keep(ngx_http_llm_node_t *node,
    ngx_http_llm_limits_t *limits, time_t now)
{
    time_t  keep, end, t;

    keep = 0;

    if (limits->rpm && node->rpm.level) {
        t = now + (time_t) (node->rpm.level / limits->rpm / 1000) + 1;
        keep = ngx_max(keep, t);
    }

    if (limits->tpm && node->tpm.level) {
        t = now + (time_t) (node->tpm.level / limits->tpm / 1000) + 1;
        keep = ngx_max(keep, t);
    }

    if (limits->budget_tokens
        && (node->tokens.used || node->tokens.reserved))
    {
        (void) ngx_http_llm_period_id(limits->tokens_period, now, &end);
        keep = ngx_max(keep, end);
    }

    if (limits->budget_cost && (node->cost.used || node->cost.reserved)) {
        (void) ngx_http_llm_period_id(limits->cost_period, now, &end);
        keep = ngx_max(keep, end);
    }

    node->keep = keep;
}


/*
 * The pool cleanup of an admitted request: the reservation is replaced by
 * the provider's usage.  Without usage, a request that reached a provider
 * and got no error is charged what was reserved, one that did not is
 * charged nothing.
 */

static void
ngx_http_llm_limit_settle(void *data)
{
    ngx_http_llm_admission_t *a = data;

    time_t                  now;
    uint64_t                prompt, cached, completion, tokens, cost, est;
    uint64_t                d;
    ngx_uint_t              i, status;
    ngx_msec_t              now_ms;
    ngx_http_llm_ctx_t     *ctx;
    ngx_http_upstream_t    *u;
    ngx_http_llm_node_t    *node;
    ngx_http_llm_price_t   *price;
    ngx_http_llm_limits_t  *l;

    ctx = a->ctx;
    u = a->request->upstream;

    status = a->request->err_status ? a->request->err_status
                                    : a->request->headers_out.status;

    cached = 0;

    if (ctx->usage.known) {
        ngx_http_llm_limit_usage(ctx, &prompt, &cached, &completion);

    } else if (u && u->request_sent
               && (ctx->upstream_status == 0 || ctx->upstream_status < 400))
    {
        prompt = a->prompt;
        completion = a->completion;

    } else {
        prompt = 0;
        completion = 0;
    }

    tokens = prompt + completion;
    est = a->prompt + a->completion;

    price = ngx_http_llm_price_find(a->lmcf, ctx);

    cost = price ? (ngx_http_llm_price_cost(price, prompt, cached, completion)
                    + 500) / 1000
                 : 0;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, a->request->connection->log, 0,
                   "http llm settle: tokens %uL of %uL, cost %uL of %uL",
                   tokens, est, cost, a->cost);

    now = ngx_time();
    now_ms = ngx_current_msec;

    ngx_http_llm_shm_lock(a->zone);

    for (i = 0; i < a->nodes; i++) {
        node = a->node[i];
        l = a->limits[i];

        node->refs--;

        if (status >= 100 && status < 600) {
            node->responses[status / 100 - 1]++;
        }

        node->prompt_tokens += prompt;
        node->completion_tokens += completion;
        node->cost_total += cost;

        if (l == NULL) {
            continue;
        }

        if (l->tpm) {
            ngx_http_llm_window_drain(&node->tpm, l->tpm, now_ms);

            if (tokens >= est) {
                node->tpm.level += (tokens - est) * NGX_HTTP_LLM_WINDOW;

            } else {
                d = (est - tokens) * NGX_HTTP_LLM_WINDOW;
                node->tpm.level = (node->tpm.level > d)
                                  ? node->tpm.level - d : 0;
            }
        }

        if (l->budget_tokens) {
            node->tokens.reserved -= ngx_min(node->tokens.reserved, est);
            ngx_http_llm_budget_roll(&node->tokens, l->tokens_period, now);
            node->tokens.used += tokens;
        }

        if (l->budget_cost) {
            node->cost.reserved -= ngx_min(node->cost.reserved, a->cost);
            ngx_http_llm_budget_roll(&node->cost, l->cost_period, now);
            node->cost.used += cost;
        }

        ngx_http_llm_limit_keep(node, l, now);
    }

    ngx_http_llm_shm_unlock(a->zone);
}


/* the provider's counts, bounded */

static void
ngx_http_llm_limit_usage(ngx_http_llm_ctx_t *ctx, uint64_t *prompt,
    uint64_t *cached, uint64_t *completion)
{
    ngx_int_t  p, c;

    p = ngx_max(ctx->usage.prompt, 0);
    p = ngx_min(p, NGX_HTTP_LLM_MAX_TOKENS);

    c = ngx_max(ctx->usage.cached, 0);
    c = ngx_min(c, p);

    *prompt = p;
    *cached = c;

    c = ngx_max(ctx->usage.completion, 0);
    *completion = ngx_min(c, NGX_HTTP_LLM_MAX_TOKENS);
}


static void
ngx_http_llm_window_drain(ngx_http_llm_window_t *w, uint64_t rate,
    ngx_msec_t now)
{
    ngx_msec_int_t  ms;

    ms = (ngx_msec_int_t) (now - w->last);

    /* another worker's clock may be a little ahead */

    if (ms <= 0) {
        return;
    }

    w->last = now;

    if ((uint64_t) ms > w->level / rate) {
        w->level = 0;

    } else {
        w->level -= rate * (uint64_t) ms;
    }
}


static void
ngx_http_llm_budget_roll(ngx_http_llm_budget_t *b, ngx_uint_t kind,
    time_t now)
{
    time_t      end;
    ngx_uint_t  id;

    id = ngx_http_llm_period_id(kind, now, &end);

    if (b->period != id) {
        b->period = id;
        b->used = 0;
    }
}


static ngx_uint_t
ngx_http_llm_period_id(ngx_uint_t kind, time_t now, time_t *end)
{
    ngx_tm_t    tm;
    ngx_uint_t  id, year, month;

    switch (kind) {

    case NGX_HTTP_LLM_PERIOD_HOUR:
        id = now / 3600;
        *end = (time_t) (id + 1) * 3600;
        break;

    case NGX_HTTP_LLM_PERIOD_DAY:
        id = now / 86400;
        *end = (time_t) (id + 1) * 86400;
        break;

    case NGX_HTTP_LLM_PERIOD_MONTH:
        ngx_gmtime(now, &tm);

        year = tm.ngx_tm_year;
        month = tm.ngx_tm_mon;                           /* 1-12 */
        id = year * 12 + month - 1;

        if (month == 12) {
            year++;
            month = 1;

        } else {
            month++;
        }

        *end = ngx_http_llm_utc_day(year, month, 1);
        break;

    default: /* NGX_HTTP_LLM_PERIOD_TOTAL */
        id = 0;
        *end = NGX_MAX_TIME_T_VALUE;
        break;
    }

    return id * 4 + kind;
}


time_t
ngx_http_llm_utc_day(ngx_uint_t year, ngx_uint_t month, ngx_uint_t day)
{
    ngx_uint_t  era, yoe, doy, doe;

    /* days from the civil date, after H. Hinnant; years from 1970 */

    if (month <= 2) {
        year--;
    }

    era = year / 400;
    yoe = year - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return (time_t) (era * 146097 + doe - 719468) * 86400;
}


static ngx_int_t
ngx_http_llm_limit_deny(ngx_http_request_t *r, ngx_http_llm_admission_t *a,
    ngx_http_llm_verdict_t *v)
{
    u_char       *p, *msg, *last;
    size_t        len;
    ngx_str_t    *who, *period, *model, on;
    ngx_uint_t    team;
    const char   *type, *code, *what, *kind, *limit;

    if (v->reason == ngx_http_llm_deny_zone) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: zone \"%V\" is full: API key \"%V\" refused",
                      &a->zone->shm_zone->shm.name, &a->ctx->key->name);

        return ngx_http_llm_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "api_error", "zone_full",
                                       "The gateway cannot account for "
                                       "more API keys now; try again "
                                       "later.");
    }

    team = (a->kind[v->node] == NGX_HTTP_LLM_NODE_TEAM
            || a->kind[v->node] == NGX_HTTP_LLM_NODE_TEAM_MODEL);
    who = team ? &a->ctx->key->team_name : &a->ctx->key->name;
    kind = team ? "team" : "key";
    period = &ngx_http_llm_period_phrases[v->period];

    /* a per-model limit: the model asked for, JSON-escaped by the writer */

    model = (a->kind[v->node] >= NGX_HTTP_LLM_NODE_KEY_MODEL)
            ? &a->ctx->model : NULL;

    len = 256 + who->len + (model ? model->len + 16 : 0);

    on.data = ngx_pnalloc(r->pool, len);
    if (on.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* "key \"app\"", "key \"app\" on model \"gpt-4o\"" */

    on.len = (model ? ngx_sprintf(on.data, "%s \"%V\" on model \"%V\"",
                                  kind, who, model)
                    : ngx_sprintf(on.data, "%s \"%V\"", kind, who))
             - on.data;

    msg = ngx_pnalloc(r->pool, len);
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = msg + len - 1;

    switch (v->reason) {

    case ngx_http_llm_deny_rpm:
        limit = "rpm";
        type = "requests";
        code = "rate_limit_exceeded";
        what = "requests per minute";
        p = ngx_slprintf(msg, last, "Rate limit reached for requests per "
                         "minute of %V: limit %uL.",
                         &on, v->limit);
        break;

    case ngx_http_llm_deny_tpm:
        limit = "tpm";
        type = "tokens";
        code = "rate_limit_exceeded";
        what = "tokens per minute";
        p = ngx_slprintf(msg, last, "Rate limit reached for tokens per "
                         "minute of %V: limit %uL.",
                         &on, v->limit);
        break;

    case ngx_http_llm_deny_too_large:
        limit = "tpm";
        type = "tokens";
        code = "rate_limit_exceeded";
        what = "tokens per minute";
        p = ngx_slprintf(msg, last, "Request too large for the tokens per "
                         "minute of %V: limit %uL; lower max_tokens "
                         "or the prompt.", &on, v->limit);
        break;

    case ngx_http_llm_deny_tokens:
        limit = "budget_tokens";
        type = "insufficient_quota";
        code = "insufficient_quota";
        what = "token budget";
        p = ngx_slprintf(msg, last, "The token budget of %V "
                         "(%uL %V) is spent.", &on, v->limit, period);
        break;

    default: /* ngx_http_llm_deny_cost */
        limit = "budget_cost";
        type = "insufficient_quota";
        code = "insufficient_quota";
        what = "cost budget";
        p = ngx_slprintf(msg, last, "The cost budget of %V ($",
                         &on);
        p = ngx_http_llm_dollars(p, v->limit);
        p = ngx_slprintf(p, last, " %V) is spent.", period);
        break;
    }

    *p = '\0';

    /* the configured rule in the log, not what the client wrote */

    if (model) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: %s of %s \"%V\" on model \"%V\" reached", what,
                      team ? "team" : "API key", who, a->rule[v->node]);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: %s of %s \"%V\" reached", what,
                      team ? "team" : "API key", who);
    }

    /* which limit: "rpm; scope=key-model" */

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "%s; scope=%s%s", limit, kind,
                       model ? "-model" : "");

    if (ngx_http_llm_limit_header(r, "x-llm-limit", p, last) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (v->retry) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        last = ngx_sprintf(p, "%M", (v->retry + 999) / 1000);

        if (ngx_http_llm_limit_header(r, "Retry-After", p, last) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_llm_limit_headers(r, v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_llm_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS, type, code,
                                   (char *) msg);
}


/* OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} */

static ngx_int_t
ngx_http_llm_limit_headers(ngx_http_request_t *r, ngx_http_llm_verdict_t *v)
{
    u_char                    *p, *last;
    ngx_uint_t                 i;
    ngx_http_llm_ratelimit_t  *rl;
    static const char         *names[2][3] = {
        { "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
          "x-ratelimit-reset-requests" },
        { "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
          "x-ratelimit-reset-tokens" }
    };

    for (i = 0; i < 2; i++) {
        rl = (i == 0) ? &v->requests : &v->tokens;

        if (!rl->set) {
            continue;
        }

        p = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN + 32);
        if (p == NULL) {
            return NGX_ERROR;
        }

        last = ngx_sprintf(p, "%uL", rl->limit);

        if (ngx_http_llm_limit_header(r, names[i][0], p, last) != NGX_OK) {
            return NGX_ERROR;
        }

        p = last;
        last = ngx_sprintf(p, "%uL", rl->remaining);

        if (ngx_http_llm_limit_header(r, names[i][1], p, last) != NGX_OK) {
            return NGX_ERROR;
        }

        p = last;
        last = ngx_http_llm_limit_duration(p, rl->reset);

        if (ngx_http_llm_limit_header(r, names[i][2], p, last) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_limit_header(ngx_http_request_t *r, const char *name,
    u_char *value, u_char *last)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = last - value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/* "250ms", "6s", "1m30s", as OpenAI writes the reset times */

static u_char *
ngx_http_llm_limit_duration(u_char *p, ngx_msec_t ms)
{
    ngx_msec_t  s;

    if (ms == 0) {
        return ngx_cpymem(p, "0s", 2);
    }

    if (ms < 1000) {
        return ngx_sprintf(p, "%Mms", ms);
    }

    s = (ms + 999) / 1000;

    if (s < 60) {
        return ngx_sprintf(p, "%Ms", s);
    }

    if (s < 3600) {
        return ngx_sprintf(p, "%Mm%Ms", s / 60, s % 60);
    }

    return ngx_sprintf(p, "%Mh%Mm%Ms", s / 3600, s % 3600 / 60, s % 60);
}


u_char *
ngx_http_llm_dollars(u_char *p, uint64_t nano)
{
    u_char  *last;

    last = ngx_sprintf(p, "%uL.%09uL", nano / 1000000000, nano % 1000000000);

    while (last[-1] == '0' && last[-2] != '.') {
        last--;
    }

    return last;
}


ngx_int_t
ngx_http_llm_cost(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    uint64_t *nano)
{
    uint64_t                   prompt, cached, completion;
    ngx_http_llm_price_t      *price;
    ngx_http_llm_main_conf_t  *lmcf;

    if (!ctx->usage.known) {
        return NGX_DECLINED;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_module);

    price = ngx_http_llm_price_find(lmcf, ctx);

    if (price == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_llm_limit_usage(ctx, &prompt, &cached, &completion);

    *nano = (ngx_http_llm_price_cost(price, prompt, cached, completion) + 500)
            / 1000;

    return NGX_OK;
}


/* by the model sent to the provider, then by the model asked for */

static ngx_http_llm_price_t *
ngx_http_llm_price_find(ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_ctx_t *ctx)
{
    ngx_http_llm_price_t  *price;

    if (lmcf->prices == NULL) {
        return NULL;
    }

    price = NULL;

    if (ctx->upstream_model.len) {
        price = ngx_http_llm_price_match(lmcf, &ctx->upstream_model);
    }

    if (price == NULL && ctx->model.len) {
        price = ngx_http_llm_price_match(lmcf, &ctx->model);
    }

    return price;
}


ngx_http_llm_price_t *
ngx_http_llm_price_of(ngx_http_llm_main_conf_t *lmcf, ngx_str_t *model)
{
    if (lmcf->prices == NULL) {
        return NULL;
    }

    return ngx_http_llm_price_match(lmcf, model);
}


static ngx_http_llm_price_t *
ngx_http_llm_price_match(ngx_http_llm_main_conf_t *lmcf, ngx_str_t *model)
{
    ngx_uint_t             i;
    ngx_http_llm_price_t  *price;

    price = lmcf->prices->elts;

    for (i = 0; i < lmcf->prices->nelts; i++) {
        if (price[i].regex == NULL
            && price[i].model.len == model->len
            && ngx_strncmp(price[i].model.data, model->data, model->len) == 0)
        {
            return &price[i];
        }
    }

    for (i = 0; i < lmcf->prices->nelts; i++) {
        if (price[i].regex
            && ngx_regex_exec(price[i].regex, model, NULL, 0) >= 0)
        {
            return &price[i];
        }
    }

    return NULL;
}


/* in pico-dollars: tokens times micro-dollars per million tokens */

static uint64_t
ngx_http_llm_price_cost(ngx_http_llm_price_t *price, uint64_t prompt,
    uint64_t cached, uint64_t completion)
{
    return (prompt - cached) * price->input + cached * price->cached
           + completion * price->output;
}


/*
 * The next '"' in [p, last), or NULL: memchr() without a call, since the
 * quotes of an event are a few bytes apart
 */

static ngx_inline u_char *
ngx_http_llm_next_quote(u_char *p, u_char *last)
{
#if (defined __SSE2__ && defined __GNUC__)
    int      mask;
    __m128i  quote;

    quote = _mm_set1_epi8('"');

    while (last - p >= 16) {
        mask = _mm_movemask_epi8(
                   _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *) p),
                                  quote));

        if (mask) {
            return p + __builtin_ctz((unsigned int) mask);
        }

        p += 16;
    }
#endif

    for ( /* void */ ; p < last; p++) {
        if (*p == '"') {
            return p;
        }
    }

    return NULL;
}


size_t
ngx_http_llm_usage_generated(u_char *data, size_t len)
{
    u_char      *p, *last, *q;
    size_t       n;
    ngx_uint_t   i;

    static ngx_str_t  keys[] = {
        ngx_string("content"), ngx_string("text"), ngx_string("delta"),
        ngx_string("arguments"), ngx_string("partial_json"),
        ngx_string("thinking"), ngx_string("reasoning_content"),
        ngx_string("refusal")
    };

    /* the first bytes of those names */
    static const u_char  first[256] = {
        ['a'] = 1, ['c'] = 1, ['d'] = 1, ['p'] = 1, ['r'] = 1, ['t'] = 1
    };

    n = 0;
    p = data;
    last = data + len;

    while (p < last && (p = ngx_http_llm_next_quote(p, last)) != NULL) {

        /* a key: a quote not escaped, a known name, a quote, ":" */

        q = ++p;

        if (q - data >= 2 && q[-2] == '\\') {
            continue;
        }

        /* most quotes open other names or values: their first byte */

        if (q == last || !first[*q]) {
            continue;
        }

        for (i = 0; i < sizeof(keys) / sizeof(ngx_str_t); i++) {
            if ((size_t) (last - q) > keys[i].len
                && *q == keys[i].data[0]
                && q[keys[i].len] == '"'
                && ngx_memcmp(q, keys[i].data, keys[i].len) == 0)
            {
                break;
            }
        }

        if (i == sizeof(keys) / sizeof(ngx_str_t)) {
            continue;
        }

        q += keys[i].len + 1;

        while (q < last && (*q == ' ' || *q == '\t')) {
            q++;
        }

        if (q == last || *q++ != ':') {
            continue;
        }

        while (q < last && (*q == ' ' || *q == '\t')) {
            q++;
        }

        if (q == last || *q++ != '"') {
            continue;
        }

        /* the string value: an escape counts as one byte */

        while (q < last && *q != '"') {
            if (*q == '\\' && q + 1 < last) {
                q += (q[1] == 'u' && last - q >= 6) ? 6 : 2;

            } else {
                q++;
            }

            n++;
        }

        p = (q < last) ? q + 1 : last;
    }

    return n;
}


void
ngx_http_llm_usage_partial(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t  completion;

    if (!ctx->streaming || ctx->done || ctx->stream_ended
        || ctx->usage_estimated || ctx->usage_final
        || (ctx->req == NULL && ctx->usage.known))  /* OpenAI's: the last */
    {
        return;
    }

    completion = (ngx_int_t) ngx_min((ctx->generated + 3) / 4,
                                     NGX_HTTP_LLM_MAX_TOKENS);

    if (!ctx->usage.known || ctx->usage.prompt <= 0) {
        ctx->usage.prompt = ngx_min((ctx->body.len + 3) / 4,
                                    NGX_HTTP_LLM_MAX_TOKENS);
        ctx->usage.cached = 0;
    }

    if (!ctx->usage.known || ctx->usage.completion < completion) {
        ctx->usage.completion = completion;
    }

    ctx->usage.total = ctx->usage.prompt + ctx->usage.completion;
    ctx->usage.known = 1;
    ctx->usage_estimated = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm partial usage: %i + %i, %uz bytes streamed",
                   ctx->usage.prompt, ctx->usage.completion, ctx->generated);
}
