
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#ifndef _NGX_HTTP_LLM_EVENTSTREAM_H_INCLUDED_
#define _NGX_HTTP_LLM_EVENTSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A resumable decoder of the AWS event-stream binary framing
 * (application/vnd.amazon.eventstream, PROVIDERS.md 6.4): a 12-byte
 * prelude (total length, headers length, CRC-32 of both), typed headers,
 * the payload and a CRC-32 of the whole message.  Bytes may be split
 * anywhere; a frame is collected in one buffer that grows up to "max"
 * bytes and is reused, so memory does not grow with the stream.
 */

typedef struct {
    ngx_pool_t         *pool;
    ngx_log_t          *log;

    u_char             *buf;        /* the current frame */
    size_t              len;
    size_t              size;
    size_t              max;
    size_t              total;      /* its length, once the prelude is in */

    /* the last frame: valid until the next call */
    ngx_str_t           message_type;   /* event, exception, error */
    ngx_str_t           event_type;
    ngx_str_t           exception_type;
    ngx_str_t           error_code;
    ngx_str_t           error_message;
    ngx_str_t           payload;

    const char         *error;      /* why NGX_DECLINED */
} ngx_http_llm_es_t;


void ngx_http_llm_es_init(ngx_http_llm_es_t *es, ngx_pool_t *pool,
    ngx_log_t *log, size_t max);

/*
 * NGX_OK: a frame is complete and checked; NGX_AGAIN: all input consumed;
 * NGX_DECLINED: a bad frame (CRC, lengths, headers, over "max"), see
 * es->error: the stream cannot go on; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llm_es_parse(ngx_http_llm_es_t *es, u_char **pos,
    u_char *last);


#endif /* _NGX_HTTP_LLM_EVENTSTREAM_H_INCLUDED_ */
