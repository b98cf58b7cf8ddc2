
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_STATUS_H_INCLUDED_
#define _NGX_HTTP_LLM_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


#define NGX_HTTP_LLM_STATUS_PROMETHEUS  1
#define NGX_HTTP_LLM_STATUS_JSON        2


/* the latency histograms: 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf seconds */
#define NGX_HTTP_LLM_STATUS_BUCKETS     10


/* error classes of llm_errors_total */
#define NGX_HTTP_LLM_ERR_CLIENT         0
#define NGX_HTTP_LLM_ERR_UPSTREAM       1
#define NGX_HTTP_LLM_ERR_TIMEOUT        2
#define NGX_HTTP_LLM_ERR_AUTH           3
#define NGX_HTTP_LLM_ERR_LIMIT          4
#define NGX_HTTP_LLM_ERR_INTERNAL       5
#define NGX_HTTP_LLM_ERR_CLASSES        6


typedef struct {
    uint64_t                    bucket[NGX_HTTP_LLM_STATUS_BUCKETS];
    uint64_t                    sum;        /* milliseconds */
} ngx_http_llm_histogram_t;


/*
 * The counters of one (provider, model) series, after the name of its
 * node in the llm zone.  "in_flight" is changed with atomics, the rest
 * under the zone's mutex, in the log phase.
 */

typedef struct {
    ngx_atomic_t                in_flight;

    uint64_t                    status[5];      /* 1xx .. 5xx */
    uint64_t                    prompt_tokens;
    uint64_t                    completion_tokens;
    uint64_t                    cached_tokens;
    uint64_t                    cost;           /* nano-dollars */
    uint64_t                    errors[NGX_HTTP_LLM_ERR_CLASSES];
    uint64_t                    attempts;       /* upstream connections */
    uint64_t                    retries;        /* next upstream tries */
    uint64_t                    fallbacks;      /* another route target */

    ngx_http_llm_histogram_t    ttfb;
    ngx_http_llm_histogram_t    ttft;           /* streams with text */
    ngx_http_llm_histogram_t    duration;
} ngx_http_llm_stats_t;


char *ngx_http_llm_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* postconfiguration: the log phase handler that counts */
ngx_int_t ngx_http_llm_status_init(ngx_conf_t *cf);

/*
 * A request goes to a provider: it is in flight until its pool is
 * destroyed.  NGX_OK, or NGX_ERROR without memory.
 */
ngx_int_t ngx_http_llm_status_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_STATUS_H_INCLUDED_ */
