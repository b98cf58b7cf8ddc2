
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_crc32.h>
#include "ngx_http_llm_eventstream.h"


#define NGX_HTTP_LLM_ES_PRELUDE  12
#define NGX_HTTP_LLM_ES_MIN      16


static ngx_int_t ngx_http_llm_es_headers(ngx_http_llm_es_t *es, u_char *p,
    u_char *last);
static uint32_t ngx_http_llm_es_u32(u_char *p);


void
ngx_http_llm_es_init(ngx_http_llm_es_t *es, ngx_pool_t *pool, ngx_log_t *log,
    size_t max)
{
    ngx_memzero(es, sizeof(ngx_http_llm_es_t));

    es->pool = pool;
    es->log = log;
    es->max = ngx_max(max, 1024);
}


ngx_int_t
ngx_http_llm_es_parse(ngx_http_llm_es_t *es, u_char **pos, u_char *last)
{
    u_char    *p, *nbuf;
    size_t     n, need, hlen, size;
    uint32_t   crc;

    p = *pos;

    if (es->total && es->len == es->total) {
        /* the previous frame was returned: start the next one */
        es->len = 0;
        es->total = 0;
    }

    if (es->buf == NULL) {
        es->size = 1024;

        es->buf = ngx_palloc(es->pool, es->size);
        if (es->buf == NULL) {
            return NGX_ERROR;
        }
    }

    for ( ;; ) {

        need = es->total ? es->total : NGX_HTTP_LLM_ES_PRELUDE;

        n = ngx_min((size_t) (last - p), need - es->len);

        ngx_memcpy(es->buf + es->len, p, n);
        es->len += n;
        p += n;

        *pos = p;

        if (es->len < need) {
            return NGX_AGAIN;
        }

        if (es->total) {
            break;
        }

        /* the prelude */

        es->total = ngx_http_llm_es_u32(es->buf);
        hlen = ngx_http_llm_es_u32(es->buf + 4);

        if (ngx_crc32_long(es->buf, 8) != ngx_http_llm_es_u32(es->buf + 8)) {
            es->error = "bad prelude CRC";
            return NGX_DECLINED;
        }

        if (es->total < NGX_HTTP_LLM_ES_MIN
            || hlen > es->total - NGX_HTTP_LLM_ES_MIN)
        {
            es->error = "bad frame lengths";
            return NGX_DECLINED;
        }

        if (es->total > es->max) {
            es->error = "frame too large";
            return NGX_DECLINED;
        }

        if (es->total > es->size) {
            for (size = es->size; size < es->total; size <<= 1) { /* void */ }

            nbuf = ngx_palloc(es->pool, size);
            if (nbuf == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(nbuf, es->buf, es->len);
            ngx_pfree(es->pool, es->buf);

            es->buf = nbuf;
            es->size = size;
        }
    }

    /* the whole frame */

    crc = ngx_crc32_long(es->buf, es->total - 4);

    if (crc != ngx_http_llm_es_u32(es->buf + es->total - 4)) {
        es->error = "bad message CRC";
        return NGX_DECLINED;
    }

    hlen = ngx_http_llm_es_u32(es->buf + 4);

    if (ngx_http_llm_es_headers(es, es->buf + NGX_HTTP_LLM_ES_PRELUDE,
                                es->buf + NGX_HTTP_LLM_ES_PRELUDE + hlen)
        != NGX_OK)
    {
        es->error = "bad headers";
        return NGX_DECLINED;
    }

    es->payload.data = es->buf + NGX_HTTP_LLM_ES_PRELUDE + hlen;
    es->payload.len = es->total - hlen - NGX_HTTP_LLM_ES_MIN;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_es_headers(ngx_http_llm_es_t *es, u_char *p, u_char *last)
{
    size_t      nlen, vlen;
    u_char     *name;
    ngx_str_t  *v;
    ngx_uint_t  type;

    ngx_str_null(&es->message_type);
    ngx_str_null(&es->event_type);
    ngx_str_null(&es->exception_type);
    ngx_str_null(&es->error_code);
    ngx_str_null(&es->error_message);

    while (p < last) {

        nlen = *p++;

        if ((size_t) (last - p) < nlen + 1) {
            return NGX_ERROR;
        }

        name = p;
        p += nlen;
        type = *p++;

        switch (type) {

        case 0:   /* true */
        case 1:   /* false */
            vlen = 0;
            break;

        case 2:   /* byte */
            vlen = 1;
            break;

        case 3:   /* int16 */
            vlen = 2;
            break;

        case 4:   /* int32 */
            vlen = 4;
            break;

        case 5:   /* int64 */
        case 8:   /* timestamp */
            vlen = 8;
            break;

        case 9:   /* UUID */
            vlen = 16;
            break;

        case 6:   /* byte array */
        case 7:   /* string */
            if (last - p < 2) {
                return NGX_ERROR;
            }

            vlen = (p[0] << 8) | p[1];
            p += 2;
            break;

        default:
            return NGX_ERROR;
        }

        if ((size_t) (last - p) < vlen) {
            return NGX_ERROR;
        }

        v = NULL;

        if (type == 7) {

            if (nlen == sizeof(":message-type") - 1
                && ngx_strncmp(name, ":message-type", nlen) == 0)
            {
                v = &es->message_type;

            } else if (nlen == sizeof(":event-type") - 1
                       && ngx_strncmp(name, ":event-type", nlen) == 0)
            {
                v = &es->event_type;

            } else if (nlen == sizeof(":exception-type") - 1
                       && ngx_strncmp(name, ":exception-type", nlen) == 0)
            {
                v = &es->exception_type;

            } else if (nlen == sizeof(":error-code") - 1
                       && ngx_strncmp(name, ":error-code", nlen) == 0)
            {
                v = &es->error_code;

            } else if (nlen == sizeof(":error-message") - 1
                       && ngx_strncmp(name, ":error-message", nlen) == 0)
            {
                v = &es->error_message;
            }
        }

        if (v) {
            v->data = p;
            v->len = vlen;
        }

        p += vlen;
    }

    return NGX_OK;
}


static uint32_t
ngx_http_llm_es_u32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}
