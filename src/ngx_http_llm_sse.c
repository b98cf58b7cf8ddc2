
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_sse.h"


#define NGX_HTTP_LLM_SSE_INITIAL  4096


enum {
    sw_line_start = 0,
    sw_field,
    sw_space,
    sw_value,
    sw_skip
};

enum {
    ngx_http_llm_sse_f_other = 0,
    ngx_http_llm_sse_f_data,
    ngx_http_llm_sse_f_event
};


static ngx_int_t ngx_http_llm_sse_append(ngx_http_llm_sse_t *sse,
    u_char *p, size_t n);
static u_char *ngx_http_llm_sse_eol(u_char *p, u_char *last);
static void ngx_http_llm_sse_reset(ngx_http_llm_sse_t *sse);


void
ngx_http_llm_sse_init(ngx_http_llm_sse_t *sse, ngx_pool_t *pool,
    ngx_log_t *log, size_t max)
{
    ngx_memzero(sse, sizeof(ngx_http_llm_sse_t));

    sse->pool = pool;
    sse->log = log;
    sse->max = max;
}


ngx_int_t
ngx_http_llm_sse_parse(ngx_http_llm_sse_t *sse, u_char **pos, u_char *last)
{
    u_char      ch, *p, *start;
    ngx_int_t   rc;

    p = *pos;

    /* a new call after a complete event starts a new event */

    if (sse->dispatched) {
        ngx_http_llm_sse_reset(sse);
    }

    while (p < last) {

        ch = *p;

        /* LF right after CR ends nothing: CRLF is one line end */

        if (sse->last_cr) {
            sse->last_cr = 0;

            if (ch == LF) {
                p++;
                continue;
            }
        }

        switch (sse->state) {

        case sw_line_start:

            if (ch == CR || ch == LF) {
                sse->last_cr = (ch == CR);
                p++;

                if (sse->has_data) {
                    *pos = p;
                    sse->dispatched = 1;
                    return NGX_OK;
                }

                /* an event without data is not dispatched */

                sse->len = 0;
                sse->name_len = 0;
                sse->has_event = 0;
                break;
            }

            if (ch == ':') {
                sse->state = sw_skip;
                p++;
                break;
            }

            sse->flen = 0;
            sse->state = sw_field;

            /* fall through */

        case sw_field:

            if (ch == ':' || ch == CR || ch == LF) {

                if (sse->flen == 4
                    && ngx_memcmp(sse->fname, "data", 4) == 0)
                {
                    sse->field = ngx_http_llm_sse_f_data;

                    if (sse->has_data) {
                        rc = ngx_http_llm_sse_append(sse, (u_char *) "\n", 1);
                        if (rc != NGX_OK) {
                            return rc;
                        }
                    }

                    sse->has_data = 1;

                } else if (sse->flen == 5
                           && ngx_memcmp(sse->fname, "event", 5) == 0)
                {
                    sse->field = ngx_http_llm_sse_f_event;
                    sse->name_len = 0;
                    sse->has_event = 1;

                } else {
                    sse->field = ngx_http_llm_sse_f_other;
                }

                if (ch == ':') {
                    sse->state = sw_space;
                    p++;
                    break;
                }

                /* a field name alone: empty value */

                sse->last_cr = (ch == CR);
                sse->state = sw_line_start;
                p++;
                break;
            }

            if (sse->flen < sizeof(sse->fname)) {
                sse->fname[sse->flen] = ch;
            }

            sse->flen++;
            p++;
            break;

        case sw_space:

            sse->state = sw_value;

            if (ch == ' ') {
                p++;
                break;
            }

            /* fall through */

        case sw_value:

            start = p;
            p = ngx_http_llm_sse_eol(p, last);

            if (sse->field == ngx_http_llm_sse_f_data) {
                rc = ngx_http_llm_sse_append(sse, start, p - start);
                if (rc != NGX_OK) {
                    return rc;
                }

            } else if (sse->field == ngx_http_llm_sse_f_event) {
                if (sse->name_len + (p - start) > NGX_HTTP_LLM_SSE_NAME_MAX) {
                    return NGX_DECLINED;
                }

                ngx_memcpy(sse->name + sse->name_len, start, p - start);
                sse->name_len += p - start;
            }

            if (p < last) {
                sse->last_cr = (*p == CR);
                sse->state = sw_line_start;
                p++;
            }

            break;

        case sw_skip:

            p = ngx_http_llm_sse_eol(p, last);

            if (p < last) {
                sse->last_cr = (*p == CR);
                sse->state = sw_line_start;
                p++;
            }

            break;
        }
    }

    *pos = p;

    return NGX_AGAIN;
}


/*
 * the first CR or LF in [p, last), or last: memchr() for LF (vectorized
 * in libc), then for a CR before it (streams end lines with LF alone)
 */

static u_char *
ngx_http_llm_sse_eol(u_char *p, u_char *last)
{
    u_char  *lf, *cr;

    lf = memchr(p, LF, last - p);

    if (lf == NULL) {
        lf = last;
    }

    cr = memchr(p, CR, lf - p);

    return cr ? cr : lf;
}


static void
ngx_http_llm_sse_reset(ngx_http_llm_sse_t *sse)
{
    sse->len = 0;
    sse->name_len = 0;
    sse->has_data = 0;
    sse->has_event = 0;
    sse->dispatched = 0;
}


static ngx_int_t
ngx_http_llm_sse_append(ngx_http_llm_sse_t *sse, u_char *p, size_t n)
{
    u_char  *nd;
    size_t   size;

    if (n == 0) {
        return NGX_OK;
    }

    if (sse->len + n > sse->max) {
        ngx_log_error(NGX_LOG_ERR, sse->log, 0,
                      "upstream sent too large SSE event: %uz",
                      sse->len + n);
        return NGX_DECLINED;
    }

    if (sse->len + n > sse->size) {
        size = sse->size ? sse->size : NGX_HTTP_LLM_SSE_INITIAL;

        while (size < sse->len + n) {
            size *= 2;
        }

        if (size > sse->max) {
            size = sse->max;
        }

        nd = ngx_palloc(sse->pool, size);
        if (nd == NULL) {
            return NGX_ERROR;
        }

        if (sse->len) {
            ngx_memcpy(nd, sse->data, sse->len);
        }

        if (sse->data) {
            ngx_pfree(sse->pool, sse->data);
        }

        sse->data = nd;
        sse->size = size;
    }

    ngx_memcpy(sse->data + sse->len, p, n);
    sse->len += n;

    return NGX_OK;
}
