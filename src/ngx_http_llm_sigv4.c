
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_http_llm_sigv4.h"


#define NGX_HTTP_LLM_SHA256_LEN  32


static void ngx_http_llm_sigv4_sha256_hex(u_char *data, size_t len,
    u_char *hex);
static ngx_int_t ngx_http_llm_sigv4_hmac(u_char *key, size_t klen,
    u_char *data, size_t len, u_char *out);
static u_char *ngx_http_llm_sigv4_uri(u_char *p, ngx_str_t *path);
static u_char *ngx_http_llm_sigv4_encode(u_char *p, u_char *s, size_t len,
    ngx_uint_t slash);
static size_t ngx_http_llm_sigv4_decode(u_char *dst, u_char *s, size_t len);
static ngx_int_t ngx_http_llm_sigv4_hex(u_char c);
static int ngx_libc_cdecl ngx_http_llm_sigv4_param_cmp(const void *one,
    const void *two);


typedef struct {
    ngx_str_t    name;      /* encoded again */
    ngx_str_t    value;
} ngx_http_llm_sigv4_param_t;


ngx_int_t
ngx_http_llm_sigv4_authorization(ngx_pool_t *pool, ngx_http_llm_sigv4_t *s,
    ngx_str_t *out)
{
    u_char      *creq, *p, *sts, *k;
    u_char       hash[2 * NGX_HTTP_LLM_SHA256_LEN];
    u_char       key[NGX_HTTP_LLM_SHA256_LEN], sig[NGX_HTTP_LLM_SHA256_LEN];
    size_t       len, slen;
    ngx_uint_t   i;

    if (s->amz_date.len != 16) {
        return NGX_ERROR;
    }

    /* the canonical request */

    len = s->method.len + 1 + 3 * s->path.len + 1 + s->query.len + 1
          + 1 + 2 * NGX_HTTP_LLM_SHA256_LEN;

    for (i = 0; i < s->nheaders; i++) {
        len += 2 * (s->headers[i].key.len + 1) + s->headers[i].value.len + 1;
    }

    creq = ngx_pnalloc(pool, len);
    if (creq == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(creq, s->method.data, s->method.len);
    *p++ = LF;
    p = ngx_http_llm_sigv4_uri(p, &s->path);
    *p++ = LF;
    if (s->query.len) {
        /* no query string: nothing to copy, maybe from NULL */
        p = ngx_cpymem(p, s->query.data, s->query.len);
    }

    *p++ = LF;

    for (i = 0; i < s->nheaders; i++) {
        p = ngx_cpymem(p, s->headers[i].key.data, s->headers[i].key.len);
        *p++ = ':';
        p = ngx_cpymem(p, s->headers[i].value.data, s->headers[i].value.len);
        *p++ = LF;
    }

    *p++ = LF;

    for (i = 0; i < s->nheaders; i++) {
        if (i) {
            *p++ = ';';
        }

        p = ngx_cpymem(p, s->headers[i].key.data, s->headers[i].key.len);
    }

    *p++ = LF;

    ngx_http_llm_sigv4_sha256_hex(s->payload.data, s->payload.len, p);
    p += 2 * NGX_HTTP_LLM_SHA256_LEN;

    s->canonical_request.data = creq;
    s->canonical_request.len = p - creq;

    ngx_http_llm_sigv4_sha256_hex(creq, p - creq, hash);

    /* the string to sign */

    slen = sizeof("AWS4-HMAC-SHA256" "\n") - 1 + 16 + 1
           + 8 + 1 + s->region.len + 1 + s->service.len
           + sizeof("/aws4_request" "\n") - 1 + 2 * NGX_HTTP_LLM_SHA256_LEN;

    sts = ngx_pnalloc(pool, slen);
    if (sts == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(sts, "AWS4-HMAC-SHA256\n",
                   sizeof("AWS4-HMAC-SHA256\n") - 1);
    p = ngx_cpymem(p, s->amz_date.data, 16);
    *p++ = LF;
    p = ngx_cpymem(p, s->amz_date.data, 8);
    *p++ = '/';
    p = ngx_cpymem(p, s->region.data, s->region.len);
    *p++ = '/';
    p = ngx_cpymem(p, s->service.data, s->service.len);
    p = ngx_cpymem(p, "/aws4_request\n", sizeof("/aws4_request\n") - 1);
    p = ngx_cpymem(p, hash, 2 * NGX_HTTP_LLM_SHA256_LEN);

    s->string_to_sign.data = sts;
    s->string_to_sign.len = p - sts;

    /* the signing key */

    k = ngx_pnalloc(pool, 4 + s->secret_key.len);
    if (k == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(k, "AWS4", 4);
    ngx_memcpy(k + 4, s->secret_key.data, s->secret_key.len);

    if (ngx_http_llm_sigv4_hmac(k, 4 + s->secret_key.len,
                                s->amz_date.data, 8, key)
           != NGX_OK
        || ngx_http_llm_sigv4_hmac(key, sizeof(key), s->region.data,
                                   s->region.len, key)
           != NGX_OK
        || ngx_http_llm_sigv4_hmac(key, sizeof(key), s->service.data,
                                   s->service.len, key)
           != NGX_OK
        || ngx_http_llm_sigv4_hmac(key, sizeof(key),
                                   (u_char *) "aws4_request",
                                   sizeof("aws4_request") - 1, key)
           != NGX_OK
        || ngx_http_llm_sigv4_hmac(key, sizeof(key), sts, p - sts, sig)
           != NGX_OK)
    {
        ngx_explicit_memzero(k, 4 + s->secret_key.len);
        ngx_explicit_memzero(key, sizeof(key));
        return NGX_ERROR;
    }

    ngx_explicit_memzero(k, 4 + s->secret_key.len);
    ngx_explicit_memzero(key, sizeof(key));

    /* the header value */

    len = sizeof("AWS4-HMAC-SHA256 Credential=") - 1 + s->access_key.len
          + 1 + 8 + 1 + s->region.len + 1 + s->service.len
          + sizeof("/aws4_request, SignedHeaders=") - 1
          + sizeof(", Signature=") - 1 + 2 * NGX_HTTP_LLM_SHA256_LEN;

    for (i = 0; i < s->nheaders; i++) {
        len += s->headers[i].key.len + 1;
    }

    out->data = ngx_pnalloc(pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, "AWS4-HMAC-SHA256 Credential=",
                   sizeof("AWS4-HMAC-SHA256 Credential=") - 1);
    p = ngx_cpymem(p, s->access_key.data, s->access_key.len);
    *p++ = '/';
    p = ngx_cpymem(p, s->amz_date.data, 8);
    *p++ = '/';
    p = ngx_cpymem(p, s->region.data, s->region.len);
    *p++ = '/';
    p = ngx_cpymem(p, s->service.data, s->service.len);
    p = ngx_cpymem(p, "/aws4_request, SignedHeaders=",
                   sizeof("/aws4_request, SignedHeaders=") - 1);

    for (i = 0; i < s->nheaders; i++) {
        if (i) {
            *p++ = ';';
        }

        p = ngx_cpymem(p, s->headers[i].key.data, s->headers[i].key.len);
    }

    p = ngx_cpymem(p, ", Signature=", sizeof(", Signature=") - 1);
    p = ngx_hex_dump(p, sig, sizeof(sig));

    out->len = p - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_sigv4_sign_key(ngx_pool_t *pool, ngx_http_llm_sigv4_t *s,
    ngx_str_t *key, ngx_str_t *host, ngx_str_t *region, ngx_str_t *path,
    ngx_str_t *body, u_char *date)
{
    u_char  *colon, *p;

    ngx_memzero(s, sizeof(ngx_http_llm_sigv4_t));

    colon = ngx_strlchr(key->data, key->data + key->len, ':');
    if (colon == NULL) {
        return NGX_ERROR;
    }

    s->access_key.data = key->data;
    s->access_key.len = colon - key->data;
    s->secret_key.data = colon + 1;
    s->secret_key.len = key->data + key->len - (colon + 1);

    p = ngx_strlchr(s->secret_key.data,
                    s->secret_key.data + s->secret_key.len, ':');

    if (p) {
        s->token.data = p + 1;
        s->token.len = s->secret_key.data + s->secret_key.len - (p + 1);
        s->secret_key.len = p - s->secret_key.data;
    }

    ngx_str_set(&s->hdrs[0].key, "content-type");
    ngx_str_set(&s->hdrs[0].value, "application/json");
    ngx_str_set(&s->hdrs[1].key, "host");
    s->hdrs[1].value = *host;
    ngx_str_set(&s->hdrs[2].key, "x-amz-date");
    s->hdrs[2].value.data = date;
    s->hdrs[2].value.len = 16;
    ngx_str_set(&s->hdrs[3].key, "x-amz-security-token");
    s->hdrs[3].value = s->token;

    ngx_str_set(&s->method, "POST");
    s->path = *path;
    s->headers = s->hdrs;
    s->nheaders = s->token.len ? 4 : 3;
    s->payload = *body;
    s->region = *region;
    ngx_str_set(&s->service, "bedrock");
    s->amz_date.data = date;
    s->amz_date.len = 16;

    return ngx_http_llm_sigv4_authorization(pool, s, &s->authorization);
}


u_char *
ngx_http_llm_sigv4_date(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/*
 * Every byte but the unreserved ones and "/" is encoded again: the
 * "%3A" of the path is signed as "%253A" (all services but S3)
 */

static u_char *
ngx_http_llm_sigv4_uri(u_char *p, ngx_str_t *path)
{
    if (path->len == 0) {
        *p++ = '/';
        return p;
    }

    return ngx_http_llm_sigv4_encode(p, path->data, path->len, 1);
}


static u_char *
ngx_http_llm_sigv4_encode(u_char *p, u_char *s, size_t len, ngx_uint_t slash)
{
    u_char      c;
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '_' || c == '.' || c == '~'
            || (c == '/' && slash))
        {
            *p++ = c;
            continue;
        }

        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
    }

    return p;
}


ngx_int_t
ngx_http_llm_sigv4_query(ngx_pool_t *pool, ngx_str_t *query, ngx_str_t *out)
{
    u_char                      *p, *last, *amp, *eq, *tmp;
    size_t                       n;
    ngx_uint_t                   i, nparams;
    ngx_str_t                   *f;
    ngx_http_llm_sigv4_param_t  *params;

    ngx_str_null(out);

    if (query->len == 0) {
        return NGX_OK;
    }

    nparams = 1;

    for (i = 0; i < query->len; i++) {
        if (query->data[i] == '&') {
            nparams++;
        }
    }

    params = ngx_pnalloc(pool, nparams * sizeof(ngx_http_llm_sigv4_param_t));
    tmp = ngx_pnalloc(pool, query->len);
    out->data = ngx_pnalloc(pool, 3 * query->len + nparams);

    if (params == NULL || tmp == NULL || out->data == NULL) {
        return NGX_ERROR;
    }

    /* each name and value decoded into tmp, then encoded into the pool */

    n = 0;
    p = query->data;
    last = query->data + query->len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if (amp == p) {
            p++;
            continue;
        }

        eq = ngx_strlchr(p, amp, '=');
        if (eq == NULL) {
            eq = amp;
        }

        f = &params[n].name;

        for (i = 0; i < 2; i++) {
            f->len = ngx_http_llm_sigv4_decode(tmp, p, eq - p);

            f->data = ngx_pnalloc(pool, 3 * f->len + 1);
            if (f->data == NULL) {
                return NGX_ERROR;
            }

            f->len = ngx_http_llm_sigv4_encode(f->data, tmp, f->len, 0)
                     - f->data;

            f = &params[n].value;
            p = (eq < amp) ? eq + 1 : amp;
            eq = amp;
        }

        n++;
        p = amp;
    }

    ngx_qsort(params, n, sizeof(ngx_http_llm_sigv4_param_t),
              ngx_http_llm_sigv4_param_cmp);

    p = out->data;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, params[i].name.data, params[i].name.len);
        *p++ = '=';
        p = ngx_cpymem(p, params[i].value.data, params[i].value.len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


static size_t
ngx_http_llm_sigv4_decode(u_char *dst, u_char *s, size_t len)
{
    u_char      *d, c;
    ngx_int_t    hi, lo;
    ngx_uint_t   i;

    d = dst;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (c == '%' && i + 2 < len) {
            hi = ngx_http_llm_sigv4_hex(s[i + 1]);
            lo = ngx_http_llm_sigv4_hex(s[i + 2]);

            if (hi >= 0 && lo >= 0) {
                *d++ = (u_char) (hi << 4 | lo);
                i += 2;
                continue;
            }
        }

        *d++ = c;
    }

    return d - dst;
}


static ngx_int_t
ngx_http_llm_sigv4_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int ngx_libc_cdecl
ngx_http_llm_sigv4_param_cmp(const void *one, const void *two)
{
    size_t                             n;
    ngx_int_t                          rc;
    const ngx_http_llm_sigv4_param_t  *a, *b;
    const ngx_str_t                   *x, *y;
    ngx_uint_t                         i;

    a = one;
    b = two;

    x = &a->name;
    y = &b->name;

    for (i = 0; i < 2; i++) {
        n = ngx_min(x->len, y->len);
        rc = n ? ngx_memcmp(x->data, y->data, n) : 0;

        if (rc != 0) {
            return (int) rc;
        }

        if (x->len != y->len) {
            return x->len < y->len ? -1 : 1;
        }

        x = &a->value;
        y = &b->value;
    }

    return 0;
}


static void
ngx_http_llm_sigv4_sha256_hex(u_char *data, size_t len, u_char *hex)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    n = 0;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1
        || n != NGX_HTTP_LLM_SHA256_LEN)
    {
        ngx_memzero(md, NGX_HTTP_LLM_SHA256_LEN);
    }

    (void) ngx_hex_dump(hex, md, NGX_HTTP_LLM_SHA256_LEN);
}


static ngx_int_t
ngx_http_llm_sigv4_hmac(u_char *key, size_t klen, u_char *data, size_t len,
    u_char *out)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (HMAC(EVP_sha256(), key, (int) klen, data, len, md, &n) == NULL
        || n != NGX_HTTP_LLM_SHA256_LEN)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(out, md, NGX_HTTP_LLM_SHA256_LEN);

    return NGX_OK;
}
