
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_KEYS_H_INCLUDED_
#define _NGX_HTTP_LLM_KEYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_limit.h"


#define NGX_HTTP_LLM_DIGEST_LEN  32     /* SHA-256 */


/* a model a key may use: a name, or a regular expression */

typedef struct {
    ngx_str_t                   name;
    ngx_regex_t                *regex;
} ngx_http_llm_model_match_t;


typedef struct {
    ngx_str_t                   name;
    uint32_t                    hash;       /* of the name, for the zone */
    ngx_http_llm_limits_t       limits;
    ngx_array_t                *model_limits; /* model_limits_t, or NULL */
} ngx_http_llm_team_t;


/* a client virtual key; only the SHA-256 of its secret is kept */

struct ngx_http_llm_key_s {
    u_char                      digest[NGX_HTTP_LLM_DIGEST_LEN];

    ngx_str_t                   name;
    uint32_t                    hash;
    ngx_str_t                   team_name;
    uint32_t                    team_hash;
    ngx_http_llm_team_t        *team;       /* with limits, or NULL */

    ngx_array_t                *models;     /* model_match_t; NULL: all */
    ngx_http_llm_limits_t       limits;
    ngx_array_t                *model_limits; /* model_limits_t, or NULL */
    time_t                      expires;    /* 0: never */

    unsigned                    revoked:1;
};


/* the keys of one configuration level: llm_keys files and llm_key */

struct ngx_http_llm_keys_s {
    ngx_array_t                 keys;       /* ngx_http_llm_key_t */
    ngx_array_t                 teams;      /* ngx_http_llm_team_t */
    ngx_http_llm_key_t        **sorted;     /* by digest */
    ngx_uint_t                  limited;    /* keys or teams with limits */
    unsigned                    ready:1;
};


char *ngx_http_llm_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_key_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* inherits and checks llm_keys, llm_key, llm_auth, llm_reserve_tokens */
char *ngx_http_llm_keys_merge(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *prev,
    ngx_http_llm_loc_conf_t *conf);

/*
 * Authentication, before the body is read: the key from
 * "Authorization: Bearer", "x-api-key" or "x-goog-api-key" into
 * ctx->key.  NGX_OK, or the 401 sent (ctx->own_response set).
 */
ngx_int_t ngx_http_llm_keys_auth(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* the model asked for (ctx->model) against the key's: NGX_OK or 403 sent */
ngx_int_t ngx_http_llm_keys_access(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* a model name against the key's models=: 1 allowed, 0 not, NGX_ERROR */
ngx_int_t ngx_http_llm_keys_model_allowed(ngx_http_request_t *r,
    ngx_http_llm_key_t *key, ngx_str_t *model);

/*
 * The key of a presented credential, or NULL: the SHA-256 of the
 * credential, looked up by the first 8 bytes of the digest (which tell
 * nothing of the secret), the whole digest compared in constant time.
 */
ngx_http_llm_key_t *ngx_http_llm_keys_lookup(ngx_http_llm_keys_t *keys,
    ngx_str_t *cred);


#endif /* _NGX_HTTP_LLM_KEYS_H_INCLUDED_ */
