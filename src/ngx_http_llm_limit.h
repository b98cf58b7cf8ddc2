
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_LIMIT_H_INCLUDED_
#define _NGX_HTTP_LLM_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


/* budget periods, calendar periods in UTC */
#define NGX_HTTP_LLM_PERIOD_TOTAL  0
#define NGX_HTTP_LLM_PERIOD_HOUR   1
#define NGX_HTTP_LLM_PERIOD_DAY    2
#define NGX_HTTP_LLM_PERIOD_MONTH  3


/* the limits of a key or a team; 0: none */

typedef struct {
    uint64_t                    rpm;
    uint64_t                    tpm;
    uint64_t                    budget_tokens;
    uint64_t                    budget_cost;     /* nano-dollars */
    ngx_uint_t                  tokens_period;
    ngx_uint_t                  cost_period;
} ngx_http_llm_limits_t;

/* the limits of a key or team on one model ("*": on each model apart) */

typedef struct {
    ngx_str_t                   model;
    ngx_http_llm_limits_t       limits;
} ngx_http_llm_model_limits_t;


#define ngx_http_llm_limits_set(l)                                            \
    ((l)->rpm || (l)->tpm || (l)->budget_tokens || (l)->budget_cost)


/* llm_price: dollars per million tokens, kept in micro-dollars */

typedef struct {
    ngx_str_t                   model;
    ngx_regex_t                *regex;
    uint64_t                    input;
    uint64_t                    output;
    uint64_t                    cached;
} ngx_http_llm_price_t;


/*
 * A "rpm=", "tpm=", "budget_tokens=" or "budget_cost=" parameter into
 * "limits": NGX_OK, NGX_DECLINED when "param" is none of them, NGX_ERROR
 * when its value is invalid.
 */
ngx_int_t ngx_http_llm_limit_param(ngx_str_t *param,
    ngx_http_llm_limits_t *limits);

/*
 * A per-model limit, "rpm:gpt-4o=10" or "tpm:*=20000" (the same limit on
 * each model apart), into "*list" (created in "pool"): NGX_OK,
 * NGX_DECLINED when "param" is not one, NGX_ERROR when it is invalid.
 */
ngx_int_t ngx_http_llm_limit_model_param(ngx_pool_t *pool, ngx_str_t *param,
    ngx_array_t **list);

char *ngx_http_llm_price_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Admission of an authenticated request, after routing: the windows and
 * budgets of its key and team, in the llm zone.  NGX_OK: admitted (the
 * reservation is settled when the request ends); otherwise the 429 or
 * 503 sent, ctx->own_response set, or an NGX_HTTP_* code.
 */
ngx_int_t ngx_http_llm_limit_admit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/*
 * The cost of the request in nano-dollars, from the provider's usage and
 * llm_price: NGX_OK, NGX_DECLINED when there is no usage or no price.
 */
ngx_int_t ngx_http_llm_cost(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    uint64_t *nano);

/* the llm_price of a model, exact names first, then regexes; or NULL */
ngx_http_llm_price_t *ngx_http_llm_price_of(ngx_http_llm_main_conf_t *lmcf,
    ngx_str_t *model);

/*
 * Bytes of generated text (the string values of "content", "text",
 * "delta", "arguments", "partial_json", "thinking", "reasoning_content",
 * "refusal") in an event sent to the client, whatever its API format.
 */
size_t ngx_http_llm_usage_generated(u_char *data, size_t len);

/*
 * A stream that did not end as it should (the client went away, the
 * provider failed or timed out) before the provider's final usage: its
 * usage is what the provider reported so far, the prompt estimated when
 * it reported none, the completion at least the text streamed (4 bytes a
 * token); flagged usage_estimated.
 */
void ngx_http_llm_usage_partial(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* nano-dollars as dollars, "0.000145": NGX_INT64_LEN + 11 bytes at most */
u_char *ngx_http_llm_dollars(u_char *p, uint64_t nano);

/* seconds since the epoch of 00:00 UTC of a day (month 1-12) */
time_t ngx_http_llm_utc_day(ngx_uint_t year, ngx_uint_t month,
    ngx_uint_t day);


#endif /* _NGX_HTTP_LLM_LIMIT_H_INCLUDED_ */
