
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_SIGV4_H_INCLUDED_
#define _NGX_HTTP_LLM_SIGV4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * AWS Signature Version 4 (PROVIDERS.md 6.5) with OpenSSL's HMAC-SHA256,
 * as a pure function of a pool: the unit harness checks it against the
 * published "get-vanilla" example.
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
} ngx_http_llm_sigv4_t;


/* the "Authorization" header value: AWS4-HMAC-SHA256 Credential=... */
ngx_int_t ngx_http_llm_sigv4_authorization(ngx_pool_t *pool,
    ngx_http_llm_sigv4_t *s, ngx_str_t *out);

/* "YYYYMMDDTHHMMSSZ" of a time, 16 bytes */
u_char *ngx_http_llm_sigv4_date(u_char *p, time_t t);


#endif /* _NGX_HTTP_LLM_SIGV4_H_INCLUDED_ */
