
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_SSE_H_INCLUDED_
#define _NGX_HTTP_LLM_SSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"


#define NGX_HTTP_LLM_SSE_NAME_MAX  64


/*
 * A resumable Server-Sent Events parser: bytes may be split anywhere;
 * lines end in LF, CRLF or CR; comments and unknown fields are ignored;
 * several "data:" lines are joined with LF.  The event's data is
 * collected in a buffer that grows up to "max" bytes and is reused for
 * every event, so memory does not grow with the length of the stream.
 */

typedef struct {
    ngx_pool_t         *pool;
    ngx_log_t          *log;

    ngx_uint_t          state;
    ngx_uint_t          field;      /* what the current line carries */
    u_char              fname[8];
    ngx_uint_t          flen;

    u_char             *data;       /* payload of the current event */
    size_t              len;
    size_t              size;
    size_t              max;

    u_char              name[NGX_HTTP_LLM_SSE_NAME_MAX];
    size_t              name_len;

    unsigned            has_data:1;
    unsigned            has_event:1;
    unsigned            last_cr:1;
    unsigned            dispatched:1;
} ngx_http_llm_sse_t;


void ngx_http_llm_sse_init(ngx_http_llm_sse_t *sse, ngx_pool_t *pool,
    ngx_log_t *log, size_t max);

/*
 * NGX_OK: an event is complete (sse->data, sse->len, sse->name);
 * NGX_AGAIN: all input consumed; NGX_DECLINED: event over the limit;
 * NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llm_sse_parse(ngx_http_llm_sse_t *sse, u_char **pos,
    u_char *last);


#endif /* _NGX_HTTP_LLM_SSE_H_INCLUDED_ */
