
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * nginx version compatibility lives here and nowhere else.
 */

#if (nginx_version >= 1027002)
#define ngx_http_llm_parse_chunked(r, b, ctx)                                 \
    ngx_http_parse_chunked(r, b, ctx, 0)
#else
#define ngx_http_llm_parse_chunked(r, b, ctx)                                 \
    ngx_http_parse_chunked(r, b, ctx)
#endif


/* API surfaces (inbound formats) */
#define NGX_HTTP_LLM_SURFACE_AUTO         0
#define NGX_HTTP_LLM_SURFACE_CHAT         1
#define NGX_HTTP_LLM_SURFACE_EMBEDDINGS   2
#define NGX_HTTP_LLM_SURFACE_MODELS       3
#define NGX_HTTP_LLM_SURFACE_MESSAGES     4   /* Anthropic Messages */
#define NGX_HTTP_LLM_SURFACE_RESPONSES    5   /* OpenAI Responses */
#define NGX_HTTP_LLM_SURFACE_GEMINI       6   /* :generateContent */
#define NGX_HTTP_LLM_SURFACE_COUNT_TOKENS 7   /* messages/count_tokens */


/* vendor quirks of OpenAI-compatible providers */
#define NGX_HTTP_LLM_Q_NO_STREAM_OPTIONS  0x0001   /* usage always sent   */
#define NGX_HTTP_LLM_Q_FLAT_ERROR         0x0002   /* {"object":"error"}  */
#define NGX_HTTP_LLM_Q_STRIP_NAME         0x0004   /* Groq: messages.name */
#define NGX_HTTP_LLM_Q_NO_KEY             0x0008   /* key is optional     */
#define NGX_HTTP_LLM_Q_RESPONSES          0x0100   /* native /responses   */


#define NGX_HTTP_LLM_ERR_BODY_MAX         65536


typedef struct ngx_http_llm_ctx_s            ngx_http_llm_ctx_t;
typedef struct ngx_http_llm_provider_s       ngx_http_llm_provider_t;
typedef struct ngx_http_llm_request_s        ngx_http_llm_request_t;
typedef struct ngx_http_llm_surface_s        ngx_http_llm_surface_t;
typedef struct ngx_http_llm_zone_s           ngx_http_llm_zone_t;
typedef struct ngx_http_llm_keys_s           ngx_http_llm_keys_t;
typedef struct ngx_http_llm_key_s            ngx_http_llm_key_t;


/* llm_provider: one configured provider instance */

typedef struct {
    ngx_str_t                       name;
    const ngx_http_llm_provider_t  *type;
    ngx_uint_t                      index;

    ngx_http_upstream_srv_conf_t   *upstream;
    ngx_str_t                       upstream_name;

    ngx_str_t                       host;       /* Host header and SNI */
    ngx_str_t                       base;       /* path prefix, "/v1"  */
    ngx_str_t                       key;        /* secret, never logged */
    ngx_str_t                       key_source; /* "env:NAME", for logs */
    ngx_array_t                    *headers;    /* ngx_keyval_t */
    ngx_str_t                       extra_headers; /* prebuilt lines */

    ngx_uint_t                      quirks;

    ngx_int_t                       max_tokens;  /* default, translation */
    ngx_str_t                       version;     /* API version: Azure
                                                    api-version, Anthropic
                                                    anthropic-version */
    ngx_str_t                       region;      /* Bedrock: us-east-1 */

    unsigned                        tls:1;
    unsigned                        disabled:1; /* optional, no key */

    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_llm_provider_conf_t;


/* llm_route strategy=: how the primary target is chosen */
#define NGX_HTTP_LLM_STRATEGY_WEIGHTED    0
#define NGX_HTTP_LLM_STRATEGY_PRIORITY    1
#define NGX_HTTP_LLM_STRATEGY_LEAST_BUSY  2
#define NGX_HTTP_LLM_STRATEGY_LATENCY     3
#define NGX_HTTP_LLM_STRATEGY_CHEAPEST    4


/* one target of a route: provider[:model] */

typedef struct {
    /* the provider, or a copy of it with this target's overrides */
    ngx_http_llm_provider_conf_t   *provider;
    ngx_str_t                       provider_name;
    ngx_str_t                       model;      /* empty: requested name */
    ngx_uint_t                      weight;

    ngx_str_t                       name;       /* "provider:model" as
                                                   written: its counters */
    ngx_int_t                       max_tokens; /* overrides, 0: none */
    ngx_array_t                    *headers;    /* ngx_keyval_t */
    uint64_t                        price;      /* cheapest: input+output
                                                   micro-dollars per 1M */
    void                           *stats;      /* in the zone, per worker
                                                   cached pointer */
    unsigned                        priced:1;
    unsigned                        fallback:1; /* fallback=, in order */
} ngx_http_llm_target_t;


typedef struct ngx_http_llm_route_s  ngx_http_llm_route_t;

struct ngx_http_llm_route_s {
    ngx_str_t                       pattern;    /* as written */
    ngx_regex_t                    *regex;
    ngx_array_t                     targets;    /* ngx_http_llm_target_t */
    ngx_uint_t                      nprimary;   /* weighted, then fallbacks */

    ngx_uint_t                      strategy;
    ngx_array_t                    *conditions; /* ngx_http_llm_cond_t */
    ngx_http_llm_route_t           *next;       /* same pattern, next rule */

    unsigned                        is_default:1;
    unsigned                        chained:1;  /* not the first rule */

    u_char                         *file;
    ngx_uint_t                      line;
};


typedef struct {
    ngx_array_t                     providers;  /* provider_conf_t *    */
    ngx_array_t                     routes;     /* ngx_http_llm_route_t */

    ngx_hash_t                      exact;      /* name -> route_t *    */
    ngx_array_t                     regexes;    /* ngx_http_llm_route_t * */
    ngx_http_llm_route_t           *default_route;

    time_t                          created;    /* for /v1/models */

    ngx_uint_t                      has_tls;

    ngx_http_llm_zone_t            *zone;       /* llm_zone */
    ngx_array_t                    *prices;     /* ngx_http_llm_price_t */
    ngx_uint_t                      status;     /* llm_status: count */
    ngx_uint_t                      track;      /* targets' in-flight and
                                                   latency in the zone */

    /* llm_cooldown: a target's circuit breaker, in the llm_zone */
    ngx_uint_t                      cooldown_failures; /* 0: off */
    ngx_msec_t                      cooldown_window;
    ngx_msec_t                      cooldown_period;

    /* the upstream{} of requests that may move between providers */
    ngx_http_upstream_srv_conf_t    fallback_upstream;
} ngx_http_llm_main_conf_t;


typedef struct {
    ngx_http_upstream_conf_t        upstream;

    /* one copy of "upstream" per provider, each with its upstream{} */
    ngx_http_upstream_conf_t       *per_provider;

    /*
     * the same for requests with fallbacks (no status-driven retries:
     * the module decides), and the conf they start with, whose
     * upstream{} runs every target's peer.init
     */
    ngx_http_upstream_conf_t       *fallback_provider;
    ngx_http_upstream_conf_t        fallback_init;

    /* per attempt: until the first bytes of the answer, and in all */
    ngx_msec_t                      first_token_timeout;
    ngx_msec_t                      attempt_timeout;

    ngx_uint_t                      surface;
    size_t                          max_body_size;
    size_t                          max_response_size;
    size_t                          max_event_size;

    ngx_flag_t                      enabled;

    ngx_http_llm_keys_t            *keys;       /* client virtual keys */
    ngx_flag_t                      auth;
    ngx_int_t                       reserve_tokens;
    ngx_uint_t                      status_format; /* llm_status */

#if (NGX_HTTP_SSL)
    ngx_flag_t                      ssl_verify;
    ngx_uint_t                      ssl_verify_depth;
    ngx_str_t                       ssl_trusted_certificate;
    ngx_str_t                       ssl_crl;
    ngx_uint_t                      ssl_protocols;
    ngx_str_t                       ssl_ciphers;
    ngx_flag_t                      ssl_server_name;
    ngx_flag_t                      ssl_session_reuse;
#endif
} ngx_http_llm_loc_conf_t;


/* token usage, as reported by the provider */

typedef struct {
    ngx_int_t                       prompt;
    ngx_int_t                       completion;
    ngx_int_t                       total;
    ngx_int_t                       cached;
    unsigned                        known:1;
} ngx_http_llm_usage_t;


/* the request context */

struct ngx_http_llm_ctx_s {
    ngx_uint_t                      surface;

    ngx_str_t                       body;       /* whole request body */
    void                           *json;       /* ngx_http_llm_json_t */

    /* translation: the client's surface and the canonical request */
    const ngx_http_llm_surface_t   *surf;
    ngx_http_llm_request_t         *req;        /* NULL: passthrough */
    void                           *in_state;   /* provider stream state */
    void                           *out_state;  /* surface writer state */
    void                           *embed;      /* ngx_http_llm_embed_t:
                                                   translated embeddings */
    const char                     *error;      /* why a request is bad */
    /* offsets in the body, for the passthrough rewrite */
    ngx_int_t                       model_start; /* inside the quotes */
    ngx_int_t                       model_end;
    ngx_int_t                       sopts_start; /* "{" of stream_options */
    ngx_int_t                       sopts_value_start; /* any value */
    ngx_int_t                       sopts_value_end;
    ngx_int_t                       iu_start;    /* include_usage value */
    ngx_int_t                       iu_end;

    ngx_str_t                       model;      /* as the client asked */
    ngx_str_t                       upstream_model;
    ngx_http_llm_route_t           *route;
    ngx_http_llm_target_t          *target;
    ngx_http_llm_provider_conf_t   *provider;
    ngx_http_llm_key_t             *key;        /* authenticated */

    /* response side */
    ngx_uint_t                      rstate;
    ngx_http_status_t               status;
    ngx_http_chunked_t              chunked;
    ngx_buf_t                      *hold;       /* held response body */
    u_char                         *hold_start; /* or kept in u->buffer */
    u_char                         *hold_end;
    off_t                           rest;       /* content length left */
    ngx_chain_t                    *out;        /* built response body */
    ngx_chain_t                    *error_out;  /* replaces nginx's page */
    void                           *sse;        /* ngx_http_llm_sse_t */
    void                           *inflate;    /* Content-Encoding: gzip */

    ngx_http_llm_usage_t            usage;
    ngx_uint_t                      upstream_status;
    size_t                          generated;  /* text bytes streamed */

    ngx_msec_t                      start_msec;
    ngx_msec_t                      first_byte_msec;
    ngx_msec_t                      first_token_msec; /* generated text */

    /* timers of an attempt: its conf with the read timeout of the
     * moment (llm_first_token_timeout), its deadline */
    ngx_http_upstream_conf_t       *conf;
    ngx_event_t                    *attempt_timer;

    /* fallbacks: the attempts made, why the earlier ones failed */
    void                           *fallback;   /* ngx_http_llm_fb_t */
    void                           *busy;       /* counted in flight */
    ngx_uint_t                      attempts;
    ngx_str_t                       fallback_reason;

    unsigned                        stream:1;
    unsigned                        client_usage:1; /* client asked */
    unsigned                        inject_usage:1;
    unsigned                        own_response:1; /* we sent it */
    unsigned                        streaming:1;    /* SSE to client */
    unsigned                        done:1;         /* saw [DONE] */
    unsigned                        chunked_in:1;
    unsigned                        replace_body:1;
    unsigned                        stream_ended:1;
    unsigned                        inplace:1;  /* body in u->buffer */
    unsigned                        stream_failed:1; /* error event sent */
    unsigned                        encoding:2; /* gzip or deflate body */
    unsigned                        eventstream:1; /* AWS binary frames */
    unsigned                        count_tokens:1; /* no answer: a count */
    unsigned                        fallback_next:1; /* process_header
                                                        asked for next */
    unsigned                        cooldown_probe:1; /* llm_cooldown:
                                                         the probe */
    unsigned                        stream_timeout:1; /* cut by a timeout */
    unsigned                        usage_final:1; /* the provider's last */
    unsigned                        usage_estimated:1; /* stream cut short:
                                                          usage partly
                                                          estimated */
};


/* provider adapter: one const vtable per wire format */

typedef ngx_int_t (*ngx_http_llm_create_request_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
typedef ngx_int_t (*ngx_http_llm_stream_event_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *name, ngx_str_t *data,
    ngx_chain_t ***ll);
typedef ngx_int_t (*ngx_http_llm_response_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_chain_t **out);
typedef ngx_int_t (*ngx_http_llm_error_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_str_t *body, ngx_str_t *message,
    ngx_str_t *type, ngx_str_t *code);
/* what the translated request asks that the provider cannot do: NGX_OK,
   or NGX_DECLINED with ctx->error (a 400 before any upstream request) */
typedef ngx_int_t (*ngx_http_llm_check_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


struct ngx_http_llm_provider_s {
    ngx_str_t                          type;
    ngx_str_t                          default_base;
    ngx_uint_t                         quirks;

    /* speaks OpenAI chat: OpenAI clients take the passthrough path */
    unsigned                           openai_format:1;
    unsigned                           embeddings:1;

    ngx_http_llm_create_request_pt     create_request;
    ngx_http_llm_stream_event_pt       stream_event;
    ngx_http_llm_response_pt           response;
    ngx_http_llm_error_pt              error;
    ngx_http_llm_check_pt              check;     /* NULL: takes all */
};


/*
 * The client's body goes to the provider as it is but for the model:
 * OpenAI chat and embeddings to an OpenAI-format provider, and Responses
 * to one that serves /responses itself (llm_provider responses=native)
 */

#define ngx_http_llm_passthrough(ctx, pc)                                     \
    ((pc)->type->openai_format                                                \
     && ((ctx)->surface == NGX_HTTP_LLM_SURFACE_CHAT                          \
         || (ctx)->surface == NGX_HTTP_LLM_SURFACE_EMBEDDINGS                 \
         || ((ctx)->surface == NGX_HTTP_LLM_SURFACE_RESPONSES                 \
             && ((pc)->quirks & NGX_HTTP_LLM_Q_RESPONSES))))


extern ngx_module_t  ngx_http_llm_module;


#endif /* _NGX_HTTP_LLM_MODULE_H_INCLUDED_ */
