
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_SIGV4_H_INCLUDED_
#define _NGX_HTTP_LLM_SIGV4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * AWS Signature Version 4 (PROVIDERS.md 6.5) with OpenSSL's HMAC-SHA256,
 * as a pure function of a pool: t/unit/sigv4_vectors.c checks it against
 * AWS's published test suite (t/unit/sigv4) and a Bedrock-shaped request.
 */

typedef struct {
    ngx_str_t           method;
    ngx_str_t           path;       /* as sent, already percent-encoded */
    ngx_str_t           query;      /* canonical query string, or empty */
    ngx_keyval_t       *headers;    /* lowercase names, sorted, trimmed */
    ngx_uint_t          nheaders;
    ngx_str_t           payload;    /* the exact body bytes */
    ngx_str_t           access_key;
    ngx_str_t           secret_key;
    ngx_str_t           region;
    ngx_str_t           service;
    ngx_str_t           amz_date;   /* YYYYMMDDTHHMMSSZ */

    /* out: what was signed, for the unit harness (t/unit/sigv4_vectors.c) */
    ngx_str_t           canonical_request;
    ngx_str_t           string_to_sign;

    /* out of ngx_http_llm_sigv4_sign_key() */
    ngx_str_t           authorization;
    ngx_str_t           token;      /* X-Amz-Security-Token, or empty */
    ngx_keyval_t        hdrs[4];
} ngx_http_llm_sigv4_t;


/* the "Authorization" header value: AWS4-HMAC-SHA256 Credential=... */
ngx_int_t ngx_http_llm_sigv4_authorization(ngx_pool_t *pool,
    ngx_http_llm_sigv4_t *s, ngx_str_t *out);

/*
 * A Bedrock POST of a JSON body signed with a key "ACCESS_KEY_ID:SECRET"
 * or "ACCESS_KEY_ID:SECRET:SESSION_TOKEN": the signed headers are
 * content-type, host, x-amz-date (and x-amz-security-token); service
 * "bedrock".  s->authorization and s->token are the headers to send.
 */
ngx_int_t ngx_http_llm_sigv4_sign_key(ngx_pool_t *pool,
    ngx_http_llm_sigv4_t *s, ngx_str_t *key, ngx_str_t *host,
    ngx_str_t *region, ngx_str_t *path, ngx_str_t *body, u_char *date);

/*
 * The canonical query string of a query as sent ("b=2&a=1"): every name
 * and value percent-decoded, encoded again (unreserved bytes kept), the
 * pairs sorted by name, then by value.
 */
ngx_int_t ngx_http_llm_sigv4_query(ngx_pool_t *pool, ngx_str_t *query,
    ngx_str_t *out);

/* "YYYYMMDDTHHMMSSZ" of a time, 16 bytes */
u_char *ngx_http_llm_sigv4_date(u_char *p, time_t t);


#endif /* _NGX_HTTP_LLM_SIGV4_H_INCLUDED_ */
